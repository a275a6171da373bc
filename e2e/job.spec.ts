// Past one browser and back: a run in the studio -> "Export as PyTorch job" (zip) -> the job trained by PyTorch
// with 2 CPU processes (python3-torch) -> "Import report folder…" / a zip of it shows the job's run like a browser
// run, with its provenance, and the job's accuracies are the browser run's within 1 point.
import { expect, test } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ARTIFACTS, open, QUICK, shot, studio, trackRequests, unzip, waitForData, waitForRunEnd } from './helpers.ts';

const PY = '/usr/bin/python3';
const probe = existsSync(PY) ? spawnSync(PY, ['-c', 'import torch, numpy'], { encoding: 'utf8' }) : null;
const haveTorch = probe?.status === 0;
if (!haveTorch && process.env.SCPO_REQUIRE_TORCH === '1') throw new Error(`SCPO_REQUIRE_TORCH=1 but ${PY} cannot import torch`);

test('a studio run exported as a PyTorch job, trained by torch on 2 processes, imports back with its provenance', async ({ browser }) => {
  test.skip(!haveTorch, `${PY} cannot import torch (apt-get install -y python3-torch)`);
  const ctx = await browser.newContext({ acceptDownloads: true });
  const requests = trackRequests(ctx);
  const page = await ctx.newPage();
  const tmp = mkdtempSync(join(tmpdir(), 'scpo-e2e-job-'));
  try {
    await open(page, QUICK);
    await waitForData(page);
    const exportJob = async () => {
      await page.getByTestId('export-button').click();
      const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-job').click()]);
      expect(dl.suggestedFilename()).toBe('scpo-job-0.zip');
      const path = join(ARTIFACTS, 'downloads', dl.suggestedFilename());
      await dl.saveAs(path);
      await page.keyboard.press('Escape');
      return path;
    };
    // Without a run: the form's settings, scored in the worker, trained nowhere.
    const before = unzip(readFileSync(await exportJob()));
    const cfg0 = JSON.parse((before.get('scpo-job-0/config.json') as Buffer).toString('utf8'));
    expect(cfg0.config.countries).toEqual(['Chile', 'Mexico']);
    expect(cfg0.scoredWith).toMatch(/CPU forward pass/);
    expect(before.has('scpo-job-0/job/run.py')).toBe(true);

    await page.getByTestId('run-button').click();
    const ran = await waitForRunEnd(page);
    expect(ran.status).toBe('done');
    const browserFull = ran.result!.reports.full as Record<string, Record<string, number | null>>;

    // After the run: that run, with its own global scores.
    const zipPath = await exportJob();
    for (const [name, bytes] of unzip(readFileSync(zipPath))) {
      mkdirSync(dirname(join(tmp, name)), { recursive: true });
      writeFileSync(join(tmp, name), bytes);
    }
    const job = join(tmp, 'scpo-job-0');
    expect(JSON.parse(readFileSync(join(job, 'config.json'), 'utf8')).scoredWith).toMatch(/browser run/);
    for (const f of ['run.py', 'job/run.py', 'job/hf.py', 'README.md', 'config.json', 'plan.json', 'data/pairs.jsonl', 'bag/manifest.json']) {
      expect(existsSync(join(job, f)), f).toBe(true);
    }

    const out = join(tmp, 'out');
    const r = spawnSync(PY, [join(job, 'run.py'), '--nprocs', '2', '--out', out], { encoding: 'utf8', timeout: 240_000, env: { ...process.env, OMP_NUM_THREADS: '1' } });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    const jobFull = JSON.parse(readFileSync(join(out, 'full_report.json'), 'utf8')) as Record<string, Record<string, number | null>>;
    for (const c of ['Chile', 'Mexico']) {
      for (const [m, v] of Object.entries(browserFull[c])) expect(Math.abs((jobFull[c][m] ?? NaN) - (v ?? NaN)), `${c} ${m}`).toBeLessThanOrEqual(1);
    }

    await page.getByTestId('import-folder-input').setInputFiles(out);
    await expect.poll(async () => (await studio(page)).resultOrigin).toBe('import');
    const imp = await studio(page);
    expect(imp.result?.backend).toMatch(/^PyTorch .*2 processes, gloo, cpu/);
    expect(imp.message).toMatch(/^imported: PyTorch/);
    expect(imp.notices.some((n) => n.level === 'info' && /Imported out: PyTorch/.test(n.text))).toBe(true);
    expect(imp.macro.full.scpo).toBeCloseTo(jobFull.avg.scpo as number, 1);
    expect(imp.live.pointCount).toBeGreaterThan(10);
    await expect(page.getByTestId('backend-badge')).toContainText('PyTorch');
    await page.getByTestId('tab-results').click();
    await expect(page.getByTestId('results-table').locator('tbody tr')).toHaveCount(2);
    await shot(page, 'job-imported');

    // The same folder as a deflated zip (Python's zipfile) through "Import run…".
    const outZip = join(tmp, 'job-out.zip');
    const z = spawnSync(PY, ['-c', "import zipfile,os,sys\nwith zipfile.ZipFile(sys.argv[1],'w',zipfile.ZIP_DEFLATED) as z:\n  [z.write(os.path.join(sys.argv[2],f),'out/'+f) for f in os.listdir(sys.argv[2])]", outZip, out]);
    expect(z.status).toBe(0);
    await page.getByTestId('import-input').setInputFiles(outZip);
    await expect(page.getByTestId('notice-info').last()).toContainText('Imported job-out.zip: PyTorch');
    expect(requests.foreign()).toEqual([]);
  } finally {
    await ctx.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});
