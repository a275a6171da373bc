// Row-wise l2 normalisation (USE's final step): Y = X * rsqrt(max(sum X^2, 1e-12)) (TF's l2_normalize epsilon:
// a zero row stays 0). One workgroup per row.
import { assembleProgram, checkDims, checkInputs, declareParams, linearGroups, type BindingSpec, type KernelDef, type KernelProgram, type NamedUniform } from './kernel.ts';
import { ROW_WG, rowEntry, WGSL_ROW_REDUCE } from './rows.ts';

/** Floor of the squared norm (tf.math.l2_normalize's default epsilon). */
export const L2_EPS = 1e-12;

export interface L2NormDims {
  rows: number;
  W: number;
}

export interface L2NormForwardInputs extends Record<string, Float32Array> {
  X: Float32Array;
}

export interface L2NormForwardOutputs extends Record<string, Float32Array> {
  Y: Float32Array;
}

export function validateL2Norm(d: L2NormDims): void {
  checkDims(d, { rows: 0, W: 1 });
}

function bindings(d: L2NormDims): BindingSpec[] {
  return [
    { name: 'X', access: 'read', dtype: 'f32', elements: d.rows * d.W },
    { name: 'Y', access: 'read_write', dtype: 'f32', elements: d.rows * d.W },
  ];
}

function attributes(d: L2NormDims) {
  return { key: `l2NormForward:W${d.W}` };
}

function program(d: L2NormDims): KernelProgram {
  validateL2Norm(d);
  const bind = bindings(d);
  const uniforms: NamedUniform[] = [['rows', 'u32', d.rows]];
  const wgsl = `
const W: u32 = ${d.W}u;
${declareParams(bind, uniforms)}
${WGSL_ROW_REDUCE}
${rowEntry('main')}
  if (row >= params.rows) { return; }
  let base = row * W;
  var q = 0.0;
  for (var c = lid; c < W; c += ${ROW_WG}u) { let x = X[base + c]; q += x * x; }
  let r = 1.0 / sqrt(max(wg_sum(lid, q), ${L2_EPS}));
  for (var c = lid; c < W; c += ${ROW_WG}u) { Y[base + c] = X[base + c] * r; }
}`;
  return assembleProgram({
    kernel: 'l2NormForward',
    key: attributes(d).key,
    wgsl,
    bindings: bind,
    uniforms,
    passes: [{ entryPoint: 'main', workgroups: linearGroups(d.rows, 1) }],
  });
}

function cpu(d: L2NormDims, x: L2NormForwardInputs): L2NormForwardOutputs {
  validateL2Norm(d);
  checkInputs(bindings(d), x);
  const { rows, W } = d;
  const Y = new Float32Array(rows * W);
  for (let r = 0; r < rows; r++) {
    let q = 0;
    for (let c = 0; c < W; c++) q += x.X[r * W + c] ** 2;
    const s = 1 / Math.sqrt(Math.max(q, L2_EPS));
    for (let c = 0; c < W; c++) Y[r * W + c] = x.X[r * W + c] * s;
  }
  return { Y };
}

export const l2NormForward: KernelDef<L2NormDims, L2NormForwardInputs, L2NormForwardOutputs> = {
  name: 'l2NormForward',
  validate: validateL2Norm,
  attributes,
  program,
  cpu,
  outputs: ['Y'],
};
