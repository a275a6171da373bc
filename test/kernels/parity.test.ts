// Parity of the webgpu trainer (Node Dawn + SwiftShader) with the cpu trainer: same init, same 30 batches of
// B=8 (V=500, D=100, H=64, 0-40 tokens per list with repeats and empty lists): per-step losses within 1e-4
// relative, final parameters close. Prints the numbers for the report.
import { afterAll, describe, expect, it } from 'vitest';
import { CpuTrainer } from '../../src/gpu/cpu/trainer.ts';
import { WebGpuBackend } from '../../src/gpu/webgpu.ts';
import { getTestGpu } from './gpu.ts';
import { maxDiff, paritySetup } from './parity-data.ts';

const gpu = await getTestGpu();
// SCPO_PARITY_STEPS=300 runs a longer check (30 by default keeps the suite quick on SwiftShader).
const steps = Number(process.env.SCPO_PARITY_STEPS ?? 30);
const backend = gpu.ctx ? new WebGpuBackend(gpu.ctx) : null;

describe.skipIf(!backend)(`webgpu vs cpu trainer parity [${gpu.reason}]`, () => {
  const cases = [
    { name: 'trainable embeddings', setup: { steps } },
    { name: 'frozen embeddings', setup: { steps, freezeEmbeddings: true } },
    { name: 'odd shapes: D=3, H=3, B=7', setup: { steps, dim: 3, hidden: 3, B: 7 } },
    { name: 'B=1', setup: { steps, B: 1 } },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const { params, items, batches, opt } = paritySetup(c.setup);
      const cpu = new CpuTrainer(params, opt);
      const web = await backend!.createTrainer(params, opt);
      let worstRel = 0;
      const rows: string[] = [];
      for (let s = 0; s < batches.length; s++) {
        const a = await web.step(items, batches[s]);
        const b = await cpu.step(items, batches[s]);
        const rel = Math.abs(a.loss - b.loss) / Math.max(Math.abs(b.loss), 1e-12);
        worstRel = Math.max(worstRel, rel);
        if (s < 3 || s === batches.length - 1) rows.push(`  step ${s + 1}: webgpu ${a.loss.toPrecision(9)} cpu ${b.loss.toPrecision(9)} rel ${rel.toExponential(2)}`);
      }
      const [cw, cc] = [await web.checkpoint(), await cpu.checkpoint()];
      const diffs = (['E', 'W1', 'b1', 'W2', 'b2'] as const).map((k) => {
        const d = maxDiff(cw.params[k], cc.params[k]);
        return `${k} ${d.abs.toExponential(2)}`;
      });
      const mdiffs = (['E', 'W1'] as const).map((k) => `m.${k} ${maxDiff(cw.m[k], cc.m[k]).abs.toExponential(2)}`);
      const idx = Int32Array.from({ length: items.count }, (_, i) => i);
      const sd = maxDiff(await web.score(items, idx), await cpu.score(items, idx));
      console.log(
        `parity [${c.name}]: ${batches.length} steps, max per-step loss rel diff ${worstRel.toExponential(2)}\n${rows.join('\n')}\n` +
          `  final params max abs diff: ${diffs.join(', ')}; ${mdiffs.join(', ')}; scores max abs diff ${sd.abs.toExponential(2)}`,
      );
      expect(worstRel).toBeLessThan(1e-4);
      expect(cw.step).toBe(cc.step);
      expect(Array.from(cw.rowStep)).toEqual(Array.from(cc.rowStep));
      for (const k of ['E', 'W1', 'b1', 'W2', 'b2'] as const) expect(maxDiff(cw.params[k], cc.params[k]).abs, k).toBeLessThan(1e-4);
      expect(sd.abs).toBeLessThan(1e-4);
      web.dispose();
    });
  }
});

afterAll(() => gpu.ctx?.destroy());
