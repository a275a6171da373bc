// Runs KernelPrograms on a GPUDevice: pipelines cached by program key, explicit bind group layouts,
// uniform upload, and a one-shot helper (buffers in -> results out) used by the kernel test runner.
import type { KernelProgram, TypedArray } from './kernel.ts';

interface CachedPipeline {
  layout: GPUBindGroupLayout;
  pipelineLayout: GPUPipelineLayout;
  module: GPUShaderModule;
  /** One pipeline per entry point, created on first use. */
  pipelines: Map<string, GPUComputePipeline>;
}

/** Compiled pipelines of one device, keyed by the program's cache key (shapes baked into the WGSL). */
export class PipelineCache {
  private readonly map = new Map<string, CachedPipeline>();
  /** Number of shader modules compiled so far (for tests of the cache). */
  compiled = 0;

  constructor(readonly device: GPUDevice) {}

  get(program: KernelProgram): CachedPipeline {
    let entry = this.map.get(program.key);
    if (!entry) {
      const entries: GPUBindGroupLayoutEntry[] = program.bindings.map((b, i) => ({
        binding: i,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: b.access === 'read' ? 'read-only-storage' : 'storage' },
      }));
      if (program.uniforms) {
        entries.push({ binding: program.bindings.length, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } });
      }
      const layout = this.device.createBindGroupLayout({ label: program.kernel, entries });
      const pipelineLayout = this.device.createPipelineLayout({ label: program.kernel, bindGroupLayouts: [layout] });
      const module = this.device.createShaderModule({ label: program.key, code: program.wgsl });
      this.compiled++;
      entry = { layout, pipelineLayout, module, pipelines: new Map() };
      this.map.set(program.key, entry);
    }
    for (const pass of program.passes) {
      if (entry.pipelines.has(pass.entryPoint)) continue;
      entry.pipelines.set(
        pass.entryPoint,
        this.device.createComputePipeline({
          label: `${program.key}:${pass.entryPoint}`,
          layout: entry.pipelineLayout,
          compute: { module: entry.module, entryPoint: pass.entryPoint },
        }),
      );
    }
    return entry;
  }

  get size(): number {
    return this.map.size;
  }
}

/** A storage binding: a whole buffer or a range of one (offset aligned to minStorageBufferOffsetAlignment). */
export type BufferRef = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

/**
 * Records the program's passes into `encoder` with the given buffers (by binding name) and uniform buffer.
 * The uniform buffer must already hold `program.uniforms` (write it with queue.writeBuffer before submit;
 * use one uniform buffer per recorded dispatch, because writes land before the whole submit runs).
 */
export function encodeProgram(
  cache: PipelineCache,
  encoder: GPUCommandEncoder,
  program: KernelProgram,
  buffers: Record<string, BufferRef>,
  uniformBuffer?: GPUBuffer,
): void {
  if (program.passes.every((p) => p.workgroups[0] * p.workgroups[1] * p.workgroups[2] === 0)) return;
  const { layout, pipelines } = cache.get(program);
  const entries: GPUBindGroupEntry[] = program.bindings.map((b, i) => {
    const ref = buffers[b.name];
    if (!ref) throw new Error(`${program.kernel}: no buffer for binding '${b.name}'`);
    const resource: GPUBufferBinding = 'buffer' in ref ? ref : { buffer: ref };
    return { binding: i, resource };
  });
  if (program.uniforms) {
    if (!uniformBuffer) throw new Error(`${program.kernel}: uniform buffer missing`);
    entries.push({ binding: program.bindings.length, resource: { buffer: uniformBuffer } });
  }
  const bindGroup = cache.device.createBindGroup({ label: program.kernel, layout, entries });
  const pass = encoder.beginComputePass({ label: program.kernel });
  pass.setBindGroup(0, bindGroup);
  for (const p of program.passes) {
    const [x, y, z] = p.workgroups;
    if (x * y * z === 0) continue;
    pass.setPipeline(pipelines.get(p.entryPoint)!);
    pass.dispatchWorkgroups(x, y, z);
  }
  pass.end();
}

const BYTES = 4;

/** Storage buffer of at least 16 bytes (bindings of size 0 are invalid), zero-filled or holding `data`. */
export function createStorage(device: GPUDevice, elements: number, data?: TypedArray, label?: string): GPUBuffer {
  const size = Math.max(16, Math.ceil((Math.max(elements, data ? data.length : 0) * BYTES) / 16) * 16);
  const buffer = device.createBuffer({
    label,
    size,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    mappedAtCreation: !!data && data.length > 0,
  });
  if (data && data.length > 0) {
    const Ctor = data.constructor as { new (b: ArrayBuffer): TypedArray };
    new Ctor(buffer.getMappedRange()).set(data);
    buffer.unmap();
  }
  return buffer;
}

export function createUniform(device: GPUDevice, data: ArrayBuffer, label?: string): GPUBuffer {
  const buffer = device.createBuffer({ label, size: data.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(buffer, 0, data);
  return buffer;
}

/** Copies `bytes` of `src` (from `offset`) back to the host. */
export async function readBuffer(device: GPUDevice, src: GPUBuffer, bytes: number, offset = 0): Promise<ArrayBuffer> {
  const size = Math.max(4, Math.ceil(bytes / 4) * 4);
  const staging = device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(src, offset, staging, 0, size);
  device.queue.submit([enc.finish()]);
  try {
    await staging.mapAsync(GPUMapMode.READ);
    return staging.getMappedRange().slice(0, bytes);
  } finally {
    if (staging.mapState === 'mapped') staging.unmap();
    staging.destroy();
  }
}

function makeArray(dtype: 'f32' | 'i32' | 'u32', buf: ArrayBuffer): TypedArray {
  return dtype === 'f32' ? new Float32Array(buf) : dtype === 'i32' ? new Int32Array(buf) : new Uint32Array(buf);
}

/**
 * One-shot execution for tests: uploads `inputs` (by binding name; missing bindings start zeroed),
 * runs the program, and reads back the bindings named in `outputs`.
 */
export async function runProgram(
  device: GPUDevice,
  cache: PipelineCache,
  program: KernelProgram,
  inputs: Record<string, TypedArray>,
  outputs: readonly string[],
): Promise<Record<string, TypedArray>> {
  const buffers: Record<string, GPUBuffer> = {};
  const owned: GPUBuffer[] = [];
  try {
    for (const b of program.bindings) {
      const data = inputs[b.name];
      const buf = createStorage(device, b.elements, data, b.name);
      buffers[b.name] = buf;
      owned.push(buf);
    }
    const uniform = program.uniforms ? createUniform(device, program.uniforms, `${program.kernel}.params`) : undefined;
    if (uniform) owned.push(uniform);
    const enc = device.createCommandEncoder();
    encodeProgram(cache, enc, program, buffers, uniform);
    device.queue.submit([enc.finish()]);
    const result: Record<string, TypedArray> = {};
    for (const name of outputs) {
      const spec = program.bindings.find((b) => b.name === name);
      if (!spec) throw new Error(`${program.kernel}: unknown output '${name}'`);
      const bytes = await readBuffer(device, buffers[name], spec.elements * BYTES);
      result[name] = makeArray(spec.dtype, bytes);
    }
    return result;
  } finally {
    for (const b of owned) b.destroy();
  }
}
