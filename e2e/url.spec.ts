// Shareable runs: config and seed in the URL hash through a typed schema; a bad hash gives the defaults and a notice.
import { expect, test } from '@playwright/test';
import { open, studio } from './helpers.ts';

test('a link reproduces the config; editing the form updates the link', async ({ page, context }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await open(page, 'countries=Chile,Mexico&majority=United%20States&methods=start,full_ft,scpo&tau=0.5&beta=2&steps=50&lr=0.002&batch=16&seed=7&data=synthetic:3');
  const s = await studio(page);
  expect(s.hashNotice).toBeNull();
  expect(s.config).toMatchObject({ countries: ['Chile', 'Mexico'], majority: ['United States'], methods: ['start', 'full_ft', 'scpo'], tau: 0.5, beta: 2, steps: 50, lr: 0.002, batch: 16, seed: 7 });
  expect(s.data).toEqual({ kind: 'synthetic', seed: 3 });
  await expect(page.getByTestId('config-tau')).toHaveValue('0.5');
  await expect(page.getByTestId('config-seed')).toHaveValue('7');
  await expect(page.getByTestId('method-inverse')).not.toBeChecked();
  await expect(page.getByTestId('data-seed')).toHaveValue('3');

  await page.getByTestId('config-beta').fill('1.5');
  await page.getByTestId('method-inverse').check();
  await expect.poll(() => page.evaluate(() => location.hash)).toContain('beta=1.5');
  expect(await page.evaluate(() => location.hash)).toContain('inverse');

  await page.getByTestId('copy-link').click();
  await expect(page.getByTestId('copy-status')).toBeVisible();
  const link = await page.evaluate(() => navigator.clipboard.readText());
  expect(link).toContain('#');
  const other = await context.newPage();
  await other.goto(link);
  await other.waitForFunction(() => window.__studio !== undefined);
  const o = await studio(other);
  expect(o.config).toEqual((await studio(page)).config);
  expect(o.data).toEqual({ kind: 'synthetic', seed: 3 });
});

test('a bad hash falls back to the defaults with a visible notice', async ({ page }) => {
  await open(page, 'tau=7&countries=Chile');
  const notice = page.getByTestId('hash-notice');
  await expect(notice).toBeVisible();
  await expect(notice).toContainText('tau');
  const s = await studio(page);
  expect(s.config.tau).toBe(0.7);
  expect(s.config.countries).toHaveLength(7);
  await open(page, 'methods=scpo,magic');
  await expect(page.getByTestId('hash-notice')).toContainText('magic');
  await open(page, 'nonsense');
  await expect(page.getByTestId('hash-notice')).toBeVisible();
});
