// Crafted input in the studio (issue 10, "hostile input"): a country named "__proto__" from a PRISM survey, a GOQA
// selections key or the URL hash; an imported run bundle with a broken shape; Run/Cancel clicked in a hurry.
// The page must keep rendering, say what is wrong, and treat the odd name as a plain country.
import { expect, test } from '@playwright/test';
import type { Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { fixture, open, studio, waitForData, waitForRunEnd } from './helpers.ts';

/** Collects uncaught page errors (a blank page after React error #31 shows up here). */
function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return errors;
}

/**
 * Keys of a record in the page's state, read in the page: a "__proto__" key does not survive Playwright's copy of a
 * returned object into Node (it is set with a plain assignment there), so the keys come back as an array.
 */
function keysIn(page: Page, path: 'summary.countries' | 'result.reports.full'): Promise<string[]> {
  return page.evaluate((p) => {
    const s = window.__studio?.getState() as unknown as Record<string, unknown>;
    const v = p.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), s);
    return v && typeof v === 'object' ? Object.keys(v) : [];
  }, path);
}

const TABS = ['charts', 'results', 'pairs'] as const;

async function visitTabs(page: Page): Promise<void> {
  for (const t of TABS) {
    await page.getByTestId(`tab-${t}`).click();
    await expect(page.getByTestId('config-panel')).toBeVisible();
  }
}

test('#countries=__proto__ in the URL: the page renders and says the country is not in the data', async ({ page }) => {
  const errors = pageErrors(page);
  await open(page, 'countries=__proto__,Chile&steps=10&efficiency=0');
  await waitForData(page);
  await visitTabs(page);
  await expect(page.getByTestId('run-button')).toBeVisible();
  // The synthetic data has no such country: it is unselected with a notice, like any unknown name.
  await expect(page.getByTestId('notices')).toContainText('__proto__');
  expect((await studio(page)).config.countries).toEqual(['Chile']);
  expect(errors).toEqual([]);
});

test('a PRISM country named __proto__ is a country like any other: loaded, run, shown in every view', async ({ page }) => {
  const errors = pageErrors(page);
  await open(page, 'steps=12&evalPoints=2&efficiency=0');
  await waitForData(page);
  await page.getByTestId('data-prism').check();
  const survey = readFileSync(fixture('prism/survey.jsonl'), 'utf8').replaceAll('"reside_country": "Chile"', '"reside_country": "__proto__"');
  await page.getByTestId('prism-utterances').setInputFiles(fixture('prism/utterances.jsonl'));
  await page.getByTestId('prism-survey').setInputFiles({ name: 'survey.jsonl', mimeType: 'application/json', buffer: Buffer.from(survey) });
  await expect.poll(() => keysIn(page, 'summary.countries'), { timeout: 30_000 }).toContain('__proto__');
  await expect(page.getByTestId('data-summary')).toContainText('__proto__');
  // Select it (and Canada) in the form.
  const boxes = page.getByTestId('config-countries').locator('input[type=checkbox]');
  for (let i = 0; i < (await boxes.count()); i++) await boxes.nth(i).uncheck();
  await page.getByLabel('Countries: __proto__').check();
  await page.getByLabel('Countries: Canada').check();
  await expect.poll(async () => (await studio(page)).config.countries).toEqual(['__proto__', 'Canada']);
  await page.getByTestId('run-button').click();
  const end = await waitForRunEnd(page);
  expect(end.status, JSON.stringify(end.error)).toBe('done');
  expect(await keysIn(page, 'result.reports.full')).toEqual(['__proto__', 'Canada', 'avg']);
  expect(end.macro.full.scpo).not.toBeNull();
  await visitTabs(page);
  await page.getByTestId('tab-results').click();
  await expect(page.getByTestId('results-table')).toContainText('__proto__');
  await page.getByTestId('tab-pairs').click();
  await page.getByTestId('pair-country').selectOption('__proto__');
  await expect(page.getByTestId('pair-count')).not.toHaveAttribute('data-count', '0');
  expect(errors).toEqual([]);
});

test('a GlobalOpinionQA selections key __proto__ is kept as a country', async ({ page }) => {
  const errors = pageErrors(page);
  await open(page, 'steps=10&efficiency=0');
  await waitForData(page);
  const csv = readFileSync(fixture('goqa/global_opinions.csv'), 'utf8').replaceAll("'Mexico'", "'__proto__'");
  await page.getByTestId('data-goqa').check();
  await page.getByTestId('goqa-file').setInputFiles({ name: 'global_opinions.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await expect.poll(() => keysIn(page, 'summary.countries'), { timeout: 30_000 }).toContain('__proto__');
  await expect(page.getByTestId('config-panel')).toContainText('__proto__');
  await visitTabs(page);
  expect(errors).toEqual([]);
});

test('an imported run bundle with a broken shape is rejected with a message; the page keeps working', async ({ page }) => {
  const errors = pageErrors(page);
  await open(page, 'steps=10&efficiency=0');
  await waitForData(page);
  const good = { format: 'scpo-studio-run', version: 1, savedAt: '2026-01-01T00:00:00Z', items: null, pairs: null };
  const result = {
    config: { countries: ['Chile'] },
    source: 'x',
    backend: 'cpu',
    rPlus: [],
    rMinus: [],
    sets: {},
    runs: [],
    margins: {},
    reports: { full: {}, partial: {} },
    timings: {},
  };
  const cases: [string, unknown][] = [
    ['summary-empty.json', { ...good, summary: {}, result }],
    ['reports-empty.json', { ...good, summary: null, result: { ...result, reports: {} } }],
    ['runs-bad.json', { ...good, summary: null, result: { ...result, runs: [{ country: 'Chile', method: 'scpo', accFull: 'high' }] } }],
  ];
  for (const [name, bundle] of cases) {
    await page.getByTestId('import-input').setInputFiles({ name, mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(bundle)) });
    await expect(page.getByTestId('notice-error').last()).toContainText(`Could not import ${name}`);
    await visitTabs(page);
  }
  expect((await studio(page)).resultOrigin).toBeNull();
  expect(errors).toEqual([]);
});

test('Run, Cancel a few times in a hurry, then Run: the run loads its model and finishes', async ({ page }) => {
  const errors = pageErrors(page);
  await open(page, 'countries=Chile&steps=10&evalPoints=2&efficiency=0');
  await waitForData(page);
  for (let k = 0; k < 4; k++) {
    await page.getByTestId('run-button').click();
    await page.waitForTimeout(15 + 25 * k);
    await page.getByTestId('cancel-button').click();
  }
  await page.getByTestId('run-button').click();
  const end = await waitForRunEnd(page);
  expect(end.status, JSON.stringify(end.error)).toBe('done');
  expect(errors).toEqual([]);
});
