// WebGPU adapter/device acquisition from a given `GPU` object (navigator.gpu in a page or worker, or Dawn's in
// Node), the capability report shown in the UI, limit checks against the bag RM's tensors, and device-lost
// handling as a typed error the trainer rejects pending calls with (so callers can fall back to cpu).
import type { BagRMConfig } from '../pipeline/rm/types.ts';

export interface CapabilityReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  limits: {
    maxBufferSize: number;
    maxStorageBufferBindingSize: number;
    maxComputeWorkgroupSizeX: number;
    maxComputeInvocationsPerWorkgroup: number;
    maxStorageBuffersPerShaderStage: number;
  };
  features: string[];
}

export type GpuUnavailableCode = 'no-webgpu' | 'no-adapter' | 'limits' | 'device-failed' | 'out-of-memory';

/** WebGPU cannot be used; `code` says why, `message` is fit for the UI. */
export class GpuUnavailableError extends Error {
  constructor(
    readonly code: GpuUnavailableCode,
    message: string,
    readonly report?: CapabilityReport,
  ) {
    super(message);
    this.name = 'GpuUnavailableError';
  }
}

/** The device was lost (driver reset, tab backgrounded, destroy()): every pending and later call rejects with it. */
export class GpuDeviceLostError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(`WebGPU device lost (${reason}): ${message}`);
    this.name = 'GpuDeviceLostError';
  }
}

/** Storage buffers one kernel binds at most (adamwSparse: 6); the WebGPU default guarantees 8. */
export const STORAGE_BUFFERS_NEEDED = 6;

/** Largest single buffer the bag RM needs: the embedding table (and each of its two Adam moments). */
export function largestBufferBytes(cfg: Pick<BagRMConfig, 'vocabSize' | 'dim' | 'hidden'>): number {
  return Math.max(cfg.vocabSize * cfg.dim, 2 * cfg.dim * cfg.hidden) * 4;
}

/** navigator.gpu where it exists (page or worker), else undefined. */
export function navigatorGpu(): GPU | undefined {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  return nav?.gpu ?? undefined;
}

export function capabilityReport(adapter: GPUAdapter): CapabilityReport {
  const info = adapter.info;
  const legacyFallback = (adapter as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  const l = adapter.limits;
  return {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description: info?.description ?? '',
    isFallbackAdapter: Boolean(info?.isFallbackAdapter ?? legacyFallback ?? false),
    limits: {
      maxBufferSize: l.maxBufferSize,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    },
    features: [...adapter.features].map(String).sort(),
  };
}

export function describeReport(r: CapabilityReport): string {
  const name = [r.vendor, r.architecture, r.description].filter(Boolean).join(' / ') || 'unknown adapter';
  const mib = (b: number) => `${Math.round(b / 2 ** 20)} MiB`;
  return `WebGPU: ${name}${r.isFallbackAdapter ? ' (fallback/software adapter)' : ''}; max buffer ${mib(r.limits.maxBufferSize)}, max storage binding ${mib(r.limits.maxStorageBufferBindingSize)}`;
}

/** Why the adapter's limits cannot hold a buffer of `bytes`, or null when they can. */
export function limitsProblem(report: CapabilityReport, bytes: number): string | null {
  const l = report.limits;
  const cap = Math.min(l.maxBufferSize, l.maxStorageBufferBindingSize);
  if (bytes > cap) {
    return `the embedding table needs a ${(bytes / 2 ** 20).toFixed(1)} MiB buffer but this adapter allows ${(cap / 2 ** 20).toFixed(1)} MiB (maxBufferSize ${l.maxBufferSize}, maxStorageBufferBindingSize ${l.maxStorageBufferBindingSize})`;
  }
  if (l.maxStorageBuffersPerShaderStage < STORAGE_BUFFERS_NEEDED) {
    return `maxStorageBuffersPerShaderStage is ${l.maxStorageBuffersPerShaderStage}, the kernels need ${STORAGE_BUFFERS_NEEDED}`;
  }
  if (l.maxComputeInvocationsPerWorkgroup < 256 || l.maxComputeWorkgroupSizeX < 256) {
    return `workgroups of 256 invocations are not supported`;
  }
  return null;
}

export interface GpuContext {
  adapter: GPUAdapter;
  device: GPUDevice;
  report: CapabilityReport;
  /** Resolves (never rejects) with the typed error when the device is lost; reason 'destroyed' after destroy(). */
  lost: Promise<GpuDeviceLostError>;
  /** Already lost (the error), or null. */
  readonly lostError: GpuDeviceLostError | null;
  destroy(): void;
}

export interface AcquireOptions {
  powerPreference?: GPUPowerPreference;
  /** Largest buffer the caller will create (see largestBufferBytes); limits are raised to fit or it fails. */
  requiredBufferBytes?: number;
  label?: string;
}

/** An adapter and a device, or a GpuUnavailableError with a reason for the UI. */
export async function acquireDevice(gpu: GPU | null | undefined, opts: AcquireOptions = {}): Promise<GpuContext> {
  if (!gpu) throw new GpuUnavailableError('no-webgpu', 'WebGPU is not available here (no navigator.gpu)');
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter(opts.powerPreference ? { powerPreference: opts.powerPreference } : undefined);
  } catch (e) {
    throw new GpuUnavailableError('no-adapter', `requestAdapter() failed: ${(e as Error).message}`);
  }
  if (!adapter) throw new GpuUnavailableError('no-adapter', 'requestAdapter() returned null (WebGPU disabled or no suitable GPU)');
  const report = capabilityReport(adapter);
  const bytes = opts.requiredBufferBytes ?? 0;
  const problem = limitsProblem(report, bytes);
  if (problem) throw new GpuUnavailableError('limits', problem, report);
  // Device defaults are lower than the adapter's (128 MiB binding, 256 MiB buffer); ask for the adapter's
  // maxima so a trainer for a bigger table can still be created on this device later.
  const requiredLimits: Record<string, number> = {
    maxStorageBufferBindingSize: report.limits.maxStorageBufferBindingSize,
    maxBufferSize: report.limits.maxBufferSize,
  };
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ label: opts.label ?? 'scpo', requiredLimits });
  } catch (e) {
    throw new GpuUnavailableError('device-failed', `requestDevice() failed: ${(e as Error).message}`, report);
  }
  let destroyed = false;
  let lostError: GpuDeviceLostError | null = null;
  const lost = device.lost.then((info) => {
    lostError = new GpuDeviceLostError(destroyed ? 'destroyed' : String(info.reason ?? 'unknown'), info.message || 'no message');
    return lostError;
  });
  return {
    adapter,
    device,
    report,
    lost,
    get lostError() {
      return lostError;
    },
    destroy() {
      destroyed = true;
      device.destroy();
    },
  };
}
