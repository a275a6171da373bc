// The experiment worker's fine-tuned `use-lite` run (tune lora|top): the bundled USE-lite weights (model.safetensors,
// fetched from public/models), the wasm-SIMD matmul in this worker (threads when the page is cross-origin isolated,
// else 1 with the reason said), the shared tune session (rm/use-lite/train-session.ts), the tuned country RMs kept
// for export (adapters merged on export). The frozen-encoder path (tune head) stays in use-lite-run.ts.
import type { Backend } from '../gpu/backend.ts';
import { describeReport, navigatorGpu } from '../gpu/device.ts';
import { selectUseLiteBackend } from '../gpu/use-lite-webgpu.ts';
import { createWasmMatOps } from '../gpu/wasm/matops.ts';
import type { ExperimentConfig, ExperimentEvent } from '../pipeline/experiment.ts';
import { fetchReader } from '../pipeline/rm/files.ts';
import { loadUseLite, type LoadedUseLite } from '../pipeline/rm/use-lite/files.ts';
import { DEFAULT_LORA, type LoraConfig, type TuneMode } from '../pipeline/rm/use-lite/spec.ts';
import { runUseLiteTuneSession, useLiteTunedRMFiles, type UseLiteTuneSessionOutput } from '../pipeline/rm/use-lite/train-session.ts';
import { useLiteCpuBackend, type UseLiteRM } from '../pipeline/rm/use-lite/train.ts';
import type { GradPeer } from '../pipeline/rm/use-lite/data-parallel.ts';
import { startBrowserUseLitePeers } from '../pipeline/rm/use-lite/data-parallel.browser.ts';
import type { BackendPref, BackendReport } from './protocol.ts';
import type { RunControl } from '../pipeline/train/loop.ts';
import { ConfigError, type Method, type PreferenceData } from '../pipeline/types.ts';
import { useLiteModelUrl } from './use-lite-run.ts';

export interface UseLiteTuneWorkerRun {
  data: PreferenceData;
  config: ExperimentConfig;
  tune: Exclude<TuneMode, 'head'>;
  seqLen?: number;
  lora?: LoraConfig;
  baseUrl: string;
  say: (m: string) => void;
  onEvent: (e: ExperimentEvent) => void;
  control: RunControl;
  /** The country runs' backend by select.ts's policy on this worker's navigator.gpu (default cpu). */
  backend?: BackendPref;
  /** Told which backend the country runs use, and why. */
  onBackend?: (report: BackendReport) => void;
}

/** What the worker keeps of a finished tuned run, for 'export-model'. */
export interface UseLiteTuned {
  kind: 'use-lite-tuned';
  model: LoadedUseLite;
  models: Map<string, UseLiteRM>;
  global: UseLiteRM;
  rmInfo: Record<string, unknown>;
  config: ExperimentConfig;
}

let weights: Promise<LoadedUseLite> | null = null;

export async function runUseLiteTuneInWorker(o: UseLiteTuneWorkerRun): Promise<{ session: UseLiteTuneSessionOutput; trained: UseLiteTuned }> {
  weights ??= loadUseLite(fetchReader(useLiteModelUrl(o.baseUrl)), { weights: true }).catch((e: unknown) => {
    weights = null;
    throw new ConfigError(`USE-lite model: ${e instanceof Error ? e.message : String(e)}`);
  });
  const model = await weights;
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  const wasmBaseUrl = new URL('wasm/', o.baseUrl).href;
  // Data-parallel peers (Web Workers with their own wasm instance: plain messages, no isolation needed) on the other
  // cores; if they cannot start, each matmul is split over threads instead (isolated pages only).
  const cores = Math.max(1, Math.min(4, (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1));
  let peers: GradPeer[] = [];
  let peerNote = '';
  if (cores > 1) {
    try {
      peers = await startBrowserUseLitePeers(cores - 1, wasmBaseUrl);
    } catch (e) {
      peerNote = ` (data-parallel workers did not start: ${(e as Error).message})`;
    }
  }
  const ops = await createWasmMatOps({ threads: peers.length ? 1 : isolated ? 'auto' : 1, baseUrl: wasmBaseUrl });
  o.say(
    `USE-lite ${o.tune === 'lora' ? 'LoRA' : 'top-layer'} fine-tuning on the wasm-SIMD matmul, ` +
      (peers.length
        ? `data-parallel over ${1 + peers.length} threads`
        : `${ops.threads} thread${ops.threads > 1 ? 's' : ''}` + (ops.fallback ? ` (${ops.fallback})` : isolated ? '' : ' (the page is not cross-origin isolated: no threads)')) +
      peerNote,
  );
  const models = new Map<string, UseLiteRM>();
  // The WGSL trainer when the preference and the adapter allow ('auto' passes over software adapters), else the
  // cpu trainer on this worker's wasm matmul, which is also where a run continues if the GPU device is lost.
  const cpu = useLiteCpuBackend({ ops, peers });
  let backend: (Backend<UseLiteRM> & { dispose?(): void }) | undefined;
  let report: BackendReport = { name: 'cpu', info: cpu.info, reason: 'cpu backend requested' };
  if ((o.backend ?? 'cpu') !== 'cpu') {
    const sel = await selectUseLiteBackend(o.backend!, cpu, navigatorGpu() ?? null);
    if (sel.backend.name === 'webgpu') backend = sel.backend;
    const info = sel.backend.name !== 'webgpu' && sel.adapter ? `${sel.backend.info}; WebGPU adapter not used: ${describeReport(sel.adapter)}` : sel.backend.info;
    report = { name: sel.backend.name, info, reason: sel.reason };
  }
  o.onBackend?.(report);
  try {
    const session = await runUseLiteTuneSession({
      backend,
      data: o.data,
      params: model.params!,
      tokenizer: model.tokenizer,
      ops,
      peers,
      config: o.config,
      tune: o.tune,
      lora: o.lora ?? DEFAULT_LORA,
      seqLen: o.seqLen,
      onEvent: o.onEvent,
      control: o.control,
      onModel: (c, m, rm) => void models.set(`${c}\u0000${m}`, rm),
    });
    return { session, trained: { kind: 'use-lite-tuned', model, models, global: session.globalRM, rmInfo: session.rmInfo, config: o.config } };
  } finally {
    backend?.dispose?.();
    ops.dispose();
    for (const p of peers) p.dispose();
  }
}

/** A tuned country RM ('start' = the global RM) as an HF-layout folder, adapters merged into the weights. */
export function exportUseLiteTuned(t: UseLiteTuned, country: string, method: Method): Record<string, Uint8Array> {
  const rm = method === 'start' ? t.global : t.models.get(`${country}\u0000${method}`);
  if (!rm) throw new ConfigError(`no trained model for ${country} · ${method} in the latest run`);
  return useLiteTunedRMFiles(rm, t.model.tokenizerJson, {
    country: method === 'start' ? null : country,
    method,
    global: t.rmInfo.globalRm,
    seed: t.config.seed,
    steps: t.config.steps,
    tau: t.config.tau,
    beta: t.config.beta,
  });
}
