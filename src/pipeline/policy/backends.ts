// Choosing the policy trainer: webgpu (the WGSL kernels, when an adapter is found) with cpu fallback, decided by
// probing requestAdapter() like src/gpu/select.ts; the reason string is for the UI and the CLI.
import type { OptimizerConfig } from '../rm/types.ts';
import type { MlpLmParams } from './lm.ts';
import { CpuPolicyTrainer, type PolicyTrainer } from './trainer.ts';

export type PolicyTrainerFactory = (init: MlpLmParams, opt: OptimizerConfig) => Promise<PolicyTrainer>;

export const cpuPolicyTrainerFactory: PolicyTrainerFactory = async (init, opt) => new CpuPolicyTrainer(init, opt);

export interface PolicyBackendSelection {
  name: 'cpu' | 'webgpu';
  factory: PolicyTrainerFactory;
  reason: string;
}

/**
 * 'webgpu' tries the GPU (navigator.gpu by default; Dawn's GPU in Node) and falls back to cpu with the reason;
 * 'cpu' is the deterministic reference. Never throws for a missing GPU. WebGPU trainers fall back to cpu if the
 * device is lost mid-run (FallbackPolicyTrainer; `onFallback` gets the reason).
 */
export async function selectPolicyTrainerFactory(
  pref: 'cpu' | 'webgpu' | 'auto',
  gpu?: GPU | null,
  onFallback?: (reason: string) => void,
): Promise<PolicyBackendSelection> {
  if (pref === 'cpu') return { name: 'cpu', factory: cpuPolicyTrainerFactory, reason: 'cpu requested' };
  try {
    const { acquireDevice, navigatorGpu } = await import('../../gpu/device.ts');
    const { webGpuPolicyTrainerFactory } = await import('./trainer-webgpu.ts');
    const ctx = await acquireDevice(gpu === undefined ? navigatorGpu() : gpu, { label: 'scpo-policy' });
    const r = ctx.report;
    if (pref === 'auto' && r.isFallbackAdapter) {
      ctx.destroy();
      return { name: 'cpu', factory: cpuPolicyTrainerFactory, reason: `only a software WebGPU adapter (${r.vendor}/${r.architecture}); cpu is faster` };
    }
    return { name: 'webgpu', factory: withCpuFallback(webGpuPolicyTrainerFactory(ctx), onFallback), reason: `webgpu: ${r.vendor || '?'}/${r.architecture || '?'}${r.isFallbackAdapter ? ' (software fallback adapter)' : ''}` };
  } catch (e) {
    return { name: 'cpu', factory: cpuPolicyTrainerFactory, reason: `using cpu: WebGPU unavailable (${(e as Error).message})` };
  }
}

/**
 * A webgpu policy trainer that survives losing its device: on a GpuDeviceLostError (or GpuUnavailableError) from
 * logits/step/params it continues on a fresh cpu trainer from the last parameters it handed out (params() is
 * called once per PPO iteration and at the end of supervised training), repeats the failed call there, and
 * reports the switch. Adam moments restart, and steps since that snapshot are redone by the caller's next
 * iteration only in the sense that they are lost: a documented, bounded cost (at most one PPO iteration).
 */
export class FallbackPolicyTrainer implements PolicyTrainer {
  private current: PolicyTrainer;
  private snapshot: MlpLmParams;
  private lostSteps = 0;
  fellBack: string | null = null;

  constructor(
    primary: PolicyTrainer,
    init: MlpLmParams,
    private readonly opt: OptimizerConfig,
    private readonly onFallback?: (reason: string) => void,
  ) {
    this.current = primary;
    this.snapshot = init;
  }

  get backend(): 'cpu' | 'webgpu' {
    return this.current.backend;
  }

  get steps(): number {
    return this.current.steps + this.lostSteps;
  }

  private async guard<T>(fn: (t: PolicyTrainer) => Promise<T>): Promise<T> {
    try {
      return await fn(this.current);
    } catch (e) {
      const name = (e as Error).name;
      if (this.current.backend === 'cpu' || (name !== 'GpuDeviceLostError' && name !== 'GpuUnavailableError')) throw e;
      const reason = `webgpu lost (${(e as Error).message}); continuing on cpu from the last parameter snapshot`;
      this.fellBack = reason;
      this.lostSteps = this.current.steps;
      try {
        this.current.dispose();
      } catch {
        // already gone
      }
      this.current = new CpuPolicyTrainer(this.snapshot, this.opt);
      this.onFallback?.(reason);
      return fn(this.current);
    }
  }

  logits(batch: Parameters<PolicyTrainer['logits']>[0]): Promise<Float32Array> {
    return this.guard((t) => t.logits(batch));
  }

  step(batch: Parameters<PolicyTrainer['step']>[0]) {
    return this.guard((t) => t.step(batch));
  }

  async params(): Promise<MlpLmParams> {
    const p = await this.guard((t) => t.params());
    this.snapshot = p;
    return p;
  }

  dispose(): void {
    this.current.dispose();
  }
}

/** Wraps a factory so its trainers fall back to cpu when the device is lost. */
export function withCpuFallback(factory: PolicyTrainerFactory, onFallback?: (reason: string) => void): PolicyTrainerFactory {
  return async (init, opt) => {
    try {
      const t = await factory(init, opt);
      return t.backend === 'cpu' ? t : new FallbackPolicyTrainer(t, init, opt, onFallback);
    } catch (e) {
      onFallback?.(`webgpu trainer could not be created (${(e as Error).message}); using cpu`);
      return new CpuPolicyTrainer(init, opt);
    }
  };
}
