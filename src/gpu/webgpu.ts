// The 'webgpu' Backend: trains the bag RM with the WGSL kernels of ./kernels. Weights, Adam moments and
// activations live in GPU buffers across steps; a step uploads only its batch (token CSR of its 2B items, the
// weights, the touched rows and their bias corrections) and reads back only the loss (optionally only every
// `readEvery` steps). Semantics match the cpu trainer (src/gpu/cpu/trainer.ts): dense AdamW on the MLP by the
// global step, lazy AdamW on touched embedding rows by each row's own step, frozen embeddings untouched,
// 0-pair batches are no-ops. Calls are serialised; on device loss every pending and later call rejects with
// GpuDeviceLostError so the caller can continue on cpu from its last checkpoint.
import type { Backend, StepResult, Trainer, TrainerCheckpoint } from './backend.ts';
import type { BagRMConfig, BagRMParams, EncodedItems, OptimizerConfig, PairBatch } from '../pipeline/rm/types.ts';
import {
  acquireDevice,
  describeReport,
  GpuDeviceLostError,
  GpuUnavailableError,
  largestBufferBytes,
  limitsProblem,
  navigatorGpu,
  type CapabilityReport,
  type GpuContext,
} from './device.ts';
import { validateHyper, type AdamHyperparams } from './kernels/adamwDense.ts';
import { sparseRowCoefficients } from './kernels/adamwSparse.ts';
import { buildRowContributions } from './kernels/embeddingBagBackward.ts';
import type { TypedArray } from './kernels/kernel.ts';
import {
  bindingSizes,
  forwardSteps,
  modelLayout,
  packBags,
  trainSteps,
  type ModelLayout,
  type PlanExecutor,
  type PlanStep,
  type Readback,
} from './kernels/plan.ts';
import { encodeProgram, PipelineCache, type BufferRef } from './kernels/runtime.ts';
import { DeviceCalls, type LostState } from './device-calls.ts';

export interface WebGpuTrainerOptions {
  /**
   * Read the loss back every `readEvery` steps (default 1: every step). Steps in between resolve at once with
   * loss NaN; the losses of all steps still arrive, in order, through `onLosses` at each readback and flushLosses().
   */
  readEvery?: number;
  onLosses?: (firstStep: number, losses: Float32Array) => void;
  /** Items scored per GPU pass in score() (default 4096). */
  scoreChunk?: number;
}

const TENSORS = ['E', 'W1', 'b1', 'W2', 'b2'] as const;

function isCheckpoint(x: BagRMParams | TrainerCheckpoint): x is TrainerCheckpoint {
  return (x as TrainerCheckpoint).params !== undefined && (x as TrainerCheckpoint).rowStep !== undefined;
}

function tensorSizes(cfg: BagRMConfig): Record<(typeof TENSORS)[number], number> {
  return { E: cfg.vocabSize * cfg.dim, W1: 2 * cfg.dim * cfg.hidden, b1: cfg.hidden, W2: cfg.hidden, b2: 1 };
}

function validateInit(params: BagRMParams): void {
  const cfg = params.config;
  for (const k of ['vocabSize', 'dim', 'hidden'] as const) {
    if (!Number.isInteger(cfg?.[k]) || cfg[k] < 1) throw new Error(`trainer init: ${k} must be a positive integer, got ${String(cfg?.[k])}`);
  }
  const sizes = tensorSizes(cfg);
  for (const k of TENSORS) {
    const t = params[k];
    if (!(t instanceof Float32Array)) throw new Error(`trainer init: ${k} is not a Float32Array`);
    if (t.length !== sizes[k]) throw new Error(`trainer init: ${k} has ${t.length} values, expected ${sizes[k]}`);
  }
}

/**
 * Usage of every trainer buffer: bindable, uploadable, readable back. A function, not a constant:
 * GPUBufferUsage is a global only once WebGPU is installed (in Node, after getNodeGpu()).
 */
function storageUsage(): GPUBufferUsageFlags {
  return GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
}

/** Executes plans on a GPUDevice: named storage buffers (grown on demand), per-position uniform buffers. */
export class GpuPlanExecutor implements PlanExecutor {
  private readonly buffers = new Map<string, GPUBuffer>();
  private readonly uniforms: GPUBuffer[] = [];
  /** First validation/OOM error seen (reported asynchronously by WebGPU); fails the next call. */
  error: Error | null = null;

  constructor(
    private readonly device: GPUDevice,
    private readonly cache: PipelineCache,
  ) {}

  get offsetAlignment(): number {
    return this.device.limits.minStorageBufferOffsetAlignment;
  }

  upload(name: string, data: TypedArray): void {
    const buffer = this.ensure(name, data.length);
    if (data.length > 0) this.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
  }

  private ensure(name: string, elements: number): GPUBuffer {
    const need = Math.max(16, Math.ceil((elements * 4) / 16) * 16);
    const cur = this.buffers.get(name);
    if (cur && cur.size >= need) return cur;
    cur?.destroy();
    // Batch-dependent buffers grow geometrically so a run settles on a few allocations.
    const size = cur ? Math.max(need, Math.ceil((cur.size * 1.5) / 16) * 16) : need;
    const buffer = this.device.createBuffer({ label: name, size, usage: storageUsage() });
    this.buffers.set(name, buffer);
    return buffer;
  }

  private uniform(i: number, bytes: number): GPUBuffer {
    const cur = this.uniforms[i];
    if (cur && cur.size >= bytes) return cur;
    cur?.destroy();
    const u = this.device.createBuffer({ label: `uniform${i}`, size: Math.max(bytes, 64), usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.uniforms[i] = u;
    return u;
  }

  /**
   * Encodes the plan into one submit (allocating activation buffers as needed), optionally copies `readback`
   * out and resolves with its bytes. Validation/OOM errors are collected without a round trip and fail the
   * readback (or the next call).
   */
  async execute(steps: PlanStep[], readback: Readback | null): Promise<ArrayBuffer | null> {
    if (this.error) throw this.error;
    const device = this.device;
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    const encoder = device.createCommandEncoder({ label: 'scpo' });
    steps.forEach((step, i) => {
      const program = step.kernel.program(step.dims);
      const refs: Record<string, BufferRef> = {};
      for (const [name, { ref, elements }] of bindingSizes(step, program)) {
        const isRange = typeof step.bind[name] !== 'string';
        const buffer = isRange ? this.buffers.get(ref.buffer) : this.ensure(ref.buffer, elements);
        if (!buffer) throw new Error(`${step.kernel.name}: buffer '${ref.buffer}' does not exist`);
        refs[name] = isRange ? { buffer, offset: ref.offset * 4, size: Math.max(4, ref.length * 4) } : buffer;
      }
      let u: GPUBuffer | undefined;
      if (program.uniforms) {
        u = this.uniform(i, program.uniforms.byteLength);
        device.queue.writeBuffer(u, 0, program.uniforms);
      }
      encodeProgram(this.cache, encoder, program, refs, u);
    });
    let staging: GPUBuffer | null = null;
    if (readback) {
      const bytes = Math.max(4, readback.elements * 4);
      staging = device.createBuffer({ label: 'readback', size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      const src = this.buffers.get(readback.buffer);
      if (!src) throw new Error(`readback: buffer '${readback.buffer}' does not exist`);
      if (readback.elements > 0) encoder.copyBufferToBuffer(src, 0, staging, 0, readback.elements * 4);
    }
    device.queue.submit([encoder.finish()]);
    const scopes = Promise.all([device.popErrorScope(), device.popErrorScope()]).then((errs) => {
      const err = errs.find(Boolean);
      if (err && !this.error) this.error = new Error(`webgpu: ${err.message}`);
    });
    if (!staging) {
      scopes.catch(() => undefined);
      return null;
    }
    try {
      await staging.mapAsync(GPUMapMode.READ);
      const bytes = staging.getMappedRange().slice(0, readback!.elements * 4);
      await scopes;
      if (this.error) throw this.error;
      return bytes;
    } finally {
      if (staging.mapState === 'mapped') staging.unmap();
      staging.destroy();
    }
  }

  dispose(): void {
    for (const b of this.buffers.values()) b.destroy();
    for (const u of this.uniforms) u.destroy();
    this.buffers.clear();
    this.uniforms.length = 0;
  }
}

/**
 * The trainer: host-side batch packing, optimizer bookkeeping (steps, rowStep, loss ring) and the plan of
 * kernel invocations; the executor runs plans on the GPU (or on the CPU twins, for tests of the plan).
 */
export class WebGpuTrainer implements Trainer {
  readonly backend = 'webgpu' as const;
  private readonly layout: ModelLayout;
  private readonly cfg: BagRMConfig;
  private readonly hyper: AdamHyperparams;
  private readonly trainE: boolean;
  private readonly readEvery: number;
  private readonly scoreChunk: number;
  private readonly onLosses?: (firstStep: number, losses: Float32Array) => void;
  private readonly rowStep: Int32Array;
  private readonly slotScratch: Int32Array;
  /** Host copies of E's moments while frozen (possibly empty = zeros), returned as is by checkpoint(). */
  private frozenMoments: { m: Float32Array; v: Float32Array } | null = null;
  private stepCount: number;
  private unread = 0;
  private readonly calls: DeviceCalls;

  /** Use WebGpuBackend.createTrainer (tests: test/helpers/twin-trainer.ts runs the plans on the CPU twins). */
  constructor(
    private readonly exec: PlanExecutor,
    lostState: LostState,
    init: BagRMParams | TrainerCheckpoint,
    opt: OptimizerConfig,
    options: WebGpuTrainerOptions = {},
  ) {
    validateHyper(opt);
    const params = isCheckpoint(init) ? init.params : init;
    validateInit(params);
    this.cfg = { ...params.config };
    this.hyper = { lr: opt.lr, beta1: opt.beta1, beta2: opt.beta2, eps: opt.eps, weightDecay: opt.weightDecay };
    this.trainE = !opt.freezeEmbeddings;
    this.readEvery = Math.max(1, Math.floor(options.readEvery ?? 1));
    this.scoreChunk = Math.max(1, Math.floor(options.scoreChunk ?? 4096));
    this.onLosses = options.onLosses;
    this.layout = modelLayout(this.cfg, exec.offsetAlignment);
    const sizes = tensorSizes(this.cfg);
    this.slotScratch = new Int32Array(this.cfg.vocabSize).fill(-1);

    let m: Record<string, Float32Array> | null = null;
    let v: Record<string, Float32Array> | null = null;
    if (isCheckpoint(init)) {
      m = init.m;
      v = init.v;
      for (const [what, mom] of [['m', m], ['v', v]] as const) {
        for (const k of TENSORS) {
          const a = mom?.[k];
          if (!(a instanceof Float32Array)) throw new Error(`checkpoint: ${what}.${k} is missing`);
          if (!(k === 'E' && a.length === 0) && a.length !== sizes[k]) {
            throw new Error(`checkpoint: ${what}.${k} has ${a.length} values, expected ${sizes[k]}`);
          }
        }
      }
      if (!(init.rowStep instanceof Int32Array) || init.rowStep.length !== this.cfg.vocabSize) {
        throw new Error(`checkpoint: rowStep must be an Int32Array of length ${this.cfg.vocabSize}`);
      }
      if (!Number.isInteger(init.step) || init.step < 0) throw new Error(`checkpoint: step is invalid (${init.step})`);
      this.rowStep = init.rowStep.slice();
      this.stepCount = init.step;
    } else {
      this.rowStep = new Int32Array(this.cfg.vocabSize);
      this.stepCount = 0;
    }

    const L = this.layout;
    const pack = (src: BagRMParams | Record<string, Float32Array> | null) => {
      const out = new Float32Array(L.denseTotal);
      if (!src) return out;
      out.set(src.W1 as Float32Array, L.W1.offset);
      out.set(src.b1 as Float32Array, L.b1.offset);
      out.set(src.W2 as Float32Array, L.W2.offset);
      out.set(src.b2 as Float32Array, L.b2.offset);
      return out;
    };
    this.upload('E', params.E);
    this.upload('P', pack(params));
    this.upload('M', pack(m));
    this.upload('V', pack(v));
    this.upload('G', new Float32Array(L.denseTotal));
    if (this.trainE) {
      this.upload('mE', m && m.E.length ? m.E : new Float32Array(sizes.E));
      this.upload('vE', v && v.E.length ? v.E : new Float32Array(sizes.E));
    } else {
      this.frozenMoments = { m: m ? m.E.slice() : new Float32Array(0), v: v ? v.E.slice() : new Float32Array(0) };
    }
    this.upload('loss', new Float32Array(this.readEvery));
    this.calls = new DeviceCalls(lostState, 'webgpu trainer');
  }

  /** Optimizer steps taken so far (0-pair batches do not count). */
  get steps(): number {
    return this.stepCount;
  }

  step(items: EncodedItems, batch: PairBatch): Promise<StepResult> {
    // Copy the batch now: callers reuse their arrays for the next batch before this call runs.
    const B = batch.chosen.length;
    if (batch.rejected.length !== B || batch.weight.length !== B) {
      return Promise.reject(new Error(`batch: chosen/rejected/weight lengths differ (${B}, ${batch.rejected.length}, ${batch.weight.length})`));
    }
    const chosen = batch.chosen.slice();
    const rejected = batch.rejected.slice();
    const weight = batch.weight.slice();
    return this.serial(() => this.runStep(items, chosen, rejected, weight));
  }

  private async runStep(items: EncodedItems, chosen: Int32Array, rejected: Int32Array, weight: Float32Array): Promise<StepResult> {
    const B = chosen.length;
    if (B === 0) return { loss: 0 };
    const V = this.cfg.vocabSize;
    const { bagOffsets, bagIds } = packBags(items, 2 * B, (j) => ((j & 1) === 0 ? chosen[j >> 1] : rejected[j >> 1]), V);
    let U = 0;
    if (this.trainE) {
      const rc = buildRowContributions(bagOffsets, bagIds, V, this.slotScratch);
      U = rc.rows.length;
      this.upload('rowOffsets', rc.rowOffsets);
      this.upload('contribBag', rc.contribBag);
      this.upload('rowIds', rc.rows);
      this.upload('rowCoef', sparseRowCoefficients(this.hyper, rc.rows, this.rowStep));
    }
    this.upload('bagOffsets', bagOffsets);
    this.upload('bagIds', bagIds);
    this.upload('w', weight);
    const t = ++this.stepCount;
    const slot = this.unread++;
    const steps = trainSteps(this.layout, {
      B,
      nnz: bagIds.length,
      U,
      trainE: this.trainE,
      slot,
      slots: this.readEvery,
      t,
      hyper: this.hyper,
    });
    const read = this.unread === this.readEvery;
    const losses = await this.exec.execute(steps, read ? { buffer: 'loss', elements: this.readEvery } : null);
    if (!losses) return { loss: Number.NaN };
    this.unread = 0;
    const ring = new Float32Array(losses);
    this.onLosses?.(t - this.readEvery + 1, ring);
    return { loss: ring[this.readEvery - 1] };
  }

  /** Reads the losses of steps not yet read back (readEvery > 1), oldest first; [] when none. */
  flushLosses(): Promise<Float32Array> {
    return this.serial(async () => {
      if (this.unread === 0) return new Float32Array(0);
      const n = this.unread;
      const out = new Float32Array(await this.readBack('loss', n));
      this.unread = 0;
      this.onLosses?.(this.stepCount - n + 1, out);
      return out;
    });
  }

  score(items: EncodedItems, indices?: Int32Array): Promise<Float32Array> {
    const idx = indices ? indices.slice() : null;
    return this.serial(async () => {
      const n = idx ? idx.length : items.count;
      const out = new Float32Array(n);
      for (let start = 0; start < n; start += this.scoreChunk) {
        const N = Math.min(this.scoreChunk, n - start);
        const { bagOffsets, bagIds } = packBags(items, N, idx ? (j) => idx[start + j] : (j) => start + j, this.cfg.vocabSize);
        this.upload('bagOffsets', bagOffsets);
        this.upload('bagIds', bagIds);
        const S = await this.exec.execute(forwardSteps(this.layout, N, bagIds.length), { buffer: 'S', elements: N });
        out.set(new Float32Array(S!), start);
      }
      return out;
    });
  }

  checkpoint(): Promise<TrainerCheckpoint> {
    return this.serial(async () => {
      const L = this.layout;
      const sizes = tensorSizes(this.cfg);
      const E = new Float32Array(await this.readBack('E', sizes.E));
      const unpack = async (name: string) => {
        const all = new Float32Array(await this.readBack(name, L.denseTotal));
        const cut = (r: { offset: number; length: number }) => all.slice(r.offset, r.offset + r.length);
        return { W1: cut(L.W1), b1: cut(L.b1), W2: cut(L.W2), b2: cut(L.b2) };
      };
      const p = await unpack('P');
      const m = await unpack('M');
      const v = await unpack('V');
      let mE: Float32Array;
      let vE: Float32Array;
      if (this.frozenMoments) {
        mE = this.frozenMoments.m.slice();
        vE = this.frozenMoments.v.slice();
      } else {
        mE = new Float32Array(await this.readBack('mE', sizes.E));
        vE = new Float32Array(await this.readBack('vE', sizes.E));
      }
      return {
        params: { config: { ...this.cfg }, E, ...p },
        m: { E: mE, ...m },
        v: { E: vE, ...v },
        rowStep: this.rowStep.slice(),
        step: this.stepCount,
      };
    });
  }

  dispose(): void {
    if (this.calls.disposed) return;
    this.calls.disposed = true;
    this.exec.dispose();
  }

  // ---- internals ----

  /** Runs calls one at a time; rejects with the device-lost error if the device goes away meanwhile. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    return this.calls.run(fn);
  }

  private upload(name: string, data: TypedArray): void {
    this.exec.upload(name, data);
  }

  private async readBack(name: string, elements: number): Promise<ArrayBuffer> {
    return (await this.exec.execute([], { buffer: name, elements }))!;
  }
}

export interface WebGpuBackendOptions extends WebGpuTrainerOptions {
  /** Check the adapter's limits against this model up front (else at createTrainer). */
  model?: Pick<BagRMConfig, 'vocabSize' | 'dim' | 'hidden'>;
  powerPreference?: GPUPowerPreference;
}

export class WebGpuBackend implements Backend {
  readonly name = 'webgpu' as const;
  readonly info: string;
  readonly report: CapabilityReport;
  /** Resolves with the typed error when the device is lost (or destroyed by dispose()). */
  readonly lost: Promise<GpuDeviceLostError>;
  private readonly cache: PipelineCache;

  constructor(
    readonly ctx: GpuContext,
    private readonly defaults: WebGpuTrainerOptions = {},
  ) {
    this.report = ctx.report;
    this.info = describeReport(ctx.report);
    this.lost = ctx.lost;
    this.cache = new PipelineCache(ctx.device);
  }

  get device(): GPUDevice {
    return this.ctx.device;
  }

  async createTrainer(init: BagRMParams | TrainerCheckpoint, opt: OptimizerConfig, options?: WebGpuTrainerOptions): Promise<WebGpuTrainer> {
    if (this.ctx.lostError) throw this.ctx.lostError;
    const cfg = (isCheckpoint(init) ? init.params : init).config;
    const problem = limitsProblem({ ...this.report, limits: { ...this.report.limits, ...pickLimits(this.ctx.device.limits) } }, largestBufferBytes(cfg));
    if (problem) throw new GpuUnavailableError('limits', problem, this.report);
    const device = this.ctx.device;
    const exec = new GpuPlanExecutor(device, this.cache);
    device.pushErrorScope('out-of-memory');
    let trainer: WebGpuTrainer | null = null;
    let failure: unknown = null;
    try {
      trainer = new WebGpuTrainer(exec, this.ctx, init, opt, { ...this.defaults, ...options });
    } catch (e) {
      failure = e;
    }
    const oom = await device.popErrorScope();
    if (oom && !failure) failure = new GpuUnavailableError('out-of-memory', `out of GPU memory allocating the trainer: ${oom.message}`, this.report);
    if (failure || !trainer) {
      exec.dispose();
      throw failure;
    }
    return trainer;
  }

  /** Destroys the device (every trainer of this backend stops working). */
  dispose(): void {
    this.ctx.destroy();
  }
}

function pickLimits(l: GPUSupportedLimits) {
  return {
    maxBufferSize: l.maxBufferSize,
    maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
    maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
    maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
  };
}

/**
 * The webgpu backend on `gpu` (navigator.gpu when omitted). Throws GpuUnavailableError with the reason
 * (no WebGPU, requestAdapter() null, limits too small for `opts.model`, device request failed).
 */
export async function createWebGpuBackend(gpu?: GPU | null, opts: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
  const { model, powerPreference, ...trainerDefaults } = opts;
  const ctx = await acquireDevice(gpu === undefined ? navigatorGpu() : gpu, {
    powerPreference,
    requiredBufferBytes: model ? largestBufferBytes(model) : 0,
    label: 'scpo-webgpu',
  });
  return new WebGpuBackend(ctx, trainerDefaults);
}

