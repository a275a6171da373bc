// Launched without --enable-unsafe-webgpu (and with navigator.gpu deleted in the page): the cpu path runs and the
// backend badge shows the reason.
import { expect, test } from '@playwright/test';
import { CHROMIUM_ARGS } from '../playwright.config.ts';
import { open, QUICK, shot, studio, trackRequests, waitForRunEnd } from './helpers.ts';

test.use({ launchOptions: { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS.filter((a) => a !== '--enable-unsafe-webgpu') } });

test('the cpu path runs and the badge gives the reason', async ({ page }) => {
  await page.addInitScript(() => {
    // Belt and braces: no navigator.gpu in the page either.
    delete (Navigator.prototype as unknown as { gpu?: unknown }).gpu;
  });
  const req = trackRequests(page.context());
  await open(page, QUICK);
  expect(await page.evaluate(() => 'gpu' in navigator)).toBe(false);
  await page.getByTestId('run-button').click();
  const badge = page.getByTestId('backend-badge');
  await expect(badge).toHaveAttribute('data-backend', 'cpu', { timeout: 60_000 });
  const s = await studio(page);
  expect(s.backend?.name).toBe('cpu');
  expect((s.backend?.reason ?? '').length).toBeGreaterThan(3);
  // A short label; the reason is one click away in the badge's popover.
  await expect(page.getByTestId('backend-badge-button').locator('strong')).toHaveText('cpu');
  await page.getByTestId('backend-badge-button').click();
  await expect(page.getByTestId('backend-detail')).toBeVisible();
  await expect(page.getByTestId('backend-detail')).toContainText(s.backend?.reason as string);
  await page.keyboard.press('Escape');
  const end = await waitForRunEnd(page);
  expect(end.status).toBe('done');
  await shot(page, '30-no-webgpu');
  expect(req.foreign()).toEqual([]);
});
