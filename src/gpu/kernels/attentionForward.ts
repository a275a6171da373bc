// Masked multi-head softmax attention (USE-lite's self-attention), per sequence b, head h and query row i:
//   s_ij = (q_i . k_j) * scale for keys j < len_b;  p_i = softmax(s_i);  a_i = sum_j p_ij v_j
// q | k | v come fused from the qkv projection: qkv is [seqs * T, 3 * width], width = heads * headDim, head h
// at columns h * headDim of each third. Sequences are padded to T (the batch's longest): padded keys are
// masked (USE adds -1e9 to their scores; after the max shift exp(-1e9) is exactly 0 in f32, so skipping them
// is the same), and padded query rows give a = 0 and p = 0 (they are masked out by pooling anyway, and zeros
// keep their gradients exactly 0). A sequence of length 0 gives all zeros.
// The probabilities P [seqs, heads, T, T] are saved for attentionBackward.
// One workgroup of 64 per (b, h, i): the row's scores live in workgroup memory (T <= 128, USE's clip length).
import {
  assembleProgram,
  checkDims,
  checkInputs,
  declareParams,
  linearGroups,
  type BindingSpec,
  type KernelDef,
  type KernelProgram,
  type NamedUniform,
} from './kernel.ts';
import { checkLens, ROW_WG, rowEntry, WGSL_ROW_REDUCE } from './rows.ts';

/** Longest padded sequence the attention kernels take (USE-lite's ClipToMaxLength). */
export const ATTN_MAX_T = 128;

export interface AttentionDims {
  /** Sequences in the batch (uniform). */
  seqs: number;
  /** Padded length (uniform), <= 128. */
  T: number;
  heads: number;
  headDim: number;
  /** Score scale (USE: 1 / sqrt(headDim)); a uniform. */
  scale: number;
}

export interface AttentionForwardInputs extends Record<string, Float32Array | Int32Array> {
  qkv: Float32Array;
  lens: Int32Array;
}

export interface AttentionForwardOutputs extends Record<string, Float32Array> {
  A: Float32Array;
  P: Float32Array;
}

export function validateAttention(d: AttentionDims): void {
  checkDims(d, { seqs: 0, T: 0, heads: 1, headDim: 1 });
  if (d.T > ATTN_MAX_T) throw new RangeError(`T must be <= ${ATTN_MAX_T}, got ${d.T}`);
  if (!Number.isFinite(d.scale)) throw new RangeError(`scale must be finite, got ${d.scale}`);
}

export function attentionUniforms(d: AttentionDims): NamedUniform[] {
  return [
    ['seqs', 'u32', d.seqs],
    ['T', 'u32', d.T],
    ['scale', 'f32', d.scale],
  ];
}

/** WGSL constants and the index helpers shared by the attention kernels. */
export function attentionPrelude(d: AttentionDims): string {
  const width = d.heads * d.headDim;
  return `
const H: u32 = ${d.heads}u;
const HD: u32 = ${d.headDim}u;
const WIDTH: u32 = ${width}u;
const STRIDE: u32 = ${3 * width}u;`;
}

function attributes(d: AttentionDims) {
  return { key: `attentionForward:H${d.heads}:D${d.headDim}` };
}

function bindings(d: AttentionDims): BindingSpec[] {
  const width = d.heads * d.headDim;
  const rows = d.seqs * d.T;
  return [
    { name: 'qkv', access: 'read', dtype: 'f32', elements: rows * 3 * width },
    { name: 'lens', access: 'read', dtype: 'i32', elements: d.seqs },
    { name: 'A', access: 'read_write', dtype: 'f32', elements: rows * width },
    { name: 'P', access: 'read_write', dtype: 'f32', elements: d.seqs * d.heads * d.T * d.T },
  ];
}

function program(d: AttentionDims): KernelProgram {
  validateAttention(d);
  const bind = bindings(d);
  const uniforms = attentionUniforms(d);
  const wgsl = `${attentionPrelude(d)}
${declareParams(bind, uniforms)}
${WGSL_ROW_REDUCE}
var<workgroup> p: array<f32, ${ATTN_MAX_T}>;
var<workgroup> wlen: u32;
${rowEntry('main')}
  // row = (b * H + h) * T + i
  if (row >= params.seqs * H * params.T) { return; }
  let T = params.T;
  let i = row % T;
  let bh = row / T;
  let h = bh % H;
  let b = bh / H;
  if (lid == 0u) { wlen = u32(clamp(lens[b], 0, i32(T))); }
  let L = workgroupUniformLoad(&wlen);
  let qrow = (b * T + i) * STRIDE + h * HD;
  let arow = (b * T + i) * WIDTH + h * HD;
  let prow = row * T;
  if (i >= L) {
    for (var d = lid; d < HD; d += ${ROW_WG}u) { A[arow + d] = 0.0; }
    for (var j = lid; j < T; j += ${ROW_WG}u) { P[prow + j] = 0.0; }
    return;
  }
  var m = -3.0e38;
  for (var j = lid; j < L; j += ${ROW_WG}u) {
    let krow = (b * T + j) * STRIDE + WIDTH + h * HD;
    var s = 0.0;
    for (var d = 0u; d < HD; d++) { s += qkv[qrow + d] * qkv[krow + d]; }
    s = s * params.scale;
    p[j] = s;
    m = max(m, s);
  }
  m = wg_max(lid, m);
  var z = 0.0;
  for (var j = lid; j < L; j += ${ROW_WG}u) {
    let e = exp(p[j] - m);
    p[j] = e;
    z += e;
  }
  let inv = 1.0 / wg_sum(lid, z);
  for (var j = lid; j < T; j += ${ROW_WG}u) {
    var v = 0.0;
    if (j < L) { v = p[j] * inv; p[j] = v; }
    P[prow + j] = v;
  }
  workgroupBarrier();
  for (var d = lid; d < HD; d += ${ROW_WG}u) {
    var acc = 0.0;
    for (var j = 0u; j < L; j++) { acc += p[j] * qkv[(b * T + j) * STRIDE + 2u * WIDTH + h * HD + d]; }
    A[arow + d] = acc;
  }
}`;
  return assembleProgram({
    kernel: 'attentionForward',
    key: attributes(d).key,
    wgsl,
    bindings: bind,
    uniforms,
    passes: [{ entryPoint: 'main', workgroups: linearGroups(d.seqs * d.heads * d.T, 1) }],
  });
}

function cpu(d: AttentionDims, x: AttentionForwardInputs): AttentionForwardOutputs {
  validateAttention(d);
  checkInputs(bindings(d), x);
  checkLens(x.lens, d.T);
  const { seqs, T, heads: H, headDim: HD } = d;
  const Wd = H * HD;
  const S3 = 3 * Wd;
  const scale = Math.fround(d.scale);
  const A = new Float32Array(seqs * T * Wd);
  const P = new Float32Array(seqs * H * T * T);
  const s = new Float64Array(T);
  for (let b = 0; b < seqs; b++) {
    const L = x.lens[b];
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < L; i++) {
        const q = (b * T + i) * S3 + h * HD;
        let m = -Infinity;
        for (let j = 0; j < L; j++) {
          const k = (b * T + j) * S3 + Wd + h * HD;
          let acc = 0;
          for (let e = 0; e < HD; e++) acc += x.qkv[q + e] * x.qkv[k + e];
          s[j] = acc * scale;
          m = Math.max(m, s[j]);
        }
        let z = 0;
        for (let j = 0; j < L; j++) {
          s[j] = Math.exp(s[j] - m);
          z += s[j];
        }
        const prow = ((b * H + h) * T + i) * T;
        for (let j = 0; j < L; j++) {
          s[j] /= z;
          P[prow + j] = s[j];
        }
        for (let e = 0; e < HD; e++) {
          let acc = 0;
          for (let j = 0; j < L; j++) acc += s[j] * x.qkv[(b * T + j) * S3 + 2 * Wd + h * HD + e];
          A[(b * T + i) * Wd + h * HD + e] = acc;
        }
      }
    }
  }
  return { A, P };
}

export const attentionForward: KernelDef<AttentionDims, AttentionForwardInputs, AttentionForwardOutputs> = {
  name: 'attentionForward',
  validate: validateAttention,
  attributes,
  program,
  cpu,
  outputs: ['A', 'P'],
};
