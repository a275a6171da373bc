// End-to-end test of the headless CLI on the default synthetic data with the bundled RM (built by
// `npm run build:models`, which `npm install` runs), plus its bad-input behaviour: exit 2, one line, no trace.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUNDLED_MODEL_DIR } from '../src/pipeline/cli.ts';

const TSX = join(process.cwd(), 'node_modules/.bin/tsx');

function cli(args: string[]) {
  const r = spawnSync(TSX, ['src/pipeline/cli.ts', ...args], { encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('scpo CLI', () => {
  it('has the bundled model (npm run build:models)', () => {
    expect(existsSync(join(BUNDLED_MODEL_DIR, 'onnx/model.onnx')), `missing ${BUNDLED_MODEL_DIR}`).toBe(true);
  });

  it('runs the default 7-country experiment: reports parse and scpo beats start by >= 3 points', () => {
    const out = mkdtempSync(join(tmpdir(), 'scpo-cli-'));
    const r = cli(['--data', 'synthetic', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/country/);
    const full = JSON.parse(readFileSync(join(out, 'full_report.json'), 'utf8'));
    const partial = JSON.parse(readFileSync(join(out, 'partial_report.json'), 'utf8'));
    const ratios = JSON.parse(readFileSync(join(out, 'edited_ratios.json'), 'utf8'));
    const bias = JSON.parse(readFileSync(join(out, 'bias_report.json'), 'utf8'));
    const eff = JSON.parse(readFileSync(join(out, 'efficiency.json'), 'utf8'));
    const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
    const countries = ['Chile', 'South Africa', 'New Zealand', 'Australia', 'Mexico', 'Israel', 'Canada'];
    const methods = ['start', 'full_ft', 'filter_only', 'weight_only', 'scpo', 'inverse'];
    for (const t of [full, partial]) {
      expect(Object.keys(t).sort()).toEqual([...countries, 'avg'].sort());
      for (const c of [...countries, 'avg']) expect(Object.keys(t[c]).sort()).toEqual([...methods].sort());
    }
    let kept = 0;
    let train = 0;
    for (const c of countries) {
      // The ratio files agree with run.json's counts, and the filter neither keeps nothing nor everything.
      const n = run.counts[c];
      expect(ratios.train[c]).toBeCloseTo(n.kept / n.train, 12);
      expect(ratios.test[c]).toBeCloseTo(n.edited / n.test, 12);
      expect(n.kept).toBeGreaterThan(0);
      expect(n.kept).toBeLessThan(n.train);
      expect(n.edited).toBeGreaterThan(0);
      expect(n.val).toBeGreaterThan(0);
      kept += n.kept;
      train += n.train;
      expect(typeof bias.countries[c].scpo.own).toBe('number');
      expect(typeof bias.countries[c].scpo.majority).toBe('number');
      expect(eff.countries[c].fullFt.length).toBe(4);
    }
    // Pooled over countries, as the reference computes its "avg".
    expect(ratios.train.avg).toBeCloseTo(kept / train, 12);
    expect(run.globalRmTraining.testOverlap).toBe(0);
    expect(run.config.tau).toBe(0.7);
    expect(run.config.beta).toBe(1.1);
    expect(run.counts.Chile.train).toBeGreaterThan(0);
    expect(full.avg.scpo - full.avg.start).toBeGreaterThanOrEqual(3);
  }, 300_000); // a full 7-country run: ~20 s idle, minutes on a loaded 2-core machine

  it('exits 2 with one line for a missing data path', () => {
    const r = cli(['--data', '/nonexistent/prism', '--quiet']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^error: .*\/nonexistent\/prism/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('exits 2 for unknown countries, naming them', () => {
    const r = cli(['--data', 'synthetic', '--countries', 'Atlantis', '--quiet']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Atlantis/);
    expect(r.stderr).toMatch(/available: /);
  });

  it('exits 2 for bad flag values', () => {
    expect(cli(['--data', 'synthetic', '--tau', 'abc']).code).toBe(2);
    expect(cli(['--data', 'synthetic', '--methods', 'magic']).stderr).toMatch(/unknown method "magic"/);
    const bogus = cli(['--data', 'synthetic', '--bogus']);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr.trim()).toBe('error: unknown flag --bogus; see --help');
    const missing = cli(['--data', 'synthetic', '--tau']);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toMatch(/--tau.*see --help$/m);
  });

  it('--help prints the usage on stdout and exits 0; the usage lists every flag', () => {
    const r = cli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^usage: npm run scpo/);
    expect(r.stdout).not.toMatch(/error/);
    const src = readFileSync(join(process.cwd(), 'src/pipeline/cli.ts'), 'utf8');
    const flags = /const FLAGS = \{([\s\S]*?)\} as const;/.exec(src)?.[1] ?? '';
    const names = [...flags.matchAll(/'?([a-z-]+)'?:/g)].map((m) => m[1]).filter((n) => n !== 'type' && n !== 'default');
    expect(names.length).toBeGreaterThan(20);
    const readme = readFileSync(join(process.cwd(), 'README.md'), 'utf8');
    for (const n of names) {
      expect(r.stdout, n).toContain(`--${n}`);
      expect(readme, `README flag list: --${n}`).toContain(`--${n}`);
    }
  });

  it('checks the config before any work: a bad --majority fails before the global RM is trained', () => {
    const t = Date.now();
    const r = cli(['--data', 'synthetic', '--global-rm', 'train', '--majority', 'Atlantis']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Atlantis/);
    expect(r.stderr).not.toMatch(/training a global RM/);
    expect(Date.now() - t).toBeLessThan(60_000);
  });

  it('--seeds writes per-seed reports and seeds_report.json (mean, sd, interval, paired comparisons)', () => {
    const out = mkdtempSync(join(tmpdir(), 'scpo-seeds-'));
    const r = cli(['--data', 'synthetic', '--countries', 'Chile,Mexico', '--methods', 'start,full_ft,scpo', '--no-efficiency',
      '--steps', '20', '--seeds', '0,1,2', '--workers', '2', '--quiet', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const rep = JSON.parse(readFileSync(join(out, 'seeds_report.json'), 'utf8'));
    expect(rep.seeds).toEqual([0, 1, 2]);
    const per = [0, 1, 2].map((s) => JSON.parse(readFileSync(join(out, `seed-${s}`, 'full_report.json'), 'utf8')));
    for (const row of ['Chile', 'Mexico', 'avg']) {
      for (const m of ['start', 'full_ft', 'scpo']) {
        const xs = per.map((p) => p[row][m]);
        const mean = xs.reduce((a, b) => a + b, 0) / 3;
        const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / 2);
        expect(rep.full[row][m].mean).toBeCloseTo(mean, 9);
        expect(rep.full[row][m].sd).toBeCloseTo(sd, 9);
        // t(0.975, 2) = 4.302653
        expect(rep.full[row][m].ci95[1] - mean).toBeCloseTo((4.302653 * sd) / Math.sqrt(3), 4);
      }
    }
    // The splits differ by seed (else there would be no spread to report).
    expect(new Set(per.map((p) => p.avg.start)).size).toBeGreaterThan(1);
    const diffs = per.map((p) => p.avg.scpo - p.avg.full_ft);
    expect(rep.paired.scpo_vs_full_ft.full.meanDiff).toBeCloseTo(diffs.reduce((a, b) => a + b, 0) / 3, 9);
    expect(rep.paired.scpo_vs_start.full.n).toBe(3);
  }, 300_000); // three seeds; ~30 s alone, several times that on a loaded 2-core machine

  it('--strict stops at the first bad row with file:line:field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'scpo-bad-'));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'survey.jsonl'), JSON.stringify({ user_id: 'u1', location: { reside_country: 'Chile' } }) + '\n');
    writeFileSync(
      join(dir, 'utterances.jsonl'),
      JSON.stringify({ user_id: 'u1', interaction_id: 'i1', user_prompt: 'p', model_response: 'a', score: 50 }) + '\n{not json\n',
    );
    const r = cli(['--data', dir, '--strict', '--quiet']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/utterances\.jsonl:2:/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('escapes control characters from the data in every line it prints (lenient messages, progress, table)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'scpo-ansi-'));
    const evil = 'Evil\u001b[2J\u001b]0;pwned\u0007';
    const fx = join(process.cwd(), 'e2e/fixtures/prism');
    writeFileSync(join(dir, 'survey.jsonl'), readFileSync(join(fx, 'survey.jsonl'), 'utf8').replaceAll('"reside_country": "Chile"', `"reside_country": ${JSON.stringify(evil)}`));
    const bad = JSON.stringify({ utterance_id: 'x', user_id: '\u001b[31mghost\u001b[0m', interaction_id: 'i', user_prompt: 'p', model_response: 'r', score: 5 });
    writeFileSync(join(dir, 'utterances.jsonl'), readFileSync(join(fx, 'utterances.jsonl'), 'utf8') + bad + '\n');
    const r = cli(['--data', dir, '--countries', evil, '--majority', 'Canada', '--methods', 'start,scpo', '--steps', '4', '--no-efficiency']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr + r.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
    expect(r.stderr).toContain('user \\x1b[31mghost\\x1b[0m is not in survey.jsonl');
    expect(r.stderr).toContain('Evil\\x1b[2J\\x1b]0;pwned\\x07 · scpo');
    expect(r.stdout).toContain('Evil\\x1b[2J');
  });
});
