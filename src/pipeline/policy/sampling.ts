// Token sampling from logits: temperature, top-k, top-p (nucleus), greedy; plus the log-softmax/entropy/KL
// helpers PPO needs. Deterministic given the Rng: ties and equal probabilities are broken by token index.
import type { Rng } from '../rng.ts';
import type { SamplingOptions } from './types.ts';

type Floats = Float32Array | Float64Array | number[];

/** log-sum-exp of x[off .. off+n). */
export function logSumExp(x: Floats, off = 0, n = x.length - off): number {
  let m = -Infinity;
  for (let i = 0; i < n; i++) if (x[off + i] > m) m = x[off + i];
  if (m === -Infinity) return -Infinity;
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.exp(x[off + i] - m);
  return m + Math.log(s);
}

/** out[i] = x[off+i] - logsumexp(x[off .. off+n)). */
export function logSoftmax(x: Floats, off = 0, n = x.length - off, out = new Float64Array(n)): Float64Array {
  const lse = logSumExp(x, off, n);
  for (let i = 0; i < n; i++) out[i] = x[off + i] - lse;
  return out;
}

/** Entropy (nats) of softmax(x[off .. off+n)). */
export function entropyOfLogits(x: Floats, off = 0, n = x.length - off): number {
  const lse = logSumExp(x, off, n);
  let h = 0;
  for (let i = 0; i < n; i++) {
    const lp = x[off + i] - lse;
    if (lp > -Infinity) h -= Math.exp(lp) * lp;
  }
  return h;
}

/** KL(softmax(p) || softmax(q)) in nats for two logit rows of length n. */
export function klOfLogits(p: Floats, pOff: number, q: Floats, qOff: number, n: number): number {
  const lp = logSumExp(p, pOff, n);
  const lq = logSumExp(q, qOff, n);
  let kl = 0;
  for (let i = 0; i < n; i++) {
    const a = p[pOff + i] - lp;
    if (a === -Infinity) continue;
    kl += Math.exp(a) * (a - (q[qOff + i] - lq));
  }
  return Math.max(0, kl);
}

export interface Sampled {
  index: number;
  /** log-softmax of the raw logits (temperature 1, no truncation) at `index`. */
  logprob: number;
}

/**
 * Samples one token from logits[off .. off+n) under temperature/top-k/top-p with one draw of `rng`
 * (greedy when temperature is 0: no draw).
 */
export function sampleLogits(
  logits: Floats,
  off: number,
  n: number,
  opts: Pick<SamplingOptions, 'temperature' | 'topK' | 'topP'>,
  rng: Rng,
  scratch?: { probs: Float64Array; order: Int32Array },
): Sampled {
  const lse = logSumExp(logits, off, n);
  if (opts.temperature === 0) {
    let best = 0;
    for (let i = 1; i < n; i++) if (logits[off + i] > logits[off + best]) best = i;
    return { index: best, logprob: logits[off + best] - lse };
  }
  const probs = scratch && scratch.probs.length >= n ? scratch.probs : new Float64Array(n);
  const invT = 1 / opts.temperature;
  let m = -Infinity;
  for (let i = 0; i < n; i++) if (logits[off + i] > m) m = logits[off + i];
  let total = 0;
  for (let i = 0; i < n; i++) {
    const p = Math.exp((logits[off + i] - m) * invT);
    probs[i] = p;
    total += p;
  }
  const truncate = (opts.topK > 0 && opts.topK < n) || opts.topP < 1;
  const u = rng.next();
  if (!truncate) {
    let target = u * total;
    for (let i = 0; i < n; i++) {
      target -= probs[i];
      if (target < 0) return { index: i, logprob: logits[off + i] - lse };
    }
    // Rounding left a sliver: the last token with mass.
    for (let i = n - 1; i >= 0; i--) if (probs[i] > 0) return { index: i, logprob: logits[off + i] - lse };
    return { index: 0, logprob: logits[off] - lse };
  }
  // Sort indices by probability (desc), ties by index, then keep the top-k / nucleus prefix.
  const order = scratch && scratch.order.length >= n ? scratch.order : new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const ord = order.subarray(0, n);
  ord.sort((a, b) => probs[b] - probs[a] || a - b);
  let keep = opts.topK > 0 ? Math.min(opts.topK, n) : n;
  if (opts.topP < 1) {
    let cum = 0;
    for (let r = 0; r < keep; r++) {
      cum += probs[ord[r]] / total;
      if (cum >= opts.topP) {
        keep = r + 1;
        break;
      }
    }
  }
  let kept = 0;
  for (let r = 0; r < keep; r++) kept += probs[ord[r]];
  let target = u * kept;
  for (let r = 0; r < keep; r++) {
    target -= probs[ord[r]];
    if (target < 0) return { index: ord[r], logprob: logits[off + ord[r]] - lse };
  }
  const last = ord[keep - 1];
  return { index: last, logprob: logits[off + last] - lse };
}
