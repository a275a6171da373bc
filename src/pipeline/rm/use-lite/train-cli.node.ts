// The CLI's `--rm use-lite --tune lora|top` run (Node only): loads the USE-lite weights (model.safetensors) and
// tokenizer from public/models/scpo-use-lite-rm, starts the cpu trainer's threads (both cores by default) and runs
// the tune session. Kept apart from cli.ts so the CLI stays a thin flag parser.
//
// Threads: this thread runs a one-thread wasm matmul and threads - 1 data-parallel peers (worker threads with their
// own wasm instance, data-parallel.node.ts) share every step's micro-batches and every scoring pass. Measured on
// this 2-core machine (bench/use-lite-train.ts) that scales better than splitting each gemm over threads, which
// stays the fallback when the peers cannot start.
import { availableParallelism } from 'node:os';
import type { Backend } from '../../../gpu/backend.ts';
import { describeReport } from '../../../gpu/device.ts';
import { getNodeGpu } from '../../../gpu/node-webgpu.node.ts';
import type { BackendPreference } from '../../../gpu/select.ts';
import { selectUseLiteBackend } from '../../../gpu/use-lite-webgpu.ts';
import { createWasmMatOps } from '../../../gpu/wasm/matops.ts';
import type { CompletedRuns, ExperimentConfig, ExperimentEvent } from '../../experiment.ts';
import { ConfigError, type PreferenceData } from '../../types.ts';
import { loadUseLiteModel } from '../../use-lite-cli.node.ts';
import type { LoraConfig, TuneMode } from './spec.ts';
import { runUseLiteTuneSession, type UseLiteTuneSessionOutput } from './train-session.ts';
import { useLiteCpuBackend, type UseLiteRM } from './train.ts';
import type { GradPeer } from './data-parallel.ts';
import { startUseLitePeers } from './data-parallel.node.ts';

export interface UseLiteTuneCliRun {
  data: PreferenceData;
  config: ExperimentConfig;
  tune: Exclude<TuneMode, 'head'>;
  lora: LoraConfig;
  seqLen?: number;
  /** cpu trainer threads (default: the cores, at most 4): this one plus threads - 1 data-parallel peers. */
  threads?: number;
  /** The country runs' backend by select.ts's policy (default cpu): webgpu runs the WGSL trainer, cpu is its fallback. */
  backend?: BackendPreference;
  onEvent: (e: ExperimentEvent) => void;
  /** Finished runs to reuse (`--resume`). */
  completed?: CompletedRuns;
  log: (s: string) => void;
  modelDir?: string;
}

export async function runUseLiteTuneCli(o: UseLiteTuneCliRun): Promise<UseLiteTuneSessionOutput> {
  const model = await loadUseLiteModel(o.modelDir, { weights: true });
  if (!model.params) throw new ConfigError('USE-lite model: model.safetensors (the training weights) is missing');
  const threads = o.threads ?? Math.min(4, availableParallelism());
  let peers: GradPeer[] = [];
  if (threads > 1) {
    try {
      peers = await startUseLitePeers(threads - 1);
    } catch (e) {
      o.log(`data-parallel peers did not start (${(e as Error).message}): splitting each matmul over ${threads} threads instead`);
    }
  }
  const ops = await createWasmMatOps({ threads: peers.length ? 1 : threads });
  if (ops.fallback) o.log(ops.fallback);
  const seqLen = o.seqLen ?? model.config.maxLen;
  const how = peers.length
    ? `data-parallel over ${1 + peers.length} threads, each on a 1-thread wasm SIMD matmul`
    : `wasm SIMD matmul (${ops.threads} thread${ops.threads > 1 ? 's' : ''})`;
  o.log(`rm: USE-lite, tune ${o.tune}${o.tune === 'lora' ? ` (rank ${o.lora.rank}, alpha ${o.lora.alpha})` : ''}, seq len ${seqLen}, cpu trainer ${how}`);
  let backend: (Backend<UseLiteRM> & { dispose?(): void }) | undefined;
  const pref = o.backend ?? 'cpu';
  if (pref !== 'cpu') {
    const { gpu, notes } = await getNodeGpu();
    const sel = await selectUseLiteBackend(pref, useLiteCpuBackend({ ops }), gpu);
    o.log(`backend: ${sel.backend.name} (${pref} requested): ${sel.reason}`);
    if (sel.backend.name !== 'webgpu' && sel.adapter) o.log(`  adapter passed over: ${describeReport(sel.adapter)}`);
    if (!gpu && notes.length) o.log(`  ${notes.join('; ')}`);
    if (sel.backend.name === 'webgpu') backend = sel.backend;
  }
  try {
    return await runUseLiteTuneSession({
      backend,
      data: o.data,
      params: model.params,
      tokenizer: model.tokenizer,
      ops,
      peers,
      config: o.config,
      tune: o.tune,
      lora: o.lora,
      seqLen,
      onEvent: o.onEvent,
      completed: o.completed,
    });
  } finally {
    backend?.dispose?.();
    ops.dispose();
    for (const p of peers) p.dispose();
  }
}
