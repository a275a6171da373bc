// Weighted softmax cross-entropy over logit rows (the bundled policy's loss, src/pipeline/policy/trainer.ts):
//   lse_i = logsumexp(Z_i),  loss[slot] = sum_i w_i (lse_i - Z_i[y_i]),  dZ_i = w_i (softmax(Z_i) - onehot(y_i)).
// The weights carry any normalisation (1/N for a mean) and may be negative (PPO's per-token coefficients).
// Three entry points in one compute pass: row_lse (one invocation per row: max, then sum of exp(z - max), in
// index order), grad (one invocation per element) and loss (one invocation summing the rows in order into a slot
// of a loss ring, like btLossForward). exp only sees arguments <= 0, so huge logits stay finite; log() gets a sum
// >= 1, where WGSL's log is accurate.
import {
  assembleProgram,
  checkDims,
  checkInputs,
  checkLossSlot,
  declareParams,
  lossRing,
  linearEntry,
  linearGroups,
  type BindingSpec,
  type KernelDef,
  type KernelProgram,
  type NamedUniform,
} from './kernel.ts';

export interface SoftmaxCrossEntropyDims {
  /** Rows (examples); dynamic, passed as a uniform. */
  N: number;
  /** Classes (baked into the WGSL). */
  C: number;
  /** Loss ring length (>= 1) and this step's slot. */
  slots: number;
  slot: number;
}

export interface SoftmaxCrossEntropyInputs extends Record<string, Float32Array | Int32Array | undefined> {
  Z: Float32Array;
  y: Int32Array;
  w: Float32Array;
  /** The loss ring before the step (other slots are kept); zeros when omitted. */
  loss?: Float32Array;
}

export interface SoftmaxCrossEntropyOutputs extends Record<string, Float32Array> {
  dZ: Float32Array;
  lse: Float32Array;
  loss: Float32Array;
}

function validate(d: SoftmaxCrossEntropyDims): void {
  checkDims(d, { N: 0, C: 1 });
  checkLossSlot(d);
}

function attributes(d: SoftmaxCrossEntropyDims) {
  return { key: `softmaxCrossEntropy:C${d.C}`, C: d.C };
}

function bindings(d: SoftmaxCrossEntropyDims): BindingSpec[] {
  const { N, C } = d;
  return [
    { name: 'Z', access: 'read', dtype: 'f32', elements: N * C },
    { name: 'y', access: 'read', dtype: 'i32', elements: N },
    { name: 'w', access: 'read', dtype: 'f32', elements: N },
    { name: 'lse', access: 'read_write', dtype: 'f32', elements: N },
    { name: 'dZ', access: 'read_write', dtype: 'f32', elements: N * C },
    { name: 'loss', access: 'read_write', dtype: 'f32', elements: d.slots },
  ];
}

function program(d: SoftmaxCrossEntropyDims): KernelProgram {
  validate(d);
  const { N, C } = d;
  const bind = bindings(d);
  const uniforms: NamedUniform[] = [
    ['N', 'u32', N],
    ['slot', 'u32', d.slot],
  ];
  const wgsl = `
const C: u32 = ${C}u;
${declareParams(bind, uniforms)}
${linearEntry('row_lse')}
  if (idx >= params.N) { return; }
  let o = idx * C;
  var m = Z[o];
  for (var c = 1u; c < C; c++) { m = max(m, Z[o + c]); }
  var s = 0.0;
  for (var c = 0u; c < C; c++) { s += exp(Z[o + c] - m); }
  lse[idx] = m + log(s);
}

${linearEntry('grad')}
  if (idx >= params.N * C) { return; }
  let row = idx / C;
  let c = idx % C;
  let p = exp(Z[idx] - lse[row]);
  dZ[idx] = w[row] * (p - select(0.0, 1.0, i32(c) == y[row]));
}

@compute @workgroup_size(1)
fn total() {
  var acc = 0.0;
  for (var i = 0u; i < params.N; i++) {
    acc += w[i] * (lse[i] - Z[i * C + u32(y[i])]);
  }
  loss[params.slot] = acc;
}`;
  return assembleProgram({
    kernel: 'softmaxCrossEntropy',
    key: attributes(d).key,
    wgsl,
    bindings: bind,
    uniforms,
    passes: [
      { entryPoint: 'row_lse', workgroups: linearGroups(N) },
      { entryPoint: 'grad', workgroups: linearGroups(N * C) },
      { entryPoint: 'total', workgroups: [1, 1, 1] },
    ],
  });
}

function cpu(d: SoftmaxCrossEntropyDims, x: SoftmaxCrossEntropyInputs): SoftmaxCrossEntropyOutputs {
  validate(d);
  const { N, C } = d;
  checkInputs(bindings(d), x);
  const dZ = new Float32Array(N * C);
  const lse = new Float32Array(N);
  const loss = lossRing(d.slots, x.loss);
  let acc = 0;
  for (let i = 0; i < N; i++) {
    const o = i * C;
    const y = x.y[i];
    if (!(y >= 0 && y < C)) throw new RangeError(`y[${i}] = ${y} is outside 0..${C - 1}`);
    let m = x.Z[o];
    for (let c = 1; c < C; c++) m = Math.max(m, x.Z[o + c]);
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(x.Z[o + c] - m);
    const l = m + Math.log(s);
    lse[i] = l;
    for (let c = 0; c < C; c++) dZ[o + c] = x.w[i] * (Math.exp(x.Z[o + c] - l) - (c === y ? 1 : 0));
    acc += x.w[i] * (l - x.Z[o + y]);
  }
  loss[d.slot] = acc;
  return { dZ, lse, loss };
}

export const softmaxCrossEntropy: KernelDef<SoftmaxCrossEntropyDims, SoftmaxCrossEntropyInputs, SoftmaxCrossEntropyOutputs> = {
  name: 'softmaxCrossEntropy',
  validate,
  attributes,
  program,
  cpu,
  outputs: ['dZ', 'lse', 'loss'],
};
