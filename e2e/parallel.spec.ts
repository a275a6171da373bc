// Training in parallel workers (one per logical core, balanced by (country, method)) gives exactly the results of one
// worker: same reports, same runs, same curves.
import { expect, test } from '@playwright/test';
import type { Page } from '@playwright/test';
import { open, studio, waitForData, waitForRunEnd } from './helpers.ts';

const HASH = 'countries=Chile,Mexico,Israel&steps=30&evalPoints=2&fractions=0.25,0.5';

async function runWith(page: Page, workers: number) {
  await open(page, HASH);
  await page.evaluate((n) => localStorage.setItem('scpo-studio.workers', String(n)), workers);
  await page.reload();
  await waitForData(page);
  await page.getByTestId('run-button').click();
  const end = await waitForRunEnd(page);
  expect(end.status, JSON.stringify(end.error)).toBe('done');
  // Everything the views show, read in the page (reports, runs with their curves and losses, margins).
  return page.evaluate(() => {
    const s = window.__studio!.getState();
    return { reports: JSON.stringify(s.result?.reports), workers: s.result?.timings.workers ?? 1, macro: JSON.stringify(s.macro), runs: s.result?.runs };
  });
}

test('2 workers give the same results as 1', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const one = await runWith(page, 1);
  const two = await runWith(page, 2);
  expect(one.workers).toBe(1);
  expect(two.workers).toBe(2);
  expect(two.reports).toBe(one.reports);
  expect(two.macro).toBe(one.macro);
  expect(JSON.parse(one.reports).efficiency.countries.Chile.fullFt.length).toBe(3);
  expect((await studio(page)).live.runs).toBe(3 * 6);
  expect(errors).toEqual([]);
});
