// Backend choice with a fallback order (webgpu -> cpu), decided by probing: requestAdapter() and the adapter's
// limits, not merely the presence of navigator.gpu. The reason string is meant for the UI.
import type { BagRMParams } from '../pipeline/rm/types.ts';
import type { Backend } from './backend.ts';
import { cpuBackend } from './cpu/trainer.ts';
import { GpuUnavailableError, navigatorGpu, type CapabilityReport } from './device.ts';
import { createWebGpuBackend, type WebGpuBackendOptions } from './webgpu.ts';

export type BackendPreference = 'auto' | 'cpu' | 'webgpu';

export interface BackendSelection<P = BagRMParams> {
  backend: Backend<P>;
  /** Why this backend: the adapter in use, or why WebGPU was not used. */
  reason: string;
  /** The WebGPU adapter's capabilities whenever one was found (also when it was passed over). */
  adapter?: CapabilityReport;
}

export interface SelectOptions extends WebGpuBackendOptions {
  /**
   * For 'auto': accept a software/fallback adapter (SwiftShader). Default false, because on such adapters
   * the cpu backend trains faster; an explicit 'webgpu' preference always accepts it.
   */
  allowFallbackAdapter?: boolean;
}

/** The fallback order per preference: the first backend that can be created wins. */
export const FALLBACK_ORDER: Record<BackendPreference, readonly ('webgpu' | 'cpu')[]> = {
  auto: ['webgpu', 'cpu'],
  webgpu: ['webgpu', 'cpu'],
  cpu: ['cpu'],
};

/**
 * Picks a backend. `gpu` defaults to navigator.gpu (page or worker); pass Dawn's GPU in Node.
 * Never throws for an unavailable GPU: it falls back to cpu and says why.
 */
export async function selectBackend(pref: BackendPreference, gpu?: GPU | null, opts: SelectOptions = {}): Promise<BackendSelection> {
  const { allowFallbackAdapter, ...backendOpts } = opts;
  return selectFrom(pref, () => createWebGpuBackend(gpu === undefined ? navigatorGpu() : gpu, backendOpts), cpuBackend, { allowFallbackAdapter });
}

/** A webgpu backend of any model, as selectFrom needs it. */
export interface ProbedWebGpuBackend<P> extends Backend<P> {
  readonly report: CapabilityReport;
  dispose(): void;
}

/**
 * The fallback logic of selectBackend for any model's pair of backends (the bag RM's, the USE-lite RM's):
 * `makeWebGpu` creates the webgpu backend (throwing GpuUnavailableError with the reason), `cpu` is the fallback.
 */
export async function selectFrom<P>(
  pref: BackendPreference,
  makeWebGpu: () => Promise<ProbedWebGpuBackend<P>>,
  cpu: Backend<P>,
  opts: { allowFallbackAdapter?: boolean } = {},
): Promise<BackendSelection<P>> {
  const reasons: string[] = [];
  let adapter: CapabilityReport | undefined;
  for (const name of FALLBACK_ORDER[pref] ?? FALLBACK_ORDER.auto) {
    if (name === 'cpu') {
      const why = pref === 'cpu' ? 'cpu backend requested' : `using the cpu backend: ${reasons.join('; ')}`;
      await cpu.prepare?.();
      return { backend: cpu, reason: why, adapter };
    }
    try {
      const web = await makeWebGpu();
      adapter = web.report;
      if (pref === 'auto' && web.report.isFallbackAdapter && !opts.allowFallbackAdapter) {
        web.dispose();
        reasons.push(`the only WebGPU adapter is a software fallback (${web.report.vendor || '?'}/${web.report.architecture || '?'}), slower than the cpu backend`);
        continue;
      }
      return { backend: web, reason: web.info, adapter };
    } catch (e) {
      if (e instanceof GpuUnavailableError) {
        adapter = e.report ?? adapter;
        reasons.push(`WebGPU unavailable (${e.code}): ${e.message}`);
      } else {
        reasons.push(`WebGPU failed: ${(e as Error).message}`);
      }
    }
  }
  // Unreachable: every order ends with cpu.
  return { backend: cpu, reason: reasons.join('; '), adapter };
}
