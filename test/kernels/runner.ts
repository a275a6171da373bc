// The data-driven kernel test runner: reads test/kernels/cases/*.json, materialises inputs (literal arrays or
// seeded generators), runs the CPU twin and (when a device exists) the WGSL program, and compares against the
// case's hand-computed `expected` or, for generated cases, against the twin. Tolerance: |got - ref| <= abs + rel |ref|.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KERNELS, type AnyKernel } from '../../src/gpu/kernels/index.ts';
import type { Dtype, TypedArray } from '../../src/gpu/kernels/kernel.ts';
import { buildRowContributions } from '../../src/gpu/kernels/embeddingBagBackward.ts';
import { sparseRowCoefficients } from '../../src/gpu/kernels/adamwSparse.ts';
import { attentionForward } from '../../src/gpu/kernels/attentionForward.ts';

export interface Tolerance {
  abs: number;
  rel: number;
}

export type InputSpec =
  | number[]
  | { uniform: [number, number]; seed: number }
  | { ints: [number, number]; seed: number };

export interface KernelCase {
  name: string;
  /** Sizes and scalars of the kernel; may be filled in by `generate`. */
  dims?: Record<string, number | boolean>;
  inputs?: Record<string, InputSpec>;
  /** Seeded generator for coupled inputs (CSR bags, unique rows) that literal specs cannot express. */
  generate?: { kind: string; seed: number; [k: string]: unknown };
  /** Hand-computed outputs (checked against the twin and the GPU), or "twin" (GPU checked against the twin). */
  expected: Record<string, number[]> | 'twin';
  tolerance?: Tolerance;
}

export interface SkipEntry {
  case: string;
  backend: 'cpu' | 'webgpu' | 'all';
  reason: string;
}

export interface CaseFile {
  op: string;
  description?: string;
  tolerance: Tolerance;
  cases: KernelCase[];
  skip?: SkipEntry[];
}

const here = dirname(fileURLToPath(import.meta.url));
export const CASES_DIR = join(here, 'cases');

export function loadCaseFiles(): CaseFile[] {
  return readdirSync(CASES_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const file = JSON.parse(readFileSync(join(CASES_DIR, f), 'utf8')) as CaseFile;
      if (!KERNELS[file.op]) throw new Error(`${f}: unknown op '${file.op}'`);
      return file;
    });
}

/** mulberry32: small, seeded, reproducible across platforms. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeTyped(dtype: Dtype, data: ArrayLike<number>): TypedArray {
  return dtype === 'f32' ? Float32Array.from(data) : dtype === 'i32' ? Int32Array.from(data) : Uint32Array.from(data);
}

function uniformArray(n: number, lo: number, hi: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => lo + (hi - lo) * r());
}

/** Random bags: lengths in [0, maxLen] (every `emptyEvery`-th bag empty), ids with deliberate repeats. */
function randomBags(r: () => number, bags: number, maxLen: number, vocab: number, emptyEvery: number) {
  const offsets = new Int32Array(bags + 1);
  const ids: number[] = [];
  for (let b = 0; b < bags; b++) {
    const len = emptyEvery > 0 && b % emptyEvery === emptyEvery - 1 ? 0 : Math.floor(r() * (maxLen + 1));
    for (let t = 0; t < len; t++) {
      // A third of the tokens repeat an earlier token of the bag (repeated words are common in text).
      const repeat = t > 0 && r() < 0.33;
      ids.push(repeat ? ids[ids.length - 1 - Math.floor(r() * t)] : Math.floor(r() * vocab));
    }
    offsets[b + 1] = ids.length;
  }
  return { offsets, ids: Int32Array.from(ids) };
}

type Generated = { dims: Record<string, number | boolean>; inputs: Record<string, TypedArray> };

const GENERATORS: Record<string, (g: Record<string, unknown>, seed: number) => Generated> = {
  bagsForward(g, seed) {
    const r = rng(seed);
    const vocab = g.vocab as number;
    const dim = g.dim as number;
    const bags = g.bags as number;
    const { offsets, ids } = randomBags(r, bags, g.maxLen as number, vocab, (g.emptyEvery as number) ?? 0);
    const E = Float32Array.from(uniformArray(vocab * dim, -1, 1, seed + 1));
    return { dims: { vocab, dim, bags, nnz: ids.length }, inputs: { E, offsets, ids } };
  },
  bagsBackward(g, seed) {
    const r = rng(seed);
    const vocab = g.vocab as number;
    const dim = g.dim as number;
    const bags = g.bags as number;
    const { offsets, ids } = randomBags(r, bags, g.maxLen as number, vocab, (g.emptyEvery as number) ?? 0);
    const { rows, rowOffsets, contribBag } = buildRowContributions(offsets, ids, vocab);
    const dX = Float32Array.from(uniformArray(bags * dim, -1, 1, seed + 1));
    return {
      dims: { dim, bags, rows: rows.length, nnz: ids.length },
      inputs: { dX, bagOffsets: offsets, rowOffsets, contribBag },
    };
  },
  /** Attention backward inputs that belong together: P and A from the forward twin, dA zero on padded rows. */
  attentionBackward(g, seed) {
    const lens = Int32Array.from(g.lens as number[]);
    const dims = { seqs: g.seqs as number, T: g.T as number, heads: g.heads as number, headDim: g.headDim as number, scale: g.scale as number };
    const W = dims.heads * dims.headDim;
    const qkv = Float32Array.from(uniformArray(dims.seqs * dims.T * 3 * W, -1, 1, seed));
    const { A, P } = attentionForward.cpu(dims, { qkv, lens });
    const dA = Float32Array.from(uniformArray(dims.seqs * dims.T * W, -1, 1, seed + 1));
    for (let b = 0; b < dims.seqs; b++) dA.fill(0, (b * dims.T + lens[b]) * W, (b + 1) * dims.T * W);
    return { dims, inputs: { qkv, lens, P, A, dA } };
  },
  adamwSparse(g, seed) {
    const r = rng(seed);
    const vocab = g.vocab as number;
    const dim = g.dim as number;
    const nRows = g.rows as number;
    const hyper = g.hyper as { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number };
    const all = Array.from({ length: vocab }, (_, i) => i);
    for (let i = vocab - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [all[i], all[j]] = [all[j], all[i]];
    }
    const rowIds = Int32Array.from(all.slice(0, nRows));
    // Rows at different points of their own schedules (lazy Adam), so the per-row bias corrections differ.
    const rowStep = Int32Array.from({ length: vocab }, () => Math.floor(r() * 50));
    const rowCoef = sparseRowCoefficients(hyper, rowIds, rowStep);
    const P = Float32Array.from(uniformArray(vocab * dim, -1, 1, seed + 1));
    const M = Float32Array.from(uniformArray(vocab * dim, -0.1, 0.1, seed + 2));
    const V = Float32Array.from(uniformArray(vocab * dim, 0, 0.01, seed + 3));
    const G = Float32Array.from(uniformArray(nRows * dim, -1, 1, seed + 4));
    return { dims: { vocab, dim, rows: nRows, ...hyper }, inputs: { P, M, V, G, rowIds, rowCoef } };
  },
};

/** Dims and typed inputs of a case (literal specs sized and typed from the program's bindings). */
export function materialize(kernel: AnyKernel, c: KernelCase): Generated {
  let dims = { ...(c.dims ?? {}) };
  const inputs: Record<string, TypedArray> = {};
  if (c.generate) {
    const gen = GENERATORS[c.generate.kind];
    if (!gen) throw new Error(`${c.name}: unknown generator '${c.generate.kind}'`);
    // A generator sees the case dims too (generate keys win), so sizes are written once.
    const out = gen({ ...(c.dims ?? {}), ...c.generate }, c.generate.seed);
    dims = { ...out.dims, ...dims };
    Object.assign(inputs, out.inputs);
  }
  const program = kernel.program(dims);
  for (const [name, spec] of Object.entries(c.inputs ?? {})) {
    const binding = program.bindings.find((b) => b.name === name);
    if (!binding) throw new Error(`${c.name}: '${name}' is not a binding of ${kernel.name}`);
    let data: number[];
    if (Array.isArray(spec)) data = spec;
    else if ('uniform' in spec) data = uniformArray(binding.elements, spec.uniform[0], spec.uniform[1], spec.seed);
    else {
      const r = rng(spec.seed);
      data = Array.from({ length: binding.elements }, () => spec.ints[0] + Math.floor(r() * (spec.ints[1] - spec.ints[0] + 1)));
    }
    inputs[name] = makeTyped(binding.dtype, data);
  }
  return { dims, inputs };
}

export interface Mismatch {
  output: string;
  index: number;
  got: number;
  want: number;
}

export interface Comparison {
  maxAbs: number;
  maxRel: number;
  mismatches: Mismatch[];
}

/** Elementwise check of `got` against `want`; NaN never matches; lengths must agree. */
export function compareOutputs(
  got: Record<string, ArrayLike<number>>,
  want: Record<string, ArrayLike<number>>,
  tol: Tolerance,
): Comparison {
  let maxAbs = 0;
  let maxRel = 0;
  const mismatches: Mismatch[] = [];
  for (const [name, w] of Object.entries(want)) {
    const g = got[name];
    if (!g) {
      mismatches.push({ output: name, index: -1, got: NaN, want: NaN });
      continue;
    }
    if (g.length !== w.length) {
      mismatches.push({ output: `${name} (length ${g.length} vs ${w.length})`, index: -1, got: g.length, want: w.length });
      continue;
    }
    for (let i = 0; i < w.length; i++) {
      const a = g[i];
      const e = Math.fround(w[i]);
      const err = Math.abs(a - e);
      if (!(err <= tol.abs + tol.rel * Math.abs(e))) {
        if (mismatches.length < 8) mismatches.push({ output: name, index: i, got: a, want: e });
        else mismatches.length = 8;
      }
      if (Number.isFinite(err)) {
        maxAbs = Math.max(maxAbs, err);
        // Relative error only where it means something (elsewhere the abs tolerance governs).
        if (Math.abs(e) >= 1e-3) maxRel = Math.max(maxRel, err / Math.abs(e));
      }
    }
  }
  return { maxAbs, maxRel, mismatches };
}

export function skipReason(file: CaseFile, caseName: string, backend: 'cpu' | 'webgpu'): string | null {
  const s = (file.skip ?? []).find((e) => e.case === caseName && (e.backend === backend || e.backend === 'all'));
  return s ? s.reason : null;
}

/** Per-op error statistics, printed after the run for the report. */
export class ErrorStats {
  private readonly rows = new Map<string, { cases: number; maxAbs: number; maxRel: number }>();
  add(key: string, c: Comparison): void {
    const r = this.rows.get(key) ?? { cases: 0, maxAbs: 0, maxRel: 0 };
    r.cases++;
    r.maxAbs = Math.max(r.maxAbs, c.maxAbs);
    r.maxRel = Math.max(r.maxRel, c.maxRel);
    this.rows.set(key, r);
  }
  table(): string {
    const lines = [...this.rows.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, r]) => `${k.padEnd(40)} cases=${String(r.cases).padStart(3)}  maxAbs=${r.maxAbs.toExponential(2)}  maxRel=${r.maxRel.toExponential(2)}`);
    return lines.join('\n');
  }
}
