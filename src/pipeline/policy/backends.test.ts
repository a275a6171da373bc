// Policy backend choice and failover: cpu on request or without a GPU (with the reason), and a trainer whose device
// is lost mid-run continues on cpu from its last parameter snapshot.
import { describe, expect, it } from 'vitest';
import { GpuDeviceLostError } from '../../gpu/device.ts';
import { FallbackPolicyTrainer, selectPolicyTrainerFactory, withCpuFallback } from './backends.ts';
import type { LmBatch, MlpLmParams } from './lm.ts';
import { tinyBatch, tinyModel, tinyVocab } from '../../../test/helpers/policy.ts';
import { CpuPolicyTrainer, DEFAULT_POLICY_OPTIMIZER, type PolicyTrainer } from './trainer.ts';

/** A cpu trainer posing as webgpu whose device is lost at step `failAt`. */
class FlakyTrainer implements PolicyTrainer {
  readonly backend = 'webgpu' as const;
  private inner: CpuPolicyTrainer;
  constructor(
    p: MlpLmParams,
    private readonly failAt: number,
  ) {
    this.inner = new CpuPolicyTrainer(p, DEFAULT_POLICY_OPTIMIZER);
  }
  get steps() {
    return this.inner.steps;
  }
  logits(b: LmBatch) {
    return this.inner.logits(b);
  }
  async step(b: LmBatch) {
    if (this.inner.steps + 1 === this.failAt) throw new GpuDeviceLostError('unknown', 'test');
    return this.inner.step(b);
  }
  params() {
    return this.inner.params();
  }
  dispose() {}
}

describe('policy backends', () => {
  it('cpu on request; webgpu without a GPU falls back with a reason', async () => {
    expect((await selectPolicyTrainerFactory('cpu')).name).toBe('cpu');
    const s = await selectPolicyTrainerFactory('webgpu', null);
    expect(s.name).toBe('cpu');
    expect(s.reason).toMatch(/WebGPU unavailable/);
  });

  it('a lost device mid-run continues on cpu from the last snapshot', async () => {
    const p = tinyModel(41);
    const vocab = tinyVocab();
    const reasons: string[] = [];
    const t = new FallbackPolicyTrainer(new FlakyTrainer(p, 3), p, DEFAULT_POLICY_OPTIMIZER, (r) => reasons.push(r));
    const b = (s: number) => tinyBatch(vocab, p.config.context, s);
    await t.step(b(1));
    const snap = await t.params();
    await t.step(b(2));
    expect(t.backend).toBe('webgpu');
    await t.step(b(3)); // device lost here: replayed on cpu from `snap`
    expect(t.backend).toBe('cpu');
    expect(reasons[0]).toMatch(/webgpu lost/);
    // Equals a cpu trainer started from the snapshot that took the failed step.
    const ref = new CpuPolicyTrainer(snap, DEFAULT_POLICY_OPTIMIZER);
    await ref.step(b(3));
    expect(Array.from((await t.params()).W2)).toEqual(Array.from((await ref.params()).W2));
    expect(t.steps).toBe(3);
  });

  it('other errors are not swallowed', async () => {
    const p = tinyModel(42);
    const bad = withCpuFallback(async () => {
      throw new Error('no device');
    });
    const t = await bad(p, DEFAULT_POLICY_OPTIMIZER);
    expect(t.backend).toBe('cpu');
    const f = new FallbackPolicyTrainer(new FlakyTrainer(p, 99), p, DEFAULT_POLICY_OPTIMIZER);
    await expect(f.step({ ...tinyBatch(tinyVocab(), 2, 1), target: Int32Array.from([999]) , n: 1, ctx: new Int32Array(2), promptOffsets: new Int32Array(2), promptIds: new Int32Array(0), weight: new Float32Array(1) })).rejects.toThrow(/target 999/);
  });
});
