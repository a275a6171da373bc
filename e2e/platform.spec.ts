// The production page's CSP allows only its own origin; the network opt-in is off by default and reveals the hub
// fields only when turned on.
import { expect, test } from '@playwright/test';
import { open, shot } from './helpers.ts';

test('the production page has a CSP that allows only its own origin', async ({ page }) => {
  await open(page);
  const csp = await page.evaluate(() => document.querySelector('meta[http-equiv="Content-Security-Policy"]')?.getAttribute('content') ?? '');
  expect(csp).toContain("default-src 'self'");
  expect(csp).toMatch(/connect-src 'self'/);
  expect(csp).not.toContain('huggingface');
  const blocked = await page.evaluate(async () => {
    const violation = new Promise<string>((resolve) => document.addEventListener('securitypolicyviolation', (e) => resolve(e.violatedDirective), { once: true }));
    await fetch('http://example.invalid/x').catch(() => null);
    return Promise.race([violation, new Promise<string>((r) => setTimeout(() => r('none'), 2000))]);
  });
  expect(blocked).toContain('connect-src');
});

test('the served CSP header (which also governs the workers) allows only this origin and the opt-in hub', async ({ page }) => {
  await open(page);
  const res = await page.request.get('/models/scpo-glove-rm/config.json');
  const header = res.headers()['content-security-policy'] ?? '';
  expect(header).toContain("default-src 'self'");
  const connect = header.split(';').map((d) => d.trim()).find((d) => d.startsWith('connect-src')) ?? '';
  expect(connect.split(/\s+/).slice(1).sort()).toEqual(
    ["'self'", 'blob:', 'data:', 'https://*.hf.co', 'https://*.huggingface.co', 'https://huggingface.co'].sort(),
  );
  // The page itself stays 'self'-only: the meta policy is intersected with the header.
  expect(await page.evaluate(() => window.crossOriginIsolated)).toBe(true);
});

test('"allow network" is off by default; turning it on reveals the hub fields after a reload', async ({ page }) => {
  await open(page);
  await expect(page.getByTestId('allow-network')).not.toBeChecked();
  await expect(page.getByTestId('data-hub')).toHaveCount(0);
  await expect(page.getByTestId('model-hub')).toHaveCount(0);
  await Promise.all([page.waitForEvent('load'), page.getByTestId('allow-network').check()]);
  await page.waitForFunction(() => window.__studio !== undefined);
  await expect(page.getByTestId('allow-network')).toBeChecked();
  await page.getByTestId('data-hub').check();
  await expect(page.getByTestId('hub-dataset-id')).toBeVisible();
  await page.getByTestId('model-hub').check();
  await expect(page.getByTestId('model-hub-id')).toBeVisible();
  await shot(page, '31-network-on');
  await Promise.all([page.waitForEvent('load'), page.getByTestId('allow-network').uncheck()]);
  await page.waitForFunction(() => window.__studio !== undefined);
  await expect(page.getByTestId('data-hub')).toHaveCount(0);
});
