// Layer norm over the last dimension (USE-lite's pre-layer-norm): Y = gamma * (X - mu) * rstd + beta with
// mu = mean(X), var = mean((X - mu)^2) (biased), rstd = 1 / sqrt(var + eps), eps = 1e-6 in USE.
// One workgroup per row: two passes over the row (mean, then the centred variance, which stays accurate when
// |mu| >> sigma), fixed-tree reductions. Mean and rstd are saved for layerNormBackward.
import { checkDims, checkInputs, linearGroups, assembleProgram, declareParams, type BindingSpec, type KernelDef, type KernelProgram, type NamedUniform } from './kernel.ts';
import { ROW_WG, rowEntry, WGSL_ROW_REDUCE } from './rows.ts';

export interface LayerNormForwardDims {
  /** Rows (tokens of the batch); a uniform. */
  rows: number;
  /** Row width (baked in). */
  W: number;
  eps: number;
}

export interface LayerNormForwardInputs extends Record<string, Float32Array> {
  X: Float32Array;
  gamma: Float32Array;
  beta: Float32Array;
}

export interface LayerNormForwardOutputs extends Record<string, Float32Array> {
  Y: Float32Array;
  mean: Float32Array;
  rstd: Float32Array;
}

function validate(d: LayerNormForwardDims): void {
  checkDims(d, { rows: 0, W: 1 });
  if (!(d.eps >= 0) || !Number.isFinite(d.eps)) throw new RangeError(`eps must be finite and >= 0, got ${d.eps}`);
}

function attributes(d: LayerNormForwardDims) {
  return { key: `layerNormForward:W${d.W}`, W: d.W };
}

function bindings(d: LayerNormForwardDims): BindingSpec[] {
  return [
    { name: 'X', access: 'read', dtype: 'f32', elements: d.rows * d.W },
    { name: 'gamma', access: 'read', dtype: 'f32', elements: d.W },
    { name: 'beta', access: 'read', dtype: 'f32', elements: d.W },
    { name: 'Y', access: 'read_write', dtype: 'f32', elements: d.rows * d.W },
    { name: 'mean', access: 'read_write', dtype: 'f32', elements: d.rows },
    { name: 'rstd', access: 'read_write', dtype: 'f32', elements: d.rows },
  ];
}

function program(d: LayerNormForwardDims): KernelProgram {
  validate(d);
  const bind = bindings(d);
  const uniforms: NamedUniform[] = [
    ['rows', 'u32', d.rows],
    ['eps', 'f32', d.eps],
  ];
  const wgsl = `
const W: u32 = ${d.W}u;
${declareParams(bind, uniforms)}
${WGSL_ROW_REDUCE}
${rowEntry('main')}
  if (row >= params.rows) { return; }
  let base = row * W;
  var s = 0.0;
  for (var c = lid; c < W; c += ${ROW_WG}u) { s += X[base + c]; }
  let mu = wg_sum(lid, s) / f32(W);
  var q = 0.0;
  for (var c = lid; c < W; c += ${ROW_WG}u) { let t = X[base + c] - mu; q += t * t; }
  let rs = 1.0 / sqrt(wg_sum(lid, q) / f32(W) + params.eps);
  for (var c = lid; c < W; c += ${ROW_WG}u) {
    Y[base + c] = gamma[c] * ((X[base + c] - mu) * rs) + beta[c];
  }
  if (lid == 0u) {
    mean[row] = mu;
    rstd[row] = rs;
  }
}`;
  return assembleProgram({
    kernel: 'layerNormForward',
    key: attributes(d).key,
    wgsl,
    bindings: bind,
    uniforms,
    passes: [{ entryPoint: 'main', workgroups: linearGroups(d.rows, 1) }],
  });
}

function cpu(d: LayerNormForwardDims, x: LayerNormForwardInputs): LayerNormForwardOutputs {
  validate(d);
  checkInputs(bindings(d), x);
  const { rows, W } = d;
  const eps = Math.fround(d.eps);
  const Y = new Float32Array(rows * W);
  const mean = new Float32Array(rows);
  const rstd = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const b = r * W;
    let s = 0;
    for (let c = 0; c < W; c++) s += x.X[b + c];
    const mu = s / W;
    let q = 0;
    for (let c = 0; c < W; c++) q += (x.X[b + c] - mu) ** 2;
    const rs = 1 / Math.sqrt(q / W + eps);
    for (let c = 0; c < W; c++) Y[b + c] = x.gamma[c] * (x.X[b + c] - mu) * rs + x.beta[c];
    mean[r] = mu;
    rstd[r] = rs;
  }
  return { Y, mean, rstd };
}

export const layerNormForward: KernelDef<LayerNormForwardDims, LayerNormForwardInputs, LayerNormForwardOutputs> = {
  name: 'layerNormForward',
  validate,
  attributes,
  program,
  cpu,
  outputs: ['Y', 'mean', 'rstd'],
};
