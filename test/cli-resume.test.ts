// `--out DIR` writes checkpoint.json after every finished (country, method) run; `--resume` reuses those runs and
// trains only the rest, and refuses a checkpoint written by different settings (src/pipeline/run-checkpoint.ts).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkpointIdentity, parseCheckpoint } from '../src/pipeline/run-checkpoint.ts';
import { DEFAULT_CONFIG } from '../src/pipeline/experiment.ts';

const TSX = join(process.cwd(), 'node_modules/.bin/tsx');
const BASE = ['--data', 'synthetic', '--countries', 'Chile', '--methods', 'start,full_ft,scpo', '--no-efficiency', '--steps', '40'];

function cli(args: string[]) {
  const r = spawnSync(TSX, ['src/pipeline/cli.ts', ...args], { encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const read = (dir: string, f: string) => JSON.parse(readFileSync(join(dir, f), 'utf8'));

describe('scpo CLI --resume', () => {
  it('reuses the runs of checkpoint.json, trains the missing ones, and gives the uninterrupted reports', () => {
    const out = mkdtempSync(join(tmpdir(), 'scpo-resume-'));
    const first = cli([...BASE, '--out', out]);
    expect(first.code, first.stderr).toBe(0);
    const full = read(out, 'full_report.json');
    const ck = read(out, 'checkpoint.json');
    expect(ck.runs.map((r: { method: string }) => r.method).sort()).toEqual(['full_ft', 'scpo']);
    expect(ck.margins.Chile.scpo.length).toBeGreaterThan(100);

    // An interruption after the first trained run: only full_ft is in the checkpoint. Its majority accuracy is marked,
    // so the bias report shows whether it was reused (not retrained).
    const fullFt = ck.runs.find((r: { method: string }) => r.method === 'full_ft');
    fullFt.accMajority = 0.123;
    writeFileSync(join(out, 'checkpoint.json'), JSON.stringify({ ...ck, runs: [fullFt], margins: { Chile: { full_ft: ck.margins.Chile.full_ft } } }));
    const again = cli([...BASE, '--out', out, '--resume']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/--resume: 1 finished run .*Chile · full_ft/);
    expect(read(out, 'bias_report.json').countries.Chile.full_ft.majority).toBeCloseTo(12.3, 6);
    // scpo was trained again from the same seed: the same accuracies as the uninterrupted run.
    expect(read(out, 'full_report.json')).toEqual(full);
    // ...and the checkpoint now holds both runs again.
    expect(read(out, 'checkpoint.json').runs.length).toBe(2);
    // CPU time: the first segment's is carried into the resumed run's total.
    expect(ck.cpuMs).toBeGreaterThan(0);
    const t = read(out, 'run.json').timings;
    expect(t.cpuMs).toBeGreaterThan(0);
    expect(t.cpuMsWithResumed).toBeCloseTo(ck.cpuMs + t.cpuMs, 6);
    expect(again.stderr).toMatch(/CPU time [\d.]+ s \(all threads\); [\d.]+ s with the resumed segments' runs/);
  });

  it('refuses a checkpoint of different settings, naming the fields; --resume needs --out', () => {
    const out = mkdtempSync(join(tmpdir(), 'scpo-resume-'));
    expect(cli([...BASE, '--out', out]).code).toBe(0);
    const r = cli([...BASE, '--out', out, '--resume', '--lr', '0.01']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/checkpoint\.json: identity: written by a different run: config\.lr 0\.003 -> 0\.01/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const n = cli([...BASE, '--resume']);
    expect(n.code).toBe(2);
    expect(n.stderr).toMatch(/--resume needs --out/);
  });

  it('parseCheckpoint: NaN survives the round trip; a damaged field is named', () => {
    const id = checkpointIdentity({ data: 'x', pairs: 2, items: 4 }, DEFAULT_CONFIG, { kind: 'bag' });
    const run = { country: 'Chile', method: 'scpo', trainPairs: 1, steps: 1, accFull: 0.5, accEdited: 'NaN', accMajority: 0.5, accVal: 'NaN', losses: [0.7], points: [], ms: 1 };
    const ok = parseCheckpoint(JSON.stringify({ version: 1, identity: id, runs: [run], margins: { Chile: { scpo: [0.25, -1] } } }), 'ck.json', id);
    expect(Number.isNaN(ok.runs[0].accEdited)).toBe(true);
    expect(Array.from(ok.margins.Chile.scpo!)).toEqual([0.25, -1]);
    expect(() => parseCheckpoint(JSON.stringify({ version: 1, identity: id, runs: [{ ...run, accFull: 'x' }], margins: { Chile: { scpo: [1] } } }), 'ck.json', id)).toThrow(
      /ck\.json: runs\[0\]\.accFull: expected a number/,
    );
    expect(() => parseCheckpoint('{', 'ck.json', id)).toThrow(/ck\.json: \(file\): not JSON/);
  });
});
