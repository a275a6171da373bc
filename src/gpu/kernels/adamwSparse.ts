// Row-sparse ("lazy") AdamW on the embedding table, the CPU trainer's semantics (not PyTorch's SparseAdam, which
// has one step count per tensor and no weight decay): only the given unique rows are updated, each with its own
// step count for bias correction (the host keeps
// rowStep and uploads per-row stepSize and epsHat, see adamwDense.ts, computed in float64); weight decay hits
// those rows only.
// One invocation per (row, dim); rows are unique, so there are no write conflicts.
import { checkDims, checkLength, linearProgram, type KernelDef, type KernelProgram } from './kernel.ts';
import {
  adamStepScalars,
  adamUniforms,
  adamwElement64,
  validateHyper,
  WGSL_ADAMW_UPDATE,
  type AdamHyperparams,
} from './adamwDense.ts';

export interface AdamwSparseDims extends AdamHyperparams {
  vocab: number;
  dim: number;
  /** Unique rows to update. */
  rows: number;
}

export interface AdamwSparseInputs extends Record<string, Float32Array | Int32Array> {
  P: Float32Array;
  M: Float32Array;
  V: Float32Array;
  /** [rows, dim] gradient of each listed row. */
  G: Float32Array;
  /** [rows] unique row indices. */
  rowIds: Int32Array;
  /** [rows, 2]: stepSize and epsHat of each row's own (already incremented) step. */
  rowCoef: Float32Array;
}

export interface AdamwSparseOutputs extends Record<string, Float32Array> {
  P: Float32Array;
  M: Float32Array;
  V: Float32Array;
}

/** Host half: increments rowStep of each row and fills rowCoef (float64 math, stored as f32). */
export function sparseRowCoefficients(h: AdamHyperparams, rowIds: Int32Array, rowStep: Int32Array, out?: Float32Array): Float32Array {
  const coef = out ?? new Float32Array(2 * rowIds.length);
  for (let u = 0; u < rowIds.length; u++) {
    const t = ++rowStep[rowIds[u]];
    const { stepSize, epsHat } = adamStepScalars(h, t);
    coef[2 * u] = stepSize;
    coef[2 * u + 1] = epsHat;
  }
  return coef;
}

function validate(d: AdamwSparseDims): void {
  checkDims(d, { vocab: 1, dim: 1, rows: 0 });
  if (d.rows > d.vocab) throw new RangeError(`rows (${d.rows}) exceeds vocab (${d.vocab})`);
  validateHyper(d);
}

function attributes(d: AdamwSparseDims) {
  return { key: `adamwSparse:D${d.dim}`, dim: d.dim };
}

function program(d: AdamwSparseDims): KernelProgram {
  validate(d);
  const table = d.vocab * d.dim;
  const bindings = [
    { name: 'P', access: 'read_write', dtype: 'f32', elements: table },
    { name: 'M', access: 'read_write', dtype: 'f32', elements: table },
    { name: 'V', access: 'read_write', dtype: 'f32', elements: table },
    { name: 'G', access: 'read', dtype: 'f32', elements: d.rows * d.dim },
    { name: 'rowIds', access: 'read', dtype: 'i32', elements: d.rows },
    { name: 'rowCoef', access: 'read', dtype: 'f32', elements: 2 * d.rows },
  ] as const;
  return linearProgram({
    kernel: 'adamwSparse',
    key: attributes(d).key,
    bindings,
    uniforms: [['rows', 'u32', d.rows], ...adamUniforms(d)],
    invocations: d.rows * d.dim,
    consts: [`const D: u32 = ${d.dim}u;`],
    guard: 'params.rows * D',
    helpers: WGSL_ADAMW_UPDATE,
    body: `  let u = idx / D;
  let c = idx % D;
  let row = u32(rowIds[u]);
  adamw_update(row * D + c, G[idx], rowCoef[2u * u], rowCoef[2u * u + 1u]);`,
  });
}

function cpu(d: AdamwSparseDims, x: AdamwSparseInputs): AdamwSparseOutputs {
  validate(d);
  const table = d.vocab * d.dim;
  for (const k of ['P', 'M', 'V'] as const) checkLength(k, x[k], table);
  checkLength('G', x.G, d.rows * d.dim);
  checkLength('rowIds', x.rowIds, d.rows);
  checkLength('rowCoef', x.rowCoef, 2 * d.rows);
  const P = x.P.slice();
  const M = x.M.slice();
  const V = x.V.slice();
  const D = d.dim;
  for (let u = 0; u < d.rows; u++) {
    const row = x.rowIds[u];
    if (!(row >= 0 && row < d.vocab)) throw new RangeError(`row ${row} is outside the table`);
    const stepSize = x.rowCoef[2 * u];
    const epsHat = x.rowCoef[2 * u + 1];
    for (let c = 0; c < D; c++) {
      const i = row * D + c;
      [P[i], M[i], V[i]] = adamwElement64(P[i], M[i], V[i], x.G[u * D + c], d, stepSize, epsHat);
    }
  }
  return { P, M, V };
}

export const adamwSparse: KernelDef<AdamwSparseDims, AdamwSparseInputs, AdamwSparseOutputs> = {
  name: 'adamwSparse',
  validate,
  attributes,
  program,
  cpu,
  outputs: ['P', 'M', 'V'],
};
