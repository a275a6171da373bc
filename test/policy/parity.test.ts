// Parity of the policy's training step: the webgpu trainer (Node Dawn + SwiftShader) and the same kernel plan on
// the CPU twins against the cpu trainer. Same init, same batches (supervised 1/n weights, then signed PPO-style
// weights): per-step losses within 1e-4 relative, logits and final parameters within 1e-4 absolute.
import { afterAll, describe, expect, it } from 'vitest';
import { TwinExecutor, type PlanExecutor } from '../../src/gpu/kernels/plan.ts';
import { GpuPlanExecutor } from '../../src/gpu/webgpu.ts';
import { PipelineCache } from '../../src/gpu/kernels/runtime.ts';
import { initMlpLm, type MlpLmParams } from '../../src/pipeline/policy/lm.ts';
import { Rng } from '../../src/pipeline/rng.ts';
import { CpuPolicyTrainer, type PolicyTrainer } from '../../src/pipeline/policy/trainer.ts';
import { WebGpuPolicyTrainer } from '../../src/pipeline/policy/trainer-webgpu.ts';
import { tinyBatch } from '../helpers/policy.ts';
import { vocabFromWords } from '../../src/pipeline/policy/vocab.ts';
import { getTestGpu, withErrorScope } from '../kernels/gpu.ts';

const gpu = await getTestGpu();

function setup(shape: { words: number; outWords: number; dim: number; context: number; hidden: number }) {
  const words = Array.from({ length: shape.words }, (_, i) => `w${i}`);
  const vocab = vocabFromWords(words, words.slice(0, shape.outWords));
  const rng = new Rng(9);
  const params = initMlpLm(vocab, { dim: shape.dim, context: shape.context, hidden: shape.hidden, maxPromptTokens: 16 }, 1, () =>
    Array.from({ length: shape.dim }, () => rng.normal() * 0.5),
  );
  for (let i = 0; i < params.b2.length; i++) params.b2[i] = rng.normal() * 0.2;
  for (let i = 0; i < params.W2.length; i++) params.W2[i] *= 5;
  const batches = [
    ...Array.from({ length: 4 }, (_, s) => tinyBatch(vocab, shape.context, 100 + s, 6, false)),
    ...Array.from({ length: 3 }, (_, s) => tinyBatch(vocab, shape.context, 200 + s, 6, true)),
  ];
  return { vocab, params, batches };
}

const opt = { lr: 3e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, freezeEmbeddings: false };

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function compare(name: string, make: (p: MlpLmParams) => PolicyTrainer, shape: Parameters<typeof setup>[0]) {
  const { params, batches } = setup(shape);
  const cpu = new CpuPolicyTrainer(params, opt);
  const other = make(params);
  let worst = 0;
  const rows: string[] = [];
  for (let s = 0; s < batches.length; s++) {
    const la = await other.logits(batches[s]);
    const lb = await cpu.logits(batches[s]);
    const dl = maxAbs(la, lb);
    expect(dl, `logits before step ${s + 1}`).toBeLessThan(1e-4);
    const a = await other.step(batches[s]);
    const b = await cpu.step(batches[s]);
    const rel = Math.abs(a.loss - b.loss) / Math.max(Math.abs(b.loss), 1e-6);
    worst = Math.max(worst, rel);
    rows.push(`  step ${s + 1} (${batches[s].n} tokens): ${other.backend} ${a.loss.toPrecision(8)} cpu ${b.loss.toPrecision(8)} rel ${rel.toExponential(2)} logits ${dl.toExponential(2)}`);
  }
  const [pa, pb] = [await other.params(), await cpu.params()];
  const diffs = (['E', 'W1', 'b1', 'W2', 'b2'] as const).map((k) => [k, maxAbs(pa[k], pb[k])] as const);
  console.log(`policy step parity [${name}]: max loss rel diff ${worst.toExponential(2)}\n${rows.join('\n')}\n  params max abs diff: ${diffs.map(([k, d]) => `${k} ${d.toExponential(2)}`).join(', ')}`);
  expect(worst).toBeLessThan(1e-4);
  for (const [k, d] of diffs) expect(d, k).toBeLessThan(1e-4);
  expect(other.steps).toBe(cpu.steps);
  other.dispose();
}

const SMALL = { words: 40, outWords: 25, dim: 8, context: 3, hidden: 12 };
const POLICY_SIZED = { words: 388, outWords: 343, dim: 100, context: 3, hidden: 128 };

describe('policy training step: kernel plan on the CPU twins vs the cpu trainer', () => {
  it('small shapes', async () => {
    await compare('twins, small', (p) => new WebGpuPolicyTrainer(new TwinExecutor(), p, opt), SMALL);
  });
});

describe.skipIf(!gpu.ctx)(`policy training step: webgpu vs cpu [${gpu.reason}]`, () => {
  const exec = (): PlanExecutor => new GpuPlanExecutor(gpu.ctx!.device, new PipelineCache(gpu.ctx!.device));
  it('small shapes', async () => {
    await withErrorScope(gpu.ctx!.device, () => compare('webgpu, small', (p) => new WebGpuPolicyTrainer(exec(), p, opt), SMALL));
  });
  it('the bundled policy\'s shapes (V_in 391, D 100, H 128, V_out 345)', async () => {
    await withErrorScope(gpu.ctx!.device, () => compare('webgpu, policy-sized', (p) => new WebGpuPolicyTrainer(exec(), p, opt), POLICY_SIZED));
  });
});

afterAll(() => gpu.ctx?.destroy());
