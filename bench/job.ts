// Benchmark (not a test): the PyTorch job of the default synthetic experiment for 2 countries and methods
// start/full_ft/scpo (the CI test's job), trained by /usr/bin/python3 + torch with 1 process, 2 processes
// (runs split over them) and 2 processes under DDP, next to the TypeScript cpu trainer on the same experiment.
// Wall times include Python start-up and process spawning; the machine's load average is saved with them.
// `npx tsx bench/job.ts` -> bench/results/job.json.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuBackend } from '../src/gpu/cpu/trainer.ts';
import { BUNDLED_MODEL_DIR, main as cli } from '../src/pipeline/cli.ts';
import { loadSynthetic } from '../src/pipeline/data/index.ts';
import { resolveConfig } from '../src/pipeline/experiment.ts';
import { loadBagRM } from '../src/pipeline/rm/files.ts';
import { dirReader } from '../src/pipeline/rm/files.node.ts';
import { runSession } from '../src/pipeline/session.ts';

const COUNTRIES = ['Chile', 'South Africa'];
const METHODS = ['start', 'full_ft', 'scpo'];

async function run(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'scpo-bench-job-'));
  try {
    const t0 = performance.now();
    await cli(['--data', 'synthetic', '--countries', COUNTRIES.join(','), '--methods', METHODS.join(','), '--backend', 'cpu', '--export-job', join(tmp, 'job'), '--quiet']);
    const exportMs = performance.now() - t0;
    const t1 = performance.now();
    const cpu0 = process.cpuUsage();
    const data = await loadSynthetic(0);
    const model = await loadBagRM(dirReader(BUNDLED_MODEL_DIR));
    const { result } = await runSession({ data, model, backend: cpuBackend, config: resolveConfig({ countries: COUNTRIES, methods: METHODS as never }), globalRm: 'as-loaded' });
    const tsMs = performance.now() - t1;
    const cpu1 = process.cpuUsage(cpu0);
    const tsCpuMs = (cpu1.user + cpu1.system) / 1000;
    const rows: Record<string, unknown>[] = [{ what: 'TypeScript cpu trainer (in process, load + train)', wallMs: Math.round(tsMs), cpuMsProcess: Math.round(tsCpuMs), avgScpo: result.reports.full.avg.scpo }];
    for (const [label, args] of [
      ['torch, 1 process', ['--nprocs', '1']],
      ['torch, 2 processes (runs split)', ['--nprocs', '2']],
      ['torch, 2 processes, DDP per run', ['--nprocs', '2', '--strategy', 'ddp']],
    ] as const) {
      const out = join(tmp, `out-${rows.length}`);
      const load = loadavg()[0];
      const t = performance.now();
      const r = spawnSync('/usr/bin/python3', [join(tmp, 'job', 'run.py'), ...args, '--out', out], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
      const wallMs = performance.now() - t;
      if (r.status !== 0) throw new Error(`${label}: ${r.stderr}`);
      const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as { timings: { wallMs: number; cpuMs: number } };
      const full = JSON.parse(readFileSync(join(out, 'full_report.json'), 'utf8')) as { avg: { scpo: number } };
      rows.push({ what: label, wallMs: Math.round(wallMs), insideJobMs: run.timings.wallMs, cpuMs: run.timings.cpuMs, avgScpo: full.avg.scpo, load1: Number(load.toFixed(2)) });
    }
    for (const r of rows) console.log(`${String(r.what).padEnd(52)} ${String(r.wallMs).padStart(7)} ms${r.insideJobMs ? ` (job ${r.insideJobMs} ms, CPU ${r.cpuMs} ms)` : ''}  avg scpo ${r.avgScpo}${r.load1 !== undefined ? `  load ${r.load1}` : ''}`);
    const res = { date: new Date().toISOString(), cpus: cpus().length, cpu: cpus()[0]?.model, exportMs: Math.round(exportMs), loadavgAtEnd: loadavg(), rows };
    mkdirSync('bench/results', { recursive: true });
    writeFileSync('bench/results/job.json', JSON.stringify(res, null, 2) + '\n');
    console.log(`export ${Math.round(exportMs)} ms; saved bench/results/job.json`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

await run();
