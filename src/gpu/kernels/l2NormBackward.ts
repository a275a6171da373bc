// l2 normalisation backward (recomputing the norm from X): with q = sum X^2, r = rsqrt(q), Y = X r:
//   q > 1e-12:  dX = r (dY - Y (Y . dY))      (the projection off the unit sphere)
//   else:       dX = dY / sqrt(1e-12)          (the floor is active: Y = X * 1e6 is linear)
// One workgroup per row.
import { assembleProgram, checkInputs, declareParams, linearGroups, type BindingSpec, type KernelDef, type KernelProgram, type NamedUniform } from './kernel.ts';
import { L2_EPS, validateL2Norm, type L2NormDims } from './l2NormForward.ts';
import { ROW_WG, rowEntry, WGSL_ROW_REDUCE } from './rows.ts';

export interface L2NormBackwardInputs extends Record<string, Float32Array> {
  X: Float32Array;
  dY: Float32Array;
}

export interface L2NormBackwardOutputs extends Record<string, Float32Array> {
  dX: Float32Array;
}

function bindings(d: L2NormDims): BindingSpec[] {
  return [
    { name: 'X', access: 'read', dtype: 'f32', elements: d.rows * d.W },
    { name: 'dY', access: 'read', dtype: 'f32', elements: d.rows * d.W },
    { name: 'dX', access: 'read_write', dtype: 'f32', elements: d.rows * d.W },
  ];
}

function attributes(d: L2NormDims) {
  return { key: `l2NormBackward:W${d.W}` };
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
  var xd = 0.0;
  for (var c = lid; c < W; c += ${ROW_WG}u) {
    let x = X[base + c];
    q += x * x;
    xd += x * dY[base + c];
  }
  let qq = wg_sum(lid, q);
  let xdy = wg_sum(lid, xd);
  let r = 1.0 / sqrt(max(qq, ${L2_EPS}));
  // Y . dY = r (X . dY), so dX = r dY - r^3 (X . dY) X when the floor is inactive.
  var k = 0.0;
  if (qq > ${L2_EPS}) { k = r * r * xdy; }
  for (var c = lid; c < W; c += ${ROW_WG}u) { dX[base + c] = r * (dY[base + c] - X[base + c] * k); }
}`;
  return assembleProgram({
    kernel: 'l2NormBackward',
    key: attributes(d).key,
    wgsl,
    bindings: bind,
    uniforms,
    passes: [{ entryPoint: 'main', workgroups: linearGroups(d.rows, 1) }],
  });
}

function cpu(d: L2NormDims, x: L2NormBackwardInputs): L2NormBackwardOutputs {
  validateL2Norm(d);
  checkInputs(bindings(d), x);
  const { rows, W } = d;
  const dX = new Float32Array(rows * W);
  const y = new Float64Array(W);
  for (let r = 0; r < rows; r++) {
    let q = 0;
    for (let c = 0; c < W; c++) q += x.X[r * W + c] ** 2;
    const s = 1 / Math.sqrt(Math.max(q, L2_EPS));
    let ydy = 0;
    for (let c = 0; c < W; c++) {
      y[c] = x.X[r * W + c] * s;
      ydy += y[c] * x.dY[r * W + c];
    }
    for (let c = 0; c < W; c++) dX[r * W + c] = q > L2_EPS ? s * (x.dY[r * W + c] - y[c] * ydy) : s * x.dY[r * W + c];
  }
  return { dX };
}

export const l2NormBackward: KernelDef<L2NormDims, L2NormBackwardInputs, L2NormBackwardOutputs> = {
  name: 'l2NormBackward',
  validate: validateL2Norm,
  attributes,
  program,
  cpu,
  outputs: ['dX'],
};
