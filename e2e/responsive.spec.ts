// What keeps the page's main thread (and the compositor) free while a run trains in the workers: no endless CSS
// animation or transition during the run (they redraw every frame on a 2-core machine), and live charts that take new
// data at most about once a second (LIVE_CHART_MS) while their points stream in every 250 ms, charts that mount one at a
// time (before any run, while the page is idle) instead of all in one task. bench:studio measures the effect (long
// tasks, CPU per thread); this checks the mechanisms.
import { expect, test } from '@playwright/test';
import { open, QUICK, studio, waitForData, waitForRunEnd } from './helpers.ts';

test('during a run: no running animations, live charts updated at most about once a second', async ({ page }) => {
  // One country, many evaluation points: the accuracy chart's points stream in for the whole run. Steps (and epochs,
  // which cap them) enough for a run of several seconds on the wasm cpu trainer: 300 steps per method trained in
  // ~1 s on an idle machine, too short for more than two once-a-second chart updates.
  await open(page, 'countries=Chile&steps=4000&epochs=40&evalPoints=30&efficiency=0');
  await waitForData(page);
  // Every change of the accuracy chart's shown point count (one per chart render with new data), with its time.
  await page.evaluate(() => {
    const w = window as unknown as { __chartUpdates: number[] };
    w.__chartUpdates = [];
    new MutationObserver(() => w.__chartUpdates.push(performance.now())).observe(document.querySelector('[data-testid="accuracy-chart"]')!, {
      attributes: true,
      attributeFilter: ['data-points'],
    });
  });
  await page.getByTestId('run-button').click();
  const running: number[] = [];
  for (let i = 0; i < 40; i++) {
    const s = await page.evaluate(() => ({
      status: window.__studio!.getState().status,
      animations: document.getAnimations().filter((a) => a.playState === 'running').map((a) => (a as CSSAnimation).animationName ?? a.constructor.name),
    }));
    if (s.status !== 'running') break;
    expect(s.animations, 'animations running during the run').toEqual([]);
    running.push(i);
    await page.waitForTimeout(100);
  }
  expect(running.length, 'the run was sampled while running').toBeGreaterThan(3);
  const end = await waitForRunEnd(page);
  expect(end.status, JSON.stringify(end.error)).toBe('done');
  // The last points show too (at most LIVE_CHART_MS after they arrived): full and edited accuracy of every point.
  const points = (await studio(page)).live.pointCount;
  await expect.poll(async () => Number(await page.getByTestId('accuracy-chart').getAttribute('data-points'))).toBeGreaterThanOrEqual(points * 2);
  const times = await page.evaluate(() => (window as unknown as { __chartUpdates: number[] }).__chartUpdates);
  expect(times.length, `the chart updated live, more than once (updates at ${times.map(Math.round).join(', ')} ms; ${points} points; run ${JSON.stringify(end.result?.timings)})`).toBeGreaterThan(2);
  const gaps = times.slice(1).map((t, i) => t - times[i]);
  // 1000 ms apart when throttled, less the jitter of when a deferred render commits (hundreds of ms on a busy
  // machine); about 250 ms without throttling.
  expect(Math.min(...gaps), `gaps between chart updates: ${gaps.map(Math.round).join(', ')} ms`).toBeGreaterThan(450);
});

test('the default run is prepared while the page is idle: tokens and the scoring worker are ready before Run', async ({ page }) => {
  // Every status text and phase label the experiment worker sends, as the page receives them.
  await page.addInitScript(() => {
    const w = window as unknown as { __said: string[] };
    w.__said = [];
    const Orig = window.Worker;
    window.Worker = class extends Orig {
      constructor(url: string | URL, opts?: WorkerOptions) {
        super(url, opts);
        this.addEventListener('message', (ev: MessageEvent) => {
          const m = ev.data as { type?: string; message?: string; events?: { type: string; label?: string }[] };
          if (m.type === 'status' && m.message) w.__said.push(m.message);
          for (const e of m.events ?? []) if (e.type === 'phase' && e.label) w.__said.push(e.label);
        });
      }
    } as typeof Worker;
  });
  await open(page, 'countries=Chile&steps=20&evalPoints=2&efficiency=0');
  await waitForData(page);
  await page.waitForTimeout(2000);
  await page.getByTestId('run-button').click();
  const end = await waitForRunEnd(page);
  expect(end.status, JSON.stringify(end.error)).toBe('done');
  const said = await page.evaluate(() => (window as unknown as { __said: string[] }).__said);
  expect(said.find((m) => /global RM scored/.test(m)), said.join('\n')).toMatch(/started before the run/);
  expect(said.filter((m) => /tokenizing/.test(m))).toEqual([]);
  // A second run on the same data: the tokens are kept; onnxruntime-web starts again (it is released after scoring).
  await page.getByTestId('run-button').click();
  await page.waitForFunction(() => window.__studio?.getState().status === 'running');
  const end2 = await waitForRunEnd(page);
  expect(end2.status).toBe('done');
  const said2 = await page.evaluate(() => (window as unknown as { __said: string[] }).__said);
  expect(said2.filter((m) => /tokenizing/.test(m))).toEqual([]);
  expect(said2.filter((m) => /global RM scored/.test(m)).at(-1)).toMatch(/ready in \d+ ms/);
});

test('charts mount one at a time, each in a task of its own, after the view shell; before any run they are mounted but hidden', async ({ page }) => {
  await open(page, QUICK);
  await waitForData(page);
  const charts = page.locator('section.chart');
  await expect(charts).toHaveCount(6);
  // Before any run: every plot is mounted (recharts' first, costliest render happens while the page is idle) but
  // not shown; "Waiting for data…" is.
  await expect.poll(() => page.locator('section.chart[data-mounted="true"]').count()).toBe(6);
  for (const chart of await charts.all()) {
    await expect(chart.getByText('Waiting for data…')).toBeVisible();
    await expect(chart.locator('.recharts-wrapper')).toBeHidden();
  }
  await page.getByTestId('run-button').click();
  const end = await waitForRunEnd(page);
  expect(end.status, JSON.stringify(end.error)).toBe('done');
  // Opening the charts tab again (all charts have data): from the click on, after every task, how many chart panels
  // and how many drawn plots the page has.
  await page.getByTestId('tab-results').click();
  await expect(page.getByTestId('results-table')).toBeVisible();
  await page.evaluate(() => {
    const w = window as unknown as { __mounts: { frames: number; plots: number }[] };
    w.__mounts = [];
    const t0 = performance.now();
    const poll = () => {
      const s = { frames: document.querySelectorAll('section.chart').length, plots: document.querySelectorAll('section.chart .recharts-wrapper').length };
      w.__mounts.push(s);
      if (s.plots < 6 && performance.now() - t0 < 20_000) setTimeout(poll, 0);
    };
    document.getElementById('tab-charts')!.addEventListener('click', () => setTimeout(poll, 0), { once: true });
  });
  await page.getByTestId('tab-charts').click();
  await expect(page.locator('section.chart .recharts-wrapper')).toHaveCount(6);
  await expect(page.locator('section.chart .recharts-wrapper').first()).toBeVisible();
  const mounts = await page.evaluate(() => (window as unknown as { __mounts: { frames: number; plots: number }[] }).__mounts);
  const seen = mounts.map((m) => `${m.frames}/${m.plots}`).join(' ');
  // The shell first: all six panels (titles, buttons) in the task after the click, not all plots yet.
  expect(mounts[0].frames, seen).toBe(6);
  expect(mounts[0].plots, seen).toBeLessThan(6);
  // Then the plots one at a time (at most two between two of these polls, which interleave with the charts' turns);
  // all six in one task is what made opening the view one long task.
  const steps = mounts.slice(1).map((m, i) => m.plots - mounts[i].plots);
  expect(Math.max(...steps), seen).toBeLessThanOrEqual(2);
  expect(mounts.at(-1)!.plots, seen).toBe(6);
});
