// The SCPO experiment's run loop: global scoring -> filter/weights -> one country RM per (country, method) ->
// data efficiency -> reports. One code path for the CLI, the Web Worker and the tests.
import { efficiencyEntry } from '../eval.ts';
import type { EfficiencyEntry, EfficiencyPoint } from '../eval.ts';
import { hashSeed, Rng } from '../rng.ts';
import { METHOD_SPECS, trainingSet } from '../scpo.ts';
import type { BagRMParams } from '../rm/types.ts';
import { checkpointTick } from '../train/loop.ts';
import { checkCountries, efficiencyEnabled, resolveConfig } from './config.ts';
import { RunContext } from './context.ts';
import { CountryRuns } from './country-runs.ts';
import { buildReports } from './reports.ts';
import { buildSets, scoreGlobal } from './scoring.ts';
import type { CountrySets, EfficiencyRun, ExperimentInputs, ExperimentResult, RunResult } from './types.ts';
import { dict } from '../dict.ts';
import { shardPlan, taskKey } from './shards.ts';

export async function runExperiment<P = BagRMParams>(inp: ExperimentInputs<P>): Promise<ExperimentResult> {
  const config = resolveConfig(inp.config);
  checkCountries(config, inp.data);
  const ctx = new RunContext(inp, config);
  const { emit } = ctx;
  const timings: Record<string, number> = {};
  const t0 = Date.now();

  // 1. Global scores of every item of the selected and majority countries.
  emit({ type: 'phase', phase: 'score', done: 0, total: 1, label: 'scoring with the global RM' });
  const g = await scoreGlobal(ctx);
  inp.onGlobalScores?.(g.gScores);
  emit({ type: 'scored', rPlus: g.rPlus, rMinus: g.rMinus });
  emit({ type: 'phase', phase: 'score', done: 1, total: 1, label: 'scored' });
  timings.scoreMs = Date.now() - t0;

  // 2. Per-country sets: train/test, kept by the filter, edited test pairs.
  const t1 = Date.now();
  const sets = buildSets(ctx, g);
  emit({ type: 'phase', phase: 'filter', done: 1, total: 1, label: 'filtered and weighted' });
  timings.filterMs = Date.now() - t1;

  const trainMethods = config.methods.filter((m) => METHOD_SPECS[m].trains);
  const doEfficiency = efficiencyEnabled(config);
  // Progress counts the whole experiment's runs, also in a shard (whose `done` counts its own; the parallel runner sums).
  const progress = {
    done: 0,
    total: config.countries.length * (trainMethods.length + (doEfficiency ? config.efficiencyFractions.length : 0)),
  };
  const country = new CountryRuns(ctx, g, sets);
  const runs: RunResult[] = [];
  const shard = inp.shard && inp.shard.of > 1 ? inp.shard : null;
  const mine = shard ? shardPlan(config, sets, g, shard.of) : null;
  const isMine = (key: string) => !mine || mine.get(key) === shard!.index;

  // 3. Country RMs.
  const t2 = Date.now();
  for (const c of config.countries) {
    country.margins[c] = {};
    const cand = sets[c].train;
    const cp = cand.map((i) => g.rPlus[i]);
    const cm = cand.map((i) => g.rMinus[i]);
    if (config.methods.includes('start') && isMine(taskKey(c, 'start'))) {
      const run = country.start(c);
      runs.push(run);
      emit({ type: 'run', run, margins: country.margins[c].start });
    }
    for (const m of trainMethods) {
      if (!isMine(taskKey(c, m))) continue;
      const ts = trainingSet(m, cand, cp, cm, config.tau, config.beta);
      const reuse = country.reusable(c, m, ts.pairs.length);
      emit({ type: 'phase', phase: 'train', done: progress.done, total: progress.total, label: `${c} · ${m}${reuse ? ' (resumed)' : ''}` });
      if (reuse) {
        country.adopt(c, m, reuse.margins);
        runs.push(reuse.run);
        progress.done++;
        emit({ type: 'run', run: reuse.run, margins: reuse.margins, resumed: true });
        continue;
      }
      const run = await country.train(c, m, ts.pairs, ts.weights, 'main', true);
      runs.push(run);
      progress.done++;
      emit({ type: 'run', run, margins: country.margins[c][m] });
    }
  }
  timings.trainMs = Date.now() - t2;

  // 4. Data efficiency: full_ft on random subsets vs scpo on its kept pairs.
  const t3 = Date.now();
  const efficiencyRuns: EfficiencyRun[] = [];
  const efficiencyCountries = doEfficiency ? await efficiencyCurves(ctx, country, sets, runs, progress, isMine, efficiencyRuns) : {};
  timings.efficiencyMs = Date.now() - t3;
  await checkpointTick(inp.control);

  // 5. Reports.
  emit({ type: 'phase', phase: 'evaluate', done: 0, total: 1, label: 'writing reports' });
  const reports = buildReports(config, sets, runs, efficiencyCountries);
  timings.totalMs = Date.now() - t0;
  emit({ type: 'phase', phase: 'done', done: 1, total: 1, label: 'done' });
  return {
    config,
    source: inp.data.source,
    backend: ctx.backend.info + ctx.fellBack,
    rPlus: g.rPlus,
    rMinus: g.rMinus,
    sets,
    runs,
    margins: country.margins,
    reports,
    timings,
    ...(shard ? { efficiencyRuns } : {}),
  };
}

/** Per country: full_ft on seeded random subsets of its train pairs, plus the main full_ft run, against scpo. */
async function efficiencyCurves<P>(
  ctx: RunContext<P>,
  country: CountryRuns<P>,
  sets: Record<string, CountrySets>,
  runs: readonly RunResult[],
  progress: { done: number; total: number },
  isMine: (key: string) => boolean,
  subsets: EfficiencyRun[],
): Promise<Record<string, EfficiencyEntry>> {
  const { config, emit } = ctx;
  const out: Record<string, EfficiencyEntry> = dict();
  for (const c of config.countries) {
    const all = sets[c].train;
    const order = all.slice();
    new Rng(hashSeed(config.seed, c, 'efficiency')).shuffle(order);
    const curve: EfficiencyPoint[] = [];
    for (const f of config.efficiencyFractions) {
      if (!isMine(taskKey(c, f))) continue;
      emit({ type: 'phase', phase: 'efficiency', done: progress.done, total: progress.total, label: `${c} · full_ft ${f}` });
      const sub = order.slice(0, Math.max(1, Math.round(f * all.length)));
      const r = await country.train(c, 'full_ft', sub, sub.map(() => 1), `eff${f}`, false);
      curve.push({ pairs: sub.length, accuracy: r.accFull });
      subsets.push({ country: c, fraction: f, pairs: sub.length, accuracy: r.accFull });
      progress.done++;
    }
    // A shard lacks the other shards' subsets and main runs: mergeShards builds the entries.
    if (curve.length < config.efficiencyFractions.length) continue;
    const ft = runs.find((r) => r.country === c && r.method === 'full_ft');
    const sc = runs.find((r) => r.country === c && r.method === 'scpo');
    if (ft && sc) {
      curve.push({ pairs: ft.trainPairs, accuracy: ft.accFull });
      const entry = efficiencyEntry(curve, { pairs: sc.trainPairs, accuracy: sc.accFull });
      out[c] = entry;
      emit({ type: 'efficiency', country: c, entry });
    }
  }
  return out;
}
