// The bag RM's training step and scoring pass as a list of kernel invocations over named buffers, plus the
// host-side batch packing they consume. One plan, two executors: the WebGPU trainer encodes it into command
// buffers; `TwinExecutor` runs the same plan on the kernels' CPU twins, so plan logic is testable without a GPU.
import type { BagRMConfig, EncodedItems } from '../../pipeline/rm/types.ts';
import type { AnyKernel } from './index.ts';
import type { KernelProgram, TypedArray } from './kernel.ts';
import { adamwDense, type AdamHyperparams } from './adamwDense.ts';
import { adamwSparse } from './adamwSparse.ts';
import { btLossBackward } from './btLossBackward.ts';
import { btLossForward } from './btLossForward.ts';
import { denseBackward } from './denseBackward.ts';
import { denseForward } from './denseForward.ts';
import { embeddingBagBackward } from './embeddingBagBackward.ts';
import { embeddingBagForward } from './embeddingBagForward.ts';
import { reluBackward } from './reluBackward.ts';
import { reluForward } from './reluForward.ts';

/** A range of a named buffer, in elements (offset 0 and no length = the whole buffer). */
export interface TensorRef {
  buffer: string;
  offset: number;
  length: number;
}

export interface PlanStep {
  kernel: AnyKernel;
  dims: Record<string, unknown>;
  /** Binding name -> buffer name or range. */
  bind: Record<string, string | TensorRef>;
}

export interface Range {
  offset: number;
  length: number;
}

/**
 * Where each MLP tensor lives in the packed dense buffers P (params), M, V (moments) and G (gradients):
 * one buffer each so a single AdamW dispatch updates all of them. Offsets are aligned to the device's
 * minStorageBufferOffsetAlignment; the padding stays exactly 0 under AdamW (g = m = v = p = 0).
 */
export interface ModelLayout {
  V: number;
  D: number;
  H: number;
  K: number;
  W1: Range;
  b1: Range;
  W2: Range;
  b2: Range;
  denseTotal: number;
}

export function modelLayout(cfg: BagRMConfig, alignBytes = 256): ModelLayout {
  const a = Math.max(1, alignBytes / 4);
  const up = (x: number) => Math.ceil(x / a) * a;
  const D = cfg.dim;
  const H = cfg.hidden;
  const K = 2 * D;
  const W1 = { offset: 0, length: K * H };
  const b1 = { offset: up(W1.offset + W1.length), length: H };
  const W2 = { offset: up(b1.offset + b1.length), length: H };
  const b2 = { offset: up(W2.offset + W2.length), length: 1 };
  return { V: cfg.vocabSize, D, H, K, W1, b1, W2, b2, denseTotal: up(b2.offset + 1) };
}

const at = (buffer: string, r: Range): TensorRef => ({ buffer, offset: r.offset, length: r.length });

export interface TrainShape {
  /** Pairs. */
  B: number;
  /** Tokens in the batch's bags. */
  nnz: number;
  /** Unique embedding rows (0 when frozen). */
  U: number;
  trainE: boolean;
  /** Loss ring slot of this step, and the ring's length. */
  slot: number;
  slots: number;
  /** Global (dense) Adam step, 1-based. */
  t: number;
  hyper: AdamHyperparams;
}

/** Forward of N items: X = bags(E), Z = X W1 + b1, Hh = relu(Z), S = Hh W2 + b2. */
export function forwardSteps(L: ModelLayout, N: number, nnz: number): PlanStep[] {
  return [
    {
      kernel: embeddingBagForward,
      dims: { vocab: L.V, dim: L.D, bags: 2 * N, nnz },
      bind: { E: 'E', offsets: 'bagOffsets', ids: 'bagIds', out: 'X' },
    },
    { kernel: denseForward, dims: { M: N, K: L.K, N: L.H }, bind: { X: 'X', W: at('P', L.W1), b: at('P', L.b1), Y: 'Z' } },
    { kernel: reluForward, dims: { n: N * L.H }, bind: { X: 'Z', Y: 'Hh' } },
    { kernel: denseForward, dims: { M: N, K: L.H, N: 1 }, bind: { X: 'Hh', W: at('P', L.W2), b: at('P', L.b2), Y: 'S' } },
  ];
}

/** One optimizer step on a packed batch of B pairs (items interleaved: slot 2i chosen, 2i+1 rejected). */
export function trainSteps(L: ModelLayout, s: TrainShape): PlanStep[] {
  const N = 2 * s.B;
  const steps = forwardSteps(L, N, s.nnz);
  steps.push(
    { kernel: btLossForward, dims: { B: s.B, slots: s.slots, slot: s.slot }, bind: { S: 'S', w: 'w', loss: 'loss' } },
    { kernel: btLossBackward, dims: { B: s.B }, bind: { S: 'S', w: 'w', dS: 'dS' } },
    {
      kernel: denseBackward,
      dims: { M: N, K: L.H, N: 1, inputGrad: true },
      bind: { X: 'Hh', W: at('P', L.W2), dY: 'dS', dX: 'dHh', dW: at('G', L.W2), db: at('G', L.b2) },
    },
    { kernel: reluBackward, dims: { n: N * L.H }, bind: { Z: 'Z', dY: 'dHh', dZ: 'dZ' } },
    {
      kernel: denseBackward,
      dims: { M: N, K: L.K, N: L.H, inputGrad: s.trainE },
      bind: { X: 'X', W: at('P', L.W1), dY: 'dZ', dX: 'dX', dW: at('G', L.W1), db: at('G', L.b1) },
    },
  );
  if (s.trainE) {
    steps.push({
      kernel: embeddingBagBackward,
      dims: { dim: L.D, bags: 2 * N, rows: s.U, nnz: s.nnz },
      bind: { dX: 'dX', bagOffsets: 'bagOffsets', rowOffsets: 'rowOffsets', contribBag: 'contribBag', gRows: 'gRows' },
    });
  }
  steps.push({ kernel: adamwDense, dims: { n: L.denseTotal, t: s.t, ...s.hyper }, bind: { P: 'P', M: 'M', V: 'V', G: 'G' } });
  if (s.trainE) {
    steps.push({
      kernel: adamwSparse,
      dims: { vocab: L.V, dim: L.D, rows: s.U, ...s.hyper },
      bind: { P: 'E', M: 'mE', V: 'vE', G: 'gRows', rowIds: 'rowIds', rowCoef: 'rowCoef' },
    });
  }
  return steps;
}

/** Bags of `n` items in the plan's layout: bag 2j = response of item j, bag 2j+1 = its prompt. */
export interface PackedBags {
  bagOffsets: Int32Array;
  bagIds: Int32Array;
}

/**
 * Packs the token lists of items itemAt(0..n-1) into one CSR (validating item indices and token ids, like the
 * CPU trainer, since a bad id on the GPU would silently read zeros).
 */
export function packBags(items: EncodedItems, n: number, itemAt: (j: number) => number, vocab: number): PackedBags {
  const bagOffsets = new Int32Array(2 * n + 1);
  let nnz = 0;
  for (let j = 0; j < n; j++) {
    const k = itemAt(j);
    if (!(Number.isInteger(k) && k >= 0 && k < items.count)) throw new RangeError(`batch: item index ${k} is outside 0..${items.count - 1}`);
    nnz += items.responseOffsets[k + 1] - items.responseOffsets[k];
    bagOffsets[2 * j + 1] = nnz;
    nnz += items.promptOffsets[k + 1] - items.promptOffsets[k];
    bagOffsets[2 * j + 2] = nnz;
  }
  const bagIds = new Int32Array(nnz);
  let q = 0;
  const copy = (ids: Int32Array, start: number, end: number) => {
    for (let t = start; t < end; t++) {
      const id = ids[t];
      if (!(id >= 0 && id < vocab)) throw new RangeError(`token id ${id} is outside the embedding table (${vocab} rows)`);
      bagIds[q++] = id;
    }
  };
  for (let j = 0; j < n; j++) {
    const k = itemAt(j);
    copy(items.responseIds, items.responseOffsets[k], items.responseOffsets[k + 1]);
    copy(items.promptIds, items.promptOffsets[k], items.promptOffsets[k + 1]);
  }
  return { bagOffsets, bagIds };
}

/** Elements each binding of `step` needs, from the kernel's own program (used to size buffers; pass the program when already built). */
export function bindingSizes(step: PlanStep, program: KernelProgram = step.kernel.program(step.dims)): Map<string, { ref: TensorRef; elements: number }> {
  const out = new Map<string, { ref: TensorRef; elements: number }>();
  for (const b of program.bindings) {
    const r = step.bind[b.name];
    if (r === undefined) throw new Error(`${step.kernel.name}: binding '${b.name}' is not bound`);
    const ref = typeof r === 'string' ? { buffer: r, offset: 0, length: b.elements } : r;
    out.set(b.name, { ref, elements: b.elements });
  }
  return out;
}

export interface Readback {
  buffer: string;
  elements: number;
}

/** Runs plans over named buffers: the GPU executor (webgpu.ts) or the CPU twins (TwinExecutor). */
export interface PlanExecutor {
  /** Alignment (bytes) that range offsets into packed buffers must respect. */
  readonly offsetAlignment: number;
  /** Writes data to the start of buffer `name` (created or grown as needed). */
  upload(name: string, data: TypedArray): void;
  /** Runs the steps in order, then returns the first `elements` values of `readback.buffer` (if asked). */
  execute(steps: PlanStep[], readback: Readback | null): Promise<ArrayBuffer | null>;
  dispose(): void;
}

/** Runs plans on the CPU twins over named typed arrays: the GPU plan's reference executor. */
export class TwinExecutor implements PlanExecutor {
  readonly offsetAlignment = 4;
  readonly buffers = new Map<string, TypedArray>();

  upload(name: string, data: TypedArray): void {
    const cur = this.buffers.get(name);
    if (!cur || cur.length < data.length || cur.constructor !== data.constructor) {
      const Ctor = data.constructor as new (n: number) => TypedArray;
      this.buffers.set(name, new Ctor(Math.max(data.length, cur && cur.constructor === data.constructor ? cur.length : 0)));
    }
    this.buffers.get(name)!.set(data);
  }

  async execute(steps: PlanStep[], readback: Readback | null): Promise<ArrayBuffer | null> {
    for (const step of steps) this.runStep(step);
    if (!readback) return null;
    const buf = this.buffers.get(readback.buffer);
    if (!buf) throw new Error(`readback: no buffer '${readback.buffer}'`);
    return buf.slice(0, readback.elements).buffer as ArrayBuffer;
  }

  dispose(): void {
    this.buffers.clear();
  }

  private runStep(step: PlanStep): void {
    const program = step.kernel.program(step.dims);
    const sizes = bindingSizes(step, program);
    const inputs: Record<string, TypedArray> = {};
    for (const b of program.bindings) {
      const { ref, elements } = sizes.get(b.name)!;
      let buf = this.buffers.get(ref.buffer);
      if (!buf || buf.length < ref.offset + elements) {
        if (typeof step.bind[b.name] !== 'string') throw new RangeError(`${step.kernel.name}: '${ref.buffer}' is too small for '${b.name}'`);
        const grown = b.dtype === 'f32' ? new Float32Array(elements) : b.dtype === 'i32' ? new Int32Array(elements) : new Uint32Array(elements);
        if (buf) grown.set(buf.subarray(0, Math.min(buf.length, elements)));
        this.buffers.set(ref.buffer, grown);
        buf = grown;
      }
      inputs[b.name] = buf.subarray(ref.offset, ref.offset + elements);
    }
    const out = step.kernel.cpu(step.dims, inputs) as Record<string, TypedArray>;
    for (const name of step.kernel.outputs) {
      const { ref } = sizes.get(name)!;
      this.buffers.get(ref.buffer)!.set(out[name], ref.offset);
    }
  }
}
