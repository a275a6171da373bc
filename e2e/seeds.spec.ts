// A CLI --seeds folder (seed-<s>/ runs + seeds_report.json, generated here: 1 country, 2 methods, 2 seeds, 20 steps,
// ~7 s) imported with "Import report folder…": the results view shows "Over 2 seeds" with the tables, the macro bars
// with error bars and the paired line; a broken seeds_report.json is refused naming the file and field, keeping
// what was shown.
import { expect, test } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open, shot, studio, trackRequests } from './helpers.ts';

test('a --seeds report folder imports with its error bars, mean ± sd table and paired comparison', async ({ page }) => {
  test.setTimeout(120_000);
  const requests = trackRequests(page);
  const tmp = mkdtempSync(join(tmpdir(), 'scpo-e2e-seeds-'));
  try {
    const out = join(tmp, 'out');
    const r = spawnSync(
      'npx',
      ['tsx', 'src/pipeline/cli.ts', '--data', 'synthetic', '--countries', 'Chile', '--methods', 'start,scpo', '--seeds', '0,1', '--steps', '20', '--no-efficiency', '--out', out],
      { encoding: 'utf8', timeout: 90_000 },
    );
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    const rep = JSON.parse(readFileSync(join(out, 'seeds_report.json'), 'utf8'));

    await open(page);
    await page.getByTestId('import-folder-input').setInputFiles(out);
    await expect.poll(async () => (await studio(page)).resultOrigin).toBe('import');
    const s = await studio(page);
    expect(s.seeds?.seeds).toEqual([0, 1]);
    const scpo = s.seeds!.bars.find((b) => b.method === 'scpo')!;
    expect(scpo.mean).toBeCloseTo(rep.full.avg.scpo.mean, 6);
    // The error bar is the 95% interval, drawn only up to 100%.
    expect(scpo.err[1]).toBeCloseTo(Math.min(100, rep.full.avg.scpo.ci95[1]) - rep.full.avg.scpo.mean, 6);

    await page.getByTestId('tab-results').click();
    const panel = page.getByTestId('seeds-panel');
    await expect(panel).toContainText('Over 2 seeds');
    await expect(panel.getByTestId('seeds-paired')).toContainText(/On the full test set, scpo (beats|trails|ties) start/);
    const cell = panel.getByTestId('seeds-table-full').locator('tr[data-country="avg"] td[data-method="scpo"]');
    await expect(cell).toContainText(`${rep.full.avg.scpo.mean.toFixed(1)} ± ${rep.full.avg.scpo.sd.toFixed(1)}`);
    await expect(cell).toContainText(`[${rep.full.avg.scpo.ci95[0].toFixed(1)}, ${rep.full.avg.scpo.ci95[1].toFixed(1)}]`);
    // recharts draws one error-bar group per bar.
    await expect(panel.getByTestId('seeds-chart-full').locator('.recharts-errorBar')).toHaveCount(2);
    await shot(page, 'seeds-imported');

    // A broken report: refused with the file and field named; the shown run and its seeds stay.
    rep.full.Chile.scpo.mean = 'high';
    writeFileSync(join(out, 'seeds_report.json'), JSON.stringify(rep));
    await page.getByTestId('import-folder-input').setInputFiles(out);
    await expect(page.getByTestId('notice-error').last()).toContainText('seeds_report.json: full.Chile.scpo.mean: expected a number');
    expect((await studio(page)).seeds?.seeds).toEqual([0, 1]);
    await expect(panel).toContainText('Over 2 seeds');
    expect(requests.foreign()).toEqual([]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
