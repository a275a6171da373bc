// USE-lite's input layer over a padded batch: X[b, t] = 2 * E[id_bt] + PE[t] for t < len_b, else 0.
// The factor 2 is the graph's (TS/Layer_0/add adds the scattered embedding to embedding + timing signal; see
// src/pipeline/rm/use-lite/spec.ts). PE [maxPositions, W] is the timing signal sin(t * inv) || cos(t * inv),
// computed once on the host in float64 (like the CPU trainer) from the model's timescales (`timingSignal`): WGSL's sin/cos are only
// accurate near [-pi, pi], and positions reach 127 rad. Token ids are checked by the twin and by the host that
// packs batches; the GPU clamps an out-of-range id to row 0 rather than reading outside E.
import { checkDims, checkInputs, linearProgram, type BindingSpec, type KernelDef, type KernelProgram } from './kernel.ts';
import { checkLens } from './rows.ts';

export interface UseEmbeddingDims {
  seqs: number;
  T: number;
  vocab: number;
  /** Embedding width (256); PE has the same width. */
  W: number;
  /** Rows of PE (128); T <= maxPositions. */
  maxPositions: number;
}

export interface UseEmbeddingInputs extends Record<string, Float32Array | Int32Array> {
  E: Float32Array;
  PE: Float32Array;
  ids: Int32Array;
  lens: Int32Array;
}

export interface UseEmbeddingOutputs extends Record<string, Float32Array> {
  X: Float32Array;
}

/** The timing signal [maxPositions, 2 * inv.length]: sin(t * inv_k) for k < n, then cos (t2t's layout). */
export function timingSignal(inv: Float32Array, maxPositions: number): Float32Array {
  const n = inv.length;
  const pe = new Float32Array(maxPositions * 2 * n);
  for (let t = 0; t < maxPositions; t++) {
    for (let k = 0; k < n; k++) {
      // float64 product, as the CPU trainer's embedForward (TF multiplies in float32: <= 8e-6 rad apart at t = 127).
      const a = t * inv[k];
      pe[t * 2 * n + k] = Math.sin(a);
      pe[t * 2 * n + n + k] = Math.cos(a);
    }
  }
  return pe;
}

function validate(d: UseEmbeddingDims): void {
  checkDims(d, { seqs: 0, T: 0, vocab: 1, W: 1, maxPositions: 1 });
  if (d.T > d.maxPositions) throw new RangeError(`T = ${d.T} exceeds maxPositions = ${d.maxPositions}`);
}

function bindings(d: UseEmbeddingDims): BindingSpec[] {
  return [
    { name: 'E', access: 'read', dtype: 'f32', elements: d.vocab * d.W },
    { name: 'PE', access: 'read', dtype: 'f32', elements: d.maxPositions * d.W },
    { name: 'ids', access: 'read', dtype: 'i32', elements: d.seqs * d.T },
    { name: 'lens', access: 'read', dtype: 'i32', elements: d.seqs },
    { name: 'X', access: 'read_write', dtype: 'f32', elements: d.seqs * d.T * d.W },
  ];
}

function attributes(d: UseEmbeddingDims) {
  return { key: `useEmbedding:W${d.W}:V${d.vocab}` };
}

function program(d: UseEmbeddingDims): KernelProgram {
  validate(d);
  return linearProgram({
    kernel: 'useEmbedding',
    key: attributes(d).key,
    bindings: bindings(d),
    uniforms: [
      ['seqs', 'u32', d.seqs],
      ['T', 'u32', d.T],
    ],
    invocations: d.seqs * d.T * d.W,
    consts: [`const W: u32 = ${d.W}u;`, `const VOCAB: i32 = ${d.vocab};`],
    guard: 'params.seqs * params.T * W',
    body: `  let c = idx % W;
  let bt = idx / W;
  let t = bt % params.T;
  let b = bt / params.T;
  var v = 0.0;
  if (i32(t) < lens[b]) {
    var id = ids[bt];
    if (id < 0 || id >= VOCAB) { id = 0; }
    v = 2.0 * E[u32(id) * W + c] + PE[t * W + c];
  }
  X[idx] = v;`,
  });
}

function cpu(d: UseEmbeddingDims, x: UseEmbeddingInputs): UseEmbeddingOutputs {
  validate(d);
  checkInputs(bindings(d), x);
  checkLens(x.lens, d.T);
  const { seqs, T, W } = d;
  const X = new Float32Array(seqs * T * W);
  for (let b = 0; b < seqs; b++) {
    for (let t = 0; t < x.lens[b]; t++) {
      const id = x.ids[b * T + t];
      if (!(id >= 0 && id < d.vocab)) throw new RangeError(`ids[${b * T + t}] = ${id} is outside the vocabulary (${d.vocab})`);
      for (let c = 0; c < W; c++) X[(b * T + t) * W + c] = 2 * x.E[id * W + c] + x.PE[t * W + c];
    }
  }
  return { X };
}

export const useEmbedding: KernelDef<UseEmbeddingDims, UseEmbeddingInputs, UseEmbeddingOutputs> = {
  name: 'useEmbedding',
  validate,
  attributes,
  program,
  cpu,
  outputs: ['X'],
};
