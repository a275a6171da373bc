// The headless runner: `npm run scpo -- --data ... --out ...`. Same session code as the browser worker; bad
// input or flags end with one readable line and exit code 2, never a stack trace.
import { HelpRequested, listFlag, numberFlag, parseFlags } from './cli-args.ts';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Backend } from '../gpu/backend.ts';
import { describeReport } from '../gpu/device.ts';
import { getNodeGpu } from '../gpu/node-webgpu.node.ts';
import { selectBackend } from '../gpu/select.ts';
import type { BackendPreference } from '../gpu/select.ts';
import { DEFAULT_CONFIG, resolveConfig } from './experiment.ts';
import type { ExperimentConfig, ExperimentEvent, ExperimentResult } from './experiment.ts';
import { formatTable, reportCsv, reportFiles, summarizeData, APP_VERSION } from './report.ts';
import { loadBagRM } from './rm/files.ts';
import { dirReader } from './rm/files.node.ts';
import type { BagRMConfig } from './rm/types.ts';
import { loadDataSpec, runSessionParallel } from './parallel.node.ts';
import type { DataSpec } from './parallel.node.ts';
import { formatSeedsTable, seedsReport } from './seeds.ts';
import { preflight, runSession } from './session.ts';
import { RM_KINDS, type RmKind } from './use-lite-session.ts';
import { DEFAULT_LORA, TUNE_MODES, USE_LITE_TUNE_LR, type LoraConfig, type TuneMode } from './rm/use-lite/spec.ts';
import { exportJobToDir } from './job/export.node.ts';
import { cpuBackend } from '../gpu/cpu/trainer.ts';
import { CancelledError } from './train/loop.ts';
import { escapeControls, safeMessage } from './text.ts';
import { addRun, CHECKPOINT_FILE, checkpointIdentity, emptyCheckpoint, parseCheckpoint, serializeCheckpoint } from './run-checkpoint.ts';
import type { CompletedRuns } from './experiment.ts';
import { ConfigError, DataError, METHODS } from './types.ts';
import type { DataFormat, Method, PreferenceData, SplitRule } from './types.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BUNDLED_MODEL_DIR = join(ROOT, 'public/models/scpo-glove-rm');

const USAGE = `usage: npm run scpo -- --data <folder|file|synthetic[:N]> [options]
  --data                     a PRISM folder or file, a global_opinions.csv, or synthetic[:N] (the embedded data,
                             data seed N, default 0)
  --format prism|goqa        dataset format (default: detected)
  --countries a,b,...        countries to steer (default: ${DEFAULT_CONFIG.countries.join(',')})
  --majority a,b             majority countries for the bias report (default: ${DEFAULT_CONFIG.majority.join(',')})
  --rm bag|use-lite          reward model: the GloVe bag RM (default) or USE-lite, a pretrained transformer encoder
                             (frozen, its head trained; global head trained on this data's pooled training users)
  --tune lora|top|head       use-lite: how country RMs are fine-tuned (default lora): LoRA adapters on qkv/out/ff1/ff2
                             of both layers + the head; top: layer 1, tanh layer and head; head: the frozen encoder
                             with an MLP head (onnxruntime-web features)
  --seq-len N                use-lite: joint sequence length, prompt [SEP] response (default 128; lora/top only)
  --lora-rank 8 --lora-alpha 16   use-lite: LoRA rank and alpha (scale alpha / rank)
  --threads N                use-lite lora/top: data-parallel trainer threads, each on its own wasm-SIMD instance
                             (default: the cores, at most 4)
  --feature-cache DIR|none   use-lite: keep encoder features between runs (default .cache/use-lite-features)
  --encoder ort|wasm         use-lite encoder: onnxruntime-web (default) or our wasm-SIMD forward, both on the cores
  --global-rm bundled|train|<dir>   global RM: the bundled one, one trained on this data's pooled train pairs, or a model folder
  --methods all|m1,m2        ${METHODS.join(', ')}
  --tau 0.7 --beta 1.1       SCPO filter threshold and weight temperature
  --steps ${DEFAULT_CONFIG.steps} --epochs ${DEFAULT_CONFIG.epochs}       step budget per (country, method) run, capped at E passes over its pairs
  --batch ${DEFAULT_CONFIG.batch} --lr ${DEFAULT_CONFIG.lr} --weight-decay ${DEFAULT_CONFIG.weightDecay}   AdamW (the reference used weight decay 0; --rm use-lite
                             --tune lora|top: --lr ${USE_LITE_TUNE_LR} unless given)
  --seed 0                   seed of the split, the validation users, batches and subsets
  --seeds 0,1,2,3,4          run every seed; per-seed reports in <out>/seed-<s>/ and seeds_report.json
                             (mean, sd, 95% interval, paired scpo vs full_ft / start) in <out>
  --split stratified|reference   test users drawn within each country (default) or from all users pooled (the
                             reference code's train_test_split)
  --val-fraction ${DEFAULT_CONFIG.valFraction}         share of each country's train users held out for validation (0: none)
  --eval-points N            live evaluations per run besides step 0 (default ${DEFAULT_CONFIG.evalPoints}; each scores the test set)
  --no-efficiency            skip the data-efficiency runs
  --freeze-embeddings        train only the MLP head
  --backend auto|cpu|webgpu  compute backend (default auto: a hardware WebGPU adapter, else cpu; webgpu: any
                             adapter, software included, else cpu with the reason)
  --goqa-margin 0.05         GOQA: minimum share difference for a pair
  --strict                   stop at the first bad input row (exit 2)
  --workers N                run the (country, method) runs on N worker threads (default 1: in process; same reports)
  --out <dir>                write the report files there (and checkpoint.json, after every finished run)
  --resume                   continue the interrupted run in --out: reuse the runs its checkpoint.json holds
                             (refused when the data, settings or model differ; new countries/methods are trained)
  --export-job <dir>         write the experiment as a PyTorch job there (scored pairs, plan, bag RM, job/run.py;
                             see its README) instead of training here
  --quiet                    no progress lines
  --help                     this text`;

export interface CliOptions {
  data: string;
  format?: DataFormat;
  globalRm: string;
  /** Reward model kind (--rm). */
  rm: RmKind;
  /** use-lite encoder (--encoder). */
  encoder: 'ort' | 'wasm';
  /** use-lite feature cache folder (null: off; undefined: the default folder). */
  featureCache?: string | null;
  /** use-lite: how country RMs are fine-tuned (--tune; default lora), sequence length, LoRA rank/alpha, matmul threads. */
  tune: TuneMode;
  seqLen?: number;
  lora: LoraConfig;
  threads?: number;
  backend: BackendPreference;
  strict: boolean;
  out?: string;
  /** Write a PyTorch job folder there instead of training (src/pipeline/job/). */
  exportJob?: string;
  quiet: boolean;
  /** `--resume`: reuse the finished runs of `out`'s checkpoint.json (run-checkpoint.ts). */
  resume: boolean;
  goqaMargin?: number;
  splitRule: SplitRule;
  /** Worker threads for the per-country work (1: in process). */
  workers: number;
  /** `--seeds`: run each (config.seed is the first); absent for a single run. */
  seeds?: number[];
  config: ExperimentConfig;
}

const S = { type: 'string' } as const;
const B = { type: 'boolean', default: false } as const;
const FLAGS = {
  data: S, format: S, countries: S, majority: S, 'global-rm': { type: 'string', default: 'bundled' }, rm: { type: 'string', default: 'bag' },
  'feature-cache': S, encoder: { type: 'string', default: 'ort' }, tune: S, 'seq-len': S, 'lora-rank': S, 'lora-alpha': S, threads: S,
  methods: { type: 'string', default: 'all' }, 'eval-points': S,
  tau: S, beta: S, steps: S, epochs: S, batch: S, lr: S, 'weight-decay': S, seed: S, seeds: S, split: S, 'val-fraction': S,
  'no-efficiency': B, 'freeze-embeddings': B, backend: { type: 'string', default: 'auto' }, 'goqa-margin': S, strict: B,
  out: S, 'export-job': S, quiet: B, workers: S, resume: B,
} as const;

export function parseCli(argv: string[]): CliOptions {
  const v = parseFlags(argv, FLAGS, USAGE);
  if (!v.data) throw new ConfigError('--data is required; see --help');
  if (v.format !== undefined && v.format !== 'prism' && v.format !== 'goqa') {
    throw new ConfigError(`--format must be prism or goqa, got "${v.format}"`);
  }
  if (v.backend !== 'cpu' && v.backend !== 'webgpu' && v.backend !== 'auto') {
    throw new ConfigError(`--backend must be auto, cpu or webgpu, got "${v.backend}"`);
  }
  if (v.split !== undefined && v.split !== 'stratified' && v.split !== 'reference') {
    throw new ConfigError(`--split must be stratified or reference, got "${v.split}"`);
  }
  const methods = v.methods === 'all' ? [...METHODS] : (listFlag(v.methods) ?? []);
  for (const m of methods) {
    if (!(METHODS as readonly string[]).includes(m)) throw new ConfigError(`--methods: unknown method "${m}" (known: ${METHODS.join(', ')})`);
  }
  const partial: Partial<ExperimentConfig> = { methods: methods as Method[] };
  const set = <K extends keyof ExperimentConfig>(k: K, val: ExperimentConfig[K] | undefined) => {
    if (val !== undefined) partial[k] = val;
  };
  set('countries', listFlag(v.countries));
  set('majority', listFlag(v.majority));
  set('tau', numberFlag('tau', v.tau));
  set('beta', numberFlag('beta', v.beta));
  set('steps', numberFlag('steps', v.steps));
  set('epochs', numberFlag('epochs', v.epochs));
  set('batch', numberFlag('batch', v.batch));
  set('lr', numberFlag('lr', v.lr));
  set('weightDecay', numberFlag('weight-decay', v['weight-decay']));
  set('seed', numberFlag('seed', v.seed));
  set('valFraction', numberFlag('val-fraction', v['val-fraction']));
  set('evalPoints', numberFlag('eval-points', v['eval-points']));
  let seeds: number[] | undefined;
  if (v.seeds !== undefined) {
    if (v.seed !== undefined) throw new ConfigError('give --seed or --seeds, not both');
    seeds = (listFlag(v.seeds) ?? []).map((x) => numberFlag('seeds', x) as number);
    if (seeds.length === 0 || new Set(seeds).size !== seeds.length) throw new ConfigError(`--seeds: give distinct seeds, got "${v.seeds}"`);
    for (const sd of seeds) resolveConfig({ seed: sd });
    partial.seed = seeds[0];
  }
  if (v['export-job'] !== undefined && v.out !== undefined) {
    throw new ConfigError('--export-job writes a job instead of training here, so --out has nothing to write: the job writes the reports (python3 DIR/run.py --out OUT)');
  }
  if (v.resume) {
    if (v.out === undefined) throw new ConfigError('--resume needs --out DIR: the folder of the interrupted run (its checkpoint.json)');
    if (v.seeds !== undefined) throw new ConfigError('--resume continues one run: give --seed, not --seeds');
    if (v.workers !== undefined && v.workers !== '1') throw new ConfigError('--resume runs in process: drop --workers');
  }
  if (v['no-efficiency']) partial.efficiency = false;
  if (v['freeze-embeddings']) partial.freezeEmbeddings = true;
  const workers = numberFlag('workers', v.workers) ?? 1;
  if (!Number.isInteger(workers) || workers < 1 || workers > 256) {
    throw new ConfigError(`--workers must be an integer in [1, 256], got ${String(v.workers)}`);
  }
  if (!(RM_KINDS as readonly string[]).includes(v.rm ?? 'bag')) throw new ConfigError(`--rm must be ${RM_KINDS.join(' or ')}, got "${v.rm}"`);
  const rm = (v.rm ?? 'bag') as RmKind;
  if (rm === 'use-lite') {
    if (v['global-rm'] !== undefined && v['global-rm'] !== 'bundled' && v['global-rm'] !== 'train') {
      throw new ConfigError(`--global-rm ${v['global-rm']}: with --rm use-lite the global head is always trained on this data's pooled training users`);
    }
    if (workers > 1) throw new ConfigError('--workers > 1 is not supported with --rm use-lite (onnxruntime-web already uses the cores to encode)');
    if (seeds) throw new ConfigError('--seeds is not supported with --rm use-lite yet; run one --seed at a time');
  }
  if (v.encoder !== 'ort' && v.encoder !== 'wasm') throw new ConfigError(`--encoder must be ort or wasm, got "${v.encoder}"`);
  if (v.tune !== undefined && !(TUNE_MODES as readonly string[]).includes(v.tune)) throw new ConfigError(`--tune must be ${TUNE_MODES.join(', ')}, got "${v.tune}"`);
  const useOnly = (['tune', 'seq-len', 'lora-rank', 'lora-alpha', 'threads'] as const).filter((k) => v[k] !== undefined);
  if (rm !== 'use-lite' && useOnly.length) throw new ConfigError(`--${useOnly[0]} needs --rm use-lite`);
  const tune = (v.tune ?? 'lora') as TuneMode;
  const seqLen = numberFlag('seq-len', v['seq-len']);
  if (seqLen !== undefined && !(Number.isInteger(seqLen) && seqLen >= 2 && seqLen <= 128)) throw new ConfigError(`--seq-len must be an integer in [2, 128], got ${v['seq-len']}`);
  const lora: LoraConfig = { rank: numberFlag('lora-rank', v['lora-rank']) ?? DEFAULT_LORA.rank, alpha: numberFlag('lora-alpha', v['lora-alpha']) ?? DEFAULT_LORA.alpha };
  if (!(Number.isInteger(lora.rank) && lora.rank >= 1 && lora.rank <= 256)) throw new ConfigError(`--lora-rank must be an integer in [1, 256], got ${v['lora-rank']}`);
  if (!(Number.isFinite(lora.alpha) && lora.alpha > 0)) throw new ConfigError(`--lora-alpha must be a positive number, got ${v['lora-alpha']}`);
  const threads = numberFlag('threads', v.threads);
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1 && threads <= 64)) throw new ConfigError(`--threads must be an integer in [1, 64], got ${v.threads}`);
  if (tune === 'head' && (seqLen !== undefined || v['lora-rank'] !== undefined || v['lora-alpha'] !== undefined)) {
    throw new ConfigError('--seq-len and --lora-rank/--lora-alpha apply to --tune lora or top, not head');
  }
  // Fine-tuning the transformer wants a smaller step than the bag RM (spec.ts USE_LITE_TUNE_LR); an explicit --lr wins.
  if (rm === 'use-lite' && tune !== 'head' && v.lr === undefined) partial.lr = USE_LITE_TUNE_LR;
  const fc = v['feature-cache'];
  return {
    data: v.data,
    format: v.format as DataFormat | undefined,
    rm,
    tune,
    seqLen,
    lora,
    threads,
    encoder: v.encoder,
    featureCache: fc === 'none' ? null : fc === undefined ? undefined : resolve(fc),
    globalRm: v['global-rm'] ?? 'bundled',
    backend: v.backend,
    strict: v.strict ?? false,
    out: v.out,
    exportJob: v['export-job'],
    quiet: v.quiet ?? false,
    resume: v.resume ?? false,
    goqaMargin: numberFlag('goqa-margin', v['goqa-margin']),
    splitRule: (v.split as SplitRule | undefined) ?? 'stratified',
    workers,
    seeds,
    config: resolveConfig(partial),
  };
}

/** Where the data of seed `seed` comes from: synthetic[:N] is data seed N; the split is seeded by the run's seed. */
function dataSpec(o: CliOptions, seed: number = o.config.seed): DataSpec {
  const m = /^synthetic(?::(\d+))?$/.exec(o.data);
  const loadOpts = { strict: o.strict, seed, goqaMargin: o.goqaMargin, splitRule: o.splitRule };
  if (m) return { kind: 'synthetic', seed: m[1] === undefined ? 0 : Number(m[1]), loadOpts };
  return { kind: 'path', path: o.data, format: o.format, loadOpts };
}

/** The backend for `pref` by select.ts's policy, on Node's Dawn GPU object; logs the choice and why. */
async function selectCliBackend(pref: BackendPreference, model: BagRMConfig, log: (s: string) => void): Promise<Backend> {
  let gpu: GPU | null = null;
  let notes: string[] = [];
  if (pref !== 'cpu') ({ gpu, notes } = await getNodeGpu());
  const sel = await selectBackend(pref, gpu, { model });
  log(`backend: ${sel.backend.name} (${pref} requested): ${sel.reason}`);
  if (sel.backend.name !== 'webgpu' && sel.adapter) log(`  adapter passed over: ${describeReport(sel.adapter)}`);
  if (!gpu && notes.length) log(`  ${notes.join('; ')}`);
  return sel.backend;
}

/**
 * The run's checkpoint in `--out` (run-checkpoint.ts): with --resume, the finished runs to reuse; `record` saves
 * every newly finished main run (written to a temporary file, then renamed, so an interruption never leaves half
 * a checkpoint). Without --out there is nothing to record.
 */
function openCheckpoint(o: CliOptions, data: PreferenceData, config: ExperimentConfig, rm: Record<string, string | number | boolean | null>, log: (s: string) => void): { completed?: CompletedRuns; priorCpuMs: number; record(e: ExperimentEvent): void } {
  if (!o.out) return { priorCpuMs: 0, record: () => {} };
  const file = join(resolve(o.out), CHECKPOINT_FILE);
  const identity = checkpointIdentity({ data: data.source, pairs: data.pairs.length, items: data.items.length }, config, rm);
  const ck = emptyCheckpoint(identity);
  let completed: CompletedRuns | undefined;
  if (o.resume) {
    let text: string | null = null;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      log(`--resume: no ${file} yet: starting from the beginning`);
    }
    if (text !== null) {
      const got = parseCheckpoint(text, file, identity);
      completed = got;
      ck.cpuMs = got.cpuMs;
      for (const r of got.runs) addRun(ck, r, got.margins[r.country][r.method] as Float32Array);
      log(`--resume: ${got.count} finished run${got.count === 1 ? '' : 's'} in ${file}: ${got.runs.map((r) => `${r.country} · ${r.method}`).join(', ') || 'none'}`);
    }
  }
  const priorCpuMs = ck.cpuMs;
  return {
    completed,
    priorCpuMs,
    record(e) {
      if (e.type !== 'run' || e.resumed || !e.margins || e.run.method === 'start') return;
      addRun(ck, e.run, e.margins);
      ck.cpuMs = priorCpuMs + processCpuMs();
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file + '.tmp', serializeCheckpoint(ck));
      renameSync(file + '.tmp', file);
    },
  };
}

/** CPU time of this process so far (ms, user + system, all its threads). */
function processCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Records the CPU time in the result's timings (and with the resumed segments' when there were any) and logs it. */
function noteCpu(result: ExperimentResult, priorCpuMs: number, log: (s: string) => void): void {
  result.timings.cpuMs = processCpuMs();
  if (priorCpuMs > 0) result.timings.cpuMsWithResumed = priorCpuMs + result.timings.cpuMs;
  log(`CPU time ${(result.timings.cpuMs / 1000).toFixed(1)} s (all threads)` +
    (priorCpuMs > 0 ? `; ${((priorCpuMs + result.timings.cpuMs) / 1000).toFixed(1)} s with the resumed segments' runs` : ''));
}

export async function main(argv: string[]): Promise<number> {
  const o = parseCli(argv);
  // Lines carry user data (ids, country names, paths): control characters are escaped so none reach the terminal raw.
  const log = (s: string) => {
    if (!o.quiet) process.stderr.write(escapeControls(s) + '\n');
  };
  const t0 = Date.now();
  const seeds = o.seeds ?? [o.config.seed];
  const logData = (data: PreferenceData) => {
    log(`data: ${data.source} (${data.format}) ${data.items.length} texts, ${data.pairs.length} pairs, ${data.tiesDropped} ties dropped` +
      (data.identicalTextPairs ? `, ${data.identicalTextPairs} pairs of identical texts kept (always counted wrong)` : ''));
    if (data.issues.count > 0) {
      log(`skipped ${data.issues.count} bad rows: ${Object.entries(data.issues.byReason).map(([k, n]) => `${k} ${n}`).join(', ')}`);
      for (const ex of data.issues.examples.slice(0, 5)) log(`  ${ex.file}:${ex.line}:${ex.field}: ${ex.message}`);
    }
  };
  if (o.rm === 'use-lite') {
    const data = await loadDataSpec(dataSpec(o));
    logData(data);
    return mainUseLite(o, data, log, t0);
  }
  const modelDir = o.globalRm === 'bundled' || o.globalRm === 'train' ? BUNDLED_MODEL_DIR : resolve(o.globalRm);
  let model;
  try {
    model = await loadBagRM(dirReader(modelDir));
  } catch (e) {
    throw new ConfigError(`global RM at ${modelDir}: ${(e as Error).message}` +
      (modelDir === BUNDLED_MODEL_DIR ? ' (build it with `npm run build:models`)' : ''));
  }
  // Every seed's data and config are checked (countries, the global RM's overlap with its held-out users) before
  // any training, so a bad flag or a leaking global RM fails in seconds rather than after the first seed.
  const datas: PreferenceData[] = [];
  for (const seed of seeds) {
    const data = await loadDataSpec(dataSpec(o, seed));
    const { leak } = preflight({ data, model, config: { ...o.config, seed } });
    if (datas.length === 0) logData(data);
    log(leak.testOverlap === null
      ? `seed ${seed}: the global RM records no training data; its overlap with the ${leak.testGroups} test users cannot be checked`
      : `seed ${seed}: the global RM saw 0 of the ${leak.testGroups} test and ${leak.valGroups} validation users (trained on ${leak.provenance?.description})`);
    datas.push(data);
  }
  // With workers, each worker selects its own backend by the same policy (the result names the one used).
  const backend = o.workers > 1 ? null : await selectCliBackend(o.backend, model.params.config, log);
  if (!backend) log(`backend: ${o.backend} requested, selected in each of up to ${o.workers} worker threads`);
  if (o.exportJob) {
    const dir = resolve(o.exportJob);
    const globalRmName = o.globalRm === 'bundled' || o.globalRm === 'train' ? o.globalRm : modelDir;
    const globalRm = o.globalRm === 'train' ? 'train' : 'as-loaded';
    const r = await exportJobToDir(dir, { data: datas[0], model, config: o.config, globalRm, globalRmName, backend: backend ?? cpuBackend, log });
    log(`wrote a PyTorch job (${r.runs} run${r.runs === 1 ? "" : "s"}, ${r.files} files, ${(r.bytes / 1e6).toFixed(1)} MB) to ${dir}: python3 ${join(dir, 'run.py')} --out OUT`);
    return 0;
  }
  const loadMs = Date.now() - t0;
  let config = o.config;
  let lastPhase = '';
  const onEvent = (e: ExperimentEvent) => {
    if (e.type === 'backend-fallback') {
      log(`backend lost in ${e.run} after step ${e.atStep}: continuing on ${e.to} from step ${e.resumedFrom} (${e.reason})`);
    }
    if (e.type === 'phase' && e.label !== lastPhase) {
      lastPhase = e.label;
      log(`[${seeds.length > 1 ? `seed ${config.seed} ` : ''}${e.phase}${e.total > 1 ? ` ${e.done}/${e.total}` : ''}] ${e.label}`);
    }
  };
  const globalRm = o.globalRm === 'train' ? 'train' : 'as-loaded';
  const results: ExperimentResult[] = [];
  for (const [k, seed] of seeds.entries()) {
    config = { ...o.config, seed };
    const data = datas[k];
    const ts = Date.now();
    const ck = backend && !o.seeds ? openCheckpoint(o, data, config, { kind: 'bag', globalRm: o.globalRm }, log) : null;
    const { result } = backend
      ? await runSession({ data, model, backend, config, globalRm, completed: ck?.completed, onEvent: (e) => (onEvent(e), ck?.record(e)) })
      : await runSessionParallel(
          { data, model, source: { data: dataSpec(o, seed), modelDir, backend: o.backend }, config, globalRm, onEvent },
          o.workers,
        );
    result.timings.loadMs = loadMs;
    result.timings.wallMs = Date.now() - (k === 0 ? t0 : ts);
    if (seeds.length === 1) noteCpu(result, ck?.priorCpuMs ?? 0, log);
    results.push(result);
    if (seeds.length > 1) process.stdout.write(`seed ${seed}\n`);
    process.stdout.write(escapeControls(formatTable(result), true) + '\n');
    log(`wall time ${(result.timings.wallMs / 1000).toFixed(2)} s on ${result.backend}`);
    if (o.out) {
      const files = reportFiles(result, {
        data: summarizeData(data),
        globalRm: o.globalRm === 'bundled' || o.globalRm === 'train' ? o.globalRm : modelDir,
        versions: { app: APP_VERSION, node: process.version },
      });
      files['report.csv'] = reportCsv(result);
      const dir = o.seeds ? join(o.out, `seed-${seed}`) : o.out;
      await mkdir(dir, { recursive: true });
      for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
      log(`wrote ${Object.keys(files).join(', ')} to ${dir}`);
    }
  }
  if (o.seeds) {
    const rep = seedsReport(results);
    process.stdout.write(escapeControls(formatSeedsTable(rep, o.config.methods), true) + '\n');
    if (o.out) {
      await writeFile(join(o.out, 'seeds_report.json'), JSON.stringify(rep, null, 2) + '\n');
      log(`wrote seeds_report.json to ${o.out}; all ${seeds.length} seeds in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
  }
  return 0;
}

/** `--rm use-lite`: the frozen USE-lite encoder (onnxruntime-web) + trained heads; same reports, plus an `rm` block in run.json. */
async function mainUseLite(o: CliOptions, data: PreferenceData, log: (s: string) => void, t0: number): Promise<number> {
  if (o.exportJob) throw new ConfigError('--export-job is not supported with --rm use-lite yet (the PyTorch job template holds the bag RM)');
  const loadMs = Date.now() - t0;
  let lastPhase = '';
  let lastPct = -1;
  const onEvent = (e: ExperimentEvent) => {
    if (e.type === 'backend-fallback') log(`backend lost in ${e.run} after step ${e.atStep}: continuing on ${e.to} from step ${e.resumedFrom} (${e.reason})`);
    if (e.type !== 'phase') return;
    // The encoding phase is long: report every 10%.
    const pct = e.total > 1 ? Math.floor((10 * e.done) / e.total) : -1;
    if (e.label !== lastPhase || (pct !== lastPct && e.phase === 'load')) {
      lastPhase = e.label;
      lastPct = pct;
      log(`[${e.phase}${e.total > 1 ? ` ${e.done}/${e.total}` : ''}] ${e.label}`);
    }
  };
  // Loaded lazily: bag-RM runs need neither onnxruntime-web nor the USE-lite files.
  let result: ExperimentResult;
  let rmInfo: Record<string, unknown>;
  const rmId: Record<string, string | number | boolean | null> = o.tune === 'head'
    ? { kind: 'use-lite', tune: 'head' }
    : { kind: 'use-lite', tune: o.tune, seqLen: o.seqLen ?? null, rank: o.tune === 'lora' ? o.lora.rank : null, alpha: o.tune === 'lora' ? o.lora.alpha : null };
  const ck = openCheckpoint(o, data, o.config, rmId, log);
  const onRunEvent = (e: ExperimentEvent) => (onEvent(e), ck.record(e));
  if (o.tune === 'head') {
    // The trainer holds the MLP head over one 512-d feature row per item.
    const headCfg: BagRMConfig = { vocabSize: data.items.length, dim: 512, hidden: 64, maxPromptTokens: 1, maxResponseTokens: 1 };
    const backend = await selectCliBackend(o.backend, headCfg, log);
    const { runUseLiteCli } = await import('./use-lite-cli.node.ts');
    ({ result, rmInfo } = await runUseLiteCli({ data, backend, config: o.config, onEvent: onRunEvent, completed: ck.completed, log, cacheDir: o.featureCache, encoder: o.encoder }));
  } else {
    // Fine-tuning (LoRA / top): the USE-lite cpu trainer on the wasm-SIMD matmul (src/pipeline/rm/use-lite/train*.ts),
    // or with --backend webgpu (auto: a hardware adapter) the WGSL trainer (src/gpu/use-lite-webgpu.ts).
    const { runUseLiteTuneCli } = await import('./rm/use-lite/train-cli.node.ts');
    ({ result, rmInfo } = await runUseLiteTuneCli({ data, config: o.config, tune: o.tune, lora: o.lora, seqLen: o.seqLen, threads: o.threads, backend: o.backend, onEvent: onRunEvent, completed: ck.completed, log }));
  }
  result.timings.loadMs = loadMs;
  result.timings.wallMs = Date.now() - t0;
  process.stdout.write(escapeControls(formatTable(result), true) + '\n');
  log(`wall time ${(result.timings.wallMs / 1000).toFixed(2)} s on ${result.backend}`);
  noteCpu(result, ck.priorCpuMs, log);
  const work = rmInfo.work as { trainTokens: number; forwardTokens: number; tflop: number; gpuSecondsAt10Tflops: number } | undefined;
  if (work) {
    log(`work: ${work.tflop.toFixed(1)} TFLOP of matmul (${(work.trainTokens / 1e6).toFixed(2)}M tokens trained, ${(work.forwardTokens / 1e6).toFixed(2)}M forwarded): ` +
      `${(work.tflop * 1e3 / (result.timings.wallMs / 1000)).toFixed(1)} GFLOP/s here; ~${work.gpuSecondsAt10Tflops < 10 ? work.gpuSecondsAt10Tflops.toFixed(2) : work.gpuSecondsAt10Tflops.toFixed(0)} s on a GPU sustaining 10 TFLOP/s (run.json rm.work)`);
  }
  if (o.out) {
    const files = reportFiles(result, { data: summarizeData(data), globalRm: 'train', rm: rmInfo, versions: { app: APP_VERSION, node: process.version } });
    files['report.csv'] = reportCsv(result);
    await mkdir(o.out, { recursive: true });
    for (const [name, text] of Object.entries(files)) await writeFile(join(o.out, name), text);
    log(`wrote ${Object.keys(files).join(', ')} to ${o.out}`);
  }
  return 0;
}

/** Known errors become one line and exit 2; anything else is a bug and keeps its message (still no trace). */
export function describeError(e: unknown): { code: number; line: string } {
  if (e instanceof HelpRequested) return { code: 0, line: e.usage };
  // Messages quote user data: escaped again here (newlines kept: the usage text has them), whatever built them.
  if (e instanceof ConfigError || e instanceof DataError) return { code: 2, line: `error: ${safeMessage(e.message, true, 8000)}` };
  if (e instanceof CancelledError) return { code: 130, line: 'cancelled' };
  const msg = e instanceof Error ? e.message : String(e);
  return { code: 1, line: `internal error: ${safeMessage(msg)}` };
}

/**
 * Runs `main` when `moduleUrl` is the script node was started with: exit with its code; an error becomes one line
 * (describeError: no stack trace unless SCPO_DEBUG is set). Shared by the scpo and ppo CLIs.
 */
export function runIfEntry(moduleUrl: string, run: (argv: string[]) => Promise<number>): void {
  if (process.argv[1] === undefined || resolve(process.argv[1]) !== fileURLToPath(moduleUrl)) return;
  run(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      const { code, line } = describeError(e);
      // --help is not an error: its text goes to stdout.
      (code === 0 ? process.stdout : process.stderr).write(line + '\n');
      if (process.env.SCPO_DEBUG && e instanceof Error) process.stderr.write((e.stack ?? '') + '\n');
      process.exit(code);
    },
  );
}

runIfEntry(import.meta.url, main);
