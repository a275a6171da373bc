// Backward of attentionForward through the softmax, from the saved probabilities P and output A:
//   dP_ij = dA_i . v_j;  dS_ij = P_ij (dP_ij - sum_j' P_ij' dP_ij') = P_ij (dA_i . v_j - dA_i . a_i)
//   dq_i = scale sum_j dS_ij k_j;   dk_j = scale sum_i dS_ij q_i;   dv_j = sum_i P_ij dA_i
// (sum_j P_ij dP_ij = dA_i . a_i because a_i = sum_j P_ij v_j: one dot instead of a second pass over keys.)
// Two entry points, no atomics: `grad_q` (one workgroup per query row: dS row into the dS scratch buffer and
// dq), then `grad_kv` (one workgroup per key row: dk, dv summed over query rows in order). Gradients land in
// the fused dqkv [seqs * T, 3 * width] like the forward's qkv; padded rows get exactly 0.
import { assembleProgram, checkInputs, declareParams, linearGroups, type BindingSpec, type KernelDef, type KernelProgram } from './kernel.ts';
import { ATTN_MAX_T, attentionPrelude, attentionUniforms, validateAttention, type AttentionDims } from './attentionForward.ts';
import { checkLens, ROW_WG, rowEntry, WGSL_ROW_REDUCE } from './rows.ts';

export interface AttentionBackwardInputs extends Record<string, Float32Array | Int32Array> {
  qkv: Float32Array;
  lens: Int32Array;
  P: Float32Array;
  A: Float32Array;
  dA: Float32Array;
}

export interface AttentionBackwardOutputs extends Record<string, Float32Array> {
  dqkv: Float32Array;
  dS: Float32Array;
}

function attributes(d: AttentionDims) {
  return { key: `attentionBackward:H${d.heads}:D${d.headDim}` };
}

function bindings(d: AttentionDims): BindingSpec[] {
  const width = d.heads * d.headDim;
  const rows = d.seqs * d.T;
  const probs = d.seqs * d.heads * d.T * d.T;
  return [
    { name: 'qkv', access: 'read', dtype: 'f32', elements: rows * 3 * width },
    { name: 'lens', access: 'read', dtype: 'i32', elements: d.seqs },
    { name: 'P', access: 'read', dtype: 'f32', elements: probs },
    { name: 'A', access: 'read', dtype: 'f32', elements: rows * width },
    { name: 'dA', access: 'read', dtype: 'f32', elements: rows * width },
    { name: 'dqkv', access: 'read_write', dtype: 'f32', elements: rows * 3 * width },
    { name: 'dS', access: 'read_write', dtype: 'f32', elements: probs },
  ];
}

function program(d: AttentionDims): KernelProgram {
  validateAttention(d);
  const bind = bindings(d);
  const uniforms = attentionUniforms(d);
  const head = `
  if (row >= params.seqs * H * params.T) { return; }
  let T = params.T;
  let i = row % T;
  let bh = row / T;
  let h = bh % H;
  let b = bh / H;
  if (lid == 0u) { wlen = u32(clamp(lens[b], 0, i32(T))); }
  let L = workgroupUniformLoad(&wlen);
  let qrow = (b * T + i) * STRIDE + h * HD;`;
  const wgsl = `${attentionPrelude(d)}
${declareParams(bind, uniforms)}
${WGSL_ROW_REDUCE}
var<workgroup> ds: array<f32, ${ATTN_MAX_T}>;
var<workgroup> wlen: u32;

// Row = (b, h, query i): dS_i. and dq_i.
${rowEntry('grad_q')}${head}
  let arow = (b * T + i) * WIDTH + h * HD;
  if (i >= L) {
    for (var e = lid; e < HD; e += ${ROW_WG}u) { dqkv[qrow + e] = 0.0; }
    return;
  }
  var part = 0.0;
  for (var e = lid; e < HD; e += ${ROW_WG}u) { part += dA[arow + e] * A[arow + e]; }
  let D = wg_sum(lid, part);
  for (var j = lid; j < L; j += ${ROW_WG}u) {
    let vrow = (b * T + j) * STRIDE + 2u * WIDTH + h * HD;
    var dp = 0.0;
    for (var e = 0u; e < HD; e++) { dp += dA[arow + e] * qkv[vrow + e]; }
    let v = P[row * T + j] * (dp - D);
    ds[j] = v;
    dS[row * T + j] = v;
  }
  workgroupBarrier();
  for (var e = lid; e < HD; e += ${ROW_WG}u) {
    var acc = 0.0;
    for (var j = 0u; j < L; j++) { acc += ds[j] * qkv[(b * T + j) * STRIDE + WIDTH + h * HD + e]; }
    dqkv[qrow + e] = params.scale * acc;
  }
}

// Row = (b, h, key j): dk_j and dv_j over the query rows i < L in order.
${rowEntry('grad_kv')}${head}
  let j = i;
  let krow = qrow + WIDTH;
  let vrow = qrow + 2u * WIDTH;
  if (j >= L) {
    for (var e = lid; e < HD; e += ${ROW_WG}u) {
      dqkv[krow + e] = 0.0;
      dqkv[vrow + e] = 0.0;
    }
    return;
  }
  let base = bh * T * T;
  for (var e = lid; e < HD; e += ${ROW_WG}u) {
    var dk = 0.0;
    var dv = 0.0;
    for (var q = 0u; q < L; q++) {
      let pq = base + q * T + j;
      dk += dS[pq] * qkv[(b * T + q) * STRIDE + h * HD + e];
      dv += P[pq] * dA[(b * T + q) * WIDTH + h * HD + e];
    }
    dqkv[krow + e] = params.scale * dk;
    dqkv[vrow + e] = dv;
  }
}`;
  const groups = linearGroups(d.seqs * d.heads * d.T, 1);
  return assembleProgram({
    kernel: 'attentionBackward',
    key: attributes(d).key,
    wgsl,
    bindings: bind,
    uniforms,
    passes: [
      { entryPoint: 'grad_q', workgroups: groups },
      { entryPoint: 'grad_kv', workgroups: groups },
    ],
  });
}

function cpu(d: AttentionDims, x: AttentionBackwardInputs): AttentionBackwardOutputs {
  validateAttention(d);
  checkInputs(bindings(d), x);
  checkLens(x.lens, d.T);
  const { seqs, T, heads: H, headDim: HD } = d;
  const Wd = H * HD;
  const S3 = 3 * Wd;
  const scale = Math.fround(d.scale);
  const dqkv = new Float32Array(seqs * T * S3);
  const dS = new Float32Array(seqs * H * T * T);
  const ds = new Float64Array(T * T);
  const dp = new Float64Array(T);
  for (let b = 0; b < seqs; b++) {
    const L = x.lens[b];
    for (let h = 0; h < H; h++) {
      const base = (b * H + h) * T * T;
      ds.fill(0);
      // dS through the softmax Jacobian, written as P (dP - sum_j P dP) (the GPU uses dA . a for the sum).
      for (let i = 0; i < L; i++) {
        const ar = (b * T + i) * Wd + h * HD;
        let dot = 0;
        for (let j = 0; j < L; j++) {
          const vr = (b * T + j) * S3 + 2 * Wd + h * HD;
          let acc = 0;
          for (let e = 0; e < HD; e++) acc += x.dA[ar + e] * x.qkv[vr + e];
          dp[j] = acc;
          dot += x.P[base + i * T + j] * acc;
        }
        for (let j = 0; j < L; j++) {
          ds[i * T + j] = x.P[base + i * T + j] * (dp[j] - dot);
          dS[base + i * T + j] = ds[i * T + j];
        }
      }
      for (let i = 0; i < L; i++) {
        for (let e = 0; e < HD; e++) {
          let dq = 0;
          let dk = 0;
          let dv = 0;
          for (let j = 0; j < L; j++) {
            dq += ds[i * T + j] * x.qkv[(b * T + j) * S3 + Wd + h * HD + e];
            dk += ds[j * T + i] * x.qkv[(b * T + j) * S3 + h * HD + e];
            dv += x.P[base + j * T + i] * x.dA[(b * T + j) * Wd + h * HD + e];
          }
          const r = (b * T + i) * S3 + h * HD + e;
          dqkv[r] = scale * dq;
          dqkv[r + Wd] = scale * dk;
          dqkv[r + 2 * Wd] = dv;
        }
      }
    }
  }
  return { dqkv, dS };
}

export const attentionBackward: KernelDef<AttentionDims, AttentionBackwardInputs, AttentionBackwardOutputs> = {
  name: 'attentionBackward',
  validate: validateAttention,
  attributes,
  program,
  cpu,
  outputs: ['dqkv', 'dS'],
};
