// Layer norm backward, from the forward's saved mean and rstd (xhat = (X - mean) * rstd, g = dY * gamma):
//   dX = rstd * (g - mean(g) - xhat * mean(g * xhat))          one workgroup per row
//   dgamma[c] = sum_rows dY * xhat,  dbeta[c] = sum_rows dY     one invocation per column, rows ascending
// `accumulate` adds dX into the existing buffer: the residual stream's gradient already sits there
// (x_out = x + f(LN(x)) gives dx = dx_out + LN'(...)), so the backward needs no separate add.
// `paramGrad` false skips dgamma/dbeta (frozen layer norms in LoRA training); `paramAccumulate` adds them into
// the existing gradients (a training step's micro-batches).
import {
  assembleProgram,
  checkDims,
  checkInputs,
  declareParams,
  linearEntry,
  linearGroups,
  type BindingSpec,
  type KernelDef,
  type KernelPass,
  type KernelProgram,
  type NamedUniform,
} from './kernel.ts';
import { ROW_WG, rowEntry, WGSL_ROW_REDUCE } from './rows.ts';

export interface LayerNormBackwardDims {
  rows: number;
  W: number;
  accumulate?: boolean;
  paramGrad?: boolean;
  /** dgamma/dbeta += instead of = (gradients summed over micro-batches). */
  paramAccumulate?: boolean;
}

export interface LayerNormBackwardInputs extends Record<string, Float32Array | undefined> {
  X: Float32Array;
  gamma: Float32Array;
  mean: Float32Array;
  rstd: Float32Array;
  dY: Float32Array;
  /** The existing gradient (accumulate only; zeros when omitted). */
  dX?: Float32Array;
  /** The existing parameter gradients (paramAccumulate only; zeros when omitted). */
  dgamma?: Float32Array;
  dbeta?: Float32Array;
}

export interface LayerNormBackwardOutputs extends Record<string, Float32Array> {
  dX: Float32Array;
  dgamma: Float32Array;
  dbeta: Float32Array;
}

function validate(d: LayerNormBackwardDims): void {
  checkDims(d, { rows: 0, W: 1 });
  for (const f of ['accumulate', 'paramGrad', 'paramAccumulate'] as const) {
    if (d[f] !== undefined && typeof d[f] !== 'boolean') throw new RangeError(`${f} must be a boolean`);
  }
}

function attributes(d: LayerNormBackwardDims) {
  // paramGrad only selects entry points, so it is not part of the module key.
  return { key: `layerNormBackward:W${d.W}${d.accumulate ? ':acc' : ''}${d.paramAccumulate ? ':pacc' : ''}`, W: d.W };
}

function bindings(d: LayerNormBackwardDims): BindingSpec[] {
  const P = d.paramGrad ? d.W : 0;
  return [
    { name: 'X', access: 'read', dtype: 'f32', elements: d.rows * d.W },
    { name: 'gamma', access: 'read', dtype: 'f32', elements: d.W },
    { name: 'mean', access: 'read', dtype: 'f32', elements: d.rows },
    { name: 'rstd', access: 'read', dtype: 'f32', elements: d.rows },
    { name: 'dY', access: 'read', dtype: 'f32', elements: d.rows * d.W },
    { name: 'dX', access: 'read_write', dtype: 'f32', elements: d.rows * d.W },
    { name: 'dgamma', access: 'read_write', dtype: 'f32', elements: P },
    { name: 'dbeta', access: 'read_write', dtype: 'f32', elements: P },
  ];
}

function program(d: LayerNormBackwardDims): KernelProgram {
  validate(d);
  const bind = bindings(d);
  const uniforms: NamedUniform[] = [['rows', 'u32', d.rows]];
  const wgsl = `
const W: u32 = ${d.W}u;
${declareParams(bind, uniforms)}
${WGSL_ROW_REDUCE}
${rowEntry('grad_x')}
  if (row >= params.rows) { return; }
  let base = row * W;
  let mu = mean[row];
  let rs = rstd[row];
  var sg = 0.0;
  var sgx = 0.0;
  for (var c = lid; c < W; c += ${ROW_WG}u) {
    let g = dY[base + c] * gamma[c];
    sg += g;
    sgx += g * ((X[base + c] - mu) * rs);
  }
  let mg = wg_sum(lid, sg) / f32(W);
  let mgx = wg_sum(lid, sgx) / f32(W);
  for (var c = lid; c < W; c += ${ROW_WG}u) {
    let g = dY[base + c] * gamma[c];
    let xh = (X[base + c] - mu) * rs;
    let v = rs * (g - mg - xh * mgx);
    ${d.accumulate ? 'dX[base + c] = dX[base + c] + v;' : 'dX[base + c] = v;'}
  }
}

${linearEntry('grad_param')}
  if (idx >= W) { return; }
  var sg = 0.0;
  var sb = 0.0;
  for (var r = 0u; r < params.rows; r++) {
    let dy = dY[r * W + idx];
    sg += dy * ((X[r * W + idx] - mean[r]) * rstd[r]);
    sb += dy;
  }
  ${d.paramAccumulate ? 'dgamma[idx] = dgamma[idx] + sg;\n  dbeta[idx] = dbeta[idx] + sb;' : 'dgamma[idx] = sg;\n  dbeta[idx] = sb;'}
}`;
  const passes: KernelPass[] = [{ entryPoint: 'grad_x', workgroups: linearGroups(d.rows, 1) }];
  if (d.paramGrad) passes.push({ entryPoint: 'grad_param', workgroups: linearGroups(d.W) });
  return assembleProgram({ kernel: 'layerNormBackward', key: attributes(d).key, wgsl, bindings: bind, uniforms, passes });
}

function cpu(d: LayerNormBackwardDims, x: LayerNormBackwardInputs): LayerNormBackwardOutputs {
  validate(d);
  checkInputs(bindings(d), x);
  const { rows, W } = d;
  const dX = new Float32Array(rows * W);
  if (d.accumulate && x.dX) dX.set(x.dX.subarray(0, rows * W));
  const xh = (r: number, c: number) => (x.X[r * W + c] - x.mean[r]) * x.rstd[r];
  for (let r = 0; r < rows; r++) {
    let sg = 0;
    let sgx = 0;
    for (let c = 0; c < W; c++) {
      const g = x.dY[r * W + c] * x.gamma[c];
      sg += g;
      sgx += g * xh(r, c);
    }
    const mg = sg / W;
    const mgx = sgx / W;
    for (let c = 0; c < W; c++) {
      const v = x.rstd[r] * (x.dY[r * W + c] * x.gamma[c] - mg - xh(r, c) * mgx);
      dX[r * W + c] = d.accumulate ? dX[r * W + c] + v : v;
    }
  }
  const P = d.paramGrad ? W : 0;
  const dgamma = new Float32Array(P);
  const dbeta = new Float32Array(P);
  for (let c = 0; c < P; c++) {
    let sg = 0;
    let sb = 0;
    for (let r = 0; r < rows; r++) {
      sg += x.dY[r * W + c] * xh(r, c);
      sb += x.dY[r * W + c];
    }
    dgamma[c] = d.paramAccumulate && x.dgamma ? x.dgamma[c] + sg : sg;
    dbeta[c] = d.paramAccumulate && x.dbeta ? x.dbeta[c] + sb : sb;
  }
  return { dX, dgamma, dbeta };
}

export const layerNormBackward: KernelDef<LayerNormBackwardDims, LayerNormBackwardInputs, LayerNormBackwardOutputs> = {
  name: 'layerNormBackward',
  validate,
  attributes,
  program,
  cpu,
  outputs: ['dX', 'dgamma', 'dbeta'],
};
