// Benchmark (not a test): the studio's default run in headless Chromium, from the click on Run to the filled
// results table, with peak memory (sum of Chromium's process RSS, sampled every 250 ms, and the page's JS heap).
// Needs a production build (`npx vite build`); saves bench/results/studio.json.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS } from '../playwright.config.ts';
import { startServer } from './server.ts';

/** RSS (MiB) of all processes whose command line contains the profile dir, i.e. this benchmark's Chromium. */
function chromiumRssMiB(marker: string): number {
  let total = 0;
  const out = execFileSync('ps', ['-eo', 'rss=,args='], { encoding: 'utf8', maxBuffer: 1 << 24 });
  for (const line of out.split('\n')) {
    if (!line.includes(marker)) continue;
    const kb = Number(line.trim().split(/\s+/, 1)[0]);
    if (Number.isFinite(kb)) total += kb;
  }
  return total / 1024;
}

async function main(): Promise<void> {
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
    await page.goto(url + '/');
    await page.waitForFunction(() => window.__studio?.getState().dataStatus === 'ready', null, { timeout: 120_000 });
    let peakRss = chromiumRssMiB(marker);
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, chromiumRssMiB(marker));
    }, 250);
    const t0 = performance.now();
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
    clearInterval(sampler);
    const heap = await page.evaluate(() => (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? null);
    const state = await page.evaluate(() => window.__studio?.getState());
    const figures = {
      date: new Date().toISOString(),
      chromium: browser.version(),
      status: state?.status,
      backend: state?.backend,
      clickToTableMs: Math.round(clickToTableMs),
      peakChromiumRssMiB: Math.round(peakRss),
      pageJsHeapMiB: heap === null ? null : Math.round(heap / 2 ** 20),
    };
    console.log('Studio default run in headless Chromium (7 countries x 6 methods + efficiency)');
    console.log(`  click -> final table  ${(clickToTableMs / 1000).toFixed(1)} s   (status ${figures.status})`);
    console.log(`  peak Chromium RSS     ${figures.peakChromiumRssMiB} MiB (all processes)`);
    console.log(`  page JS heap at end   ${figures.pageJsHeapMiB ?? '-'} MiB`);
    const dir = join(process.cwd(), 'bench/results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'studio.json'), JSON.stringify(figures, null, 2) + '\n');
    console.log('  saved bench/results/studio.json');
  } finally {
    await browser.close();
    server.close();
  }
}

main().catch((e: unknown) => {
  console.error(`bench failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
