// Chart series: accuracy and loss per step, bias (own vs majority), data efficiency.
import type { EfficiencyEntry } from '../../pipeline/eval.ts';
import type { LivePoint, RunResult } from '../../pipeline/experiment.ts';
import type { Method } from '../../pipeline/types.ts';
import { runKey } from './common.ts';

export interface SeriesPoint {
  step: number;
  value: number;
}

/** One country's accuracy-vs-step series per method, in percent. */
export function accuracySeries(
  points: Record<string, LivePoint[]>,
  country: string,
  methods: readonly Method[],
  metric: 'full' | 'edited',
): { method: Method; data: SeriesPoint[] }[] {
  return methods
    .map((m) => ({
      method: m,
      data: (points[runKey(country, m)] ?? [])
        .map((p) => ({ step: p.step, value: (metric === 'full' ? p.accFull : p.accEdited) * 100 }))
        .filter((p) => Number.isFinite(p.value)),
    }))
    .filter((s) => s.data.length > 0);
}

/** Moving average of a loss curve, down-sampled to about `target` points. */
export function smoothLosses(losses: readonly number[], target = 120): SeriesPoint[] {
  if (losses.length === 0) return [];
  const win = Math.max(1, Math.round(losses.length / target));
  const out: SeriesPoint[] = [];
  for (let start = 0; start < losses.length; start += win) {
    const end = Math.min(losses.length, start + win);
    let s = 0;
    for (let k = start; k < end; k++) s += losses[k];
    out.push({ step: end, value: s / (end - start) });
  }
  return out;
}

/** Loss per method of one country: the finished run's full curve, else the live evaluation points' losses. */
export function lossSeries(
  points: Record<string, LivePoint[]>,
  runs: readonly RunResult[],
  country: string,
  methods: readonly Method[],
): { method: Method; data: SeriesPoint[] }[] {
  return methods
    .map((m) => {
      const run = runs.find((r) => r.country === country && r.method === m);
      if (run && run.losses.length) return { method: m, data: smoothLosses(run.losses) };
      const live = (points[runKey(country, m)] ?? [])
        .filter((p) => p.loss !== null && Number.isFinite(p.loss))
        .map((p) => ({ step: p.step, value: p.loss as number }));
      return { method: m, data: live };
    })
    .filter((s) => s.data.length > 0);
}

export interface BiasRow {
  method: Method;
  own: number | null;
  majority: number | null;
}

/** Own-country vs majority accuracy (percent) per method; `country === 'avg'` gives the macro average. */
export function biasRows(runs: readonly RunResult[], countries: readonly string[], country: string, methods: readonly Method[]): BiasRow[] {
  const pctOf = (f: number) => (Number.isFinite(f) ? f * 100 : null);
  return methods
    .map((m) => {
      const rs = runs.filter((r) => r.method === m && (country === 'avg' ? countries.includes(r.country) : r.country === country));
      if (rs.length === 0) return null;
      const mean = (xs: number[]) => {
        const f = xs.filter(Number.isFinite);
        return f.length ? f.reduce((a, b) => a + b, 0) / f.length : NaN;
      };
      return { method: m, own: pctOf(mean(rs.map((r) => r.accFull))), majority: pctOf(mean(rs.map((r) => r.accMajority))) };
    })
    .filter((r): r is BiasRow => r !== null);
}

export function efficiencySeries(entry: EfficiencyEntry | undefined): { fullFt: { pairs: number; acc: number }[]; scpo: { pairs: number; acc: number }[] } {
  if (!entry) return { fullFt: [], scpo: [] };
  return {
    fullFt: entry.fullFt.map((p) => ({ pairs: p.pairs, acc: p.accuracy * 100 })),
    scpo: [{ pairs: entry.scpo.pairs, acc: entry.scpo.accuracy * 100 }],
  };
}
