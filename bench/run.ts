// `npm run bench`: every benchmark, side by side on the same model (the bundled RM), data (default synthetic) and
// batch sizes. Prints tables and saves bench/results/bench.json (and pipeline.json via bench/pipeline.ts).
//   1. bench/pipeline.ts: the default 7-country all-methods run in Node (cpu backend)
//   2. headless Chromium (playwright-core, /usr/bin/chromium, --enable-unsafe-webgpu) on bench/page (built by vite,
//      served from 127.0.0.1 by bench/server.ts): training pairs/s of our cpu/webgpu trainers vs TensorFlow.js
//      (cpu/wasm/webgpu); scoring items/s of onnxruntime-web webgpu/wasm vs transformers.js; inline vs nested
//      scoring worker; the default run through the studio's experiment worker
//   3. scaling: 1x, 4x, 16x the default synthetic users (Node, one process each)
// Options: --quick (short caps), --only pipeline,train,score,experiment,scale (the other sections are kept from the
// last bench.json), --webgpu-run (also the full run on the webgpu backend: slow on SwiftShader), --full16 (the full
// run at 16x too, not only scoring+filter), --scale-plan 16:full,4:score-filter (just these scaling rows, merged
// into the saved ones), --report (only re-print the tables of the saved bench.json).
// Benchmarks never pass or fail on speed; a measurement that errors is recorded with its error.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build, defaultClientConditions } from 'vite';
import { CHROMIUM_ARGS } from '../playwright.config.ts';
import { startServer } from './server.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS = join(ROOT, 'bench/results');
const PAGE_DIR = join(ROOT, 'bench/page');
const PAGE_OUT = join(PAGE_DIR, 'dist');
const TSX = join(ROOT, 'node_modules/.bin/tsx');

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const onlyArg = argv.indexOf('--only');
const only = onlyArg >= 0 ? new Set((argv[onlyArg + 1] ?? '').split(',')) : null;
const want = (s: string) => !only || only.has(s);

const log = (m: string) => console.log(`[bench] ${m}`);

type Json = Record<string, unknown>;
function previous(): Json {
  try {
    return JSON.parse(readFileSync(join(RESULTS, 'bench.json'), 'utf8')) as Json;
  } catch {
    return {};
  }
}
const planArg = argv.indexOf('--scale-plan');
const scalePlan = planArg >= 0 ? (argv[planArg + 1] ?? '').split(',').map((x) => x.split(':')) : null;
const out: Json = {
  ...(only || scalePlan || argv.includes('--report') ? previous() : {}),
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? '?', memGiB: Math.round(totalmem() / 2 ** 30) },
  node: process.version,
  options: { quick, only: only ? [...only] : 'all', webgpuRun: argv.includes('--webgpu-run'), full16: argv.includes('--full16') },
};

function save(): void {
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, 'bench.json'), JSON.stringify(out, null, 2) + '\n');
}

function runPipeline(): void {
  log('pipeline: tsx bench/pipeline.ts');
  const r = spawnSync(TSX, ['bench/pipeline.ts'], { cwd: ROOT, stdio: 'inherit', timeout: 900_000 });
  if (r.status !== 0) {
    out.pipeline = { error: `bench/pipeline.ts exited ${r.status}` };
    return;
  }
  out.pipeline = JSON.parse(readFileSync(join(RESULTS, 'pipeline.json'), 'utf8'));
}

async function buildPage(): Promise<void> {
  const t = performance.now();
  await build({
    configFile: false,
    root: PAGE_DIR,
    base: '/',
    publicDir: false,
    logLevel: 'error',
    build: { outDir: PAGE_OUT, emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 1e6, reportCompressedSize: false },
    worker: { format: 'es' },
    // As in vite.config.ts: onnxruntime-web's build that loads its wasm from env.wasm.wasmPaths (/ort/) instead of
    // one that makes vite emit a second 27 MB copy of the .wasm into assets/.
    resolve: { conditions: ['onnxruntime-web-use-extern-wasm', ...defaultClientConditions] },
  });
  log(`bench page built in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}

/** page.evaluate of `window.__bench[fn](...args)` with a time limit; errors come back as { error }. */
async function call(page: Page, fn: string, args: unknown[], limitMs: number): Promise<Json> {
  const t = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const res = await Promise.race([
      page.evaluate(
        ([f, a]) => (window as unknown as { __bench: Record<string, (...x: unknown[]) => Promise<unknown>> }).__bench[f as string](...(a as unknown[])),
        [fn, args] as const,
      ),
      new Promise((_, rej) => (timer = setTimeout(() => rej(new Error(`timed out after ${limitMs / 1000} s`)), limitMs))),
    ]);
    return res as Json;
  } catch (e) {
    return { error: (e as Error).message.split('\n')[0] };
  } finally {
    clearTimeout(timer);
    log(`  ${fn}(${args.map((a) => JSON.stringify(a)).join(', ')}) ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
}

async function openPage(browser: Browser, url: string): Promise<Page> {
  const page = await browser.newPage();
  page.on('pageerror', (e) => log(`page error: ${e.message}`));
  await page.goto(`${url}/index.html`);
  await page.waitForFunction(() => document.getElementById('state')?.textContent === 'ready', null, { timeout: 60_000 });
  return page;
}

async function browserBenches(): Promise<void> {
  await buildPage();
  const { server, url } = await startServer([
    { prefix: '/tfjs/', dir: join(ROOT, 'node_modules/@tensorflow/tfjs-backend-wasm/dist') },
    { prefix: '/', dir: PAGE_OUT },
    { prefix: '/', dir: join(ROOT, 'public') },
  ]);
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
  try {
    let page = await openPage(browser, url);
    // A timed-out measurement may still be running in the page: start the next one on a fresh page.
    const run = async (fn: string, args: unknown[], limitMs: number): Promise<Json> => {
      const r = await call(page, fn, args, limitMs);
      if (typeof r.error === 'string' && r.error.startsWith('timed out')) {
        await page.close();
        page = await openPage(browser, url);
      }
      return r;
    };
    out.browser = { version: browser.version(), env: await run('env', [], 120_000) };
    save();

    if (want('train')) {
      const maxMs = quick ? 4_000 : 12_000;
      const maxSteps = quick ? 100 : 400;
      const impls = ['ours-cpu', 'ours-webgpu', 'tfjs-wasm', 'tfjs-webgpu', 'tfjs-cpu'];
      const rows: Json[] = [];
      for (const batch of [8, 64]) {
        for (const impl of impls) rows.push({ impl, batch, ...(await run('train', [impl, batch, maxSteps, maxMs], 180_000)) });
        out.train = rows;
        save();
      }
    }
    if (want('score')) {
      // On a software adapter (SwiftShader) webgpu scores ~200 items/s: measure it on a subset there.
      const adapter = ((out.browser as Json).env as Json).adapter as Json | null;
      const gpuLimit = !adapter || adapter.isFallbackAdapter ? 2000 : 0;
      const limit = quick ? 2000 : 0;
      const rows: Json[] = [];
      rows.push(await run('scoreOrt', ['wasm', limit], 300_000));
      rows.push(await run('scoreOrt', ['webgpu', gpuLimit || limit], 600_000));
      rows.push(await run('scoreTransformers', ['wasm', limit], 300_000));
      rows.push(await run('scoreTransformers', ['webgpu', gpuLimit || limit], 600_000));
      out.score = rows;
      save();
      out.scoreWorkers = [
        await run('scoreHost', ['nested', 'wasm', limit], 300_000),
        await run('scoreHost', ['inline', 'wasm', limit], 300_000),
        await run('scoreHost', ['nested', 'webgpu', gpuLimit || limit], 600_000),
        await run('scoreHost', ['inline', 'webgpu', gpuLimit || limit], 600_000),
      ];
      save();
    }
    if (want('experiment')) {
      out.exportCheck = await run('exportCheck', [], 300_000);
      save();
      const rows: Json[] = [await run('experiment', ['auto'], 900_000)];
      if (argv.includes('--webgpu-run')) rows.push(await run('experiment', ['webgpu'], 1_800_000));
      out.experiment = rows;
      save();
    }
  } finally {
    await browser.close();
    server.close();
  }
}

function runScale(): void {
  // A --scale-plan run replaces only its own rows.
  const rows: Json[] = scalePlan ? [...((out.scale ?? []) as Json[])] : [];
  const full16 = argv.includes('--full16');
  const plan: [number, string][] = scalePlan
    ? scalePlan.map(([sc, mode]) => [Number(sc), mode ?? 'full'])
    : quick
    ? [[1, 'score-filter'], [4, 'score-filter'], [16, 'score-filter'], [1, 'full']]
    : [[1, 'score-filter'], [4, 'score-filter'], [16, 'score-filter'], [1, 'full'], [4, 'full'], ...(full16 ? ([[16, 'full']] as [number, string][]) : [])];
  for (const [scale, mode] of plan) {
    const t = performance.now();
    const r = spawnSync(TSX, ['bench/scale.ts', '--scale', String(scale), '--mode', mode], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 1_800_000,
      env: { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --max-old-space-size=8192`.trim() },
    });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    let row: Json;
    try {
      row = JSON.parse(line) as Json;
    } catch {
      row = { scale, mode, error: (r.stderr || `exit ${r.status}`).trim().split('\n').pop() };
    }
    const at = rows.findIndex((x) => x.scale === scale && x.mode === mode);
    if (at >= 0) rows.splice(at, 1, row);
    else rows.push(row);
    log(`  scale ${scale}x ${mode}: ${((performance.now() - t) / 1000).toFixed(1)} s`);
    out.scale = rows;
    save();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Tables

const f = (x: unknown, d = 0): string => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : '-');
const err = (r: Json): string => (typeof r.error === 'string' ? `error: ${r.error}` : '');

function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => '| ' + r.map((c, i) => (c ?? '').padEnd(w[i])).join(' | ') + ' |';
  return [line(head), '|' + w.map((n) => '-'.repeat(n + 2)).join('|') + '|', ...rows.map(line)].join('\n');
}

function report(): string {
  const parts: string[] = [];
  const env = ((out.browser as Json | undefined)?.env ?? {}) as Json;
  const adapter = env.adapter as Json | null | undefined;
  parts.push(
    `Machine: ${(out.machine as Json).cpus} cores (${(out.machine as Json).cpu}), Node ${out.node}, ` +
      `Chromium ${(out.browser as Json | undefined)?.version ?? '-'}, WebGPU adapter ${adapter ? `${adapter.vendor}/${adapter.architecture}${adapter.isFallbackAdapter ? ' (software fallback)' : ''}` : 'none'}, ` +
      `crossOriginIsolated ${env.crossOriginIsolated ?? '-'}; model ${JSON.stringify(env.model ?? {})}; ${env.items ?? '-'} items, ${env.trainPairs ?? '-'} train pairs`,
  );
  const train = (out.train ?? []) as Json[];
  if (train.length) {
    const impls = [...new Set(train.map((r) => r.impl as string))];
    const cell = (impl: string, b: number) => {
      const r = train.find((x) => x.impl === impl && x.batch === b);
      return r ? (r.error ? 'error' : `${f(r.pairsPerSec)} (${r.steps} steps)`) : '-';
    };
    parts.push(
      '\nTraining throughput, pairs/s (same bag RM, same pooled synthetic train pairs, Adam lr 3e-3, wd 0; ours: lazy Adam on E rows, tfjs: dense Adam)\n' +
        table(
          ['trainer', 'batch 8', 'batch 64', 'loss first -> last (b64)', 'notes'],
          impls.map((i) => {
            const r64 = train.find((x) => x.impl === i && x.batch === 64) ?? {};
            const r8 = train.find((x) => x.impl === i && x.batch === 8) ?? {};
            return [i, cell(i, 8), cell(i, 64), `${f(r64.firstLoss, 3)} -> ${f(r64.lastLoss, 3)}`, err(r8) || err(r64) || String(r64.info ?? '').slice(0, 70)];
          }),
        ) +
        `\n(tfjs forward vs ours, max |diff| on 64 items: ${Object.entries((env.tfjsForwardMaxAbsDiff ?? {}) as Json)
          .map(([k, v]) => `${k} ${typeof v === 'number' ? v.toExponential(1) : String(v)}`)
          .join(', ')})`,
    );
  }
  const score = [...((out.score ?? []) as Json[]), ...((out.scoreWorkers ?? []) as Json[])];
  if (score.length) {
    parts.push(
      '\nScoring throughput (global RM on every item of the default synthetic data)\n' +
        table(
          ['scorer', 'items/s', 'items', 'init ms', 'max |diff| vs cpu forward', 'notes'],
          score.map((r) => [
            String(r.impl ?? 'error'),
            f(r.itemsPerSec),
            f(r.items),
            f(r.initMs),
            typeof r.maxAbsDiff === 'number' ? r.maxAbsDiff.toExponential(1) : '-',
            err(r) || String(r.reason ?? '').slice(0, 90),
          ]),
        ),
    );
  }
  const exp: string[][] = [];
  const pipe = out.pipeline as Json | undefined;
  if (pipe && !pipe.error) exp.push(['Node CLI path (bench/pipeline.ts)', String(pipe.backend ?? 'cpu').slice(0, 40), f((pipe.wallMs as number) / 1000, 1), JSON.stringify(pipe.phasesMs)]);
  for (const r of (out.experiment ?? []) as Json[]) {
    const statuses = (r.statuses ?? []) as { message: string }[];
    const scored = statuses.find((s) => /global RM scored|scoring with the/.test(s.message))?.message ?? '';
    exp.push([`Chromium experiment worker (pref ${r.backendPref})`, String(r.backend ?? '').slice(0, 40), f((r.wallMs as number) / 1000, 1), err(r) || `${JSON.stringify(r.timings)} ${scored}`]);
  }
  if (exp.length) parts.push('\nDefault run: 7 countries x 6 methods + efficiency (wall time)\n' + table(['where', 'backend', 'wall s', 'phases (ms) / scoring'], exp));
  const scale = [...((out.scale ?? []) as Json[])].sort((a, b) => String(b.mode).localeCompare(String(a.mode)) || (a.scale as number) - (b.scale as number));
  if (scale.length) {
    const base = (mode: string) => scale.find((r) => r.scale === 1 && r.mode === mode)?.wallMs as number | undefined;
    parts.push(
      '\nScaling (Node, cpu backend; score-filter = load + tokenize + global scoring + filter, no training; full = default run, 300-step budget per run)\n' +
        table(
          ['scale', 'mode', 'items', 'pairs', 'wall s', 'x of 1x', 'peak RSS MiB', 'phases ms'],
          scale.map((r) => {
            const b = base(r.mode as string);
            return [
              `${r.scale}x`,
              String(r.mode),
              f(r.items),
              f(r.pairs),
              f((r.wallMs as number) / 1000, 1),
              b && typeof r.wallMs === 'number' ? (r.wallMs / b).toFixed(2) : '-',
              f(r.peakRssMiB),
              err(r) || JSON.stringify(r.phasesMs),
            ];
          }),
        ),
    );
  }
  return parts.join('\n');
}

async function main(): Promise<void> {
  const t0 = performance.now();
  if (!argv.includes('--report')) {
    if (scalePlan) runScale();
    else {
      if (want('pipeline')) runPipeline();
      save();
      if (want('train') || want('score') || want('experiment')) await browserBenches();
      if (want('scale')) runScale();
    }
    out.totalMs = Math.round(performance.now() - t0);
    save();
  }
  const text = report();
  writeFileSync(join(RESULTS, 'bench.md'), text + '\n');
  console.log('\n' + text);
  log(`saved bench/results/bench.json and bench/results/bench.md in ${(out.totalMs as number / 1000).toFixed(0)} s`);
}

main().catch((e: unknown) => {
  console.error(`[bench] failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  save();
  process.exit(1);
});
