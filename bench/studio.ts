// Benchmark (not a test): the studio's default run in headless Chromium, from the click on Run to the filled
// results table. Measures the page's responsiveness (PerformanceObserver 'longtask': count, total, worst, between
// the click and the table), the time, and memory: the PSS of the whole Chromium process tree (browser, renderer,
// GPU, utility processes; PSS shares pages fairly between them), sampled every 200 ms, peak and idle.
// Needs a production build (`npx vite build`); prints the figures and saves bench/results/studio.json (and appends
// the run to bench/results/studio-history.json, so before/after runs on the same machine sit side by side).
// Usage: npm run bench:studio [-- --label <text>] [--workers N]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
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

/** Sum of PSS (MiB) over the processes (from /proc/<pid>/smaps_rollup; processes that just ended count 0). */
function pssMiB(pids: number[]): number {
  return Object.values(pssByRole(pids)).reduce((a, b) => a + b, 0);
}

async function main(): Promise<void> {
  const arg = (k: string) => (process.argv.includes(k) ? process.argv[process.argv.indexOf(k) + 1] : undefined);
  const label = arg('--label') ?? '';
  // --workers N: the studio's training workers (default: navigator.hardwareConcurrency), via its localStorage override.
  const workers = arg('--workers');
  const dist = join(process.cwd(), 'dist');
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
    });
    await page.goto(url + '/');
    if (workers) {
      await page.evaluate((n) => localStorage.setItem('scpo-studio.workers', n), workers);
      await page.reload();
    }
    await page.waitForFunction(() => window.__studio?.getState().dataStatus === 'ready', null, { timeout: 120_000 });
    await page.waitForTimeout(1000);
    const idlePss = pssMiB(processTree(marker));
    let peakPss = idlePss;
    const t0 = performance.now();
    let peakRoles: Record<string, number> = {};
    let peakAt = 0;
    const sampler = setInterval(() => {
      const roles = pssByRole(processTree(marker));
      const total = Object.values(roles).reduce((a, b) => a + b, 0);
      if (total > peakPss) (peakPss = total), (peakRoles = roles), (peakAt = performance.now() - t0);
    }, 200);
    const clickAt = await page.evaluate(() => performance.now());
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
    const tableAt = await page.evaluate(() => performance.now());
    clearInterval(sampler);
    peakPss = Math.max(peakPss, pssMiB(processTree(marker)));
    const tasks = (await page.evaluate(() => (window as unknown as { __longTasks: { start: number; duration: number }[] }).__longTasks)).filter(
      (t) => t.start >= clickAt && t.start <= tableAt,
    );
    const heap = await page.evaluate(() => (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? null);
    const state = await page.evaluate(() => window.__studio?.getState());
    const figures = {
      date: new Date().toISOString(),
      label,
      chromium: browser.version(),
      machine: { cpus: cpus().length, loadavg1: Math.round(loadavg()[0] * 10) / 10 },
      hardwareConcurrency: await page.evaluate(() => navigator.hardwareConcurrency),
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
      peakChromiumPssMiB: Math.round(peakPss),
      peakAtMs: Math.round(peakAt),
      peakByRoleMiB: Object.fromEntries(Object.entries(peakRoles).map(([k, v]) => [k, Math.round(v)])),
      idleChromiumPssMiB: Math.round(idlePss),
      pageJsHeapMiB: heap === null ? null : Math.round(heap / 2 ** 20),
    };
    const lt = figures.longTasks;
    console.log(`Studio default run in headless Chromium (7 countries x 6 methods + efficiency)${label ? ` [${label}]` : ''}`);
    console.log(`  machine               ${figures.machine.cpus} cores, load average ${figures.machine.loadavg1} (shared: timings are noisy)`);
    console.log(`  click -> final table  ${(clickToTableMs / 1000).toFixed(1)} s   (status ${figures.status}, ${figures.workers} worker(s), ${figures.backend})`);
    console.log(`  long tasks            ${lt.count}, total ${lt.totalMs} ms, worst ${lt.worstMs} ms, ${lt.over100ms} over 100 ms`);
    console.log(`  longest (at ms)       ${lt.longest.map((t) => `${t.ms}@${t.atMs}`).join(', ')} (table at ${lt.tableAtMs})`);
    console.log(`  Chromium PSS          peak ${figures.peakChromiumPssMiB} MiB, idle ${figures.idleChromiumPssMiB} MiB (whole process tree)`);
    console.log(`  at the peak (${(figures.peakAtMs / 1000).toFixed(1)} s)   ${Object.entries(figures.peakByRoleMiB).map(([k, v]) => `${k} ${v}`).join(', ')} MiB`);
    console.log(`  page JS heap at end   ${figures.pageJsHeapMiB ?? '-'} MiB`);
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
