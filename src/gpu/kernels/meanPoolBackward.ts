// Masked mean pooling backward: dX[b, t, c] = t < len_b ? dOut[b, c] / max(len_b, 1) : 0 (padding gets exactly
// 0, which keeps every later row-wise gradient of padded tokens 0). One invocation per element of dX.
import { checkInputs, linearProgram, type BindingSpec, type KernelDef, type KernelProgram } from './kernel.ts';
import { validateMeanPool, type MeanPoolDims } from './meanPoolForward.ts';
import { checkLens } from './rows.ts';

export interface MeanPoolBackwardInputs extends Record<string, Float32Array | Int32Array> {
  dOut: Float32Array;
  lens: Int32Array;
}

export interface MeanPoolBackwardOutputs extends Record<string, Float32Array> {
  dX: Float32Array;
}

function bindings(d: MeanPoolDims): BindingSpec[] {
  return [
    { name: 'dOut', access: 'read', dtype: 'f32', elements: d.seqs * d.W },
    { name: 'lens', access: 'read', dtype: 'i32', elements: d.seqs },
    { name: 'dX', access: 'read_write', dtype: 'f32', elements: d.seqs * d.T * d.W },
  ];
}

function attributes(d: MeanPoolDims) {
  return { key: `meanPoolBackward:W${d.W}` };
}

function program(d: MeanPoolDims): KernelProgram {
  validateMeanPool(d);
  return linearProgram({
    kernel: 'meanPoolBackward',
    key: attributes(d).key,
    bindings: bindings(d),
    uniforms: [
      ['seqs', 'u32', d.seqs],
      ['T', 'u32', d.T],
    ],
    invocations: d.seqs * d.T * d.W,
    consts: [`const W: u32 = ${d.W}u;`],
    guard: 'params.seqs * params.T * W',
    body: `  let c = idx % W;
  let bt = idx / W;
  let t = bt % params.T;
  let b = bt / params.T;
  let L = u32(clamp(lens[b], 0, i32(params.T)));
  var v = 0.0;
  if (t < L) { v = dOut[b * W + c] / f32(L); }
  dX[idx] = v;`,
  });
}

function cpu(d: MeanPoolDims, x: MeanPoolBackwardInputs): MeanPoolBackwardOutputs {
  validateMeanPool(d);
  checkInputs(bindings(d), x);
  checkLens(x.lens, d.T);
  const { seqs, T, W } = d;
  const dX = new Float32Array(seqs * T * W);
  for (let b = 0; b < seqs; b++) {
    const L = x.lens[b];
    for (let t = 0; t < L; t++) for (let c = 0; c < W; c++) dX[(b * T + t) * W + c] = x.dOut[b * W + c] / L;
  }
  return { dX };
}

export const meanPoolBackward: KernelDef<MeanPoolDims, MeanPoolBackwardInputs, MeanPoolBackwardOutputs> = {
  name: 'meanPoolBackward',
  validate: validateMeanPool,
  attributes,
  program,
  cpu,
  outputs: ['dX'],
};
