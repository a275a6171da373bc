// Test fixtures of the policy code: a tiny vocabulary, a seeded random model and token batches (no data files).
import { Rng } from '../../src/pipeline/rng.ts';
import { appendResponseExamples, emptyExamples, initMlpLm, toLmBatch, type LmBatch, type MlpLmParams } from '../../src/pipeline/policy/lm.ts';
import { vocabFromWords, type PolicyVocab } from '../../src/pipeline/policy/vocab.ts';

export const TINY_WORDS = ['good', 'bad', 'okay', 'plan', 'is', 'the', '.', 'what', 'do', 'you', 'think'];
/** Response words (outputs); the prompt-only words are inputs only. */
export const TINY_OUT = ['good', 'bad', 'okay', 'plan', 'is', 'the', '.'];

export function tinyVocab(): PolicyVocab {
  return vocabFromWords(TINY_WORDS, TINY_OUT);
}

/** A random tiny model; `scale` > 1 makes the distributions peakier. */
export function tinyModel(seed = 1, shape: { dim?: number; context?: number; hidden?: number } = {}, scale = 1): MlpLmParams {
  const vocab = tinyVocab();
  const rng = new Rng(seed + 1000);
  const D = shape.dim ?? 6;
  const p = initMlpLm(vocab, { dim: D, context: shape.context ?? 2, hidden: shape.hidden ?? 10, maxPromptTokens: 8 }, seed, () =>
    Array.from({ length: D }, () => rng.normal() * 0.7),
  );
  for (let i = 0; i < p.W2.length; i++) p.W2[i] *= 10 * scale;
  for (let i = 0; i < p.b2.length; i++) p.b2[i] = rng.normal() * 0.3;
  return p;
}

/** Random whole-response examples (prompt of 0-4 input words, response of 1-5 output words + [EOS]). */
export function tinyBatch(vocab: PolicyVocab, k: number, seed: number, responses = 4, signedWeights = false): LmBatch {
  const rng = new Rng(seed);
  const e = emptyExamples();
  for (let r = 0; r < responses; r++) {
    const prompt = Array.from({ length: rng.int(5) }, () => 1 + rng.int(vocab.inWords.length - 1));
    const resp = Array.from({ length: 1 + rng.int(5) }, () => 1 + rng.int(vocab.outWords.length - 1));
    resp.push(0);
    appendResponseExamples(vocab, k, prompt, resp, e);
  }
  const n = e.target.length;
  const w = Array.from({ length: n }, () => (signedWeights ? (rng.next() * 2 - 1) / n : 1 / n));
  return toLmBatch(e, w);
}
