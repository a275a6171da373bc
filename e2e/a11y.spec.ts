// Accessibility: axe-core on every tab in the light and the dark theme (plus the open export menu and the pair
// view) with zero violations, chart legends' text contrast, the export menu's arrow keys, and Escape giving the
// focus back (pair view, guided tour). One QUICK run (2 countries, 40 steps) feeds every view.
import AxeBuilder from '@axe-core/playwright';
import { expect, test } from '@playwright/test';
import type { BrowserContext, Page } from '@playwright/test';
import { open, QUICK, studio, waitForData, waitForRunEnd } from './helpers.ts';

test.describe.configure({ mode: 'serial' });

let ctx: BrowserContext;
let page: Page;

test.beforeAll(async ({ browser }) => {
  // AxeBuilder needs a page of an explicit context (it opens a blank page in it to assemble the results).
  ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await ctx.newPage();
  await open(page, QUICK);
  await waitForData(page);
  await page.getByTestId('run-button').click();
  const end = await waitForRunEnd(page);
  expect(end.status).toBe('done');
});

test.afterAll(async () => {
  await ctx.close();
});

/** Scans the page (or only `include`, for an open popup on a page already scanned) and lists the violations. */
async function axe(p: Page, where: string, include?: string) {
  const b = new AxeBuilder({ page: p });
  if (include) b.include(include);
  const r = await b.analyze();
  const v = r.violations.map((x) => `${where}: ${x.id} (${x.impact}) ${x.nodes.map((n) => n.target.join(' ')).slice(0, 4).join(' | ')}`);
  expect.soft(v, v.join("\n")).toEqual([]);
}

async function setTheme(p: Page, theme: 'light' | 'dark') {
  // The toggle cycles system -> light -> dark -> system.
  for (let k = 0; k < 3 && (await p.locator('html').getAttribute('data-theme')) !== theme; k++) await p.getByTestId('theme-toggle').click();
  await expect(p.locator('html')).toHaveAttribute('data-theme', theme);
}

/** WCAG contrast ratio of two CSS colours (rgb()/rgba() strings as getComputedStyle gives them). */
function contrast(a: string, b: string): number {
  const lum = (c: string) => {
    const [r, g, bl] = (c.match(/[\d.]+/g) ?? ['0', '0', '0']).slice(0, 3).map((x) => {
      const v = Number(x) / 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

for (const theme of ['light', 'dark'] as const) {
  test(`axe: zero violations on every tab, ${theme} theme`, async () => {
    await setTheme(page, theme);
    for (const tab of ['charts', 'results', 'pairs', 'policy'] as const) {
      await page.getByTestId(`tab-${tab}`).click();
      if (tab === 'charts') await expect.poll(async () => Number(await page.getByTestId('accuracy-chart').getAttribute('data-points'))).toBeGreaterThan(0);
      if (tab === 'pairs') await expect(page.getByTestId('pair-row').first()).toBeVisible();
      if (tab === 'policy') await expect(page.getByTestId('policy-panel')).toBeVisible();
      await axe(page, `${theme}/${tab}`);
    }
    // Open states: the export menu and the pair view.
    await page.getByTestId('tab-pairs').click();
    await page.getByTestId('pair-row').first().click();
    await expect(page.getByTestId('pair-detail')).toBeVisible();
    await axe(page, `${theme}/pair-detail`, '[data-testid=pair-detail]');
    await page.keyboard.press('Escape');
    await page.getByTestId('export-button').click();
    await expect(page.getByRole('menu')).toBeVisible();
    await axe(page, `${theme}/export-menu`, '.export-menu');
    await page.keyboard.press('Escape');
  });

  test(`chart legends: neutral text of at least 4.5:1 contrast, ${theme} theme`, async () => {
    await setTheme(page, theme);
    await page.getByTestId('tab-charts').click();
    await expect(page.locator('.recharts-legend-item-text').first()).toBeVisible();
    const pairs = await page.evaluate(() => {
      const bgOf = (el: Element | null): string => {
        for (let e = el; e; e = e.parentElement) {
          const b = getComputedStyle(e).backgroundColor;
          if (b && b !== 'rgba(0, 0, 0, 0)' && b !== 'transparent') return b;
        }
        return 'rgb(255, 255, 255)';
      };
      return [...document.querySelectorAll('.recharts-legend-item-text')].map((el) => {
        const inner = el.querySelector('.legend-text') ?? el;
        return { text: inner.textContent ?? '', fg: getComputedStyle(inner).color, bg: bgOf(el) };
      });
    });
    expect(pairs.length).toBeGreaterThan(3);
    for (const p of pairs) expect(contrast(p.fg, p.bg), `${p.text}: ${p.fg} on ${p.bg}`).toBeGreaterThanOrEqual(4.5);
  });
}

test('export menu: arrow keys move between items, Escape closes it and returns the focus', async () => {
  await page.getByTestId('tab-results').click();
  const button = page.getByTestId('export-button');
  await button.focus();
  await page.keyboard.press('ArrowDown');
  await expect(page.getByRole('menu')).toBeVisible();
  const focused = () => page.evaluate(() => document.activeElement?.getAttribute('data-testid'));
  const first = await focused();
  expect(first).toMatch(/^export-/);
  await page.keyboard.press('ArrowDown');
  const second = await focused();
  expect(second).toMatch(/^export-/);
  expect(second).not.toBe(first);
  await page.keyboard.press('ArrowUp');
  expect(await focused()).toBe(first);
  await page.keyboard.press('End');
  const last = await focused();
  await page.keyboard.press('ArrowDown'); // wraps around
  expect(await focused()).toBe(first);
  expect(last).not.toBe(first);
  await page.keyboard.press('Escape');
  await expect(page.getByRole('menu')).toBeHidden();
  await expect(button).toBeFocused();
});

test('Escape from the pair view and the guided tour returns the focus where it was', async () => {
  await page.getByTestId('tab-pairs').click();
  const row = page.locator('[data-testid=pair-row][tabindex="0"]');
  await row.focus();
  const before = await page.evaluate(() => document.activeElement?.getAttribute('data-pos'));
  await page.keyboard.press('ArrowDown');
  // The roving focus moves on the next animation frame: wait for it, as a user would, before opening the pair
  // (pressing Enter inside that frame opened the old row and the late focus then left the dialog).
  await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('data-pos'))).not.toBe(before);
  const idx = await page.evaluate(() => document.activeElement?.getAttribute('data-index'));
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('pair-detail')).toBeVisible();
  await expect(page.getByTestId('pair-detail-close')).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('pair-detail')).toBeHidden();
  await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('data-index'))).toBe(idx);

  const toggle = page.getByTestId('educator-toggle');
  await toggle.focus();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('educator')).toBeFocused();
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('educator')).toBeHidden();
  await expect(toggle).toBeFocused();
  expect((await studio(page)).ui.educator).toBeNull();
});
