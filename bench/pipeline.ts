// Benchmark (not a test): the default 7-country, all-methods SCPO run on the synthetic data with the bundled RM,
// on the cpu backend, in process (workers=1) and split over 2 worker threads (workers=2, src/pipeline/parallel.node.ts).
// Prints and saves wall times, phases and peak memory to bench/results/pipeline.json; checks the reports match.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, totalmem } from 'node:os';
import { cpuBackend } from '../src/gpu/cpu/trainer.ts';
import { BUNDLED_MODEL_DIR } from '../src/pipeline/cli.ts';
import { loadSynthetic } from '../src/pipeline/data/index.ts';
import { resolveConfig } from '../src/pipeline/experiment.ts';
import { loadBagRM } from '../src/pipeline/rm/files.ts';
import { dirReader } from '../src/pipeline/rm/files.node.ts';
import { runSessionParallel } from '../src/pipeline/parallel.node.ts';
import { runSession } from '../src/pipeline/session.ts';

async function main(): Promise<void> {
  const t0 = performance.now();
  const data = await loadSynthetic(0);
  const tData = performance.now() - t0;
  const model = await loadBagRM(dirReader(BUNDLED_MODEL_DIR));
  const tModel = performance.now() - t0 - tData;
  const { result } = await runSession({ data, model, backend: cpuBackend, config: resolveConfig({}), globalRm: 'as-loaded' });
  const wallMs = performance.now() - t0;
  const peakRssMiB = process.resourceUsage().maxRSS / 1024;

  // workers=2: the same session, shard 0 here and shard 1 in a worker thread (data load and model load included).
  const t1 = performance.now();
  const data2 = await loadSynthetic(0);
  const par = await runSessionParallel(
    {
      data: data2,
      source: { data: { kind: 'synthetic', seed: 0 }, modelDir: BUNDLED_MODEL_DIR, backend: 'cpu' },
      config: resolveConfig({}),
      globalRm: 'as-loaded',
    },
    2,
  );
  const wall2Ms = performance.now() - t1;
  const same = JSON.stringify(par.result.reports) === JSON.stringify(result.reports);
  const steps = result.runs.reduce((s, r) => s + r.steps, 0);
  const figures = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? '?', memGiB: Math.round(totalmem() / 2 ** 30) },
    node: process.version,
    backend: result.backend,
    data: { items: data.items.length, pairs: data.pairs.length },
    runs: result.runs.length,
    trainSteps: steps,
    wallMs: Math.round(wallMs),
    phasesMs: { dataMs: Math.round(tData), modelMs: Math.round(tModel), ...result.timings },
    peakRssMiB: Math.round(peakRssMiB),
    workers2: { wallMs: Math.round(wall2Ms), phasesMs: par.result.timings, reportsIdentical: same },
    macroFull: result.reports.full.avg,
    goalWallMs: 10_000,
  };
  console.log(`SCPO default run (7 countries x ${result.config.methods.length} methods + efficiency), cpu backend`);
  console.log(`  wall time   workers=1 ${(wallMs / 1000).toFixed(2)} s, workers=2 ${(wall2Ms / 1000).toFixed(2)} s   (goal < 10 s)`);
  console.log(`  workers=2   ${Object.entries(par.result.timings).map(([k, v]) => `${k} ${v}`).join(', ')}; reports ${same ? 'identical' : 'DIFFER'}`);
  console.log(`  phases (1)  ${Object.entries(figures.phasesMs).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log(`  train steps ${steps} in ${result.runs.length} runs`);
  console.log(`  peak RSS    ${figures.peakRssMiB} MiB`);
  const dir = join(process.cwd(), 'bench/results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'pipeline.json'), JSON.stringify(figures, null, 2) + '\n');
  console.log('  saved bench/results/pipeline.json');
  if (!same) throw new Error('workers=2 reports differ from workers=1');
}

main().catch((e: unknown) => {
  console.error(`bench failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
