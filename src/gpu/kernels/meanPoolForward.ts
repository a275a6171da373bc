// Masked mean pooling over a padded batch (USE-lite's sentence pooling): out[b, c] = sum_{t < len_b} X[b, t, c]
// / max(len_b, 1) (a length-0 sequence gives 0; not divided by sqrt(len)). One invocation per (b, c).
import { checkDims, checkInputs, linearProgram, type BindingSpec, type KernelDef, type KernelProgram } from './kernel.ts';
import { checkLens } from './rows.ts';

export interface MeanPoolDims {
  /** Sequences (uniform). */
  seqs: number;
  /** Padded length (uniform). */
  T: number;
  W: number;
}

export interface MeanPoolForwardInputs extends Record<string, Float32Array | Int32Array> {
  X: Float32Array;
  lens: Int32Array;
}

export interface MeanPoolForwardOutputs extends Record<string, Float32Array> {
  out: Float32Array;
}

export function validateMeanPool(d: MeanPoolDims): void {
  checkDims(d, { seqs: 0, T: 0, W: 1 });
}

function bindings(d: MeanPoolDims): BindingSpec[] {
  return [
    { name: 'X', access: 'read', dtype: 'f32', elements: d.seqs * d.T * d.W },
    { name: 'lens', access: 'read', dtype: 'i32', elements: d.seqs },
    { name: 'out', access: 'read_write', dtype: 'f32', elements: d.seqs * d.W },
  ];
}

function attributes(d: MeanPoolDims) {
  return { key: `meanPoolForward:W${d.W}` };
}

function program(d: MeanPoolDims): KernelProgram {
  validateMeanPool(d);
  return linearProgram({
    kernel: 'meanPoolForward',
    key: attributes(d).key,
    bindings: bindings(d),
    uniforms: [
      ['seqs', 'u32', d.seqs],
      ['T', 'u32', d.T],
    ],
    invocations: d.seqs * d.W,
    consts: [`const W: u32 = ${d.W}u;`],
    guard: 'params.seqs * W',
    body: `  let b = idx / W;
  let c = idx % W;
  let L = u32(clamp(lens[b], 0, i32(params.T)));
  var acc = 0.0;
  for (var t = 0u; t < L; t++) { acc += X[(b * params.T + t) * W + c]; }
  out[idx] = acc / f32(max(L, 1u));`,
  });
}

function cpu(d: MeanPoolDims, x: MeanPoolForwardInputs): MeanPoolForwardOutputs {
  validateMeanPool(d);
  checkInputs(bindings(d), x);
  checkLens(x.lens, d.T);
  const { seqs, T, W } = d;
  const out = new Float32Array(seqs * W);
  for (let b = 0; b < seqs; b++) {
    const L = x.lens[b];
    for (let c = 0; c < W; c++) {
      let acc = 0;
      for (let t = 0; t < L; t++) acc += x.X[(b * T + t) * W + c];
      out[b * W + c] = acc / Math.max(L, 1);
    }
  }
  return { out };
}

export const meanPoolForward: KernelDef<MeanPoolDims, MeanPoolForwardInputs, MeanPoolForwardOutputs> = {
  name: 'meanPoolForward',
  validate: validateMeanPool,
  attributes,
  program,
  cpu,
  outputs: ['out'],
};
