// Report-folder import (the PyTorch job's or the CLI's --out): a CLI folder reads back to its reports and runs;
// bad folders fail with the file and field named. The job's own output is checked in test/job.test.ts.
import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../../gpu/cpu/trainer.ts';
import { unzip } from '../../ui/unzip.ts';
import { zip } from '../../ui/zip.ts';
import { loadSynthetic } from '../data/index.ts';
import { resolveConfig } from '../experiment.ts';
import { APP_VERSION, reportCsv, reportFiles, summarizeData } from '../report.ts';
import { runSession } from '../session.ts';
import { tinyModel } from '../../../test/helpers/tiny-model.ts';
import { importReportFolder, pickReportFolder } from './import.ts';

async function cliFolder(): Promise<{ files: Record<string, string>; runs: number }> {
  const data = await loadSynthetic(0, { scale: 0.2 }, { seed: 0 });
  const config = resolveConfig({ countries: ['Chile', 'Mexico'], methods: ['start', 'full_ft', 'scpo'], steps: 10, efficiency: false });
  const { result } = await runSession({ data, model: tinyModel(data), backend: cpuBackend, config, globalRm: 'as-loaded' });
  const files = reportFiles(result, { data: summarizeData(data), globalRm: 'bundled', versions: { app: APP_VERSION } });
  files['report.csv'] = reportCsv(result);
  return { files, runs: result.runs.length };
}

describe('report folder import', () => {
  it('reads a CLI --out folder back: config, runs, reports, provenance', async () => {
    const { files, runs } = await cliFolder();
    const imp = importReportFolder(files);
    expect(imp.result.runs.length).toBe(runs);
    expect(imp.result.config.countries).toEqual(['Chile', 'Mexico']);
    expect(imp.result.reports.full).toEqual(JSON.parse(files['full_report.json']));
    expect(imp.result.rPlus.length).toBe(0);
    expect(imp.provenance.engine).toBe('scpo-studio CLI');
    expect(imp.summary?.source).toBe('synthetic:0');
    // A zip of the folder (stored entries, as the studio writes them) finds the same folder inside.
    const enc = new TextEncoder();
    const z = zip(Object.entries(files).map(([n, t]) => ({ path: `runs/a/${n}`, bytes: enc.encode(t) })));
    const entries = await unzip(z);
    const { dir, names } = pickReportFolder(Object.keys(entries));
    expect(dir).toBe('runs/a/');
    expect(new TextDecoder().decode(entries[names['run.json']])).toBe(files['run.json']);
  });

  it('names the file and field of what is wrong', async () => {
    const { files } = await cliFolder();
    const without = { ...files };
    delete without['bias_report.json'];
    expect(() => importReportFolder(without)).toThrow(/bias_report\.json is missing/);
    expect(() => importReportFolder({ ...files, 'partial_report.json': '{oops' })).toThrow(/^partial_report\.json: not JSON/);
    const run = JSON.parse(files['run.json']) as { config: Record<string, unknown>; runs: Record<string, unknown>[] };
    expect(() => importReportFolder({ ...files, 'run.json': JSON.stringify({ ...run, config: { ...run.config, tau: 7 } }) })).toThrow(/run\.json: config: tau must be/);
    expect(() => importReportFolder({ ...files, 'run.json': JSON.stringify({ ...run, runs: [{ ...run.runs[0], method: 'magic' }] }) })).toThrow(/run\.json: runs\[0\]\.method: unknown method "magic"/);
    expect(() => importReportFolder({ ...files, 'full_report.json': '{"Chile": {}}' })).toThrow(/full_report\.json: no row for "Mexico"/);
    expect(() => pickReportFolder(['a/full_report.json'])).toThrow(/no run\.json/);
    await expect(unzip(new Blob(['not a zip at all, just text']))).rejects.toThrow(/not a zip file/);
  });
});
