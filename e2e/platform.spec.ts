// The production page's CSP allows only its own origin; the network opt-in is off by default and reveals the hub
// fields only when turned on.
import { expect, test } from '@playwright/test';
import { open, shot } from './helpers.ts';
import { cspFor } from '../src/ui/csp.ts';

test('one CSP: the page applies csp.ts\'s policy once (form-action none included), the header is its network variant', async ({ page }) => {
  await open(page);
  // Exactly one meta policy, the runtime one from src/ui/boot.ts (a second, static one from the build would be
  // intersected with it and make "allow network" impossible); it is csp.ts's policy verbatim.
  const metas = await page.evaluate(() => [...document.querySelectorAll('meta[http-equiv="Content-Security-Policy"]')].map((m) => m.getAttribute('content') ?? ''));
  expect(metas).toEqual([cspFor(false)]);
  expect(metas[0]).toContain("form-action 'none'");
  expect(metas[0]).not.toContain('huggingface');
  const violation = (act: string) =>
    page.evaluate(async (what) => {
      const seen = new Promise<string>((resolve) => document.addEventListener('securitypolicyviolation', (e) => resolve(e.effectiveDirective), { once: true }));
      if (what === 'fetch') await fetch('http://example.invalid/x').catch(() => null);
      else {
        const f = document.createElement('form');
        f.method = 'post';
        f.action = '/never-submitted';
        document.body.append(f);
        f.requestSubmit();
        f.remove();
      }
      return Promise.race([seen, new Promise<string>((r) => setTimeout(() => r('none'), 2000))]);
    }, act);
  expect(await violation('fetch')).toBe('connect-src');
  // form-action 'none' is enforced: the submission is blocked and the page stays.
  expect(await violation('form')).toBe('form-action');
  expect(new URL(page.url()).pathname).toBe('/');
});

test('the served CSP header (which also governs the workers) is csp.ts\'s policy with the opt-in hub', async ({ page }) => {
  await open(page);
  for (const path of ['/', '/models/scpo-glove-rm/config.json']) {
    const res = await page.request.get(path);
    expect(res.headers()['content-security-policy'], path).toBe(cspFor(true));
  }
  const connect = cspFor(true).split(';').map((d) => d.trim()).find((d) => d.startsWith('connect-src')) ?? '';
  expect(connect.split(/\s+/).slice(1).sort()).toEqual(
    ["'self'", 'blob:', 'data:', 'https://*.hf.co', 'https://*.huggingface.co', 'https://huggingface.co'].sort(),
  );
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
