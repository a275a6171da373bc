// Benchmark (not a test): the studio's default run in headless Chromium, from the click on Run to the filled
// results table. Measures the page's responsiveness (PerformanceObserver 'longtask': count, total, worst, between
// the click and the table), the time, and memory: the PSS of the whole Chromium process tree (browser, renderer,
// GPU, utility processes; PSS shares pages fairly between them), sampled every 200 ms, peak and idle.
// Needs a production build (`npx vite build`); prints the figures and saves bench/results/studio.json (and appends
// the run to bench/results/studio-history.json, so before/after runs on the same machine sit side by side).
// Usage: npm run bench:studio [-- --label <text>] [--workers N] [--settle ms] [--dist dir] [--timeline] [--no-save] [--profile <file>] [--trace <file>] [--load-only]
// --timeline prints when each worker message arrived (always saved); --no-save: print only (exploring); --load-only:
// no Run, only the PSS over the page's first 8 s (printed, not saved);
// --profile <file>: save the page main thread's CPU profile (.cpuprofile, for Chrome DevTools) from click to table;
// --trace <file>: save the Chromium performance trace of the same span (chrome://tracing or DevTools' Performance panel;
// TRACE_CATEGORIES=a,b to choose categories). The span is always traced (in memory) for the main thread's tasks and
// their CPU time: long tasks in wall time and in CPU time, since on a loaded machine a task mostly waits for a core.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS } from '../playwright.config.ts';
import { startServer } from './server.ts';

/** PIDs of the process whose command line contains `marker` and of all its descendants. */
function processTree(marker: string): number[] {
  const out = execFileSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const rows = out
    .split('\n')
    .map((l) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), args: m[3] }));
  const tree = new Set(rows.filter((r) => r.args.includes(marker)).map((r) => r.pid));
  for (let grew = true; grew; ) {
    grew = false;
    for (const r of rows) if (!tree.has(r.pid) && tree.has(r.ppid)) (tree.add(r.pid), (grew = true));
  }
  return [...tree];
}

/** PSS (MiB) of each process by its Chromium role (--type=renderer, gpu-process, utility...; 'browser' for the root). */
function pssByRole(pids: number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const pid of pids) {
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const role = /--type=([\w-]+)/.exec(cmd)?.[1] ?? 'browser';
      if (m) out[role] = (out[role] ?? 0) + Number(m[1]) / 1024;
    } catch {
      // gone
    }
  }
  return out;
}

/** CPU time (ms, user + system) of every thread of the processes, keyed by role and thread name (/proc/<pid>/task/<tid>/stat). */
function threadCpu(pids: number[]): Map<string, number> {
  const out = new Map<string, number>();
  const tick = 10; // USER_HZ = 100 on Linux
  for (const pid of pids) {
    try {
      const role = /--type=([\w-]+)/.exec(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))?.[1] ?? 'browser';
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const close = stat.lastIndexOf(')');
        const name = stat.slice(stat.indexOf('(') + 1, close).replace(/\d+$/, '#');
        const f = stat.slice(close + 2).split(' ');
        // Fields 14 and 15 (utime, stime) are at 11 and 12 after the ')'.
        const ms = (Number(f[11]) + Number(f[12])) * tick;
        out.set(`${pid}/${tid}`, ms);
        names.set(`${pid}/${tid}`, `${role}:${name}`);
      }
    } catch {
      // gone
    }
  }
  return out;
}
const names = new Map<string, string>();

/** CPU ms per role:thread-name spent between two threadCpu() snapshots (threads born meanwhile count from 0). */
function cpuBetween(a: Map<string, number>, b: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of b) {
    const d = v - (a.get(k) ?? 0);
    if (d <= 0) continue;
    // Workers by thread id (each trains its own shard); the other threads summed by name.
    const n = (names.get(k) ?? k) + ((names.get(k) ?? '').endsWith('DedicatedWorker') ? ` ${k.split('/')[1]}` : '');
    out[n] = (out[n] ?? 0) + d;
  }
  return Object.fromEntries(Object.entries(out).sort((x, y) => y[1] - x[1]));
}

/** Sum of PSS (MiB) over the processes (from /proc/<pid>/smaps_rollup; processes that just ended count 0). */
function pssMiB(pids: number[]): number {
  return Object.values(pssByRole(pids)).reduce((a, b) => a + b, 0);
}

interface TraceEvent {
  name: string;
  cat?: string;
  ph: string;
  pid: number;
  tid: number;
  ts: number;
  dur?: number;
  tdur?: number;
  args?: { name?: string };
}

/**
 * The page main thread's tasks between the marks `from` and `to` of a Chromium trace (category
 * disabled-by-default-devtools.timeline: RunTask with its wall `dur` and its thread CPU time `tdur`, in µs). The CPU
 * time says what a task costs whatever the load: on this shared machine a task's wall time is mostly waiting for a core
 * (the training workers and other jobs take them), so long tasks are reported with both.
 */
function mainThreadTasks(events: TraceEvent[], from: string, to: string): { atMs: number; wallMs: number; cpuMs: number }[] {
  const threadNames = new Map<string, string>();
  const counts = new Map<string, number>();
  for (const e of events) {
    const k = `${e.pid}/${e.tid}`;
    if (e.ph === 'M' && e.name === 'thread_name') threadNames.set(k, e.args?.name ?? '');
    if (e.name === 'RunTask') counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  // The page's renderer main thread: the busiest CrRendererMain (other renderers: about:blank, utility pages).
  const main = [...threadNames].filter(([, n]) => n === 'CrRendererMain').sort((a, b) => (counts.get(b[0]) ?? 0) - (counts.get(a[0]) ?? 0))[0]?.[0];
  const mark = (name: string) => events.find((e) => e.name === name)?.ts;
  const [t0, t1] = [mark(from), mark(to)];
  if (main === undefined || t0 === undefined || t1 === undefined) return [];
  return events
    .filter((e) => e.name === 'RunTask' && e.ph === 'X' && `${e.pid}/${e.tid}` === main && e.ts >= t0 && e.ts <= t1)
    .map((e) => ({ atMs: Math.round((e.ts - t0) / 1000), wallMs: (e.dur ?? 0) / 1000, cpuMs: (e.tdur ?? 0) / 1000 }));
}

/** Consecutive entries with the same text become one (with a count), so the timeline stays short. */
function collapse(entries: { atMs: number; what: string }[]): { atMs: number; what: string }[] {
  const out: { atMs: number; what: string; n: number; lastMs: number }[] = [];
  for (const e of entries) {
    const last = out[out.length - 1];
    if (last && last.what === e.what) (last.n++, (last.lastMs = e.atMs));
    else out.push({ ...e, n: 1, lastMs: e.atMs });
  }
  return out.map((e) => ({ atMs: e.atMs, what: e.n > 1 ? `${e.what} (x${e.n}, until ${e.lastMs} ms)` : e.what }));
}

async function main(): Promise<void> {
  const arg = (k: string) => (process.argv.includes(k) ? process.argv[process.argv.indexOf(k) + 1] : undefined);
  const label = arg('--label') ?? '';
  // --workers N: the studio's training workers (default: one per core but one), via its localStorage override.
  const workers = arg('--workers');
  // --dist <dir>: another build to measure (e.g. an older commit's, for a before/after in the same conditions).
  const dist = resolve(arg('--dist') ?? join(process.cwd(), 'dist'));
  if (!existsSync(join(dist, 'index.html'))) throw new Error('no production build: run `npx vite build` first');
  const { server, url } = await startServer([{ prefix: '/', dir: dist }]);
  const marker = `scpo-bench-studio-${process.pid}`;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [...CHROMIUM_ARGS, `--user-agent=${marker}`],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    // Long tasks of the page's main thread, recorded from the start; the window is cut to click..table below.
    await page.addInitScript(() => {
      const w = window as unknown as { __longTasks: { start: number; duration: number }[] };
      w.__longTasks = [];
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) w.__longTasks.push({ start: e.startTime, duration: e.duration });
      }).observe({ type: 'longtask', buffered: true });
      // The timeline: when each message from a worker arrived (type, and its status text / phase labels), so the
      // figures say where the time goes. A listener added to every Worker the page makes; the product is unchanged.
      const t = window as unknown as { __timeline: { at: number; what: string }[] };
      t.__timeline = [];
      const Orig = window.Worker;
      window.Worker = class extends Orig {
        constructor(url: string | URL, opts?: WorkerOptions) {
          super(url, opts);
          this.addEventListener('message', (ev: MessageEvent) => {
            const m = ev.data as { type?: string; message?: string; events?: { type: string; phase?: string; label?: string }[] };
            const what =
              m.type === 'status'
                ? `status: ${m.message}`
                : m.type === 'events'
                  ? `events: ${[...new Set((m.events ?? []).map((e) => (e.type === 'phase' ? `phase ${e.phase} ${e.label}` : e.type)))].slice(0, 4).join(' | ')}`
                  : String(m.type);
            t.__timeline.push({ at: performance.now(), what });
          });
        }
      } as typeof Worker;
    });
    const loadT0 = performance.now();
    await page.goto(url + '/');
    // --load-only: no Run; the PSS of the tree every 200 ms for 8 s from the navigation (what loading the page and the
    // worker's preparation of the default run cost by themselves, e.g. onnxruntime-web's start-up).
    if (process.argv.includes('--load-only')) {
      const series: { atMs: number; total: number }[] = [];
      while (performance.now() - loadT0 < 8000) {
        await new Promise((r) => setTimeout(r, 200));
        series.push({ atMs: Math.round(performance.now() - loadT0), total: Math.round(pssMiB(processTree(marker))) });
      }
      const peak = series.reduce((a, p) => (p.total > a.total ? p : a), series[0]);
      console.log(`Studio page load, no Run${label ? ` [${label}]` : ''}: peak PSS ${peak.total} MiB at ${(peak.atMs / 1000).toFixed(1)} s, settled ${series[series.length - 1].total} MiB at 8 s`);
      console.log(`  PSS total             ${series.filter((_, i) => i % 2 === 0).map((p) => `${(p.atMs / 1000).toFixed(1)}s ${p.total}`).join(', ')}`);
      return;
    }
    if (workers) {
      await page.evaluate((n) => localStorage.setItem('scpo-studio.workers', n), workers);
      await page.reload();
    }
    await page.waitForFunction(() => window.__studio?.getState().dataStatus === 'ready', null, { timeout: 120_000 });
    // --settle <ms> (default 1000): how long after the data is shown the user presses Run (the worker prepares the
    // default run meanwhile: the model, the tokens, onnxruntime-web; a person reading the page takes a few seconds).
    const settleMs = Number(arg('--settle') ?? 1000);
    await page.waitForTimeout(settleMs);
    const idlePss = pssMiB(processTree(marker));
    let peakPss = idlePss;
    const t0 = performance.now();
    let peakRoles: Record<string, number> = {};
    let peakAt = 0;
    const pssSeries: { atMs: number; total: number; renderer: number }[] = [];
    // Per-thread CPU: the latest reading of every thread seen (a terminated worker keeps its last one).
    const cpuStart = threadCpu(processTree(marker));
    const cpuLast = new Map(cpuStart);
    const sampler = setInterval(() => {
      const tree = processTree(marker);
      for (const [k, v] of threadCpu(tree)) cpuLast.set(k, v);
      const roles = pssByRole(tree);
      const total = Object.values(roles).reduce((a, b) => a + b, 0);
      pssSeries.push({ atMs: Math.round(performance.now() - t0), total: Math.round(total), renderer: Math.round(roles.renderer ?? 0) });
      if (total > peakPss) (peakPss = total), (peakRoles = roles), (peakAt = performance.now() - t0);
    }, 200);
    // --profile <file>: the page main thread's CPU profile (Chrome DevTools format) from the click to the table.
    const profileFile = arg('--profile');
    const cdp = profileFile ? await page.context().newCDPSession(page) : null;
    if (cdp) {
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.setSamplingInterval', { interval: 500 });
      await cdp.send('Profiler.start');
    }
    // --trace <file>: a Chromium performance trace (devtools.timeline: scripting, style, layout, paint per task).
    // Always traced (the main thread's tasks with their CPU time, see mainThreadTasks); into the file when asked.
    const traceFile = arg('--trace');
    const categories = (process.env.TRACE_CATEGORIES ?? (traceFile ? 'devtools.timeline,v8.execute' : '')).split(',').filter(Boolean);
    await browser.startTracing(page, { path: traceFile, categories: [...new Set([...categories, 'disabled-by-default-devtools.timeline', 'blink.user_timing'])] });
    const clickAt = await page.evaluate(() => (performance.mark('bench:click'), performance.now()));
    await page.getByTestId('run-button').click();
    await page.waitForFunction(
      () => {
        const s = window.__studio?.getState();
        return s !== undefined && s.status !== 'running' && s.status !== 'paused' && s.status !== 'idle';
      },
      null,
      { timeout: 600_000, polling: 100 },
    );
    await page.getByTestId('tab-results').click();
    await page.getByTestId('results-table').locator('tbody tr').first().waitFor();
    const clickToTableMs = performance.now() - t0;
    const tableAt = await page.evaluate(() => (performance.mark('bench:table'), performance.now()));
    clearInterval(sampler);
    const trace = JSON.parse((await browser.stopTracing()).toString('utf8')) as { traceEvents: TraceEvent[] };
    if (traceFile) console.log(`  trace: ${traceFile}`);
    const mainTasks = mainThreadTasks(trace.traceEvents, 'bench:click', 'bench:table');
    const longMain = mainTasks.filter((t) => t.wallMs > 50);
    if (cdp && profileFile) {
      const { profile } = (await cdp.send('Profiler.stop')) as { profile: unknown };
      writeFileSync(profileFile, JSON.stringify(profile));
      console.log(`  main-thread CPU profile: ${profileFile}`);
    }
    for (const [k, v] of threadCpu(processTree(marker))) cpuLast.set(k, v);
    const cpuMs = cpuBetween(cpuStart, cpuLast);
    peakPss = Math.max(peakPss, pssMiB(processTree(marker)));
    const tasks = (await page.evaluate(() => (window as unknown as { __longTasks: { start: number; duration: number }[] }).__longTasks)).filter(
      (t) => t.start >= clickAt && t.start <= tableAt,
    );
    const timeline = (await page.evaluate(() => (window as unknown as { __timeline: { at: number; what: string }[] }).__timeline))
      .filter((e) => e.at >= clickAt)
      .map((e) => ({ atMs: Math.round(e.at - clickAt), what: e.what.slice(0, 160) }));
    const heap = await page.evaluate(() => (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? null);
    const state = await page.evaluate(() => window.__studio?.getState());
    const figures = {
      date: new Date().toISOString(),
      label,
      chromium: browser.version(),
      machine: { cpus: cpus().length, loadavg1: Math.round(loadavg()[0] * 10) / 10 },
      hardwareConcurrency: await page.evaluate(() => navigator.hardwareConcurrency),
      settleMs,
      status: state?.status,
      backend: state?.backend?.name,
      workers: state?.result?.timings?.workers ?? 1,
      clickToTableMs: Math.round(clickToTableMs),
      longTasks: {
        count: tasks.length,
        totalMs: Math.round(tasks.reduce((s, t) => s + t.duration, 0)),
        worstMs: Math.round(Math.max(0, ...tasks.map((t) => t.duration))),
        over100ms: tasks.filter((t) => t.duration > 100).length,
        /** The five longest, with when they started (ms after the click; the table appeared at tableAtMs). */
        longest: [...tasks]
          .sort((a, b) => b.duration - a.duration)
          .slice(0, 5)
          .map((t) => ({ atMs: Math.round(t.start - clickAt), ms: Math.round(t.duration) })),
        tableAtMs: Math.round(tableAt - clickAt),
      },
      /**
       * The same span from a Chromium trace of the page's main thread: the long tasks (over 50 ms of wall time) with
       * the CPU time they took (the rest of their wall time the thread waited for a core), the costliest tasks by CPU
       * time, and the thread's CPU time in tasks overall. Robust to the machine's load, unlike the wall times above.
       */
      mainThread: {
        longTasks: longMain.length,
        longTasksWallMs: Math.round(longMain.reduce((a, t) => a + t.wallMs, 0)),
        longTasksCpuMs: Math.round(longMain.reduce((a, t) => a + t.cpuMs, 0)),
        worstWallMs: Math.round(Math.max(0, ...mainTasks.map((t) => t.wallMs))),
        worstCpuMs: Math.round(Math.max(0, ...mainTasks.map((t) => t.cpuMs))),
        tasksOver50msCpu: mainTasks.filter((t) => t.cpuMs > 50).length,
        costliest: [...mainTasks]
          .sort((a, b) => b.cpuMs - a.cpuMs)
          .slice(0, 5)
          .map((t) => ({ atMs: t.atMs, cpuMs: Math.round(t.cpuMs), wallMs: Math.round(t.wallMs) })),
        cpuMs: Math.round(mainTasks.reduce((a, t) => a + t.cpuMs, 0)),
      },
      peakChromiumPssMiB: Math.round(peakPss),
      peakAtMs: Math.round(peakAt),
      peakByRoleMiB: Object.fromEntries(Object.entries(peakRoles).map(([k, v]) => [k, Math.round(v)])),
      idleChromiumPssMiB: Math.round(idlePss),
      /** PSS of the whole tree and of the renderer(s) (MiB), every ~200 ms from the click. */
      pssSeries,
      pageJsHeapMiB: heap === null ? null : Math.round(heap / 2 ** 20),
      /** CPU ms per process role and thread name between the click and the table (threads sampled every 200 ms). */
      cpuMsByThread: cpuMs,
      /** The run's own phase timings (max over shards, plus the shards' sums). */
      runTimings: state?.result?.timings ?? null,
      /** Messages from the experiment worker after the click (status texts, phases; repeated event kinds collapsed). */
      timeline: collapse(timeline),
    };
    const lt = figures.longTasks;
    console.log(`Studio default run in headless Chromium (7 countries x 6 methods + efficiency)${label ? ` [${label}]` : ''}`);
    console.log(`  machine               ${figures.machine.cpus} cores, load average ${figures.machine.loadavg1} (shared: timings are noisy)`);
    console.log(`  click -> final table  ${(clickToTableMs / 1000).toFixed(1)} s   (status ${figures.status}, ${figures.workers} worker(s), ${figures.backend})`);
    console.log(`  long tasks            ${lt.count}, total ${lt.totalMs} ms, worst ${lt.worstMs} ms, ${lt.over100ms} over 100 ms`);
    console.log(`  longest (at ms)       ${lt.longest.map((t) => `${t.ms}@${t.atMs}`).join(', ')} (table at ${lt.tableAtMs})`);
    const mt = figures.mainThread;
    console.log(`  main thread (trace)   long tasks ${mt.longTasks}: ${mt.longTasksCpuMs} ms CPU of ${mt.longTasksWallMs} ms wall; worst task ${mt.worstCpuMs} ms CPU (${mt.worstWallMs} ms wall); ${mt.tasksOver50msCpu} over 50 ms CPU; ${mt.cpuMs} ms CPU in tasks`);
    console.log(`  costliest (CPU/wall@) ${mt.costliest.map((t) => `${t.cpuMs}/${t.wallMs}@${t.atMs}`).join(', ')}`);
    console.log(`  Chromium PSS          peak ${figures.peakChromiumPssMiB} MiB, idle ${figures.idleChromiumPssMiB} MiB (whole process tree)`);
    console.log(`  at the peak (${(figures.peakAtMs / 1000).toFixed(1)} s)   ${Object.entries(figures.peakByRoleMiB).map(([k, v]) => `${k} ${v}`).join(', ')} MiB`);
    console.log(`  page JS heap at end   ${figures.pageJsHeapMiB ?? '-'} MiB`);
    console.log(`  CPU ms by thread      ${Object.entries(cpuMs).filter(([, v]) => v >= 100).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    console.log(`  run timings           ${JSON.stringify(figures.runTimings)}`);
    if (process.argv.includes('--timeline')) console.log(`  PSS total/renderer    ${pssSeries.filter((_, i) => i % 3 === 0).map((p) => `${(p.atMs / 1000).toFixed(1)}s ${p.total}/${p.renderer}`).join(', ')}`);
    if (process.argv.includes('--timeline')) for (const e of figures.timeline) console.log(`  ${String(e.atMs).padStart(7)} ms  ${e.what}`);
    if (process.argv.includes('--no-save')) return;
    const dir = join(process.cwd(), 'bench/results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'studio.json'), JSON.stringify(figures, null, 2) + '\n');
    const histFile = join(dir, 'studio-history.json');
    const hist: unknown[] = existsSync(histFile) ? (JSON.parse(readFileSync(histFile, 'utf8')) as unknown[]) : [];
    writeFileSync(histFile, JSON.stringify([...hist, figures], null, 2) + '\n');
    console.log('  saved bench/results/studio.json (+ studio-history.json)');
  } finally {
    await browser.close();
    server.close();
  }
}

main().catch((e: unknown) => {
  console.error(`bench failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
