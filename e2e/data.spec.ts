// Data loading from files: PRISM (JSONL) and GlobalOpinionQA fixtures by file picker and drag-and-drop, skipped
// rows shown as file:line:field, malformed files with a clear message while the app keeps working, and hostile
// dataset text rendered as text, never executed.
import { expect, test } from '@playwright/test';
import type { Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { fixture, open, QUICK, shot, studio, trackRequests, waitForData, waitForRunEnd } from './helpers.ts';

async function pickPrism(page: Page, dir: string) {
  await page.getByTestId('data-prism').check();
  await page.getByTestId('prism-utterances').setInputFiles(fixture(`${dir}/utterances.jsonl`));
  await page.getByTestId('prism-survey').setInputFiles(fixture(`${dir}/survey.jsonl`));
}

test('PRISM files: counts per country, skipped rows with file:line:field; hostile text stays text', async ({ page }) => {
  const req = trackRequests(page.context());
  await page.addInitScript(() => {
    (window as unknown as { __pwned?: string }).__pwned = undefined;
  });
  await open(page, QUICK);
  await waitForData(page);
  await pickPrism(page, 'prism');
  await expect(page.getByTestId('data-summary')).toContainText('utterances', { timeout: 30_000 });
  const s = await studio(page);
  expect(s.summary?.format).toBe('prism');
  expect(Object.keys(s.summary?.countries ?? {})).toEqual(expect.arrayContaining(['Chile', 'Mexico', 'United States']));
  expect(s.summary?.issues.count).toBeGreaterThanOrEqual(3);
  const issues = page.getByTestId('data-issues');
  await expect(issues).toContainText(/Skipped \d+ rows/);
  // file:line:field message, e.g. "utterances.jsonl:11:(row) ..."
  await expect(issues).toContainText(/utterances\.jsonl:\d+:\S+ /);
  await expect(page.getByTestId('data-summary').locator('table')).toContainText('Chile');
  await shot(page, '20-prism-loaded');

  // A short run on it, then the hostile pair in the inspector.
  await page.getByTestId('run-button').click();
  const end = await waitForRunEnd(page);
  expect(end.status, JSON.stringify(end.error)).toBe('done');
  await page.getByTestId('tab-pairs').click();
  await page.getByTestId('pair-country').selectOption('Chile');
  await page.getByTestId('pair-search').fill('<script>');
  await expect(page.getByTestId('pair-count')).not.toHaveAttribute('data-count', '0');
  await page.getByTestId('pair-row').first().click();
  const detail = page.getByTestId('pair-detail');
  await expect(detail.getByTestId('pair-detail-prompt')).toContainText('<script>window.__pwned = "script"</script>');
  await page.getByTestId('pair-search').fill('onerror');
  await page.getByTestId('pair-row').first().click();
  await expect(detail).toContainText('<img src=x onerror=');
  await shot(page, '21-hostile-text');
  // Text nodes only: no element was created from the data, nothing ran.
  expect(await page.evaluate(() => (window as unknown as { __pwned?: string }).__pwned)).toBeUndefined();
  expect(await detail.locator('script, img, b').count()).toBe(0);
  expect(await page.locator('img[src="x"]').count()).toBe(0);
  expect(req.foreign()).toEqual([]);
});

test('malformed PRISM: a clear message, and the studio keeps working', async ({ page }) => {
  await open(page, QUICK);
  await waitForData(page);
  await pickPrism(page, 'prism-malformed');
  const err = page.getByTestId('data-error');
  await expect(err).toBeVisible({ timeout: 30_000 });
  await expect(err).toContainText(/survey|utterances/);
  await expect(page.getByTestId('notice-error')).toContainText('Data problem');
  await shot(page, '22-prism-malformed');
  // No stack traces in the UI.
  expect(await page.locator('body').innerText()).not.toMatch(/at \w+ \(.*:\d+:\d+\)/);
  // Back to the synthetic set: loads, and a run works.
  await page.getByTestId('data-synthetic').check();
  await expect(page.getByTestId('data-summary')).toContainText('synthetic', { timeout: 30_000 });
  await page.getByTestId('run-button').click();
  const end = await waitForRunEnd(page);
  expect(end.status).toBe('done');
});

test('GlobalOpinionQA csv by drag-and-drop; a malformed csv is reported', async ({ page }) => {
  await open(page, QUICK);
  await waitForData(page);
  const drop = async (name: string, text: string) => {
    const dt = await page.evaluateHandle(
      ({ name, text }) => {
        const d = new DataTransfer();
        d.items.add(new File([text], name, { type: 'text/csv' }));
        return d;
      },
      { name, text },
    );
    await page.getByTestId('dataset-picker').dispatchEvent('drop', { dataTransfer: dt });
  };
  await drop('global_opinions.csv', readFileSync(fixture('goqa/global_opinions.csv'), 'utf8'));
  await expect.poll(async () => (await studio(page)).summary?.format, { timeout: 30_000 }).toBe('goqa');
  const s = await studio(page);
  expect(s.summary?.pairs).toBeGreaterThan(10);
  await expect(page.getByTestId('data-issues')).toContainText('global_opinions.csv:');
  await expect(page.getByTestId('goqa-file')).toBeVisible();
  await shot(page, '23-goqa-loaded');

  await page.getByTestId('goqa-file').setInputFiles(fixture('goqa/global_opinions_malformed.csv'));
  await expect(page.getByTestId('data-error')).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId('data-error')).toContainText('global_opinions_malformed.csv');
  await shot(page, '24-goqa-malformed');
  // Still usable: the good file again.
  await page.getByTestId('goqa-file').setInputFiles(fixture('goqa/global_opinions.csv'));
  await expect(page.getByTestId('data-summary')).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId('data-error')).toHaveCount(0);
});
