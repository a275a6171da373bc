// Embedding-bag forward: out[b, :] = mean of rows E[ids[offsets[b] .. offsets[b+1])] (zeros for an empty bag).
// The trainer lays item n's response bag at 2n and its prompt bag at 2n+1, so out viewed as [N, 2D] is
// exactly x = concat(r, p) of the bag RM.
import { checkDims, checkInputs, linearProgram, type BindingSpec, type KernelDef, type KernelProgram } from './kernel.ts';

export interface EmbeddingBagForwardDims {
  vocab: number;
  dim: number;
  bags: number;
  /** Total token count (offsets[bags]). */
  nnz: number;
}

export interface EmbeddingBagForwardInputs extends Record<string, Float32Array | Int32Array> {
  E: Float32Array;
  offsets: Int32Array;
  ids: Int32Array;
}

export interface EmbeddingBagForwardOutputs extends Record<string, Float32Array> {
  out: Float32Array;
}

function validate(d: EmbeddingBagForwardDims): void {
  checkDims(d, { vocab: 1, dim: 1, bags: 0, nnz: 0 });
}

function attributes(d: EmbeddingBagForwardDims) {
  return { key: `embeddingBagForward:V${d.vocab}:D${d.dim}`, vocab: d.vocab, dim: d.dim };
}

function bindings(d: EmbeddingBagForwardDims): BindingSpec[] {
  return [
    { name: 'E', access: 'read', dtype: 'f32', elements: d.vocab * d.dim },
    { name: 'offsets', access: 'read', dtype: 'i32', elements: d.bags + 1 },
    { name: 'ids', access: 'read', dtype: 'i32', elements: d.nnz },
    { name: 'out', access: 'read_write', dtype: 'f32', elements: d.bags * d.dim },
  ];
}

function program(d: EmbeddingBagForwardDims): KernelProgram {
  validate(d);
  return linearProgram({
    kernel: 'embeddingBagForward',
    key: attributes(d).key,
    bindings: bindings(d),
    uniforms: [['bags', 'u32', d.bags]],
    invocations: d.bags * d.dim,
    consts: [`const D: u32 = ${d.dim}u;`, `const V: i32 = ${d.vocab};`],
    guard: 'params.bags * D',
    body: `  let bag = idx / D;
  let c = idx % D;
  let start = offsets[bag];
  let end = offsets[bag + 1u];
  var acc = 0.0;
  for (var t = start; t < end; t++) {
    let id = ids[t];
    // Ids are validated on the host; the guard only keeps a bad id from reading another row's memory.
    if (id >= 0 && id < V) { acc += E[u32(id) * D + c]; }
  }
  // Divide (not multiply by 1/n), like the CPU trainer and the ONNX graph.
  out[idx] = select(0.0, acc / f32(end - start), end > start);`,
  });
}

function cpu(d: EmbeddingBagForwardDims, x: EmbeddingBagForwardInputs): EmbeddingBagForwardOutputs {
  validate(d);
  checkInputs(bindings(d), x);
  const D = d.dim;
  const out = new Float32Array(d.bags * D);
  const acc = new Float64Array(D);
  for (let b = 0; b < d.bags; b++) {
    acc.fill(0);
    const start = x.offsets[b];
    const end = x.offsets[b + 1];
    for (let t = start; t < end; t++) {
      const id = x.ids[t];
      if (id < 0 || id >= d.vocab) throw new RangeError(`token id ${id} is outside the embedding table`);
      for (let c = 0; c < D; c++) acc[c] += x.E[id * D + c];
    }
    if (end > start) for (let c = 0; c < D; c++) out[b * D + c] = acc[c] / (end - start);
  }
  return { out };
}

export const embeddingBagForward: KernelDef<EmbeddingBagForwardDims, EmbeddingBagForwardInputs, EmbeddingBagForwardOutputs> = {
  name: 'embeddingBagForward',
  validate,
  attributes,
  program,
  cpu,
  outputs: ['out'],
};
