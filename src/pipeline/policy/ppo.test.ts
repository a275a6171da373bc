// PPO's pieces against hand-computed values (ratio, clipping, GAE, reward-to-go baseline, KL, entropy, token
// rewards, whitening) and a toy run with a known best response: the reward rises and the KL stays bounded.
import { describe, expect, it } from 'vitest';
import { Rng } from '../rng.ts';
import { adaptKlCoef, clippedSurrogate, gae, probRatio, resolvePpo, rewardToGo, runPpo, tokenRewards, whiten, type PpoPrompt, type RewardFn } from './ppo.ts';
import { entropyOfLogits, klOfLogits, logSoftmax } from './sampling.ts';
import { CpuPolicyTrainer } from './trainer.ts';
import { tinyModel, tinyVocab } from '../../../test/helpers/policy.ts';
import { EOS_OUT } from './vocab.ts';

describe('PPO math (hand-computed)', () => {
  it('ratio', () => {
    expect(probRatio(Math.log(0.3), Math.log(0.2))).toBeCloseTo(1.5, 12);
    expect(probRatio(-1, -1)).toBe(1);
  });

  it('clipped surrogate: both signs of the advantage, inside and outside the clip range', () => {
    // eps = 0.2. A > 0: min(rho A, clip(rho) A).
    let t = clippedSurrogate(1.5, 2, 0.2); // clip -> 1.2: min(3, 2.4) = 2.4, gradient 0
    expect(t.objective).toBeCloseTo(2.4, 12);
    expect(t.gradLogp).toBe(0);
    expect(t.clipped).toBe(true);
    t = clippedSurrogate(0.5, 2, 0.2); // min(1, 0.8 * 2 = 1.6) = 1 (unclipped), gradient rho A = 1
    expect(t.objective).toBeCloseTo(1, 12);
    expect(t.gradLogp).toBeCloseTo(1, 12);
    expect(t.clipped).toBe(true);
    t = clippedSurrogate(1.1, 2, 0.2); // inside: 2.2, gradient 2.2
    expect(t.objective).toBeCloseTo(2.2, 12);
    expect(t.gradLogp).toBeCloseTo(2.2, 12);
    expect(t.clipped).toBe(false);
    // A < 0: min(rho A, clip(rho) A) picks the larger |.|.
    t = clippedSurrogate(1.5, -1, 0.2); // min(-1.5, -1.2) = -1.5 (unclipped), gradient -1.5
    expect(t.objective).toBeCloseTo(-1.5, 12);
    expect(t.gradLogp).toBeCloseTo(-1.5, 12);
    t = clippedSurrogate(0.5, -1, 0.2); // min(-0.5, -0.8) = -0.8 (clipped), gradient 0
    expect(t.objective).toBeCloseTo(-0.8, 12);
    expect(t.gradLogp).toBe(0);
  });

  it('GAE: gamma = 0.9, lambda = 0.8 on three steps', () => {
    const r = [1, 0, 2];
    const v = [0.5, 0.4, 0.3];
    // deltas: d2 = 2 - 0.3 = 1.7; d1 = 0 + 0.9*0.3 - 0.4 = -0.13; d0 = 1 + 0.9*0.4 - 0.5 = 0.86
    // A2 = 1.7; A1 = -0.13 + 0.72*1.7 = 1.094; A0 = 0.86 + 0.72*1.094 = 1.64768
    const { advantages, returns } = gae(r, v, 0.9, 0.8);
    expect(Array.from(advantages).map((x) => +x.toFixed(10))).toEqual([1.64768, 1.094, 1.7]);
    expect(Array.from(returns).map((x) => +x.toFixed(10))).toEqual([2.14768, 1.494, 2]);
  });

  it('GAE with lambda = 1 and gamma = 1 is reward-to-go minus the value (Monte Carlo)', () => {
    const r = [0.1, -0.2, 3];
    const v = [1, 2, 0.5];
    const { advantages } = gae(r, v, 1, 1);
    const g = rewardToGo(r, 1);
    expect(Array.from(g).map((x) => +x.toFixed(12))).toEqual([2.9, 2.8, 3]);
    expect(Array.from(advantages).map((x) => +x.toFixed(12))).toEqual([1.9, 0.8, 2.5]);
  });

  it('token rewards: KL penalty at every token, score at the last', () => {
    const r = tokenRewards(5, [-1, -2, -0.5], [-1.5, -1, -0.5], 0.1);
    expect(Array.from(r).map((x) => +x.toFixed(12))).toEqual([-0.05, 0.1, 5]);
  });

  it('KL and entropy of logits', () => {
    // p = softmax([0, ln 3]) = (0.25, 0.75), q = uniform (0.5, 0.5).
    const p = [0, Math.log(3)];
    const q = [0, 0];
    const kl = 0.25 * Math.log(0.25 / 0.5) + 0.75 * Math.log(0.75 / 0.5);
    expect(klOfLogits(p, 0, q, 0, 2)).toBeCloseTo(kl, 12);
    expect(klOfLogits(q, 0, q, 0, 2)).toBe(0);
    expect(entropyOfLogits(q, 0, 2)).toBeCloseTo(Math.log(2), 12);
    expect(entropyOfLogits(p, 0, 2)).toBeCloseTo(-(0.25 * Math.log(0.25) + 0.75 * Math.log(0.75)), 12);
    const lp = logSoftmax([1000, 1000]);
    expect(lp[0]).toBeCloseTo(Math.log(0.5), 12);
  });

  it('adaptive KL coefficient: proportional, clipped at +-20% error', () => {
    expect(adaptKlCoef(0.1, 6, 6, 0.5)).toBeCloseTo(0.1, 12);
    expect(adaptKlCoef(0.1, 7.2, 6, 0.5)).toBeCloseTo(0.1 * 1.1, 12); // error +0.2
    expect(adaptKlCoef(0.1, 60, 6, 0.5)).toBeCloseTo(0.1 * 1.1, 12); // clipped
    expect(adaptKlCoef(0.1, 0, 6, 0.5)).toBeCloseTo(0.1 * 0.9, 12);
  });

  it('whitening', () => {
    const x = Float64Array.from([1, 2, 3, 4]);
    const [m, s] = whiten(x);
    expect(m).toBe(2.5);
    expect(s).toBeCloseTo(Math.sqrt(1.25), 12);
    expect(x[0]).toBeCloseTo(-1.5 / Math.sqrt(1.25), 6);
  });

  it('config validation names the field', () => {
    expect(() => resolvePpo({ clip: -1 })).toThrow(/clip/);
    expect(() => resolvePpo({ advantage: 'x' as never })).toThrow(/advantage/);
  });
});

describe('PPO on a toy task with a known best response', () => {
  const vocab = tinyVocab();
  const good = vocab.outWords.indexOf('good');
  // Reward = share of "good" among the response's words (an empty response scores 0): the best response is
  // "good good ..." (reward 1), which the initial policy rarely writes.
  const reward: RewardFn = (_p, responses) =>
    Float32Array.from(responses, (r) => {
      const words = r.filter((o) => o !== EOS_OUT);
      return words.length ? words.filter((o) => o === good).length / words.length : 0;
    });
  const prompts: PpoPrompt[] = Array.from({ length: 8 }, (_, i) => ({ text: `p${i}`, ids: Int32Array.from([8 + (i % 4)]) }));

  async function run(klCoef: number, advantage: 'gae' | 'baseline', steps = 30) {
    const p = tinyModel(11, {}, 0.3);
    const trainer = new CpuPolicyTrainer(p, { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, freezeEmbeddings: false });
    return runPpo({
      trainer,
      reference: p,
      vocab,
      prompts,
      reward,
      config: resolvePpo({ steps, batchPrompts: 16, epochs: 2, minibatches: 2, lr: 1e-2, klCoef, maxTokens: 6, advantage, seed: 3 }),
      samplePrompts: prompts.slice(0, 2),
    });
  }

  it('GAE + value head: reward rises towards 1, KL to the reference stays bounded', async () => {
    const r = await run(0.05, 'gae');
    const first = r.metrics.slice(0, 3).reduce((a, m) => a + m.reward, 0) / 3;
    const last = r.metrics.slice(-3).reduce((a, m) => a + m.reward, 0) / 3;
    console.log(`toy PPO (gae): reward ${first.toFixed(3)} -> ${last.toFixed(3)}, KL ${r.metrics.at(-1)!.kl.toFixed(3)}, entropy ${r.metrics[0].entropy.toFixed(3)} -> ${r.metrics.at(-1)!.entropy.toFixed(3)}`);
    expect(first).toBeLessThan(0.35);
    expect(last).toBeGreaterThan(first + 0.3);
    for (const m of r.metrics) {
      expect(Number.isFinite(m.kl)).toBe(true);
      expect(m.kl).toBeLessThan(15);
      expect(m.clipFrac).toBeLessThanOrEqual(1);
    }
    // lr 1e-2 moves the policy past the clip range within an update: a ratio computed wrongly (e.g. against the
    // current instead of the rollout policy) would never clip.
    expect(r.metrics.some((m) => m.clipFrac > 0)).toBe(true);
    expect(r.metrics[0].clipFrac).toBeLessThan(1);
    expect(r.after.length).toBe(2);
    expect(r.metrics[0].kl).toBeCloseTo(0, 9); // the first rollouts come from the reference itself
  });

  it('a larger KL coefficient keeps the policy closer to the reference', async () => {
    const loose = await run(0.0, 'baseline', 20);
    const tight = await run(1.0, 'baseline', 20);
    const kl = (r: typeof loose) => r.metrics.slice(-3).reduce((a, m) => a + m.kl, 0) / 3;
    console.log(`toy PPO (baseline): KL with klCoef 0 ${kl(loose).toFixed(3)}, with klCoef 1 ${kl(tight).toFixed(3)}`);
    expect(kl(tight)).toBeLessThan(kl(loose));
    expect(loose.metrics.at(-1)!.reward).toBeGreaterThan(loose.metrics[0].reward);
  });

  it('the adaptive KL controller raises the coefficient while KL is above target', async () => {
    const p = tinyModel(11, {}, 0.3);
    const trainer = new CpuPolicyTrainer(p, { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, freezeEmbeddings: false });
    const r = await runPpo({ trainer, reference: p, vocab, prompts, reward, config: resolvePpo({ steps: 20, batchPrompts: 16, lr: 1e-2, klCoef: 0.05, klTarget: 0.5, maxTokens: 6, seed: 3 }) });
    const coefs = r.metrics.map((m) => m.klCoef);
    expect(coefs[0]).toBe(0.05);
    expect(Math.max(...coefs)).toBeGreaterThan(0.05);
    for (let i = 1; i < r.metrics.length; i++) expect(coefs[i]).toBeCloseTo(adaptKlCoef(coefs[i - 1], r.metrics[i - 1].kl, 0.5, 0.5), 12);
  });

  it('is deterministic for a seed', async () => {
    const a = await run(0.05, 'gae', 3);
    const b = await run(0.05, 'gae', 3);
    expect(a.metrics.map((m) => m.reward)).toEqual(b.metrics.map((m) => m.reward));
    expect(Array.from(a.params.W2)).toEqual(Array.from(b.params.W2));
    void new Rng(0);
  });
});
