// Runs every JSON kernel case on the CPU twin (always) and on WebGPU (Node Dawn + SwiftShader; skipped with the
// reason printed when there is no adapter). Hand-computed expectations are checked against both.
import { afterAll, describe, expect, it } from 'vitest';
import { KERNELS } from '../../src/gpu/kernels/index.ts';
import { runProgram } from '../../src/gpu/kernels/runtime.ts';
import { compareOutputs, ErrorStats, loadCaseFiles, materialize, skipReason, type Comparison } from './runner.ts';
import { getTestGpu, withErrorScope } from './gpu.ts';

const files = loadCaseFiles();
const gpu = await getTestGpu();
const stats = new ErrorStats();

function expectMatch(c: Comparison, what: string): void {
  if (c.mismatches.length) {
    const lines = c.mismatches.map((m) => `  ${m.output}[${m.index}]: got ${m.got}, want ${m.want}`).join('\n');
    expect.fail(`${what}: ${c.mismatches.length}+ mismatches (maxAbs ${c.maxAbs}, maxRel ${c.maxRel})\n${lines}`);
  }
}

for (const file of files) {
  const kernel = KERNELS[file.op];
  describe(`${file.op} (${file.cases.length} cases)`, () => {
    for (const c of file.cases) {
      const tol = c.tolerance ?? file.tolerance;
      const cpuSkip = skipReason(file, c.name, 'cpu');
      it.skipIf(!!cpuSkip)(`cpu twin: ${c.name}${cpuSkip ? ` [skip: ${cpuSkip}]` : ''}`, () => {
        const { dims, inputs } = materialize(kernel, c);
        kernel.validate(dims);
        const out = kernel.cpu(dims, inputs);
        if (c.expected !== 'twin') {
          const cmp = compareOutputs(out, c.expected, tol);
          stats.add(`${file.op} cpu-vs-hand`, cmp);
          expectMatch(cmp, 'twin vs hand-computed');
        }
      });
      const gpuSkip = skipReason(file, c.name, 'webgpu') ?? (gpu.ctx ? null : gpu.reason);
      it.skipIf(!!gpuSkip)(`webgpu: ${c.name}${gpuSkip ? ` [skip: ${gpuSkip}]` : ''}`, async () => {
        const { device } = gpu.ctx!;
        const { dims, inputs } = materialize(kernel, c);
        const program = kernel.program(dims);
        const got = await withErrorScope(device, () => runProgram(device, gpu.cache!, program, inputs, kernel.outputs));
        const twin = kernel.cpu(dims, inputs);
        const cmpTwin = compareOutputs(got, twin, tol);
        stats.add(`${file.op} gpu-vs-twin`, cmpTwin);
        expectMatch(cmpTwin, 'webgpu vs twin');
        if (c.expected !== 'twin') {
          const cmp = compareOutputs(got, c.expected, tol);
          stats.add(`${file.op} gpu-vs-hand`, cmp);
          expectMatch(cmp, 'webgpu vs hand-computed');
        }
      });
    }
  });
}

describe('pipeline cache', () => {
  it.skipIf(!gpu.ctx)('compiles one module per key and reuses it across batch sizes', async () => {
    const { PipelineCache } = await import('../../src/gpu/kernels/runtime.ts');
    const cache = new PipelineCache(gpu.ctx!.device);
    const k = KERNELS.denseForward;
    for (const M of [1, 7, 16]) cache.get(k.program({ M, K: 5, N: 3 }));
    cache.get(k.program({ M: 4, K: 6, N: 3 }));
    expect(cache.compiled).toBe(2);
  });
});

afterAll(() => {
  console.log(`kernel error summary (${gpu.reason}):\n${stats.table()}`);
  gpu.ctx?.destroy();
});
