// Float64 reference implementations of every kernel, written from each kernel's mathematical definition (the
// formulas in the kernel files' headers and the papers), independently of the CPU twins: generated kernel cases
// are checked against these, so a wrong twin cannot pass by being compared with itself. Inputs are the case's
// materialized f32 arrays; every sum runs in float64.
type Arr = ArrayLike<number>;
type Dims = Record<string, number | boolean>;
type Inputs = Record<string, Arr | undefined>;
export type Reference = (d: Dims, x: Inputs) => Record<string, number[]>;

const n = (d: Dims, k: string) => d[k] as number;
const arr = (x: Inputs, k: string): Arr => {
  const a = x[k];
  if (!a) throw new Error(`reference: missing input ${k}`);
  return a;
};
const softplus = (z: number) => Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)));
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** One Adam(W) element update, PyTorch's formula: decoupled decay, bias-corrected moments. */
function adamElement(p: number, m: number, v: number, g: number, d: Dims, stepSize?: number, epsHat?: number) {
  const b1 = n(d, 'beta1');
  const b2 = n(d, 'beta2');
  const m2 = b1 * m + (1 - b1) * g;
  const v2 = b2 * v + (1 - b2) * g * g;
  const decayed = p * (1 - n(d, 'lr') * n(d, 'weightDecay'));
  if (stepSize !== undefined && epsHat !== undefined) return { p: decayed - (stepSize * m2) / (Math.sqrt(v2) + epsHat), m: m2, v: v2 };
  const t = n(d, 't');
  const mHat = m2 / (1 - b1 ** t);
  const vHat = v2 / (1 - b2 ** t);
  return { p: decayed - (n(d, 'lr') * mHat) / (Math.sqrt(vHat) + n(d, 'eps')), m: m2, v: v2 };
}

export const REFERENCES: Record<string, Reference> = {
  denseForward(d, x) {
    const [M, K, N] = [n(d, 'M'), n(d, 'K'), n(d, 'N')];
    const X = arr(x, 'X'), W = arr(x, 'W'), b = arr(x, 'b');
    const Y: number[] = [];
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = b[j];
        for (let k = 0; k < K; k++) s += X[i * K + k] * W[k * N + j];
        Y.push(s);
      }
    }
    return { Y };
  },
  denseBackward(d, x) {
    const [M, K, N] = [n(d, 'M'), n(d, 'K'), n(d, 'N')];
    const X = arr(x, 'X'), W = arr(x, 'W'), dY = arr(x, 'dY');
    const dW = new Array<number>(K * N).fill(0);
    const db = new Array<number>(N).fill(0);
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        db[j] += dY[i * N + j];
        for (let k = 0; k < K; k++) dW[k * N + j] += X[i * K + k] * dY[i * N + j];
      }
    }
    const out: Record<string, number[]> = { dW, db };
    if (d.inputGrad) {
      const dX = new Array<number>(M * K).fill(0);
      for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) dX[i * K + k] += W[k * N + j] * dY[i * N + j];
      out.dX = dX;
    }
    return out;
  },
  reluForward(_d, x) {
    return { Y: Array.from(arr(x, 'X'), (v) => (v > 0 ? v : 0)) };
  },
  reluBackward(_d, x) {
    const Z = arr(x, 'Z');
    return { dZ: Array.from(arr(x, 'dY'), (g, i) => (Z[i] > 0 ? g : 0)) };
  },
  reduceSum(_d, x) {
    return { out: [Array.from(arr(x, 'x')).reduce((a, b) => a + b, 0)] };
  },
  pairAccuracy(d, x) {
    const S = arr(x, 'S'), c = arr(x, 'chosen'), r = arr(x, 'rejected');
    let k = 0;
    for (let i = 0; i < n(d, 'pairs'); i++) if (S[c[i]] > S[r[i]]) k++;
    return { count: [k] };
  },
  btLossForward(d, x) {
    const S = arr(x, 'S'), w = arr(x, 'w');
    const B = n(d, 'B');
    let s = 0;
    for (let i = 0; i < B; i++) s += w[i] * softplus(-(S[2 * i] - S[2 * i + 1]));
    const loss = Array.from(x.loss ?? new Array<number>(n(d, 'slots')).fill(0));
    loss[n(d, 'slot')] = B > 0 ? s / B : 0;
    return { loss };
  },
  btLossBackward(d, x) {
    const S = arr(x, 'S'), w = arr(x, 'w');
    const B = n(d, 'B');
    const dS: number[] = [];
    for (let i = 0; i < B; i++) {
      // d/dd of w softplus(-dd) / B = -w sigmoid(-dd) / B.
      const g = (-w[i] / B) * sigmoid(-(S[2 * i] - S[2 * i + 1]));
      dS.push(g, -g);
    }
    return { dS };
  },
  embeddingBagForward(d, x) {
    const D = n(d, 'dim');
    const E = arr(x, 'E'), off = arr(x, 'offsets'), ids = arr(x, 'ids');
    const out: number[] = [];
    for (let b = 0; b < n(d, 'bags'); b++) {
      const len = off[b + 1] - off[b];
      for (let c = 0; c < D; c++) {
        let s = 0;
        for (let t = off[b]; t < off[b + 1]; t++) s += E[ids[t] * D + c];
        out.push(len > 0 ? s / len : 0);
      }
    }
    return { out };
  },
  embeddingBagBackward(d, x) {
    const D = n(d, 'dim');
    const dX = arr(x, 'dX'), bagOff = arr(x, 'bagOffsets'), rowOff = arr(x, 'rowOffsets'), bag = arr(x, 'contribBag');
    const gRows: number[] = [];
    for (let u = 0; u < n(d, 'rows'); u++) {
      for (let c = 0; c < D; c++) {
        let s = 0;
        for (let j = rowOff[u]; j < rowOff[u + 1]; j++) s += dX[bag[j] * D + c] / (bagOff[bag[j] + 1] - bagOff[bag[j]]);
        gRows.push(s);
      }
    }
    return { gRows };
  },
  adamwDense(d, x) {
    const P = arr(x, 'P'), M = arr(x, 'M'), V = arr(x, 'V'), G = arr(x, 'G');
    const out = { P: [] as number[], M: [] as number[], V: [] as number[] };
    for (let i = 0; i < n(d, 'n'); i++) {
      const r = adamElement(P[i], M[i], V[i], G[i], d);
      out.P.push(r.p);
      out.M.push(r.m);
      out.V.push(r.v);
    }
    return out;
  },
  adamwSparse(d, x) {
    const D = n(d, 'dim');
    const out = { P: Array.from(arr(x, 'P')), M: Array.from(arr(x, 'M')), V: Array.from(arr(x, 'V')) };
    const G = arr(x, 'G'), rows = arr(x, 'rowIds'), coef = arr(x, 'rowCoef');
    for (let k = 0; k < n(d, 'rows'); k++) {
      for (let c = 0; c < D; c++) {
        const i = rows[k] * D + c;
        const r = adamElement(out.P[i], out.M[i], out.V[i], G[k * D + c], d, coef[2 * k], coef[2 * k + 1]);
        out.P[i] = r.p;
        out.M[i] = r.m;
        out.V[i] = r.v;
      }
    }
    return out;
  },
  // USE-lite transformer ops (helper "wgsl"'s kernels), from the formulas in their headers.
  add(_d, x) {
    const B = arr(x, 'B');
    return { Y: Array.from(arr(x, 'A'), (a, i) => a + B[i]) };
  },
  tanhForward(_d, x) {
    return { Y: Array.from(arr(x, 'X'), (v) => Math.tanh(v)) };
  },
  tanhBackward(_d, x) {
    const Y = arr(x, 'Y');
    return { dX: Array.from(arr(x, 'dY'), (g, i) => g * (1 - Y[i] * Y[i])) };
  },
  biasGrad(d, x) {
    const [M, N] = [n(d, 'M'), n(d, 'N')];
    const dY = arr(x, 'dY');
    const db = d.accumulate && x.db ? Array.from(x.db) : new Array<number>(N).fill(0);
    for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) db[j] += dY[i * N + j];
    return { db };
  },
  matmul(d, x) {
    const [M, N, K] = [n(d, 'M'), n(d, 'N'), n(d, 'K')];
    const A = arr(x, 'A'), B = arr(x, 'B');
    const alpha = d.alpha === undefined ? 1 : (d.alpha as number);
    // op(A)[i, k] and op(B)[k, j] by the storage layouts in matmul.ts's header.
    const a = (i: number, k: number) => (d.transA ? A[k * M + i] : A[i * K + k]);
    const b = (k: number, j: number) => (d.transB ? B[j * K + k] : B[k * N + j]);
    const C: number[] = [];
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a(i, k) * b(k, j);
        let v = alpha * s;
        if (d.bias) v += arr(x, 'bias')[j];
        if (d.accumulate && x.C) v += x.C[i * N + j];
        C.push(v);
      }
    }
    return { C };
  },
  meanPoolForward(d, x) {
    const [S, T, W] = [n(d, 'seqs'), n(d, 'T'), n(d, 'W')];
    const X = arr(x, 'X'), lens = arr(x, 'lens');
    const out: number[] = [];
    for (let b = 0; b < S; b++) {
      for (let c = 0; c < W; c++) {
        let s = 0;
        for (let t = 0; t < lens[b]; t++) s += X[(b * T + t) * W + c];
        out.push(s / Math.max(lens[b], 1));
      }
    }
    return { out };
  },
  meanPoolBackward(d, x) {
    const [S, T, W] = [n(d, 'seqs'), n(d, 'T'), n(d, 'W')];
    const dOut = arr(x, 'dOut'), lens = arr(x, 'lens');
    const dX: number[] = [];
    for (let b = 0; b < S; b++) for (let t = 0; t < T; t++) for (let c = 0; c < W; c++) dX.push(t < lens[b] ? dOut[b * W + c] / Math.max(lens[b], 1) : 0);
    return { dX };
  },
  l2NormForward(d, x) {
    const [R, W] = [n(d, 'rows'), n(d, 'W')];
    const X = arr(x, 'X');
    const Y: number[] = [];
    for (let r = 0; r < R; r++) {
      let q = 0;
      for (let c = 0; c < W; c++) q += X[r * W + c] ** 2;
      const inv = 1 / Math.sqrt(Math.max(q, 1e-12));
      for (let c = 0; c < W; c++) Y.push(X[r * W + c] * inv);
    }
    return { Y };
  },
  l2NormBackward(d, x) {
    const [R, W] = [n(d, 'rows'), n(d, 'W')];
    const X = arr(x, 'X'), dY = arr(x, 'dY');
    const dX: number[] = [];
    for (let r = 0; r < R; r++) {
      let q = 0;
      for (let c = 0; c < W; c++) q += X[r * W + c] ** 2;
      if (q > 1e-12) {
        // d/dX of X / |X|: (dY - Y (Y . dY)) / |X|.
        const inv = 1 / Math.sqrt(q);
        let ydy = 0;
        for (let c = 0; c < W; c++) ydy += X[r * W + c] * inv * dY[r * W + c];
        for (let c = 0; c < W; c++) dX.push(inv * (dY[r * W + c] - X[r * W + c] * inv * ydy));
      } else {
        for (let c = 0; c < W; c++) dX.push(dY[r * W + c] / Math.sqrt(1e-12));
      }
    }
    return { dX };
  },
  useEmbedding(d, x) {
    const [S, T, W] = [n(d, 'seqs'), n(d, 'T'), n(d, 'W')];
    const E = arr(x, 'E'), PE = arr(x, 'PE'), ids = arr(x, 'ids'), lens = arr(x, 'lens');
    const X: number[] = [];
    for (let b = 0; b < S; b++) {
      for (let t = 0; t < T; t++) {
        for (let c = 0; c < W; c++) X.push(t < lens[b] ? 2 * E[ids[b * T + t] * W + c] + PE[t * W + c] : 0);
      }
    }
    return { X };
  },
  // Layer norm from its definition; the backward as the Jacobian-vector product of y = gamma xhat + beta with
  // d xhat_i / d x_j = rstd (delta_ij - 1/W - xhat_i xhat_j / W) (O(W^2) per row: a different computation from the
  // kernels' closed form). The backward uses the case's saved mean/rstd inputs, as the kernel does.
  layerNormForward(d, x) {
    const [R, W, eps] = [n(d, 'rows'), n(d, 'W'), Math.fround(n(d, 'eps'))];
    const X = arr(x, 'X'), g = arr(x, 'gamma'), b = arr(x, 'beta');
    const Y: number[] = [], mean: number[] = [], rstd: number[] = [];
    for (let r = 0; r < R; r++) {
      const row = Array.from({ length: W }, (_v, c) => X[r * W + c]);
      const mu = row.reduce((a, v) => a + v, 0) / W;
      const rs = 1 / Math.sqrt(row.reduce((a, v) => a + (v - mu) ** 2, 0) / W + eps);
      row.forEach((v, c) => Y.push(g[c] * (v - mu) * rs + b[c]));
      mean.push(mu);
      rstd.push(rs);
    }
    return { Y, mean, rstd };
  },
  layerNormBackward(d, x) {
    const [R, W] = [n(d, 'rows'), n(d, 'W')];
    const X = arr(x, 'X'), g = arr(x, 'gamma'), mean = arr(x, 'mean'), rstd = arr(x, 'rstd'), dY = arr(x, 'dY');
    const dX: number[] = [];
    const P = d.paramGrad ? W : 0;
    const dgamma = Array.from({ length: P }, (_v, c) => (d.paramAccumulate && x.dgamma ? x.dgamma[c] : 0));
    const dbeta = Array.from({ length: P }, (_v, c) => (d.paramAccumulate && x.dbeta ? x.dbeta[c] : 0));
    for (let r = 0; r < R; r++) {
      const xh = Array.from({ length: W }, (_v, c) => (X[r * W + c] - mean[r]) * rstd[r]);
      for (let j = 0; j < W; j++) {
        let s = 0;
        for (let i = 0; i < W; i++) s += dY[r * W + i] * g[i] * rstd[r] * ((i === j ? 1 : 0) - 1 / W - (xh[i] * xh[j]) / W);
        dX.push(d.accumulate && x.dX ? x.dX[r * W + j] + s : s);
      }
      for (let c = 0; c < P; c++) {
        dgamma[c] += dY[r * W + c] * xh[c];
        dbeta[c] += dY[r * W + c];
      }
    }
    return { dX, dgamma, dbeta };
  },
  // Masked attention from its definition: per (sequence, head) the score matrix S = scale Q K^T over the first
  // len keys, P = softmax(S) by rows, A = P V; padded query rows 0. The backward recomputes P from qkv (not the
  // case's saved P) and applies the softmax Jacobian dS_ij = sum_k dP_ik P_ik (delta_kj - P_ij) element by element.
  attentionForward(d, x) {
    return attentionRef(d, x, null);
  },
  attentionBackward(d, x) {
    return attentionRef(d, x, arr(x, 'dA'));
  },
  softmaxCrossEntropy(d, x) {
    const [N, C] = [n(d, 'N'), n(d, 'C')];
    const Z = arr(x, 'Z'), y = arr(x, 'y'), w = arr(x, 'w');
    const lse: number[] = [];
    const dZ: number[] = [];
    let total = 0;
    for (let i = 0; i < N; i++) {
      const row = Array.from({ length: C }, (_v, c) => Z[i * C + c]);
      const mx = Math.max(...row);
      const l = mx + Math.log(row.reduce((s, z) => s + Math.exp(z - mx), 0));
      lse.push(l);
      total += w[i] * (l - row[y[i]]);
      for (let c = 0; c < C; c++) dZ.push(w[i] * (Math.exp(row[c] - l) - (c === y[i] ? 1 : 0)));
    }
    const loss = Array.from(x.loss ?? new Array<number>(n(d, 'slots')).fill(0));
    loss[n(d, 'slot')] = total;
    return { dZ, lse, loss };
  },
};

/** attentionForward's outputs {A, P}, or with dA attentionBackward's {dqkv, dS}, in float64. */
function attentionRef(d: Dims, x: Inputs, dA: Arr | null): Record<string, number[]> {
  const [S, T, H, HD, scale] = [n(d, 'seqs'), n(d, 'T'), n(d, 'heads'), n(d, 'headDim'), Math.fround(n(d, 'scale'))];
  const qkv = arr(x, 'qkv'), lens = arr(x, 'lens');
  const Wd = H * HD;
  const at = (b: number, t: number, part: number, h: number, e: number) => (b * T + t) * 3 * Wd + part * Wd + h * HD + e;
  const A = new Array<number>(S * T * Wd).fill(0);
  const Pout = new Array<number>(S * H * T * T).fill(0);
  const dqkv = new Array<number>(S * T * 3 * Wd).fill(0);
  const dSout = new Array<number>(S * H * T * T).fill(0);
  for (let b = 0; b < S; b++) {
    const L = lens[b];
    for (let h = 0; h < H; h++) {
      const P: number[][] = [];
      for (let i = 0; i < L; i++) {
        const s = Array.from({ length: L }, (_v, j) => {
          let acc = 0;
          for (let e = 0; e < HD; e++) acc += qkv[at(b, i, 0, h, e)] * qkv[at(b, j, 1, h, e)];
          return scale * acc;
        });
        const mx = Math.max(...s);
        const ex = s.map((v) => Math.exp(v - mx));
        const z = ex.reduce((a, v) => a + v, 0);
        P.push(ex.map((v) => v / z));
      }
      const base = (b * H + h) * T * T;
      for (let i = 0; i < L; i++) {
        for (let j = 0; j < L; j++) Pout[base + i * T + j] = P[i][j];
        for (let e = 0; e < HD; e++) {
          let acc = 0;
          for (let j = 0; j < L; j++) acc += P[i][j] * qkv[at(b, j, 2, h, e)];
          A[(b * T + i) * Wd + h * HD + e] = acc;
        }
      }
      if (!dA) continue;
      const dO = (i: number, e: number) => dA[(b * T + i) * Wd + h * HD + e];
      for (let i = 0; i < L; i++) {
        const dP = Array.from({ length: L }, (_v, j) => {
          let acc = 0;
          for (let e = 0; e < HD; e++) acc += dO(i, e) * qkv[at(b, j, 2, h, e)];
          return acc;
        });
        for (let j = 0; j < L; j++) {
          let ds = 0;
          for (let k = 0; k < L; k++) ds += dP[k] * P[i][k] * ((k === j ? 1 : 0) - P[i][j]);
          dSout[base + i * T + j] = ds;
          for (let e = 0; e < HD; e++) {
            dqkv[at(b, i, 0, h, e)] += scale * ds * qkv[at(b, j, 1, h, e)];
            dqkv[at(b, j, 1, h, e)] += scale * ds * qkv[at(b, i, 0, h, e)];
          }
        }
        for (let j = 0; j < L; j++) for (let e = 0; e < HD; e++) dqkv[at(b, j, 2, h, e)] += P[i][j] * dO(i, e);
      }
    }
  }
  return dA ? { dqkv, dS: dSout } : { A, P: Pout };
}
