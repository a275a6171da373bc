// The bundled policy's model and CPU trainer: gradients against finite differences, batched vs single sampling,
// vocabulary/detokenisation, and supervised training on a toy corpus.
import { describe, expect, it } from 'vitest';
import { cloneLm, lmLogits, type MlpLmParams } from './lm.ts';
import { MlpLmPolicy, sampleBatch } from './mlp-policy.ts';
import { CpuPolicyTrainer, softmaxXentBackward } from './trainer.ts';
import { tinyBatch, tinyModel, tinyVocab } from '../../../test/helpers/policy.ts';
import { resolveSampling } from './types.ts';
import { detokenize, EOS_OUT, policyTokenizer, vocabFromWords } from './vocab.ts';

function lossOf(p: MlpLmParams, b: ReturnType<typeof tinyBatch>): number {
  const L = lmLogits(p, b);
  const d = new Float64Array(L.length);
  return softmaxXentBackward(Float64Array.from(L), b.n, p.config.vocabOut, b.target, b.weight, 0, d);
}

describe('CPU policy trainer', () => {
  it('its first step moves every parameter against the finite-difference gradient (SGD-like check via Adam sign)', () => {
    // With Adam at t=1 the update is -lr * g/(|g| + eps'): each element moves by ~lr against the sign of its
    // gradient. Compare those signs with central finite differences of the loss.
    const p = tinyModel(3);
    const vocab = tinyVocab();
    const b = tinyBatch(vocab, p.config.context, 5, 3, true);
    const lr = 1e-3;
    const tr = new CpuPolicyTrainer(p, { lr, beta1: 0.9, beta2: 0.999, eps: 1e-12, weightDecay: 0, freezeEmbeddings: false });
    tr.stepSync(b);
    const q = tr.peek();
    const h = 1e-3;
    let checked = 0;
    for (const k of ['W1', 'b1', 'W2', 'b2', 'E'] as const) {
      for (let i = 0; i < p[k].length; i += 3) {
        const pp = cloneLm(p);
        pp[k][i] += h;
        const up = lossOf(pp, b);
        pp[k][i] -= 2 * h;
        const down = lossOf(pp, b);
        const fd = (up - down) / (2 * h);
        const moved = q[k][i] - p[k][i];
        if (Math.abs(fd) < 1e-4) continue; // sign is numerically meaningless (or the row was not touched)
        expect(Math.sign(moved), `${k}[${i}] fd ${fd} moved ${moved}`).toBe(-Math.sign(fd));
        expect(Math.abs(Math.abs(moved) - lr)).toBeLessThan(lr * 0.05);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(40);
  });

  it('loss equals the weighted cross-entropy of its logits, and steps are deterministic', async () => {
    const p = tinyModel(4);
    const vocab = tinyVocab();
    const b = tinyBatch(vocab, p.config.context, 6, 5);
    const a = new CpuPolicyTrainer(p);
    const c = new CpuPolicyTrainer(p);
    const l0 = lossOf(p, b);
    const r = await a.step(b);
    expect(r.loss).toBeCloseTo(l0, 6); // lossOf reads f32 logits
    await c.step(b);
    const [pa, pc] = [await a.params(), await c.params()];
    expect(Array.from(pa.W1)).toEqual(Array.from(pc.W1));
    expect(Array.from(pa.E)).toEqual(Array.from(pc.E));
  });

  it('frozen embeddings stay put; zero-size batches are no-ops', async () => {
    const p = tinyModel(5);
    const b = tinyBatch(tinyVocab(), p.config.context, 7);
    const tr = new CpuPolicyTrainer(p, { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, freezeEmbeddings: true });
    await tr.step(b);
    expect(Array.from((await tr.params()).E)).toEqual(Array.from(p.E));
    expect((await tr.step({ ...b, n: 0, ctx: new Int32Array(0), promptOffsets: new Int32Array(1), promptIds: new Int32Array(0), target: new Int32Array(0), weight: new Float32Array(0) })).loss).toBe(0);
    expect(tr.steps).toBe(1);
  });

  it('supervised training drives a one-answer corpus to that answer', async () => {
    const vocab = tinyVocab();
    const p = tinyModel(6, {}, 0.1);
    const tr = new CpuPolicyTrainer(p, { lr: 2e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, freezeEmbeddings: false });
    const o = (w: string) => vocab.outWords.indexOf(w);
    const { appendResponseExamples, emptyExamples, toLmBatch } = await import('./lm.ts');
    const e = emptyExamples();
    appendResponseExamples(vocab, 2, [vocab.inWords.indexOf('what')], [o('the'), o('plan'), o('is'), o('good'), o('.'), EOS_OUT], e);
    const b = toLmBatch(e);
    const first = (await tr.step(b)).loss;
    let last = first;
    for (let i = 0; i < 150; i++) last = (await tr.step(b)).loss;
    expect(last).toBeLessThan(0.05 * first);
    const pol = new MlpLmPolicy(await tr.params(), vocab);
    const g = await pol.generate('what', resolveSampling({ temperature: 0, maxTokens: 10 }));
    expect(g.text).toBe('the plan is good.');
    expect(g.finish).toBe('eos');
  });
});

describe('sampling from the MLP policy', () => {
  it('batched lockstep sampling gives the same tokens as one-at-a-time for the same seeds', async () => {
    const p = tinyModel(7);
    const vocab = tinyVocab();
    const pol = new MlpLmPolicy(p, vocab);
    const prompts = ['what do you think', 'the plan', '', 'good good bad'];
    const opts = resolveSampling({ temperature: 0.9, topK: 5, topP: 0.95, maxTokens: 12 });
    const many = pol.generateMany(prompts, opts, [11, 12, 13, 14]);
    for (let i = 0; i < prompts.length; i++) {
      const one = await pol.generate(prompts[i], { ...opts, seed: 11 + i });
      expect(one.tokens).toEqual(many[i].tokens);
      expect(one.text).toBe(many[i].text);
      expect(one.logprobs.map((x) => x.toFixed(12))).toEqual(many[i].logprobs.map((x) => x.toFixed(12)));
    }
  });

  it('streams tokens whose texts concatenate to the response; logprobs are the raw model log-softmax', async () => {
    const p = tinyModel(8);
    const vocab = tinyVocab();
    const pol = new MlpLmPolicy(p, vocab);
    const seen: string[] = [];
    const g = await pol.generate('what', resolveSampling({ seed: 3, maxTokens: 20, temperature: 0.5 }), (t) => seen.push(t.text));
    expect(seen.join('')).toBe(g.text);
    expect(seen.length).toBe(g.tokens.length);
    expect(detokenize(vocab, g.tokens)).toBe(g.text);
    const r = sampleBatch(p, vocab.outIn, [pol.encodePrompt('what')], { temperature: 0.5, topK: 0, topP: 1, maxTokens: 20 }, [3]);
    expect(r.tokens[0]).toEqual(g.tokens);
    expect(g.logprobs.every((x) => x <= 0)).toBe(true);
  });

  it('cancels between tokens', async () => {
    const pol = new MlpLmPolicy(tinyModel(9), tinyVocab());
    const ac = new AbortController();
    ac.abort();
    const g = await pol.generate('what', resolveSampling({ maxTokens: 20 }), undefined, ac.signal);
    expect(g.finish).toBe('cancelled');
    expect(g.tokens).toEqual([]);
  });
});

describe('policy vocabulary', () => {
  it('text re-tokenizes to the same words, punctuation attached', () => {
    const vocab = vocabFromWords(['hello', 'world', ',', '.', "'", 't', 'don'], ['hello', 'world', ',', '.', "'", 't', 'don']);
    const o = (w: string) => vocab.outWords.indexOf(w);
    const ids = [o('hello'), o(','), o('world'), o('.'), o('don'), o("'"), o('t'), EOS_OUT, o('hello')];
    const text = detokenize(vocab, ids);
    expect(text).toBe("hello, world. don' t");
    const tok = policyTokenizer(vocab);
    const back = tok.encode(text, { add_special_tokens: false });
    expect(back.map((i) => vocab.inOut[i])).toEqual(ids.slice(0, 7));
  });
  it('rejects output words that are not inputs', () => {
    expect(() => vocabFromWords(['a'], ['b'])).toThrow(/not an input word/);
  });
});
