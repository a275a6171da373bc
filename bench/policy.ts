// `npm run bench:policy`: speed of the policy side in Node, on the bundled policy (public/models/scpo-mlp-policy)
// and the default synthetic prompts. Prints a table and saves bench/results/policy.json. Never passes or fails.
//   - sampling tokens/s: CPU (JS) one sequence at a time and in lockstep batches; onnxruntime-web (wasm EP) one
//     sequence at a time and batched logits; transformers.js text-generation on public/models/tiny-policy
//   - training step ms of a PPO-sized minibatch: cpu trainer vs webgpu trainer (Node Dawn; SwiftShader here)
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSynthetic } from '../src/pipeline/data/index.ts';
import { acquireDevice } from '../src/gpu/device.ts';
import { getNodeGpu } from '../src/gpu/node-webgpu.node.ts';
import { MlpLmPolicy, sampleBatch } from '../src/pipeline/policy/mlp-policy.ts';
import { loadPolicy } from '../src/pipeline/policy/onnx.ts';
import { OrtPolicy } from '../src/pipeline/policy/ort-policy.ts';
import { rolloutBatch } from '../src/pipeline/policy/ppo.ts';
import { makePpoPrompts } from '../src/pipeline/policy/rewards.ts';
import { CpuPolicyTrainer, DEFAULT_POLICY_OPTIMIZER, type PolicyTrainer } from '../src/pipeline/policy/trainer.ts';
import { webGpuPolicyTrainerFactory } from '../src/pipeline/policy/trainer-webgpu.ts';
import { TransformersPolicy } from '../src/pipeline/policy/transformers-policy.ts';
import { resolveSampling } from '../src/pipeline/policy/types.ts';
import { policyTokenizer } from '../src/pipeline/policy/vocab.ts';
import { dirReader } from '../src/pipeline/rm/files.node.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out: Record<string, unknown> = { date: new Date().toISOString(), node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model };
const rows: string[] = [];
const log = (m: string) => console.log(`[bench:policy] ${m}`);

const { params, vocab, onnx } = await loadPolicy(dirReader(join(ROOT, 'public/models/scpo-mlp-policy')));
const data = await loadSynthetic(0);
const prompts = [...new Set(data.items.map((i) => i.prompt))].slice(0, 64);
const sampling = resolveSampling({ temperature: 1, maxTokens: 64 });

// CPU, one at a time.
{
  const pol = new MlpLmPolicy(params, vocab);
  await pol.generate(prompts[0], sampling);
  const t0 = performance.now();
  let tok = 0;
  for (let i = 0; i < 32; i++) tok += (await pol.generate(prompts[i], { ...sampling, seed: i })).tokens.length;
  const tps = tok / ((performance.now() - t0) / 1000);
  out.cpuSingle = tps;
  rows.push(`sampling, cpu (JS), 1 sequence         ${tps.toFixed(0).padStart(8)} tokens/s`);
}
// CPU, lockstep batches.
const ptok = policyTokenizer(vocab);
const pp = makePpoPrompts(prompts, ptok, params.config.maxPromptTokens);
for (const B of [16, 64]) {
  sampleBatch(params, vocab.outIn, pp.slice(0, B).map((p) => p.ids), sampling, pp.slice(0, B).map((_, i) => 1000 + i)); // warm-up
  const t0 = performance.now();
  const r = sampleBatch(params, vocab.outIn, pp.slice(0, B).map((p) => p.ids), sampling, pp.slice(0, B).map((_, i) => i));
  const tok = r.tokens.reduce((a, t) => a + t.length, 0);
  const tps = tok / ((performance.now() - t0) / 1000);
  out[`cpuBatch${B}`] = tps;
  rows.push(`sampling, cpu (JS), lockstep batch ${String(B).padStart(2)}   ${tps.toFixed(0).padStart(8)} tokens/s`);
}
// ORT wasm.
{
  const ort = await OrtPolicy.create(onnx, params.config, vocab, { executionProviders: ['wasm'] });
  await ort.generate(prompts[0], sampling);
  const t0 = performance.now();
  let tok = 0;
  for (let i = 0; i < 16; i++) tok += (await ort.generate(prompts[i], { ...sampling, seed: i })).tokens.length;
  const tps = tok / ((performance.now() - t0) / 1000);
  out.ortWasmSingle = tps;
  rows.push(`sampling, onnxruntime-web wasm, 1 seq   ${tps.toFixed(0).padStart(8)} tokens/s`);
  const rowsIn = Array.from({ length: 256 }, (_, i) => ({ ctx: [2, 2, 2], prompt: pp[i % pp.length].ids }));
  await ort.logits(rowsIn);
  const t1 = performance.now();
  for (let r = 0; r < 5; r++) await ort.logits(rowsIn);
  const rps = (5 * 256) / ((performance.now() - t1) / 1000);
  out.ortWasmBatchRowsPerS = rps;
  rows.push(`logits, onnxruntime-web wasm, batch 256 ${rps.toFixed(0).padStart(8)} rows/s`);
  ort.dispose();
}
// transformers.js tiny GPT-2.
try {
  const tf = await TransformersPolicy.load(join(ROOT, 'public/models/tiny-policy'), { device: 'cpu' });
  await tf.generate(prompts[0], { ...sampling, maxTokens: 8 });
  const t0 = performance.now();
  let tok = 0;
  for (let i = 0; i < 8; i++) tok += (await tf.generate(prompts[i], { ...sampling, seed: i, maxTokens: 32 })).tokens.length;
  const tps = tok / ((performance.now() - t0) / 1000);
  out.transformersTinyGpt2 = tps;
  rows.push(`sampling, transformers.js tiny-policy   ${tps.toFixed(0).padStart(8)} tokens/s`);
  tf.dispose();
} catch (e) {
  out.transformersTinyGpt2 = { error: (e as Error).message };
  rows.push(`sampling, transformers.js: ${(e as Error).message}`);
}
// Training step: PPO-sized minibatch (8 rollouts of the policy itself).
{
  const r = sampleBatch(params, vocab.outIn, pp.slice(0, 8).map((p) => p.ids), sampling, [1, 2, 3, 4, 5, 6, 7, 8]);
  const batch = rolloutBatch(vocab, params.config.context, pp.slice(0, 8).map((prompt, i) => ({ prompt, tokens: r.tokens[i] })));
  for (let i = 0; i < batch.n; i++) batch.weight[i] = (i % 3 === 0 ? -1 : 1) / batch.n;
  const time = async (tr: PolicyTrainer, reps: number) => {
    await tr.logits(batch);
    await tr.step(batch);
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) {
      await tr.logits(batch);
      await tr.step(batch);
    }
    return (performance.now() - t0) / reps;
  };
  const cpuMs = await time(new CpuPolicyTrainer(params, DEFAULT_POLICY_OPTIMIZER), 10);
  out.stepTokens = batch.n;
  out.cpuStepMs = cpuMs;
  rows.push(`PPO minibatch (${batch.n} tokens) logits+step, cpu      ${cpuMs.toFixed(1).padStart(7)} ms`);
  const { gpu } = await getNodeGpu();
  try {
    const ctx = await acquireDevice(gpu, { label: 'bench-policy' });
    const tr = await webGpuPolicyTrainerFactory(ctx)(params, DEFAULT_POLICY_OPTIMIZER);
    const ms = await time(tr, 5);
    out.webgpuStepMs = ms;
    out.webgpuAdapter = `${ctx.report.vendor}/${ctx.report.architecture}`;
    rows.push(`PPO minibatch logits+step, webgpu (${ctx.report.vendor}/${ctx.report.architecture}) ${ms.toFixed(1).padStart(7)} ms`);
    tr.dispose();
    ctx.destroy();
  } catch (e) {
    out.webgpuStepMs = { error: (e as Error).message };
    rows.push(`webgpu: ${(e as Error).message}`);
  }
}
console.log(rows.join('\n'));
mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
writeFileSync(join(ROOT, 'bench/results/policy.json'), JSON.stringify(out, null, 1) + '\n');
log('saved bench/results/policy.json');
process.exit(0);
