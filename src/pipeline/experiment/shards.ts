// Splitting an experiment's training work over parallel workers by (country, method) run, not by country, so the
// shards stay balanced whatever the number of countries (7 countries on 2 workers by country would be 4:3; by run
// the loads differ by at most one small run). Every shard computes the same plan from the same inputs, so no
// coordination is needed; mergeShards then rebuilds exactly the result of one unsharded run.
import { efficiencyEntry } from '../eval.ts';
import type { EfficiencyEntry, EfficiencyPoint } from '../eval.ts';
import { dict, own } from '../dict.ts';
import { METHOD_SPECS, trainingSet } from '../scpo.ts';
import { plannedSteps } from '../train/loop.ts';
import type { Method } from '../types.ts';
import { efficiencyEnabled } from './config.ts';
import type { ExperimentConfig } from './config.ts';
import { buildReports } from './reports.ts';
import type { GlobalScores } from './scoring.ts';
import type { CountrySets, ExperimentResult, ItemScorer, RunResult } from './types.ts';

/**
 * The global scorer of a shard that did not score itself: the scores another shard computed (per item, NaN where not
 * scored; ExperimentInputs.onGlobalScores), so every shard works from the very same numbers.
 */
export function scoresScorer(gScores: Float32Array): ItemScorer {
  return async (encoded, indices) => {
    if (encoded.count !== gScores.length) throw new Error(`scores of ${gScores.length} items given for ${encoded.count} items`);
    return Float32Array.from(indices, (i) => gScores[i]);
  };
}

/** A main run (country, method) or an efficiency subset (country, fraction). */
export function taskKey(country: string, what: Method | number): string {
  return `${country}\u0000${String(what)}`;
}

interface Task {
  key: string;
  cost: number;
}

/**
 * Which shard runs each task: longest first onto the least loaded shard (ties: lower index), costed by planned
 * training steps plus the live evaluations. `start` trains nothing and goes to shard 0. Pure and deterministic.
 */
export function shardPlan(config: ExperimentConfig, sets: Record<string, CountrySets>, g: Pick<GlobalScores, 'rPlus' | 'rMinus'>, of: number): Map<string, number> {
  const tasks: Task[] = [];
  const steps = (n: number) => plannedSteps(n, config.batch, config.steps, config.epochs);
  // An evaluation scores the country's test items: about as much as a few training steps.
  const evalCost = (c: string) => (config.evalPoints * sets[c].test.length * 2) / Math.max(1, config.batch * 2);
  for (const c of config.countries) {
    const cand = sets[c].train;
    const cp = cand.map((i) => g.rPlus[i]);
    const cm = cand.map((i) => g.rMinus[i]);
    for (const m of config.methods) {
      if (!METHOD_SPECS[m].trains) continue;
      const n = trainingSet(m, cand, cp, cm, config.tau, config.beta).pairs.length;
      tasks.push({ key: taskKey(c, m), cost: steps(n) + evalCost(c) });
    }
    if (efficiencyEnabled(config)) {
      for (const f of config.efficiencyFractions) tasks.push({ key: taskKey(c, f), cost: steps(Math.max(1, Math.round(f * cand.length))) });
    }
  }
  const plan = new Map<string, number>();
  for (const c of config.countries) plan.set(taskKey(c, 'start'), 0);
  const load = new Array<number>(Math.max(1, of)).fill(0);
  const order = tasks.map((t, i) => ({ ...t, i })).sort((a, b) => b.cost - a.cost || a.i - b.i);
  for (const t of order) {
    let best = 0;
    for (let k = 1; k < load.length; k++) if (load[k] < load[best]) best = k;
    load[best] += t.cost;
    plan.set(t.key, best);
  }
  return plan;
}

/**
 * The result of one unsharded runExperiment from the results of its shards (same inputs, `shard` 0..of-1): runs in
 * runExperiment's order (per country: start, then the trained methods in config order), margins, efficiency entries
 * from the shards' subset runs and the main full_ft / scpo runs, and the reports rebuilt with buildReports. Sets and
 * global scores are the same in every shard (each computed them). Timings: each key's max over the shards (they ran
 * side by side), trainMs / efficiencyMs also summed as trainMsSum / efficiencyMsSum; `parts` = number of shards.
 */
export function mergeShards(parts: readonly ExperimentResult[], config: ExperimentConfig): ExperimentResult {
  if (parts.length === 0) throw new Error('mergeShards: no parts');
  const find = (c: string, m: Method): { run: RunResult; part: ExperimentResult } | null => {
    for (const part of parts) {
      const run = part.runs.find((r) => r.country === c && r.method === m);
      if (run) return { run, part };
    }
    return null;
  };
  const order: Method[] = [...(config.methods.includes('start') ? (['start'] as Method[]) : []), ...config.methods.filter((m) => METHOD_SPECS[m].trains)];
  const runs: RunResult[] = [];
  const margins: ExperimentResult['margins'] = dict();
  for (const c of config.countries) {
    margins[c] = {};
    for (const m of order) {
      const hit = find(c, m);
      if (!hit) throw new Error(`mergeShards: no shard ran ${c} · ${m}`);
      runs.push(hit.run);
      const mg = own(hit.part.margins, c)?.[m];
      if (mg) margins[c][m] = mg;
    }
  }
  const efficiencyCountries: Record<string, EfficiencyEntry> = dict();
  if (efficiencyEnabled(config)) {
    const subsets = parts.flatMap((p) => p.efficiencyRuns ?? []);
    for (const c of config.countries) {
      const curve: EfficiencyPoint[] = [];
      for (const f of config.efficiencyFractions) {
        const s = subsets.find((x) => x.country === c && x.fraction === f);
        if (!s) throw new Error(`mergeShards: no shard ran the ${c} efficiency subset ${f}`);
        curve.push({ pairs: s.pairs, accuracy: s.accuracy });
      }
      const ft = runs.find((r) => r.country === c && r.method === 'full_ft');
      const sc = runs.find((r) => r.country === c && r.method === 'scpo');
      if (ft && sc) {
        curve.push({ pairs: ft.trainPairs, accuracy: ft.accFull });
        efficiencyCountries[c] = efficiencyEntry(curve, { pairs: sc.trainPairs, accuracy: sc.accFull });
      }
    }
  }
  const timings: Record<string, number> = {};
  for (const p of parts) for (const [k, v] of Object.entries(p.timings)) timings[k] = Math.max(timings[k] ?? -Infinity, v);
  for (const k of ['trainMs', 'efficiencyMs']) {
    if (parts.some((p) => k in p.timings)) timings[`${k}Sum`] = parts.reduce((s, p) => s + (p.timings[k] ?? 0), 0);
  }
  timings.parts = parts.length;
  const p0 = parts[0];
  return {
    config,
    source: p0.source,
    backend: [...new Set(parts.map((p) => p.backend))].join('; '),
    rPlus: p0.rPlus,
    rMinus: p0.rMinus,
    sets: p0.sets,
    runs,
    margins,
    reports: buildReports(config, p0.sets, runs, efficiencyCountries),
    timings,
    // Every shard checked the same global RM against the same held-out users (session.ts).
    ...(p0.globalRm ? { globalRm: p0.globalRm } : {}),
  };
}

/**
 * The studio's default number of training threads on a machine with `cores` logical cores: one per core but one, at
 * most 8, so the page always has a core to itself (on 2 cores, two training threads left the page's 30-46 ms tasks
 * waiting 100-140 ms for a core; with one, none waited past 100 ms: bench:studio, README). The run's experiment
 * worker is the first of them; the others are shard workers.
 */
export function defaultTrainingThreads(cores: number | undefined): number {
  const c = Number.isInteger(cores) && (cores as number) > 0 ? (cores as number) : 1;
  return Math.max(1, Math.min(8, c - 1));
}
