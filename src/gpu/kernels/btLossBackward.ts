// Weighted Bradley-Terry loss backward: with d_i = S[2i] - S[2i+1] and g_i = (-w_i / B) sigmoid(-d_i),
// dS[2i] = g_i and dS[2i+1] = -g_i (the CPU trainer's formula and order). Stable for any finite d.
import { checkDims, checkInputs, linearProgram, type BindingSpec, type KernelDef, type KernelProgram } from './kernel.ts';
import { sigmoid64, WGSL_SOFTPLUS } from './btLossForward.ts';

export interface BtLossBackwardDims {
  B: number;
}

export interface BtLossBackwardInputs extends Record<string, Float32Array> {
  S: Float32Array;
  w: Float32Array;
}

export interface BtLossBackwardOutputs extends Record<string, Float32Array> {
  dS: Float32Array;
}

function validate(d: BtLossBackwardDims): void {
  checkDims(d, { B: 0 });
}

function attributes(_d: BtLossBackwardDims) {
  return { key: 'btLossBackward' };
}

function bindings(d: BtLossBackwardDims): BindingSpec[] {
  return [
    { name: 'S', access: 'read', dtype: 'f32', elements: 2 * d.B },
    { name: 'w', access: 'read', dtype: 'f32', elements: d.B },
    { name: 'dS', access: 'read_write', dtype: 'f32', elements: 2 * d.B },
  ];
}

function program(d: BtLossBackwardDims): KernelProgram {
  validate(d);
  return linearProgram({
    kernel: 'btLossBackward',
    key: attributes(d).key,
    bindings: bindings(d),
    uniforms: [['B', 'u32', d.B]],
    invocations: d.B,
    guard: 'params.B',
    helpers: WGSL_SOFTPLUS,
    body: `  let d = S[2u * idx] - S[2u * idx + 1u];
  let g = (-w[idx] / f32(params.B)) * sigmoid(-d);
  dS[2u * idx] = g;
  dS[2u * idx + 1u] = -g;`,
  });
}

function cpu(d: BtLossBackwardDims, x: BtLossBackwardInputs): BtLossBackwardOutputs {
  validate(d);
  checkInputs(bindings(d), x);
  const dS = new Float32Array(2 * d.B);
  for (let i = 0; i < d.B; i++) {
    const g = (-x.w[i] / d.B) * sigmoid64(-(x.S[2 * i] - x.S[2 * i + 1]));
    dS[2 * i] = g;
    dS[2 * i + 1] = -g;
  }
  return { dS };
}

export const btLossBackward: KernelDef<BtLossBackwardDims, BtLossBackwardInputs, BtLossBackwardOutputs> = {
  name: 'btLossBackward',
  validate,
  attributes,
  program,
  cpu,
  outputs: ['dS'],
};
