// Backend selection: preference, fallback order and the reasons shown in the UI.
import { describe, expect, it } from 'vitest';
import { getNodeGpu } from './node-webgpu.node.ts';
import { selectBackend } from './select.ts';
import { WebGpuBackend } from './webgpu.ts';

const nullAdapterGpu = { requestAdapter: async () => null } as unknown as GPU;

describe('selectBackend without a usable GPU', () => {
  it("'cpu' gives cpu", async () => {
    const s = await selectBackend('cpu', nullAdapterGpu);
    expect(s.backend.name).toBe('cpu');
    expect(s.reason).toBe('cpu backend requested');
  });
  it("'auto' without navigator.gpu falls back to cpu and says why", async () => {
    const s = await selectBackend('auto');
    expect(s.backend.name).toBe('cpu');
    expect(s.reason).toMatch(/no-webgpu/);
  });
  it("'webgpu' with navigator.gpu but a null adapter falls back to cpu", async () => {
    const s = await selectBackend('webgpu', nullAdapterGpu);
    expect(s.backend.name).toBe('cpu');
    expect(s.reason).toMatch(/requestAdapter\(\) returned null/);
  });
});

const node = await getNodeGpu();
const hasAdapter = !!(node.gpu && (await node.gpu.requestAdapter()));

describe.skipIf(!hasAdapter)('selectBackend with Node Dawn (SwiftShader)', () => {
  it("'webgpu' uses the software adapter and describes it", async () => {
    const s = await selectBackend('webgpu', node.gpu);
    expect(s.backend.name).toBe('webgpu');
    expect(s.reason).toMatch(/google \/ swiftshader.*fallback/);
    expect(s.adapter?.isFallbackAdapter).toBe(true);
    (s.backend as WebGpuBackend).dispose();
  });
  it("'auto' prefers cpu over a software fallback adapter, unless allowed", async () => {
    const s = await selectBackend('auto', node.gpu);
    expect(s.backend.name).toBe('cpu');
    expect(s.reason).toMatch(/software fallback/);
    expect(s.adapter?.architecture).toBe('swiftshader');
    const t = await selectBackend('auto', node.gpu, { allowFallbackAdapter: true });
    expect(t.backend.name).toBe('webgpu');
    (t.backend as WebGpuBackend).dispose();
  });
  it('falls back to cpu when the embedding table exceeds the adapter limits', async () => {
    const s = await selectBackend('webgpu', node.gpu, { model: { vocabSize: 4_000_000, dim: 100, hidden: 64 } });
    expect(s.backend.name).toBe('cpu');
    expect(s.reason).toMatch(/limits.*embedding table needs/);
    expect(s.adapter?.vendor).toBe('google');
  });
});
