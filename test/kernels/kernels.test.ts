// Runs every JSON kernel case on the CPU twin (always) and on WebGPU (Node Dawn + SwiftShader; skipped with the
// reason printed when there is no adapter). Every case has an expected value independent of the twin: hand-computed
// in the case file, or, for generated cases ("expected": "twin"), the float64 reference of test/kernels/reference.ts.
// Both the twin and the GPU are checked against it (and the GPU against the twin).
import { afterAll, describe, expect, it } from 'vitest';
import { KERNELS, OP_TABLE } from '../../src/gpu/kernels/index.ts';
import { runProgram } from '../../src/gpu/kernels/runtime.ts';
import { compareOutputs, ErrorStats, loadCaseFiles, materialize, skipReason, type Comparison } from './runner.ts';
import { getTestGpu, withErrorScope } from './gpu.ts';
import { REFERENCES } from './reference.ts';

const files = loadCaseFiles();
const gpu = await getTestGpu();
const stats = new ErrorStats();

function expectMatch(c: Comparison, what: string): void {
  if (c.mismatches.length) {
    const lines = c.mismatches.map((m) => `  ${m.output}[${m.index}]: got ${m.got}, want ${m.want}`).join('\n');
    expect.fail(`${what}: ${c.mismatches.length}+ mismatches (maxAbs ${c.maxAbs}, maxRel ${c.maxRel})\n${lines}`);
  }
}

/**
 * Ops whose generated cases have no float64 reference yet: their GPU output is checked against the twin only, and
 * the twin's generated cases are skipped (comparing the twin with itself proves nothing). Left: attention and layer
 * norm of the USE-lite transformer; each reference added to test/kernels/reference.ts must remove its op from this
 * list, and no new op can join it silently (the coverage test below pins it).
 */
const TWIN_ONLY = new Set<string>([]);

/** The case's independent expected outputs: hand-computed, else the op's float64 reference; null when twin-only. */
function expectedOf(op: string, c: (typeof files)[number]['cases'][number], dims: Record<string, number | boolean>, inputs: Record<string, ArrayLike<number> | undefined>) {
  if (c.expected !== 'twin') return c.expected;
  const ref = REFERENCES[op];
  if (!ref) {
    if (TWIN_ONLY.has(op)) return null;
    throw new Error(`${op}: generated case "${c.name}" needs an independent expected value: add a float64 reference to test/kernels/reference.ts`);
  }
  return ref(dims, inputs);
}

describe('OP_TABLE (the gradient review table in kernels/index.ts)', () => {
  it('names only registered kernels, and lists every registered training kernel', () => {
    // Evaluation-only kernels have no gradient to review.
    const evalOnly = new Set(['reduceSum', 'pairAccuracy']);
    const named = OP_TABLE.flatMap((r) => [r.forward, r.backward]).filter((k): k is NonNullable<typeof k> => k !== null);
    for (const k of named) expect(KERNELS[k], `${k} in OP_TABLE`).toBeDefined();
    for (const k of Object.keys(KERNELS)) if (!evalOnly.has(k)) expect(named, `kernel ${k} missing from OP_TABLE`).toContain(k);
  });
});

describe('kernel references', () => {
  it('every op with generated cases has a float64 reference, except the listed twin-only ones', () => {
    const missing = files.filter((f) => f.cases.some((c) => c.expected === 'twin') && !REFERENCES[f.op]).map((f) => f.op).sort();
    expect(missing).toEqual([...TWIN_ONLY].filter((op) => !REFERENCES[op]).sort());
    for (const op of TWIN_ONLY) expect(REFERENCES[op], `${op} has a reference now: remove it from TWIN_ONLY`).toBeUndefined();
  });
});

for (const file of files) {
  const kernel = KERNELS[file.op];
  describe(`${file.op} (${file.cases.length} cases)`, () => {
    for (const c of file.cases) {
      const tol = c.tolerance ?? file.tolerance;
      const cpuSkip =
        skipReason(file, c.name, 'cpu') ??
        (c.expected === 'twin' && !REFERENCES[file.op] && TWIN_ONLY.has(file.op) ? 'twin-only op: no float64 reference yet (GPU checked against the twin)' : null);
      it.skipIf(!!cpuSkip)(`cpu twin: ${c.name}${cpuSkip ? ` [skip: ${cpuSkip}]` : ''}`, () => {
        const { dims, inputs } = materialize(kernel, c);
        kernel.validate(dims);
        const out = kernel.cpu(dims, inputs);
        const want = expectedOf(file.op, c, dims, inputs);
        if (!want) return;
        const cmp = compareOutputs(out, want, tol);
        const what = c.expected === 'twin' ? 'f64 reference' : 'hand-computed';
        stats.add(`${file.op} cpu-vs-${c.expected === 'twin' ? 'ref' : 'hand'}`, cmp);
        expectMatch(cmp, `twin vs ${what}`);
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
        const want = expectedOf(file.op, c, dims, inputs);
        if (want) {
          const cmp = compareOutputs(got, want, tol);
          stats.add(`${file.op} gpu-vs-${c.expected === 'twin' ? 'ref' : 'hand'}`, cmp);
          expectMatch(cmp, `webgpu vs ${c.expected === 'twin' ? 'f64 reference' : 'hand-computed'}`);
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
