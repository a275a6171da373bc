// Best-of-N against hand-made bag RMs: picks are the per-RM argmax, disagreement and steering follow from the
// scores, seeds are per (prompt, sample), and text scoring equals id scoring (the PPO reward path).
import { describe, expect, it } from 'vitest';
import { scoreItems } from '../rm/bag.ts';
import { buildTokenizerConfig, buildTokenizerJson, loadTokenizer, SPECIAL_TOKENS } from '../rm/tokenizer.ts';
import type { BagRMParams } from '../rm/types.ts';
import { bestOfN, bestOfNSeed } from './bestofn.ts';
import { MlpLmPolicy } from './mlp-policy.ts';
import { bagRmReward, encodeForRm, makePpoPrompts, outToRm, scoreTexts } from './rewards.ts';
import { TINY_WORDS, tinyModel, tinyVocab } from '../../../test/helpers/policy.ts';
import { resolveSampling } from './types.ts';
import { policyTokenizer } from './vocab.ts';

// A bag RM over the tiny words whose score is linear in the mean response embedding: E is one-hot per word
// (dim = vocab), W1 = identity into a ReLU'd hidden layer shifted to stay positive, W2 = per-word preference.
function linearRM(prefs: Record<string, number>): { rm: BagRMParams; rmVocab: string[] } {
  const rmVocab = [...SPECIAL_TOKENS, ...TINY_WORDS];
  const V = rmVocab.length;
  const D = V;
  const H = V;
  const E = new Float32Array(V * D);
  for (let i = 0; i < V; i++) E[i * D + i] = 1;
  const W1 = new Float32Array(2 * D * H);
  for (let i = 0; i < D; i++) W1[i * H + i] = 1; // response half only
  const W2 = Float32Array.from(rmVocab, (w) => prefs[w] ?? 0);
  return { rm: { config: { vocabSize: V, dim: D, hidden: H, maxPromptTokens: 16, maxResponseTokens: 32 }, E, W1, b1: new Float32Array(H), W2, b2: new Float32Array(1) }, rmVocab };
}

const rmTok = loadTokenizer(buildTokenizerJson(TINY_WORDS), buildTokenizerConfig(64));

describe('best-of-N', () => {
  const global = linearRM({ good: 1, okay: 0.5, bad: -1 });
  const country = linearRM({ good: -0.5, okay: 2, bad: -1 });
  const policy = new MlpLmPolicy(tinyModel(31), tinyVocab());

  it('reports per-RM picks, distributions, disagreement and steering', async () => {
    const prompts = ['what do you think', 'the plan', 'what'];
    const rep = await bestOfN({
      policy,
      prompts,
      n: 6,
      sampling: resolveSampling({ seed: 5, maxTokens: 8, temperature: 1.2 }),
      rms: [
        { name: 'global', params: global.rm },
        { name: 'Testland', params: country.rm },
      ],
      tokenizer: rmTok,
    });
    expect(rep.prompts).toHaveLength(3);
    let disagree = 0;
    for (const row of rep.prompts) {
      expect(row.responses).toHaveLength(6);
      for (const nm of ['global', 'Testland']) {
        const s = row.scores[nm];
        expect(s[row.picks[nm]]).toBe(Math.max(...s));
        expect(s.indexOf(Math.max(...s))).toBe(row.picks[nm]);
      }
      if (row.picks.Testland !== row.picks.global) disagree++;
      // The text scores are the RM's scores of (prompt, response).
      const direct = scoreTexts([global.rm], rmTok, row.responses.map((response) => ({ prompt: row.prompt, response })))[0];
      expect(row.scores.global).toEqual(Array.from(direct));
    }
    expect(rep.disagreement.Testland).toBeCloseTo(disagree / 3, 12);
    // Steering recomputed from the rows: own-RM score of the own pick minus that of the global pick (and the
    // global RM's view of the same swap), averaged over prompts; the RMs disagree, so both are non-zero.
    const own = rep.prompts.reduce((a, r) => a + r.scores.Testland[r.picks.Testland] - r.scores.Testland[r.picks.global], 0) / 3;
    const cost = rep.prompts.reduce((a, r) => a + r.scores.global[r.picks.Testland] - r.scores.global[r.picks.global], 0) / 3;
    expect(disagree).toBeGreaterThan(0);
    expect(rep.steering.Testland.ownGain).toBeCloseTo(own, 12);
    expect(rep.steering.Testland.globalCost).toBeCloseTo(cost, 12);
    expect(own).toBeGreaterThan(0);
    expect(cost).toBeLessThan(0);
    const d = rep.distributions.global;
    expect(d.histogram.counts.reduce((a, b) => a + b, 0)).toBe(18);
    const all = rep.prompts.flatMap((r) => r.scores.global);
    expect(d.mean).toBeCloseTo(all.reduce((a, b) => a + b, 0) / 18, 12);
    expect(d.meanBest).toBeCloseTo(rep.prompts.reduce((a, r) => a + Math.max(...r.scores.global), 0) / 3, 12);
    // Sample i of prompt j is the policy's generation with the derived seed.
    const g = await policy.generate(prompts[1], { ...rep.sampling, seed: bestOfNSeed(5, 1, 3) });
    expect(rep.prompts[1].responses[3]).toBe(g.text);
  });

  it('scoring from ids (PPO) equals scoring from the text', async () => {
    const vocab = tinyVocab();
    const prompts = makePpoPrompts(['what do you think', 'the plan is'], policyTokenizer(vocab), 8, rmTok, 16);
    const gens = policy.generateMany(prompts.map((p) => p.text), resolveSampling({ maxTokens: 10 }), [1, 2]);
    const map = outToRm(vocab, [...SPECIAL_TOKENS, ...TINY_WORDS]);
    const fromIds = await bagRmReward(country.rm, map)(prompts, gens.map((g) => g.tokens));
    const fromText = scoreTexts([country.rm], rmTok, gens.map((g, i) => ({ prompt: prompts[i].text, response: g.text })))[0];
    expect(Array.from(fromIds)).toEqual(Array.from(fromText));
    const enc = encodeForRm(country.rm, map, prompts, gens.map((g) => g.tokens));
    expect(Array.from(scoreItems(country.rm, enc))).toEqual(Array.from(fromIds));
  });
});
