// Merging the results of experiments run side by side on disjoint groups of countries (worker threads).
import type { EfficiencyEntry } from '../eval.ts';
import type { ExperimentConfig } from './config.ts';
import { buildReports } from './reports.ts';
import type { CountrySets, ExperimentResult, RunResult } from './types.ts';
import { dict, own } from '../dict.ts';

/**
 * Merges the results of runExperiment on disjoint groups of `config.countries` (same data, model, seed and other
 * config; e.g. one per worker thread) into the result one runExperiment on the whole config gives: runs in config
 * country order (each country's runs in the order its part produced them), margins, sets (countries then majority),
 * efficiency entries, and the reports rebuilt with buildReports. Global scores: each pair's first finite score
 * among the parts. Timings: every key is the max over the parts (the parts ran side by side, so that is the wall
 * time of the phase); trainMs and efficiencyMs also get the sum over the parts as trainMsSum / efficiencyMsSum
 * (total compute); `parts` is the number of parts. Backend: the parts' distinct backend strings joined by "; ".
 */
export function mergeResults(parts: readonly ExperimentResult[], config: ExperimentConfig): ExperimentResult {
  if (parts.length === 0) throw new Error('mergeResults: no parts');
  const owner = (c: string): ExperimentResult => {
    const p = parts.find((x) => x.config.countries.includes(c));
    if (!p) throw new Error(`mergeResults: no part ran country "${c}"`);
    return p;
  };
  const runs: RunResult[] = [];
  const margins: ExperimentResult['margins'] = dict();
  const efficiencyCountries: Record<string, EfficiencyEntry> = dict();
  for (const c of config.countries) {
    const p = owner(c);
    runs.push(...p.runs.filter((r) => r.country === c));
    margins[c] = own(p.margins, c) ?? {};
    const e = own(p.reports.efficiency.countries, c);
    if (e) efficiencyCountries[c] = e;
  }
  const sets: Record<string, CountrySets> = dict();
  for (const c of new Set([...config.countries, ...config.majority])) {
    const p = config.countries.includes(c) ? owner(c) : parts.find((x) => own(x.sets, c));
    const s = own(p?.sets, c);
    if (s) sets[c] = s;
  }
  const n = parts[0].rPlus.length;
  const rPlus = new Float32Array(n).fill(Number.NaN);
  const rMinus = new Float32Array(n).fill(Number.NaN);
  for (const p of parts) {
    for (let i = 0; i < n; i++) {
      if (Number.isNaN(rPlus[i]) && !Number.isNaN(p.rPlus[i])) {
        rPlus[i] = p.rPlus[i];
        rMinus[i] = p.rMinus[i];
      }
    }
  }
  const timings: Record<string, number> = {};
  for (const p of parts) {
    for (const [k, v] of Object.entries(p.timings)) timings[k] = Math.max(timings[k] ?? -Infinity, v);
  }
  for (const k of ['trainMs', 'efficiencyMs']) {
    if (parts.some((p) => k in p.timings)) timings[`${k}Sum`] = parts.reduce((s, p) => s + (p.timings[k] ?? 0), 0);
  }
  timings.parts = parts.length;
  return {
    config,
    source: parts[0].source,
    backend: [...new Set(parts.map((p) => p.backend))].join('; '),
    rPlus,
    rMinus,
    sets,
    runs,
    margins,
    reports: buildReports(config, sets, runs, efficiencyCountries),
    timings,
    // Every part checked the same global RM against the same held-out users.
    ...(parts[0].globalRm ? { globalRm: parts[0].globalRm } : {}),
  };
}
