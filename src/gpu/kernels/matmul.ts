// Tiled matrix product, the transformer RM's workhorse (projections, LoRA, the head, every weight and input
// gradient): C[M, N] = alpha * op(A) @ op(B) (+ bias[N]) (+ C when accumulating), op = identity or transpose.
//   A is stored [M, K], or [K, M] with transA;  B is stored [K, N], or [N, K] with transB.
// So the backward of Y = X W is two calls of the same kernel: dX = dY W^T (transB) and dW = X^T dY (transA),
// and `accumulate` adds residual branches and LoRA terms into an existing result without a copy.
// All three sizes are uniforms (row counts change per batch, and K is the token count in weight gradients), so
// only the four flags are baked in: one pipeline per variant for a whole run.
//
// Tiling: a 16x16 workgroup computes a 32x32 block of C, each invocation a 2x2 sub-block strided by 16 (rows
// ty, ty+16; columns tx, tx+16), stepping K by 16 through two workgroup-memory tiles (A 32x16, B 16x32, each
// filled by two loads per invocation, zero outside the matrices). Each output sums k in ascending order, so
// results are deterministic; the twin sums in float64 in the same order, then scales, adds bias, then C.
import {
  assembleProgram,
  checkDims,
  checkInputs,
  declareParams,
  MAX_GROUPS_PER_DIM,
  type BindingSpec,
  type KernelDef,
  type KernelProgram,
  type NamedUniform,
} from './kernel.ts';

export interface MatmulDims {
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
  /** Add bias[N] to every row. */
  bias?: boolean;
  /** C += result (the previous C is an input) instead of C = result. */
  accumulate?: boolean;
  /** Scale of the product (LoRA's alpha / r); 1 when omitted. Not baked in: a uniform. */
  alpha?: number;
}

export interface MatmulInputs extends Record<string, Float32Array | undefined> {
  A: Float32Array;
  B: Float32Array;
  bias?: Float32Array;
  /** The previous C (accumulate only; zeros when omitted). */
  C?: Float32Array;
}

export interface MatmulOutputs extends Record<string, Float32Array> {
  C: Float32Array;
}

/** Output block edge per workgroup and K step. */
export const MM_TILE = 32;
const KT = 16;

function flags(d: MatmulDims) {
  return { transA: !!d.transA, transB: !!d.transB, bias: !!d.bias, accumulate: !!d.accumulate };
}

function validate(d: MatmulDims): void {
  checkDims(d, { M: 0, N: 0, K: 0 });
  for (const f of ['transA', 'transB', 'bias', 'accumulate'] as const) {
    if (d[f] !== undefined && typeof d[f] !== 'boolean') throw new RangeError(`${f} must be a boolean`);
  }
  if (d.alpha !== undefined && !Number.isFinite(d.alpha)) throw new RangeError(`alpha must be finite, got ${d.alpha}`);
  if (Math.ceil(d.N / MM_TILE) > MAX_GROUPS_PER_DIM || Math.ceil(d.M / MM_TILE) > MAX_GROUPS_PER_DIM) {
    throw new RangeError(`matmul of ${d.M}x${d.N} needs more than ${MAX_GROUPS_PER_DIM} workgroups per dimension`);
  }
}

function attributes(d: MatmulDims) {
  const f = flags(d);
  const tag = `${f.transA ? 'T' : 'N'}${f.transB ? 'T' : 'N'}${f.bias ? ':bias' : ''}${f.accumulate ? ':acc' : ''}`;
  return { key: `matmul:${tag}`, ...f };
}

function bindings(d: MatmulDims): BindingSpec[] {
  const f = flags(d);
  const list: BindingSpec[] = [
    { name: 'A', access: 'read', dtype: 'f32', elements: d.M * d.K },
    { name: 'B', access: 'read', dtype: 'f32', elements: d.K * d.N },
  ];
  if (f.bias) list.push({ name: 'bias', access: 'read', dtype: 'f32', elements: d.N });
  list.push({ name: 'C', access: 'read_write', dtype: 'f32', elements: d.M * d.N });
  return list;
}

function program(d: MatmulDims): KernelProgram {
  validate(d);
  const f = flags(d);
  const bind = bindings(d);
  const uniforms: NamedUniform[] = [
    ['M', 'u32', d.M],
    ['N', 'u32', d.N],
    ['K', 'u32', d.K],
    ['alpha', 'f32', d.alpha ?? 1],
  ];
  // Element (row r, k) of op(A) and (k, column c) of op(B) in storage.
  const aAt = f.transA ? '(k * params.M + r)' : '(r * params.K + k)';
  const bAt = f.transB ? '(c * params.K + k)' : '(k * params.N + c)';
  const wgsl = `
${declareParams(bind, uniforms)}
var<workgroup> tA: array<f32, ${MM_TILE * KT}>; // [32 rows][16 k]
var<workgroup> tB: array<f32, ${KT * MM_TILE}>; // [16 k][32 columns]

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let tx = lid.x;
  let ty = lid.y;
  let flat = ty * 16u + tx;
  let row0 = wid.y * ${MM_TILE}u;
  let col0 = wid.x * ${MM_TILE}u;
  var acc00 = 0.0;
  var acc01 = 0.0;
  var acc10 = 0.0;
  var acc11 = 0.0;
  for (var k0 = 0u; k0 < params.K; k0 += ${KT}u) {
    for (var l = 0u; l < 2u; l++) {
      let e = flat + l * 256u;
      // A tile: e -> (row e / 16, k e % 16); B tile: e -> (k e / 32, column e % 32).
      let r = row0 + e / ${KT}u;
      var k = k0 + e % ${KT}u;
      var a = 0.0;
      if (r < params.M && k < params.K) { a = A[${aAt}]; }
      tA[e] = a;
      let c = col0 + e % ${MM_TILE}u;
      k = k0 + e / ${MM_TILE}u;
      var b = 0.0;
      if (c < params.N && k < params.K) { b = B[${bAt}]; }
      tB[e] = b;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${KT}u; kk++) {
      let a0 = tA[ty * ${KT}u + kk];
      let a1 = tA[(ty + 16u) * ${KT}u + kk];
      let b0 = tB[kk * ${MM_TILE}u + tx];
      let b1 = tB[kk * ${MM_TILE}u + tx + 16u];
      acc00 += a0 * b0;
      acc01 += a0 * b1;
      acc10 += a1 * b0;
      acc11 += a1 * b1;
    }
    workgroupBarrier();
  }
  store(row0 + ty, col0 + tx, acc00);
  store(row0 + ty, col0 + tx + 16u, acc01);
  store(row0 + ty + 16u, col0 + tx, acc10);
  store(row0 + ty + 16u, col0 + tx + 16u, acc11);
}

fn store(r: u32, c: u32, acc: f32) {
  if (r >= params.M || c >= params.N) { return; }
  var v = params.alpha * acc;
  ${f.bias ? 'v += bias[c];' : ''}
  let i = r * params.N + c;
  ${f.accumulate ? 'v += C[i];' : ''}
  C[i] = v;
}
`;
  return assembleProgram({
    kernel: 'matmul',
    key: attributes(d).key,
    wgsl,
    bindings: bind,
    uniforms,
    passes: [{ entryPoint: 'main', workgroups: [Math.ceil(d.N / MM_TILE), Math.ceil(d.M / MM_TILE), 1] }],
  });
}

function cpu(d: MatmulDims, x: MatmulInputs): MatmulOutputs {
  validate(d);
  const f = flags(d);
  checkInputs(bindings(d), x);
  const { M, N, K } = d;
  const alpha = Math.fround(d.alpha ?? 1);
  const C = new Float32Array(M * N);
  if (f.accumulate && x.C) {
    if (x.C.length !== M * N) throw new RangeError(`C has ${x.C.length} elements, expected ${M * N}`);
    C.set(x.C);
  }
  for (let r = 0; r < M; r++) {
    for (let c = 0; c < N; c++) {
      let acc = 0;
      for (let k = 0; k < K; k++) {
        const a = f.transA ? x.A[k * M + r] : x.A[r * K + k];
        const b = f.transB ? x.B[c * K + k] : x.B[k * N + c];
        acc += a * b;
      }
      let v = alpha * acc;
      if (f.bias) v += x.bias![c];
      if (f.accumulate) v += C[r * N + c];
      C[r * N + c] = v;
    }
  }
  return { C };
}

export const matmul: KernelDef<MatmulDims, MatmulInputs, MatmulOutputs> = {
  name: 'matmul',
  validate,
  attributes,
  program,
  cpu,
  outputs: ['C'],
};
