// The webgpu trainer's plan and host bookkeeping, executed on the kernels' CPU twins, against the cpu backend
// (no GPU needed): same losses and parameters up to float32 rounding over a full run.
import { describe, expect, it } from 'vitest';
import { CpuTrainer } from '../../src/gpu/cpu/trainer.ts';
import { createTwinPlanTrainer } from '../helpers/twin-trainer.ts';
import { maxDiff, paritySetup } from './parity-data.ts';

describe('webgpu plan on CPU twins vs cpu trainer', () => {
  for (const freeze of [false, true]) {
    it(`30 steps, B=8, freezeEmbeddings=${freeze}`, async () => {
      const { params, items, batches, opt } = paritySetup({ freezeEmbeddings: freeze });
      const cpu = new CpuTrainer(params, opt);
      const twin = createTwinPlanTrainer(params, opt);
      let worst = 0;
      for (const b of batches) {
        const [a, c] = [await twin.step(items, b), await cpu.step(items, b)];
        worst = Math.max(worst, Math.abs(a.loss - c.loss) / Math.abs(c.loss));
      }
      expect(worst).toBeLessThan(1e-5);
      const [ct, cc] = [await twin.checkpoint(), await cpu.checkpoint()];
      expect(ct.step).toBe(cc.step);
      expect(Array.from(ct.rowStep)).toEqual(Array.from(cc.rowStep));
      for (const k of ['E', 'W1', 'b1', 'W2', 'b2'] as const) {
        expect(maxDiff(ct.params[k], cc.params[k]).abs, k).toBeLessThan(1e-4);
        expect(ct.m[k].length).toBe(cc.m[k].length);
      }
      const idx = Int32Array.from({ length: items.count }, (_, i) => i);
      expect(maxDiff(await twin.score(items, idx), await cpu.score(items, idx)).abs).toBeLessThan(1e-4);
    });
  }
});
