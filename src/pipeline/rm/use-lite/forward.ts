// Inference entry points of the USE-lite reward model over any MatOps (jsMatOps: the readable plain-TS twin used by
// the tests; the wasm-SIMD MatOps: the fast CPU path). There is ONE forward in the code base: grad.ts's
// modelForward (per-op functions with their backwards side by side, activations kept per micro-batch for the
// LoRA trainer); this file only packs token sequences, runs it in chunks and reads out embeddings and scores.
// The golden test (golden.test.ts) checks it against TF.js running the original graph.
import type { MatOps } from '../../../gpu/matops.ts';
import { modelForward, packSequences, Scratch } from './grad.ts';
import type { UseLiteParams } from './spec.ts';

export interface EncodeOptions {
  /** Tokens per modelForward call (sequences are packed back to back, no padding). Default 2048. */
  chunkTokens?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface EncodeOutput {
  /** l2-normalised sentence embeddings [n, modelDim]. */
  emb: Float32Array;
  /** head scores [n] (the spec's linear head, head.w . emb + head.b). */
  scores: Float32Array;
}

/** Embeddings and scores of token sequences (each <= maxPositions ids; an empty one embeds as USE's ""). */
export function encodeSequences(ops: MatOps, p: UseLiteParams, seqs: readonly Int32Array[], opts: EncodeOptions = {}): EncodeOutput {
  const c = p.config;
  const D = c.modelDim;
  const n = seqs.length;
  const emb = new Float32Array(n * D);
  const scores = new Float32Array(n);
  const budget = Math.max(1, opts.chunkTokens ?? 2048);
  const sc = new Scratch();
  for (const [i, s] of seqs.entries()) {
    if (s.length > c.maxPositions) throw new Error(`use-lite: sequence ${i} has ${s.length} tokens, more than the ${c.maxPositions} positions`);
  }
  for (let start = 0; start < n; ) {
    let end = start;
    let tokens = 0;
    while (end < n && (end === start || tokens + seqs[end].length <= budget)) tokens += seqs[end++].length;
    const { ids, layout } = packSequences(seqs.slice(start, end));
    const acts = modelForward(ops, { config: c, tensors: p.tensors }, layout, { ids }, sc);
    emb.set(acts.emb.subarray(0, (end - start) * D), start * D);
    scores.set(acts.scores.subarray(0, end - start), start);
    start = end;
    opts.onProgress?.(start, n);
  }
  return { emb, scores };
}

/** The 512-d sentence embedding of one sequence. */
export function encode(ops: MatOps, p: UseLiteParams, ids: Int32Array): Float32Array {
  return encodeSequences(ops, p, [ids]).emb;
}
