// The USE-lite reward model with LoRA written in TensorFlow.js ops, for the training benchmark only (the same
// computation as src/pipeline/rm/use-lite/spec.ts: 2E+PE, pre-LN layers, masked attention, masked mean pooling,
// tanh layer, l2 norm, scalar head; adapters on qkv/out/ff1/ff2 of both layers + the head trained). Sequences are
// padded to the batch's length with a key mask, as TF.js needs rectangular tensors. Adam (tf.train.adam) with the
// same lr; TF.js has no AdamW, which costs the same. log sigmoid as -softplus(-d) (tf.logSigmoid's gradient
// throws in 4.22: PLATFORM.md).
// Tuned for TF.js 4.22's wasm backend, whose transposed matMul variants are 15-100x slower than the plain one
// (measured here: 1024x512x1536 NN 7.4 GFLOP/s, NT 0.5, TN 0.1) and which autodiff uses for every matMul
// gradient: every product goes through customGrad functions whose gradients are plain matMuls of explicitly
// transposed operands, frozen weights get no weight gradient (their transposes are made once), and q/k/v come
// from a 2-D split (5-D slices are slow too).
import type * as TF from '@tensorflow/tfjs';
import { attentionShape, loraTargets, type LoraConfig, type UseLiteParams } from '../../src/pipeline/rm/use-lite/spec.ts';

export interface TfjsLoraModel {
  /** One optimizer step on S = 2B sequences [S, T] (chosen/rejected interleaved), returns the loss. */
  step(ids: Int32Array, S: number, T: number, lens: Int32Array, weights: Float32Array): Promise<number>;
  /** Scores of S sequences. */
  score(ids: Int32Array, S: number, T: number, lens: Int32Array): Float32Array;
  dispose(): void;
}

export function createTfjsLoraModel(tf: typeof TF, p: UseLiteParams, lc: LoraConfig, lr: number, seed = 0): TfjsLoraModel {
  const c = p.config;
  const t = (n: string, shape?: number[]) => tf.tensor(p.tensors[n], shape ?? undefined);
  const W: Record<string, TF.Tensor> = {};
  for (const [n, a] of Object.entries(p.tensors)) {
    if (n === 'head.w' || n === 'head.b') continue;
    W[n] = tf.tensor(a, n === 'E' ? [c.vocabSize, c.embedDim] : undefined);
  }
  for (const tg of loraTargets(c)) W[tg.name] = W[tg.name].reshape([tg.inDim, tg.outDim]);
  for (const n of ['L0.res.W', 'tanh.W']) {
    const [i, o] = n === 'L0.res.W' ? [c.embedDim, c.modelDim] : [c.modelDim, c.modelDim];
    W[n] = W[n].reshape([i, o]);
  }
  const scale = lc.alpha / lc.rank;
  const A: Record<string, TF.Variable> = {};
  const B: Record<string, TF.Variable> = {};
  let s = seed >>> 0;
  const rnd = () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  for (const tg of loraTargets(c)) {
    const bound = 1 / Math.sqrt(tg.inDim);
    A[tg.name] = tf.variable(tf.tensor(Float32Array.from({ length: tg.inDim * lc.rank }, () => (2 * rnd() - 1) * bound), [tg.inDim, lc.rank]));
    B[tg.name] = tf.variable(tf.zeros([lc.rank, tg.outDim]));
  }
  const headW = tf.variable(t('head.w', [c.modelDim, 1]));
  const headB = tf.variable(t('head.b', [1]));
  const vars = [...Object.values(A), ...Object.values(B), headW, headB];
  const opt = tf.train.adam(lr, 0.9, 0.999, 1e-8);
  // Timing signal table [maxPositions, embedDim].
  const half = c.embedDim / 2;
  const pe = new Float32Array(c.maxPositions * c.embedDim);
  for (let pos = 0; pos < c.maxPositions; pos++) {
    for (let j = 0; j < half; j++) {
      pe[pos * c.embedDim + j] = Math.sin(pos * p.tensors.timescales[j]);
      pe[pos * c.embedDim + half + j] = Math.cos(pos * p.tensors.timescales[j]);
    }
  }
  const PE = tf.tensor(pe, [c.maxPositions, c.embedDim]);

  const tT = (x: TF.Tensor): TF.Tensor => {
    const r = x.rank;
    return r === 2 ? tf.transpose(x) : tf.transpose(x, [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2]);
  };
  /** a @ b with both gradients as NN products. */
  const mm = tf.customGrad(((a: TF.Tensor, b: TF.Tensor, save: TF.GradSaveFunc) => {
    save([a, b]);
    return {
      value: tf.matMul(a as TF.Tensor3D, b as TF.Tensor3D),
      gradFunc: (dy: TF.Tensor, saved: TF.Tensor[]) => [tf.matMul(dy as TF.Tensor3D, tT(saved[1]) as TF.Tensor3D), tf.matMul(tT(saved[0]) as TF.Tensor3D, dy as TF.Tensor3D)],
    };
  }) as unknown as Parameters<typeof TF.customGrad>[0]) as unknown as (a: TF.Tensor, b: TF.Tensor) => TF.Tensor;
  /** x @ W for a frozen W: only dx, as dy @ W^T with W^T made once. */
  const frozen: Record<string, (x: TF.Tensor) => TF.Tensor> = {};
  for (const n of [...loraTargets(c).map((t) => t.name), 'L0.res.W', 'tanh.W']) {
    const Wn = W[n];
    const Wt = tf.transpose(Wn);
    frozen[n] = tf.customGrad(((x: TF.Tensor, save: TF.GradSaveFunc) => {
      void save;
      return { value: tf.matMul(x as TF.Tensor2D, Wn as TF.Tensor2D), gradFunc: (dy: TF.Tensor) => [tf.matMul(dy as TF.Tensor2D, Wt as TF.Tensor2D)] };
    }) as unknown as Parameters<typeof TF.customGrad>[0]) as unknown as (x: TF.Tensor) => TF.Tensor;
  }
  const lin = (x: TF.Tensor2D, name: string, bias: string): TF.Tensor2D => {
    let y = tf.add(frozen[name](x), W[bias]) as TF.Tensor2D;
    if (A[name]) y = tf.add(y, tf.mul(mm(mm(x, A[name]), B[name]), scale)) as TF.Tensor2D;
    return y;
  };
  const ln = (x: TF.Tensor2D, P: string): TF.Tensor2D => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, c.lnEps))), W[`${P}.g`]), W[`${P}.b`]) as TF.Tensor2D;
  };
  const layer = (x: TF.Tensor2D, layerIdx: 0 | 1, S: number, T: number, keyBias: TF.Tensor): TF.Tensor2D => {
    const P = `L${layerIdx}`;
    const { width: w, headDim: hd } = attentionShape(c, layerIdx);
    const H = c.heads;
    const [q2, k2, v2] = tf.split(lin(ln(x, `${P}.ln1`), `${P}.qkv.W`, `${P}.qkv.b`), 3, 1);
    const heads = (t2: TF.Tensor) => t2.reshape([S, T, H, hd]).transpose([0, 2, 1, 3]);
    const q = tf.mul(heads(q2), W[`${P}.qScale`]);
    const kT = k2.reshape([S, T, H, hd]).transpose([0, 2, 3, 1]);
    const scores = tf.add(mm(q, kT), keyBias);
    const att = mm(tf.softmax(scores), heads(v2)).transpose([0, 2, 1, 3]).reshape([S * T, w]) as TF.Tensor2D;
    const o = lin(att, `${P}.out.W`, `${P}.out.b`);
    const x1 = layerIdx === 0 ? (tf.add(tf.add(frozen['L0.res.W'](x), W['L0.res.b']), o) as TF.Tensor2D) : (tf.add(x, o) as TF.Tensor2D);
    const h = tf.relu(lin(ln(x1, `${P}.ln2`), `${P}.ff1.W`, `${P}.ff1.b`)) as TF.Tensor2D;
    return tf.add(x1, lin(h, `${P}.ff2.W`, `${P}.ff2.b`)) as TF.Tensor2D;
  };
  const forward = (ids: Int32Array, S: number, T: number, lens: Int32Array): TF.Tensor1D => {
    const idT = tf.tensor2d(ids, [S, T], 'int32');
    const mask = tf.tensor2d(Float32Array.from({ length: S * T }, (_, i) => (i % T < lens[Math.floor(i / T)] ? 1 : 0)), [S, T]);
    const x0 = tf.add(tf.mul(tf.gather(W.E, idT.reshape([S * T])), 2), tf.tile(PE.slice([0, 0], [T, c.embedDim]), [S, 1])) as TF.Tensor2D;
    const keyBias = tf.mul(tf.sub(1, mask), -1e9).reshape([S, 1, 1, T]);
    const x4 = layer(layer(x0, 0, S, T, keyBias), 1, S, T, keyBias).reshape([S, T, c.modelDim]);
    const summed = tf.sum(tf.mul(x4, mask.reshape([S, T, 1])), 1);
    const pooled = tf.div(summed, tf.maximum(tf.sum(mask, 1, true), 1)) as TF.Tensor2D;
    const y = tf.tanh(tf.add(frozen['tanh.W'](pooled), W['tanh.b'])) as TF.Tensor2D;
    const emb = tf.mul(y, tf.rsqrt(tf.maximum(tf.sum(tf.square(y), 1, true), 1e-12)));
    return tf.add(mm(emb, headW), headB).reshape([S]) as TF.Tensor1D;
  };
  return {
    async step(ids, S, T, lens, weights) {
      const Bn = S / 2;
      const w = tf.tensor1d(weights);
      const lossT = opt.minimize(
        () => {
          const sc = forward(ids, S, T, lens).reshape([Bn, 2]);
          const d = tf.sub(sc.slice([0, 0], [Bn, 1]), sc.slice([0, 1], [Bn, 1])).reshape([Bn]);
          return tf.mean(tf.mul(w, tf.softplus(tf.neg(d)))) as TF.Scalar;
        },
        true,
        vars,
      );
      const loss = (await lossT!.data())[0];
      lossT!.dispose();
      w.dispose();
      return loss;
    },
    score(ids, S, T, lens) {
      return tf.tidy(() => forward(ids, S, T, lens).dataSync() as Float32Array);
    },
    dispose() {
      for (const v of vars) v.dispose();
      for (const x of Object.values(W)) x.dispose();
      PE.dispose();
      opt.dispose();
    },
  };
}
