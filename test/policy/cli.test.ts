// End-to-end test of `npm run ppo` on the default synthetic data with the bundled RM and bundled policy (both
// built by `npm run build:models`), on a small budget, plus its bad-input behaviour: exit 2, one line, no trace.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUNDLED_POLICY_DIR, ppoTarget } from '../../src/pipeline/policy/cli.ts';
import { loadPolicy } from '../../src/pipeline/policy/onnx.ts';
import { dirReader } from '../../src/pipeline/rm/files.node.ts';

const TSX = join(process.cwd(), 'node_modules/.bin/tsx');

function cli(args: string[]) {
  const r = spawnSync(TSX, ['src/pipeline/policy/cli.ts', ...args], { encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('ppo CLI', () => {
  it('has the bundled policy (npm run build:models)', () => {
    expect(existsSync(join(BUNDLED_POLICY_DIR, 'onnx/model.onnx')), `missing ${BUNDLED_POLICY_DIR}`).toBe(true);
  });

  it('trains the country RM, runs best-of-N and PPO, writes the report and both policies', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ppo-cli-'));
    const r = cli(['--country', 'Chile', '--steps', '3', '--batch', '4', '--rm-steps', '30', '--prompts', '3', '--n', '3', '--eval-samples', '8', '--seed', '2', '--out', out, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/PPO vs the Chile RM/);
    // The reward-hacking checks follow the gain (src/pipeline/policy/signals.ts, as in the policy panel).
    expect(r.stdout).toMatch(/reward-hacking checks: none tripped|WARNING: \d+ signs? of reward hacking/);
    expect(r.stdout).toMatch(/KL to the base policy \(nats \/ answer\)/);
    const rep = JSON.parse(readFileSync(join(out, 'policy_report.json'), 'utf8'));
    expect(rep.kind).toBe('policy-report');
    expect(rep.ppo.metrics).toHaveLength(3);
    for (const m of rep.ppo.metrics) for (const k of ['reward', 'rewardGlobal', 'kl', 'entropy', 'clipFrac']) expect(typeof m[k]).toBe('number');
    expect(rep.ppo.samplesBefore.length).toBe(rep.config.showSamples);
    expect(rep.ppo.samplesAfter.length).toBe(rep.config.showSamples);
    expect(rep.bestOfN.before.prompts).toHaveLength(3);
    expect(typeof rep.bestOfN.before.disagreement.Chile).toBe('number');
    expect(rep.rms.countries.Chile.source).toBe('trained');
    expect(rep.policy.source).toBe('given');
    const ppo = await loadPolicy(dirReader(join(out, 'policy-ppo')));
    const base = await loadPolicy(dirReader(join(out, 'policy-base')));
    expect(ppo.vocab.outWords).toEqual(base.vocab.outWords);
    expect(Array.from(ppo.params.W2)).not.toEqual(Array.from(base.params.W2));
  });

  it('names what PPO optimised: the country RM, or the global RM with --against global', () => {
    expect(ppoTarget({ against: 'country', country: 'Chile' })).toBe('the Chile RM');
    expect(ppoTarget({ against: 'global', country: 'Chile' })).toBe('the global RM');
  });

  it('--help exits 0 with the usage on stdout; an unknown flag is one line', () => {
    const h = cli(['--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/^usage: npm run ppo/);
    expect(h.stderr).toBe('');
    const u = cli(['--country', 'Chile', '--nope']);
    expect(u.code).toBe(2);
    expect(u.stderr.trim()).toBe('error: unknown flag --nope; see --help');
  });

  it('exits 2 with one line for an unknown country and for a bad flag', () => {
    for (const args of [['--country', 'Atlantis', '--quiet'], ['--country', 'Chile', '--steps', 'many'], ['--country', 'Chile', '--advantage', 'q']]) {
      const r = cli(args);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^error: /);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
