// The PyTorch job export: the experiment after global scoring, written out as a self-contained folder for
// PyTorch's DistributedDataParallel (see template/README and docs/ARCHITECTURE.md "Scaling out"). Pure: files
// in memory, no I/O, so the CLI (--export-job) and the studio's worker share it.
//
// What the job needs is made explicit here rather than re-derived in Python: the scored pairs (r+, r-, p_global,
// kept, weights), each run's training pairs, weights, seed and step count (the same plan runExperiment trains),
// the per-country train/test order, and for the bundled bag RM its token ids and initial weights. Python only
// replays the batch schedule (mulberry32, the same stream as rng.ts) and trains.
import { validationGroups } from '../data/split.ts';
import type { BagRMParams, EncodedItems } from '../rm/types.ts';
import { scoreItems } from '../rm/bag.ts';
import { checkCountries, resolveConfig } from '../experiment.ts';
import type { ExperimentConfig } from '../experiment.ts';
import type { RunInfo } from '../report.ts';
import { hashSeed, Rng } from '../rng.ts';
import { inverseWeight, isEdited, isKept, METHOD_SPECS, pGlobal, scpoWeight, trainingSet } from '../scpo.ts';
import { plannedSteps } from '../train/loop.ts';
import type { Method, PreferenceData } from '../types.ts';

export const JOB_FORMAT = 'scpo-pytorch-job';
export const JOB_VERSION = 1;
/** The job's Python files, by path inside the job folder (template.node.ts / template.browser.ts load them). */
export type JobTemplate = Record<string, string>;
export const TEMPLATE_FILES = ['run.py', 'job/run.py', 'job/hf.py'] as const;

export interface JobInputs {
  data: PreferenceData;
  encoded: EncodedItems;
  /** The global RM the country RMs start from (as loaded, or retrained on the pooled pairs). */
  globalParams: BagRMParams;
  config: ExperimentConfig;
  /**
   * Global scores of every pair (aligned with data.pairs), e.g. a finished browser run's, so the job trains on
   * exactly the sets that run trained on. Without them the pairs are scored here with the CPU forward pass
   * (bit-identical to the cpu trainer's scoring).
   */
  scores?: { rPlus: Float32Array; rMinus: Float32Array };
  info: RunInfo;
  template: JobTemplate;
}

export interface JobRunPlan {
  country: string;
  method: Method;
  /** 'main': a (country, method) RM of the reports; 'efficiency': full_ft on a random subset. */
  role: 'main' | 'efficiency';
  fraction: number | null;
  seed: number;
  steps: number;
  evalEvery: number;
  /** Pair ids (indices of data.pairs, the `id` of pairs.jsonl) and their weights, in training-set order. */
  pairs: number[];
  weights: number[];
}

/** A job folder: path -> bytes. */
export type JobFiles = Record<string, Uint8Array>;

const enc = new TextEncoder();
const bytesOf = (a: Int32Array | Float32Array): Uint8Array => new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
const json = (v: unknown, indent: number | undefined = 1) => enc.encode(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? null : x), indent) + '\n');

/** Little-endian check: the binary tensors are written in host order and declared little-endian in the manifest. */
const LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function buildJob(inp: JobInputs): JobFiles {
  if (!LITTLE) throw new Error('job export: big-endian hosts are not supported');
  const config = resolveConfig(inp.config);
  const { data, encoded } = inp;
  checkCountries(config, data);
  for (const f of TEMPLATE_FILES) if (typeof inp.template[f] !== 'string') throw new Error(`job export: template file ${f} is missing`);
  const pairs = data.pairs;

  // 1. Scores, as runExperiment step 1 (relevant pairs: those of the selected and majority countries).
  const wanted = [...new Set([...config.countries, ...config.majority])];
  const wantedSet = new Set(wanted);
  const relevant: number[] = [];
  pairs.forEach((p, i) => {
    if (wantedSet.has(p.country)) relevant.push(i);
  });
  let rPlus: Float32Array;
  let rMinus: Float32Array;
  if (inp.scores) {
    if (inp.scores.rPlus.length !== pairs.length || inp.scores.rMinus.length !== pairs.length) {
      throw new Error(`job export: scores cover ${inp.scores.rPlus.length} pairs, the data has ${pairs.length}`);
    }
    ({ rPlus, rMinus } = inp.scores);
  } else {
    const idx = Int32Array.from(new Set(relevant.flatMap((i) => [pairs[i].chosen, pairs[i].rejected]))).sort();
    const s = scoreItems(inp.globalParams, encoded, idx);
    const g = new Map<number, number>();
    idx.forEach((k, j) => g.set(k, s[j]));
    rPlus = new Float32Array(pairs.length).fill(Number.NaN);
    rMinus = new Float32Array(pairs.length).fill(Number.NaN);
    for (const i of relevant) {
      rPlus[i] = g.get(pairs[i].chosen) as number;
      rMinus[i] = g.get(pairs[i].rejected) as number;
    }
  }
  for (const i of relevant) {
    if (!Number.isFinite(rPlus[i]) || !Number.isFinite(rMinus[i])) throw new Error(`job export: pair ${i} (${pairs[i].country}) has no global score`);
  }

  // 2. Per-country train/test order (runExperiment step 2) and 3/4. the plan of every run it trains.
  // Validation users (data/split.ts validationGroups) are held out of training exactly as in buildSets.
  const val = validationGroups(pairs, data.split.rule, config.seed, config.valFraction);
  const part = (i: number): 'train' | 'val' | 'test' => (pairs[i].split === 'train' && val.has(pairs[i].group) ? 'val' : pairs[i].split);
  const sets: Record<string, { train: number[]; val: number[]; test: number[] }> = {};
  for (const c of wanted) sets[c] = { train: [], val: [], test: [] };
  for (const i of relevant) sets[pairs[i].country][part(i)].push(i);
  const runs: JobRunPlan[] = [];
  const plan = (c: string, method: Method, role: JobRunPlan['role'], fraction: number | null, tag: string, ids: number[], weights: number[]) => {
    const steps = plannedSteps(ids.length, config.batch, config.steps, config.epochs);
    const evalEvery = role === 'main' && config.evalPoints > 0 && steps > 0 ? Math.max(1, Math.ceil(steps / config.evalPoints)) : 0;
    runs.push({ country: c, method, role, fraction, seed: hashSeed(config.seed, c, method, tag), steps, evalEvery, pairs: ids, weights });
  };
  for (const c of config.countries) {
    const cand = sets[c].train;
    for (const m of config.methods) {
      if (!METHOD_SPECS[m].trains) continue;
      const ts = trainingSet(m, cand, cand.map((i) => rPlus[i]), cand.map((i) => rMinus[i]), config.tau, config.beta);
      plan(c, m, 'main', null, 'main', ts.pairs, ts.weights);
    }
  }
  if (config.efficiency && config.methods.includes('full_ft') && config.methods.includes('scpo')) {
    for (const c of config.countries) {
      const order = sets[c].train.slice();
      new Rng(hashSeed(config.seed, c, 'efficiency')).shuffle(order);
      for (const f of config.efficiencyFractions) {
        const sub = order.slice(0, Math.max(1, Math.round(f * order.length)));
        plan(c, 'full_ft', 'efficiency', f, `eff${f}`, sub, sub.map(() => 1));
      }
    }
  }

  // 3. The bag RM's inputs: the items the pairs use, renumbered 0..n-1, with the embedding rows they use
  //    renumbered too (rows no item uses are never touched by lazy Adam, so leaving them out changes nothing).
  const itemOf = new Map<number, number>();
  const items: number[] = [];
  const local = (k: number) => {
    let j = itemOf.get(k);
    if (j === undefined) {
      j = items.length;
      itemOf.set(k, j);
      items.push(k);
    }
    return j;
  };
  const lines: string[] = [];
  for (const i of relevant) {
    const p = pairs[i];
    const ci = data.items[p.chosen];
    const ri = data.items[p.rejected];
    const train = part(i) === 'train';
    const row: Record<string, unknown> = {
      id: i,
      country: p.country,
      split: part(i),
      group: p.group,
      prompt: ci.prompt,
      chosen: ci.response,
      rejected: ri.response,
      r_plus: rPlus[i],
      r_minus: rMinus[i],
      p_global: pGlobal(rPlus[i], rMinus[i]),
      kept: train ? isKept(rPlus[i], rMinus[i], config.tau) : null,
      edited: part(i) === 'test' ? isEdited(rPlus[i], rMinus[i]) : null,
      weight: scpoWeight(rPlus[i], rMinus[i], config.beta),
      inverse_weight: inverseWeight(rPlus[i], rMinus[i]),
      chosen_item: local(p.chosen),
      rejected_item: local(p.rejected),
    };
    if (ri.prompt !== ci.prompt) row.rejected_prompt = ri.prompt;
    lines.push(JSON.stringify(row));
  }
  const { dim: D, hidden: H, vocabSize: V } = inp.globalParams.config;
  const rowOf = new Int32Array(V).fill(-1);
  const rows: number[] = [];
  const remap = (ids: Int32Array, offsets: Int32Array) => {
    const off = new Int32Array(items.length + 1);
    const out: number[] = [];
    items.forEach((k, j) => {
      for (let q = offsets[k]; q < offsets[k + 1]; q++) {
        const t = ids[q];
        if (rowOf[t] < 0) {
          rowOf[t] = rows.length;
          rows.push(t);
        }
        out.push(rowOf[t]);
      }
      off[j + 1] = out.length;
    });
    return { ids: Int32Array.from(out), offsets: off };
  };
  const prompt = remap(encoded.promptIds, encoded.promptOffsets);
  const response = remap(encoded.responseIds, encoded.responseOffsets);
  const E = new Float32Array(rows.length * D);
  rows.forEach((t, j) => E.set(inp.globalParams.E.subarray(t * D, (t + 1) * D), j * D));
  const tensors: Record<string, { data: Int32Array | Float32Array; shape: number[] }> = {
    prompt_ids: { data: prompt.ids, shape: [prompt.ids.length] },
    prompt_offsets: { data: prompt.offsets, shape: [items.length + 1] },
    response_ids: { data: response.ids, shape: [response.ids.length] },
    response_offsets: { data: response.offsets, shape: [items.length + 1] },
    vocab_rows: { data: Int32Array.from(rows), shape: [rows.length] },
    E: { data: E, shape: [rows.length, D] },
    W1: { data: inp.globalParams.W1, shape: [2 * D, H] },
    b1: { data: inp.globalParams.b1, shape: [H] },
    W2: { data: inp.globalParams.W2, shape: [H] },
    b2: { data: inp.globalParams.b2, shape: [1] },
  };
  const files: JobFiles = {};
  const manifest: Record<string, { file: string; dtype: string; shape: number[] }> = {};
  for (const [name, t] of Object.entries(tensors)) {
    const file = `bag/${name}.bin`;
    manifest[name] = { file, dtype: t.data instanceof Int32Array ? 'int32' : 'float32', shape: t.shape };
    files[file] = bytesOf(t.data);
  }
  files['bag/manifest.json'] = json({
    byteOrder: 'little',
    model: 'bag RM (src/pipeline/rm/types.ts): concat(mean E[response], mean E[prompt]) -> ReLU MLP -> scalar',
    config: { ...inp.globalParams.config, vocabSize: rows.length, originalVocabSize: V },
    items: items.length,
    itemIds: items,
    tensors: manifest,
  }, undefined);
  files['data/pairs.jsonl'] = enc.encode(lines.join('\n') + '\n');
  files['config.json'] = json({
    format: JOB_FORMAT,
    version: JOB_VERSION,
    config,
    source: data.source,
    globalRm: inp.info.globalRm,
    data: inp.info.data,
    versions: inp.info.versions,
    pairsTotal: pairs.length,
    scoredWith: inp.scores ? 'the browser run\u2019s global scores' : 'the CPU forward pass of the global RM',
    exportedAt: new Date().toISOString(),
  });
  files['plan.json'] = json({ sets, runs }, undefined);
  for (const f of TEMPLATE_FILES) files[f] = enc.encode(inp.template[f]);
  files['README.md'] = enc.encode(jobReadme(config, data.source, runs.length));
  return files;
}

function jobReadme(config: ExperimentConfig, source: string, nRuns: number): string {
  return `# SCPO experiment as a PyTorch job

Exported by SCPO Studio from \`${source}\`: countries ${config.countries.join(', ')}; methods ${config.methods.join(', ')};
${nRuns} training run${nRuns === 1 ? '' : 's'} (one reward model per country and trained method${config.efficiency && config.methods.includes('full_ft') && config.methods.includes('scpo') ? ', plus the data-efficiency subsets' : ''}).

- \`data/pairs.jsonl\`: every scored pair (country, split, texts, r_plus, r_minus, p_global, kept, edited, weight,
  inverse_weight, item ids of the bag RM's token tables).
- \`config.json\`: the experiment config (tau, beta, methods, steps, lr, batch, seed, countries, majority, ...).
- \`plan.json\`: each run's training pairs, weights, seed and step count, and each country's train/test pairs.
- \`bag/\`: the bundled bag RM's token ids (CSR) and initial weights (little-endian float32/int32, see manifest.json).
- \`job/run.py\`: the trainer (weighted Bradley-Terry loss, torch.distributed); \`job/hf.py\`: the Hugging Face path.

Output (\`--out OUT\`): full_report.json, partial_report.json, edited_ratios.json, bias_report.json, efficiency.json,
run.json, report.csv (the CLI's names and schema) and job_result.json (curves, margins; the studio's "Import run"
reads the folder or a zip of it).

## Run it

The bundled bag RM reproduces the browser run; a Hugging Face model (\`--model\`, needs \`pip install transformers\`)
is the paper's setting: input \`prompt [SEP] response\` truncated to 512 tokens, the same weighted loss.

    # 1 CPU
    python3 run.py --out OUT
    python3 run.py --model microsoft/deberta-v3-base --lr 1e-5 --out OUT
    # N CPU processes on this machine (gloo; the processes are started here, env:// on 127.0.0.1)
    python3 run.py --nprocs 4 --out OUT
    # 1 GPU
    python3 run.py --device cuda --out OUT
    python3 run.py --device cuda --model microsoft/deberta-v3-base --lr 1e-5 --batch 32 --amp bf16 --out OUT
    # N GPUs on one node (nccl)
    python3 run.py --device cuda --nprocs 8 --out OUT
    torchrun --nproc_per_node 8 run.py --device cuda --model microsoft/deberta-v3-base --lr 1e-5 --batch 32 --out OUT
    accelerate launch --num_processes 8 run.py --device cuda --model microsoft/deberta-v3-base --lr 1e-5 --out OUT
    # N nodes with G GPUs each: run on every node (NODE_RANK 0..N-1; MASTER_ADDR is node 0)
    torchrun --nnodes N --node_rank $NODE_RANK --nproc_per_node G --master_addr $MASTER_ADDR --master_port 29500 \\
      run.py --device cuda [--model microsoft/deberta-v3-base --lr 1e-5 --batch 32] --out OUT

\`--strategy runs\` (the bag RM's default) gives every process whole runs; \`--strategy ddp\` (the default with
\`--model\`) trains each run on all processes with DistributedDataParallel, each global batch split over them (the
same gradients as one process). \`--lr\`, \`--batch\` and \`--steps\` override the exported values (the plan's step
counts stay, capped by \`--steps\`).

The country RMs start from \`--model\` (use your global RM's checkpoint); \`start\` is the exported global scores.
`;
}
