// Test helper: one WebGPU device per test file from Dawn (Node `webgpu` package + SwiftShader), or the reason
// there is none. Set SCPO_REQUIRE_WEBGPU=1 to turn "no adapter" into a failure instead of skipped tests.
import { acquireDevice, type GpuContext } from '../../src/gpu/device.ts';
import { getNodeGpu } from '../../src/gpu/node-webgpu.node.ts';
import { PipelineCache } from '../../src/gpu/kernels/runtime.ts';

export interface TestGpu {
  ctx: GpuContext | null;
  cache: PipelineCache | null;
  reason: string;
}

export async function getTestGpu(requiredBufferBytes = 0): Promise<TestGpu> {
  const { gpu, notes } = await getNodeGpu();
  try {
    const ctx = await acquireDevice(gpu, { requiredBufferBytes, label: 'kernel-tests' });
    ctx.device.addEventListener('uncapturederror', (ev) => {
      console.error('WebGPU uncaptured error:', (ev as GPUUncapturedErrorEvent).error.message);
    });
    return { ctx, cache: new PipelineCache(ctx.device), reason: `adapter: ${ctx.report.vendor}/${ctx.report.architecture}` };
  } catch (e) {
    const reason = `WebGPU unavailable: ${(e as Error).message}${notes.length ? ` [${notes.join('; ')}]` : ''}`;
    if (process.env.SCPO_REQUIRE_WEBGPU === '1') throw new Error(reason);
    console.warn(`[webgpu tests skipped] ${reason}`);
    return { ctx: null, cache: null, reason };
  }
}

/** Wraps a GPU round trip so validation errors (which WebGPU reports asynchronously) fail the test. */
export async function withErrorScope<T>(device: GPUDevice, fn: () => Promise<T>): Promise<T> {
  device.pushErrorScope('validation');
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('internal');
  let result: T;
  try {
    result = await fn();
  } finally {
    const errs = [await device.popErrorScope(), await device.popErrorScope(), await device.popErrorScope()].filter(Boolean);
    if (errs.length) throw new Error(`WebGPU error: ${errs.map((e) => e!.message).join(' | ')}`);
  }
  return result;
}
