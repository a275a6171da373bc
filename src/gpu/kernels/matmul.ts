// Tiled matrix product, the transformer RM's workhorse (projections, LoRA, the head, every weight and input
// gradient): C[M, N] = alpha * op(A) @ op(B) (+ bias[N]) (+ C when accumulating), op = identity or transpose.
//   A is stored [M, K], or [K, M] with transA;  B is stored [K, N], or [N, K] with transB.
// So the backward of Y = X W is two calls of the same kernel: dX = dY W^T (transB) and dW = X^T dY (transA),
// and `accumulate` adds residual branches and LoRA terms into an existing result without a copy.
// All three sizes are uniforms (row counts change per batch, and K is the token count in weight gradients), so
// only the four flags are baked in: one pipeline per variant for a whole run.
//
// Tiling: a 16x16 workgroup computes a 64x64 block of C, each invocation a 4x4 sub-block strided by 16 (rows
// ty + 16i, columns tx + 16j: neighbouring invocations read neighbouring words of the tiles), stepping K by 16
// through two workgroup-memory tiles (A 64x16, B 16x64; four loads per invocation each, zero outside the
// matrices, and the load order follows the storage order of A and B, transposed or not, so global reads are
// contiguous across invocations). Each output sums k in ascending order, so results are deterministic; the twin
// sums in float64 in the same order, then scales, adds bias, then C.
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
export const MM_TILE = 64;
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
  // Tile fill: flat index e of the 1024 elements of each tile -> (row, k) of op(A) and (k, column) of op(B),
  // walking the stored matrix in its memory order (consecutive e = consecutive addresses).
  const loadA = f.transA
    ? 'let k = k0 + e / 64u; let r = row0 + e % 64u; let t = (e % 64u) * 16u + e / 64u; if (r < params.M && k < params.K) { a = A[k * params.M + r]; }'
    : 'let r = row0 + e / 16u; let k = k0 + e % 16u; let t = e; if (r < params.M && k < params.K) { a = A[r * params.K + k]; }';
  const loadB = f.transB
    ? 'let c = col0 + e / 16u; let k = k0 + e % 16u; let t = (e % 16u) * 64u + e / 16u; if (c < params.N && k < params.K) { b = B[c * params.K + k]; }'
    : 'let k = k0 + e / 64u; let c = col0 + e % 64u; let t = e; if (c < params.N && k < params.K) { b = B[k * params.N + c]; }';
  // The 4x4 register block written out (scalars, no arrays or inner loops: compilers keep them in registers;
  // SwiftShader spills function-scope arrays to memory, which made an array version 1.5x slower there).
  const q = [0, 1, 2, 3];
  const decl = q.flatMap((i) => q.map((j) => `  var c${i}${j} = 0.0;`)).join('\n');
  const fma = [
    ...q.map((i) => `      let a${i} = tA[(ty + ${16 * i}u) * ${KT}u + kk];`),
    ...q.map((j) => `      let b${j} = tB[kk * ${MM_TILE}u + tx + ${16 * j}u];`),
    ...q.flatMap((i) => q.map((j) => `      c${i}${j} += a${i} * b${j};`)),
  ].join('\n');
  const stores = q.flatMap((i) => q.map((j) => `  store(row0 + ty + ${16 * i}u, col0 + tx + ${16 * j}u, c${i}${j});`)).join('\n');
  const wgsl = `
${declareParams(bind, uniforms)}
var<workgroup> tA: array<f32, ${MM_TILE * KT}>; // [64 rows][16 k]
var<workgroup> tB: array<f32, ${KT * MM_TILE}>; // [16 k][64 columns]

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let tx = lid.x;
  let ty = lid.y;
  let flat = ty * 16u + tx;
  let row0 = wid.y * ${MM_TILE}u;
  let col0 = wid.x * ${MM_TILE}u;
${decl}
  for (var k0 = 0u; k0 < params.K; k0 += ${KT}u) {
    for (var l = 0u; l < 4u; l++) {
      let e = flat + l * 256u;
      {
        var a = 0.0;
        ${loadA}
        tA[t] = a;
      }
      {
        var b = 0.0;
        ${loadB}
        tB[t] = b;
      }
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${KT}u; kk++) {
${fma}
    }
    workgroupBarrier();
  }
${stores}
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
