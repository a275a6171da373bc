// AdamW (decoupled weight decay, PyTorch's formula; the CPU trainer's `adamw`) on a dense tensor:
//   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g g;  p = p (1 - lr wd) - (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps)
// with bc_i = 1 - beta_i^t, evaluated like the CPU trainer with one division per element:
//   p = p decay - stepSize m / (sqrt(v) + epsHat),  stepSize = (lr / bc1) sqrt(bc2),  epsHat = eps sqrt(bc2).
// Every scalar coefficient is computed on the host in float64 and uploaded as f32 (f32(1 - 0.999) differs
// from 1 - f32(0.999) by 1e-5 relative, which would break parity with the CPU).
import { checkDims, checkLength, linearProgram, type KernelDef, type KernelProgram, type NamedUniform } from './kernel.ts';

export interface AdamHyperparams {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export interface AdamwDenseDims extends AdamHyperparams {
  n: number;
  /** 1-based step count used for bias correction. */
  t: number;
}

export interface AdamwDenseInputs extends Record<string, Float32Array> {
  P: Float32Array;
  M: Float32Array;
  V: Float32Array;
  G: Float32Array;
}

export interface AdamwDenseOutputs extends Record<string, Float32Array> {
  P: Float32Array;
  M: Float32Array;
  V: Float32Array;
}

/** Step-dependent coefficients, in float64, exactly as the CPU trainer computes them. */
export function adamStepScalars(h: AdamHyperparams, t: number): { stepSize: number; epsHat: number } {
  const bc1 = 1 - Math.pow(h.beta1, t);
  const bc2 = 1 - Math.pow(h.beta2, t);
  const sqrtBc2 = Math.sqrt(bc2);
  return { stepSize: (h.lr / bc1) * sqrtBc2, epsHat: h.eps * sqrtBc2 };
}

export function validateHyper(h: AdamHyperparams): void {
  const bad = (k: string, v: number) => {
    throw new RangeError(`optimizer: ${k} is invalid (${v})`);
  };
  if (!(h.lr >= 0) || !Number.isFinite(h.lr)) bad('lr', h.lr);
  if (!(h.beta1 >= 0 && h.beta1 < 1)) bad('beta1', h.beta1);
  if (!(h.beta2 >= 0 && h.beta2 < 1)) bad('beta2', h.beta2);
  if (!(h.eps > 0)) bad('eps', h.eps);
  if (!(h.weightDecay >= 0) || !Number.isFinite(h.weightDecay)) bad('weightDecay', h.weightDecay);
}

/** The WGSL update shared by the dense and row-sparse kernels. */
export const WGSL_ADAMW_UPDATE = `
fn adamw_update(i: u32, g: f32, stepSize: f32, epsHat: f32) {
  let mi = params.beta1 * M[i] + params.omb1 * g;
  let vi = params.beta2 * V[i] + params.omb2 * g * g;
  M[i] = mi;
  V[i] = vi;
  P[i] = P[i] * params.decay - (stepSize * mi) / (sqrt(vi) + epsHat);
}`;

/** Uniform fields shared by both AdamW kernels (after the kernel's own count fields). */
export function adamUniformFields(h: AdamHyperparams): ['f32', number][] {
  return [
    ['f32', h.beta1],
    ['f32', 1 - h.beta1],
    ['f32', h.beta2],
    ['f32', 1 - h.beta2],
    ['f32', 1 - h.lr * h.weightDecay],
  ];
}

export const ADAM_UNIFORM_DECL: [string, 'f32'][] = [
  ['beta1', 'f32'],
  ['omb1', 'f32'],
  ['beta2', 'f32'],
  ['omb2', 'f32'],
  ['decay', 'f32'],
];

/** `ADAM_UNIFORM_DECL` with the values of `adamUniformFields`: the shared tail of both kernels' `Params`. */
export function adamUniforms(h: AdamHyperparams): NamedUniform[] {
  const values = adamUniformFields(h);
  return ADAM_UNIFORM_DECL.map(([name, type], i) => [name, type, values[i][1]]);
}

/** float64 reference of one element's update (parameters/moments stored back as f32 by the caller). */
export function adamwElement64(
  p: number,
  m: number,
  v: number,
  g: number,
  h: AdamHyperparams,
  stepSize: number,
  epsHat: number,
): [number, number, number] {
  const mi = h.beta1 * m + (1 - h.beta1) * g;
  const vi = h.beta2 * v + (1 - h.beta2) * g * g;
  return [p * (1 - h.lr * h.weightDecay) - (stepSize * mi) / (Math.sqrt(vi) + epsHat), mi, vi];
}

function validate(d: AdamwDenseDims): void {
  checkDims(d, { n: 0, t: 1 });
  validateHyper(d);
}

function attributes(_d: AdamwDenseDims) {
  return { key: 'adamwDense' };
}

function program(d: AdamwDenseDims): KernelProgram {
  validate(d);
  const bindings = [
    { name: 'P', access: 'read_write', dtype: 'f32', elements: d.n },
    { name: 'M', access: 'read_write', dtype: 'f32', elements: d.n },
    { name: 'V', access: 'read_write', dtype: 'f32', elements: d.n },
    { name: 'G', access: 'read', dtype: 'f32', elements: d.n },
  ] as const;
  const { stepSize, epsHat } = adamStepScalars(d, d.t);
  return linearProgram({
    kernel: 'adamwDense',
    key: attributes(d).key,
    bindings,
    uniforms: [['n', 'u32', d.n], ['stepSize', 'f32', stepSize], ['epsHat', 'f32', epsHat], ...adamUniforms(d)],
    invocations: d.n,
    guard: 'params.n',
    helpers: WGSL_ADAMW_UPDATE,
    body: `  adamw_update(idx, G[idx], params.stepSize, params.epsHat);`,
  });
}

function cpu(d: AdamwDenseDims, x: AdamwDenseInputs): AdamwDenseOutputs {
  validate(d);
  for (const k of ['P', 'M', 'V', 'G'] as const) checkLength(k, x[k], d.n);
  const P = x.P.slice();
  const M = x.M.slice();
  const V = x.V.slice();
  const { stepSize, epsHat } = adamStepScalars(d, d.t);
  for (let i = 0; i < d.n; i++) [P[i], M[i], V[i]] = adamwElement64(P[i], M[i], V[i], x.G[i], d, stepSize, epsHat);
  return { P, M, V };
}

export const adamwDense: KernelDef<AdamwDenseDims, AdamwDenseInputs, AdamwDenseOutputs> = {
  name: 'adamwDense',
  validate,
  attributes,
  program,
  cpu,
  outputs: ['P', 'M', 'V'],
};
