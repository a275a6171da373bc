// Compares two experiment results run on different backends (same data, model and config): per-step losses of
// every run (relative), accuracies (points), global scores and filter counts. Shared by the Vitest parity test
// and bench/parity.ts.
import type { ExperimentResult } from '../../src/pipeline/experiment.ts';

export interface RunParity {
  run: string;
  steps: number;
  /** max over steps of |a - b| / |b|. */
  lossRel: number;
  /** max of the accuracy differences (full, edited, majority), in points. */
  accPts: number;
  acc: { full: [number, number]; edited: [number, number]; majority: [number, number] };
}

export interface ExperimentParity {
  runs: RunParity[];
  worstLossRel: number;
  worstAccPts: number;
  /** max |a - b| of the global-RM scores of all scored pairs. */
  globalScoreAbs: number;
  /** Countries whose kept/edited counts differ (a filter decision flipped). */
  setMismatches: string[];
  /** Macro-average full accuracy per method, [a, b] in points. */
  macroFull: Record<string, [number | null, number | null]>;
}

const pts = (x: number) => (Number.isFinite(x) ? x * 100 : Number.NaN);

function accDiff(a: number, b: number): number {
  if (!Number.isFinite(a) && !Number.isFinite(b)) return 0;
  return Math.abs(pts(a) - pts(b));
}

export function compareExperiments(a: ExperimentResult, b: ExperimentResult): ExperimentParity {
  const runs: RunParity[] = [];
  for (const ra of a.runs) {
    const rb = b.runs.find((r) => r.country === ra.country && r.method === ra.method);
    if (!rb) throw new Error(`run ${ra.country} · ${ra.method} missing in the second result`);
    if (ra.losses.length !== rb.losses.length) throw new Error(`${ra.country} · ${ra.method}: ${ra.losses.length} vs ${rb.losses.length} steps`);
    let lossRel = 0;
    ra.losses.forEach((l, i) => {
      lossRel = Math.max(lossRel, Math.abs(l - rb.losses[i]) / Math.max(Math.abs(rb.losses[i]), 1e-12));
    });
    const accPts = Math.max(accDiff(ra.accFull, rb.accFull), accDiff(ra.accEdited, rb.accEdited), accDiff(ra.accMajority, rb.accMajority));
    runs.push({
      run: `${ra.country} · ${ra.method}`,
      steps: ra.losses.length,
      lossRel,
      accPts,
      acc: {
        full: [pts(ra.accFull), pts(rb.accFull)],
        edited: [pts(ra.accEdited), pts(rb.accEdited)],
        majority: [pts(ra.accMajority), pts(rb.accMajority)],
      },
    });
  }
  let globalScoreAbs = 0;
  for (let i = 0; i < a.rPlus.length; i++) {
    for (const [x, y] of [
      [a.rPlus[i], b.rPlus[i]],
      [a.rMinus[i], b.rMinus[i]],
    ]) {
      if (Number.isFinite(x) || Number.isFinite(y)) globalScoreAbs = Math.max(globalScoreAbs, Math.abs(x - y));
    }
  }
  const setMismatches = Object.keys(a.sets).filter((c) => a.sets[c].kept !== b.sets[c]?.kept || a.sets[c].edited !== b.sets[c]?.edited);
  const macroFull: ExperimentParity['macroFull'] = {};
  const avgA: Record<string, number | null | undefined> = a.reports.full.avg ?? {};
  const avgB: Record<string, number | null | undefined> = b.reports.full.avg ?? {};
  for (const m of Object.keys(avgA)) macroFull[m] = [avgA[m] ?? null, avgB[m] ?? null];
  return {
    runs,
    worstLossRel: Math.max(0, ...runs.map((r) => r.lossRel)),
    worstAccPts: Math.max(0, ...runs.map((r) => r.accPts)),
    globalScoreAbs,
    setMismatches,
    macroFull,
  };
}

export function formatParity(p: ExperimentParity): string {
  const lines = p.runs.map(
    (r) => `  ${r.run.padEnd(28)} ${String(r.steps).padStart(4)} steps  loss rel ${r.lossRel.toExponential(2)}  acc diff ${r.accPts.toFixed(2)} pt`,
  );
  return (
    `${lines.join('\n')}\n  worst per-step loss rel diff ${p.worstLossRel.toExponential(2)}, worst accuracy diff ${p.worstAccPts.toFixed(2)} pt, ` +
    `global scores max abs diff ${p.globalScoreAbs.toExponential(2)}, filter/edited count mismatches: ${p.setMismatches.length ? p.setMismatches.join(', ') : 'none'}`
  );
}
