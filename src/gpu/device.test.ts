// Adapter/device acquisition: the reasons given when WebGPU cannot be used (fakes), and the capability report
// of the real Node Dawn adapter (SwiftShader here; skipped with the reason when there is none).
import { describe, expect, it } from 'vitest';
import { acquireDevice, capabilityReport, GpuUnavailableError, largestBufferBytes, limitsProblem, type CapabilityReport } from './device.ts';
import { getNodeGpu } from './node-webgpu.node.ts';

const limits = {
  maxBufferSize: 256 * 2 ** 20,
  maxStorageBufferBindingSize: 128 * 2 ** 20,
  maxComputeWorkgroupSizeX: 256,
  maxComputeInvocationsPerWorkgroup: 256,
  maxStorageBuffersPerShaderStage: 8,
};

function fakeGpu(adapter: unknown): GPU {
  return { requestAdapter: async () => adapter } as unknown as GPU;
}

function fakeAdapter(over: Partial<typeof limits> = {}, requestDevice?: () => Promise<GPUDevice>): unknown {
  return {
    info: { vendor: 'acme', architecture: 'rdna9', device: '', description: 'Acme GPU', isFallbackAdapter: false },
    limits: { ...limits, ...over },
    features: new Set(['timestamp-query']),
    requestDevice: requestDevice ?? (async () => Promise.reject(new Error('boom'))),
  };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    expect(e).toBeInstanceOf(GpuUnavailableError);
    return `${(e as GpuUnavailableError).code}: ${(e as Error).message}`;
  }
}

describe('acquireDevice reasons', () => {
  it('no navigator.gpu', async () => {
    expect(await codeOf(acquireDevice(undefined))).toMatch(/^no-webgpu: .*navigator\.gpu/);
  });
  it('requestAdapter() returns null', async () => {
    expect(await codeOf(acquireDevice(fakeGpu(null)))).toMatch(/^no-adapter: requestAdapter\(\) returned null/);
  });
  it('requestAdapter() throws', async () => {
    const gpu = { requestAdapter: async () => Promise.reject(new Error('blocked')) } as unknown as GPU;
    expect(await codeOf(acquireDevice(gpu))).toMatch(/^no-adapter: .*blocked/);
  });
  it('limits too small for the embedding table', async () => {
    const bytes = largestBufferBytes({ vocabSize: 400_000, dim: 100, hidden: 64 });
    expect(bytes).toBe(160_000_000);
    const msg = await codeOf(acquireDevice(fakeGpu(fakeAdapter()), { requiredBufferBytes: bytes }));
    expect(msg).toMatch(/^limits: the embedding table needs a 152\.6 MiB buffer but this adapter allows 128\.0 MiB/);
  });
  it('too few storage buffers per stage', () => {
    const r = capabilityReport(fakeAdapter({ maxStorageBuffersPerShaderStage: 4 }) as GPUAdapter);
    expect(limitsProblem(r, 16)).toMatch(/maxStorageBuffersPerShaderStage is 4/);
  });
  it('requestDevice() fails', async () => {
    expect(await codeOf(acquireDevice(fakeGpu(fakeAdapter())))).toMatch(/^device-failed: .*boom/);
  });
  it('capability report of an adapter', () => {
    const r: CapabilityReport = capabilityReport(fakeAdapter() as GPUAdapter);
    expect(r).toEqual({
      vendor: 'acme',
      architecture: 'rdna9',
      device: '',
      description: 'Acme GPU',
      isFallbackAdapter: false,
      limits,
      features: ['timestamp-query'],
    });
  });
});

const node = await getNodeGpu();
const adapter = node.gpu ? await node.gpu.requestAdapter() : null;

describe.skipIf(!adapter)(`Node Dawn adapter [${adapter ? 'present' : `none: ${node.notes.join('; ')}`}]`, () => {
  it('reports SwiftShader as a fallback adapter with 1 GiB buffers', () => {
    const r = capabilityReport(adapter!);
    expect(r.vendor).toBe('google');
    expect(r.architecture).toBe('swiftshader');
    expect(r.isFallbackAdapter).toBe(true);
    expect(r.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(2 ** 30);
    expect(r.limits.maxComputeInvocationsPerWorkgroup).toBeGreaterThanOrEqual(256);
    expect(r.features).toContain('timestamp-query');
    expect(r.features).not.toContain('shader-f16');
  });
  it('gets a device with raised buffer limits and reports its loss on destroy()', async () => {
    const ctx = await acquireDevice(node.gpu, { requiredBufferBytes: 200 * 2 ** 20 });
    expect(ctx.device.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(200 * 2 ** 20);
    expect(ctx.lostError).toBeNull();
    ctx.destroy();
    const lost = await ctx.lost;
    expect(lost.reason).toBe('destroyed');
    expect(ctx.lostError).toBe(lost);
  });
});
