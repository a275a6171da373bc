// Benchmark-style check (not a test): the DEFAULT 7-country experiment (all methods, 300 steps, data efficiency)
// on the webgpu backend (Node Dawn; SwiftShader here, a real adapter on a GPU machine) vs the cpu backend, through
// the same session code as the CLI and the worker, with the bundled RM and loadSynthetic(0). Prints per-run
// per-step loss differences and accuracy differences; saves bench/results/parity.json (or parity-<adapter>.json
// on a hardware adapter). Takes ~5-10 min on SwiftShader; test/parity-experiment.test.ts runs a reduced config.
//   tsx bench/parity.ts [--countries a,b] [--steps N] [--no-efficiency] [--model DIR] [--out DIR]
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { cpuBackend } from '../src/gpu/cpu/trainer.ts';
import { getNodeGpu } from '../src/gpu/node-webgpu.node.ts';
import { createWebGpuBackend } from '../src/gpu/webgpu.ts';
import { loadSynthetic } from '../src/pipeline/data/index.ts';
import { resolveConfig, type ExperimentConfig, type ExperimentEvent } from '../src/pipeline/experiment.ts';
import { loadBagRM } from '../src/pipeline/rm/files.ts';
import { dirReader } from '../src/pipeline/rm/files.node.ts';
import { runSession } from '../src/pipeline/session.ts';
import { compareExperiments, formatParity } from '../test/helpers/experiment-parity.ts';

const { values: args } = parseArgs({
  options: {
    countries: { type: 'string' },
    steps: { type: 'string' },
    'no-efficiency': { type: 'boolean', default: false },
    model: { type: 'string', default: 'public/models/scpo-glove-rm' },
    out: { type: 'string', default: 'bench/results' },
  },
});

const LOSS_REL_TOL = 1e-4;
const ACC_PTS_TOL = 0.5;

async function main(): Promise<void> {
  const partial: Partial<ExperimentConfig> = {};
  if (args.countries) partial.countries = args.countries.split(',').map((s) => s.trim());
  if (args.steps) partial.steps = Number(args.steps);
  if (args['no-efficiency']) partial.efficiency = false;
  const config = resolveConfig(partial);
  const isDefault = Object.keys(partial).length === 0;
  const data = await loadSynthetic(0);
  const model = await loadBagRM(dirReader(resolve(args.model!)));

  const { gpu, notes } = await getNodeGpu();
  if (notes.length) console.log(`dawn: ${notes.join('; ')}`);
  // Explicitly webgpu, software adapters included: this compares numbers, not speed.
  const web = await createWebGpuBackend(gpu, { model: model.params.config });
  console.log(`webgpu: ${web.info}`);
  console.log(
    `config: ${config.countries.length} countries x ${config.methods.length} methods, ${config.steps} steps, batch ${config.batch}, ` +
      `efficiency ${config.efficiency}${isDefault ? ' (the default)' : ''}`,
  );

  const fallbacks: ExperimentEvent[] = [];
  let t = performance.now();
  let lastLog = 0;
  const a = await runSession({
    data,
    model,
    backend: web,
    config,
    globalRm: 'as-loaded',
    onEvent: (e) => {
      if (e.type === 'backend-fallback') fallbacks.push(e);
      if (e.type === 'phase' && performance.now() - lastLog > 15_000) {
        lastLog = performance.now();
        console.log(`  webgpu [${((lastLog - t) / 1000).toFixed(0)} s] ${e.phase} ${e.done}/${e.total} ${e.label}`);
      }
    },
  });
  const webMs = performance.now() - t;
  web.dispose();
  t = performance.now();
  const b = await runSession({ data, model, backend: cpuBackend, config, globalRm: 'as-loaded' });
  const cpuMs = performance.now() - t;

  const p = compareExperiments(a.result, b.result);
  const steps = (r: typeof a.result) => r.runs.reduce((s, x) => s + x.steps, 0);
  const effSteps = (ms: number, n: number) => +(ms / Math.max(1, n)).toFixed(3);
  const pass = p.worstLossRel < LOSS_REL_TOL && p.worstAccPts <= ACC_PTS_TOL && fallbacks.length === 0;
  console.log(formatParity(p));
  console.log(
    `webgpu ${(webMs / 1000).toFixed(1)} s (train ${a.result.timings.trainMs} ms, efficiency ${a.result.timings.efficiencyMs} ms), ` +
      `cpu ${(cpuMs / 1000).toFixed(1)} s (train ${b.result.timings.trainMs} ms, efficiency ${b.result.timings.efficiencyMs} ms)`,
  );
  console.log(`macro full accuracy (webgpu / cpu): ${Object.entries(p.macroFull).map(([m, [x, y]]) => `${m} ${x} / ${y}`).join(', ')}`);
  console.log(`${pass ? 'PASS' : 'FAIL'}: per-step losses within ${LOSS_REL_TOL} relative and accuracies within ${ACC_PTS_TOL} points`);

  const report = web.report;
  const figures = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? '?', memGiB: Math.round(totalmem() / 2 ** 30) },
    node: process.version,
    adapter: web.info,
    config,
    isDefaultConfig: isDefault,
    wallMs: { webgpu: Math.round(webMs), cpu: Math.round(cpuMs) },
    timings: { webgpu: a.result.timings, cpu: b.result.timings },
    // Wall time of the main training phase per optimizer step, live evaluation and final scoring included
    // (the efficiency runs are not in result.runs, so their time is left out here).
    trainMsPerStep: {
      webgpu: effSteps(a.result.timings.trainMs ?? 0, steps(a.result)),
      cpu: effSteps(b.result.timings.trainMs ?? 0, steps(b.result)),
    },
    mainRunSteps: steps(a.result),
    fallbacks,
    tolerance: { lossRel: LOSS_REL_TOL, accPts: ACC_PTS_TOL },
    pass,
    worstLossRel: p.worstLossRel,
    worstAccPts: p.worstAccPts,
    globalScoreAbs: p.globalScoreAbs,
    setMismatches: p.setMismatches,
    macroFull: p.macroFull,
    efficiencyAvgRatio: { webgpu: a.result.reports.efficiency.avgRatio, cpu: b.result.reports.efficiency.avgRatio },
    runs: p.runs,
  };
  const dir = resolve(args.out!);
  mkdirSync(dir, { recursive: true });
  const name = report.isFallbackAdapter ? 'parity.json' : `parity-${`${report.vendor}-${report.architecture}`.toLowerCase().replace(/[^a-z0-9_-]+/g, '_')}.json`;
  writeFileSync(join(dir, name), JSON.stringify(figures, null, 2) + '\n');
  console.log(`saved ${join(dir, name)}`);
  process.exitCode = pass ? 0 : 1;
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (e: unknown) => {
    console.error(`parity failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(2);
  },
);
