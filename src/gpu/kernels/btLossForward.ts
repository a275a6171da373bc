// Weighted Bradley-Terry loss forward: loss = mean_i w_i * softplus(-(s_c,i - s_r,i)) = -mean(w log sigmoid(d)).
// Scores are interleaved like the CPU trainer's item slots: S[2i] = chosen of pair i, S[2i+1] = rejected.
// softplus(x) = max(x, 0) + log1p(exp(-|x|)): exp never sees a positive argument, so |d| = 1e4 is finite.
// WGSL has no log1p and its log() is only absolutely accurate near 1, so log1p(e), e in [0, 1], is evaluated
// as 2 atanh(e / (2 + e)) by a short odd series (relative error ~1e-9 before f32 rounding).
// One invocation sums the pairs in order (B is a batch, small) into loss[slot]: the trainer keeps a ring of
// per-step losses on the GPU and reads it back only every few steps.
import {
  assembleProgram,
  checkDims,
  checkInputs,
  checkLossSlot,
  declareParams,
  lossRing,
  type BindingSpec,
  type KernelDef,
  type KernelProgram,
  type NamedUniform,
} from './kernel.ts';

export interface BtLossForwardDims {
  /** Pairs in the batch. */
  B: number;
  /** Length of the loss ring buffer (>= 1). */
  slots: number;
  /** Where this step's loss goes (< slots). */
  slot: number;
}

export interface BtLossForwardInputs extends Record<string, Float32Array | undefined> {
  S: Float32Array;
  w: Float32Array;
  /** The loss ring before the step (other slots are kept); zeros when omitted. */
  loss?: Float32Array;
}

export interface BtLossForwardOutputs extends Record<string, Float32Array> {
  loss: Float32Array;
}

/** WGSL helpers shared by the BT kernels (pasted into each module; WGSL has no imports). */
export const WGSL_SOFTPLUS = `
fn log1p_unit(e: f32) -> f32 {
  // log1p(e) for e in [0, 1] = 2 atanh(z), z = e / (2 + e) in [0, 1/3].
  let z = e / (2.0 + e);
  let z2 = z * z;
  var p = 1.0 / 15.0;
  p = p * z2 + 1.0 / 13.0;
  p = p * z2 + 1.0 / 11.0;
  p = p * z2 + 1.0 / 9.0;
  p = p * z2 + 1.0 / 7.0;
  p = p * z2 + 1.0 / 5.0;
  p = p * z2 + 1.0 / 3.0;
  p = p * z2 + 1.0;
  return 2.0 * z * p;
}
fn softplus(x: f32) -> f32 {
  return max(x, 0.0) + log1p_unit(exp(-abs(x)));
}
// sigmoid(x) without overflow: exp only of non-positive arguments.
fn sigmoid(x: f32) -> f32 {
  if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
  let e = exp(x);
  return e / (1.0 + e);
}`;

/** Float64 reference of the same functions (the twins use them). */
export function softplus64(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

export function sigmoid64(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

function validate(d: BtLossForwardDims): void {
  checkDims(d, { B: 0 });
  checkLossSlot(d);
}

function attributes(_d: BtLossForwardDims) {
  return { key: 'btLossForward' };
}

function bindings(d: BtLossForwardDims): BindingSpec[] {
  return [
    { name: 'S', access: 'read', dtype: 'f32', elements: 2 * d.B },
    { name: 'w', access: 'read', dtype: 'f32', elements: d.B },
    { name: 'loss', access: 'read_write', dtype: 'f32', elements: d.slots },
  ];
}

function program(d: BtLossForwardDims): KernelProgram {
  validate(d);
  const bind = bindings(d);
  const uniforms: NamedUniform[] = [
    ['B', 'u32', d.B],
    ['slot', 'u32', d.slot],
  ];
  const wgsl = `
${declareParams(bind, uniforms)}
${WGSL_SOFTPLUS}
@compute @workgroup_size(1)
fn main() {
  var acc = 0.0;
  for (var i = 0u; i < params.B; i++) {
    let d = S[2u * i] - S[2u * i + 1u];
    acc += w[i] * softplus(-d);
  }
  loss[params.slot] = select(0.0, acc / f32(params.B), params.B > 0u);
}`;
  return assembleProgram({
    kernel: 'btLossForward',
    key: attributes(d).key,
    wgsl,
    bindings: bind,
    uniforms,
    passes: [{ entryPoint: 'main', workgroups: [1, 1, 1] }],
  });
}

function cpu(d: BtLossForwardDims, x: BtLossForwardInputs): BtLossForwardOutputs {
  validate(d);
  checkInputs(bindings(d), x);
  let acc = 0;
  for (let i = 0; i < d.B; i++) acc += x.w[i] * softplus64(-(x.S[2 * i] - x.S[2 * i + 1]));
  const loss = lossRing(d.slots, x.loss);
  loss[d.slot] = d.B > 0 ? acc / d.B : 0;
  return { loss };
}

export const btLossForward: KernelDef<BtLossForwardDims, BtLossForwardInputs, BtLossForwardOutputs> = {
  name: 'btLossForward',
  validate,
  attributes,
  program,
  cpu,
  outputs: ['loss'],
};
