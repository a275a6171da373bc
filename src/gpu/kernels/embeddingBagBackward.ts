// Embedding-bag backward without float atomics: gRows[u, :] = sum over the contributions c of unique row u
// of dX[bag_c, :] * (1 / |bag_c|). The host half (`buildRowContributions`) lists, per batch, the sorted unique
// rows and a CSR row -> contributing bags in (bag, token position) order; one invocation per (row, dim) sums
// them in that fixed order, which is also the CPU trainer's accumulation order, so results are deterministic.
import { checkDims, checkInputs, linearProgram, type BindingSpec, type KernelDef, type KernelProgram } from './kernel.ts';

export interface EmbeddingBagBackwardDims {
  dim: number;
  bags: number;
  /** Unique rows touched by the bags. */
  rows: number;
  /** Contributions = token occurrences = rowOffsets[rows]. */
  nnz: number;
}

export interface EmbeddingBagBackwardInputs extends Record<string, Float32Array | Int32Array> {
  /** [bags, dim] gradient of the bag means. */
  dX: Float32Array;
  /** [bags + 1] token offsets of the bags (gives each bag's length). */
  bagOffsets: Int32Array;
  /** [rows + 1] CSR of row -> contributions. */
  rowOffsets: Int32Array;
  /** [nnz] bag index of each contribution. */
  contribBag: Int32Array;
}

export interface EmbeddingBagBackwardOutputs extends Record<string, Float32Array> {
  gRows: Float32Array;
}

export interface RowContributions {
  /** Sorted unique embedding rows touched by the bags. */
  rows: Int32Array;
  rowOffsets: Int32Array;
  contribBag: Int32Array;
}

/**
 * Host half of the backward: unique rows of `ids` (sorted ascending) and, per row, the bags of its
 * occurrences in (bag, position) order. `slotScratch` (length >= vocab, all -1) may be passed to avoid an
 * allocation; it is returned all -1 again.
 */
export function buildRowContributions(
  bagOffsets: Int32Array,
  ids: Int32Array,
  vocab: number,
  slotScratch?: Int32Array,
): RowContributions {
  const bags = bagOffsets.length - 1;
  const start = bags >= 0 ? bagOffsets[0] : 0;
  const end = bags >= 0 ? bagOffsets[bags] : 0;
  const slot = slotScratch ?? new Int32Array(vocab).fill(-1);
  const seen: number[] = [];
  for (let t = start; t < end; t++) {
    const id = ids[t];
    if (!(id >= 0 && id < vocab)) throw new RangeError(`token id ${id} is outside the embedding table (${vocab} rows)`);
    if (slot[id] < 0) {
      slot[id] = 0;
      seen.push(id);
    }
  }
  const rows = Int32Array.from(seen).sort();
  const U = rows.length;
  for (let u = 0; u < U; u++) slot[rows[u]] = u;
  const rowOffsets = new Int32Array(U + 1);
  for (let t = start; t < end; t++) rowOffsets[slot[ids[t]] + 1]++;
  for (let u = 0; u < U; u++) rowOffsets[u + 1] += rowOffsets[u];
  const cursor = rowOffsets.slice(0, U);
  const contribBag = new Int32Array(end - start);
  for (let b = 0; b < bags; b++) {
    for (let t = bagOffsets[b]; t < bagOffsets[b + 1]; t++) contribBag[cursor[slot[ids[t]]]++] = b;
  }
  for (let u = 0; u < U; u++) slot[rows[u]] = -1;
  return { rows, rowOffsets, contribBag };
}

function validate(d: EmbeddingBagBackwardDims): void {
  checkDims(d, { dim: 1, bags: 0, rows: 0, nnz: 0 });
}

function attributes(d: EmbeddingBagBackwardDims) {
  return { key: `embeddingBagBackward:D${d.dim}`, dim: d.dim };
}

function bindings(d: EmbeddingBagBackwardDims): BindingSpec[] {
  return [
    { name: 'dX', access: 'read', dtype: 'f32', elements: d.bags * d.dim },
    { name: 'bagOffsets', access: 'read', dtype: 'i32', elements: d.bags + 1 },
    { name: 'rowOffsets', access: 'read', dtype: 'i32', elements: d.rows + 1 },
    { name: 'contribBag', access: 'read', dtype: 'i32', elements: d.nnz },
    { name: 'gRows', access: 'read_write', dtype: 'f32', elements: d.rows * d.dim },
  ];
}

function program(d: EmbeddingBagBackwardDims): KernelProgram {
  validate(d);
  return linearProgram({
    kernel: 'embeddingBagBackward',
    key: attributes(d).key,
    bindings: bindings(d),
    uniforms: [['rows', 'u32', d.rows]],
    invocations: d.rows * d.dim,
    consts: [`const D: u32 = ${d.dim}u;`],
    guard: 'params.rows * D',
    body: `  let u = idx / D;
  let c = idx % D;
  var acc = 0.0;
  for (var q = rowOffsets[u]; q < rowOffsets[u + 1u]; q++) {
    let b = u32(contribBag[q]);
    let n = bagOffsets[b + 1u] - bagOffsets[b];
    // Same as the CPU trainer: multiply by 1/n (the bag is non-empty: it holds this token).
    acc += dX[b * D + c] * (1.0 / f32(n));
  }
  gRows[idx] = acc;`,
  });
}

function cpu(d: EmbeddingBagBackwardDims, x: EmbeddingBagBackwardInputs): EmbeddingBagBackwardOutputs {
  validate(d);
  checkInputs(bindings(d), x);
  const D = d.dim;
  const gRows = new Float32Array(d.rows * D);
  const acc = new Float64Array(D);
  for (let u = 0; u < d.rows; u++) {
    acc.fill(0);
    for (let q = x.rowOffsets[u]; q < x.rowOffsets[u + 1]; q++) {
      const b = x.contribBag[q];
      const inv = 1 / (x.bagOffsets[b + 1] - x.bagOffsets[b]);
      for (let c = 0; c < D; c++) acc[c] += x.dX[b * D + c] * inv;
    }
    gRows.set(acc, u * D);
  }
  return { gRows };
}

export const embeddingBagBackward: KernelDef<EmbeddingBagBackwardDims, EmbeddingBagBackwardInputs, EmbeddingBagBackwardOutputs> = {
  name: 'embeddingBagBackward',
  validate,
  attributes,
  program,
  cpu,
  outputs: ['gRows'],
};
