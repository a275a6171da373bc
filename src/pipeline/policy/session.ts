// One policy session from loaded inputs, shared verbatim by the CLI (`npm run ppo`) and the policy worker:
// country RM(s) (trained with runSession, methods start + scpo, or given) -> bundled policy (trained on the data's
// responses, or given) -> best-of-N with the global and country RMs -> PPO against the chosen country RM ->
// before/after evaluation -> one JSON-able report.
import type { Backend } from '../../gpu/backend.ts';
import { DEFAULT_CONFIG, type ExperimentConfig } from '../experiment.ts';
import { hashSeed, Rng } from '../rng.ts';
import type { LoadedBagRM } from '../rm/files.ts';
import { encodeItems, tokenizerVocab } from '../rm/tokenizer.ts';
import type { BagRMParams, OptimizerConfig } from '../rm/types.ts';
import { runSession } from '../session.ts';
import type { RunControl } from '../train/loop.ts';
import { ConfigError, type PreferenceData } from '../types.ts';
import { PLANTED } from '../data/synthetic.ts';
import { bestOfN, type BestOfNPrompt, type BestOfNReport, type NamedRM } from './bestofn.ts';
import { cloneLm, DEFAULT_LM_SHAPE, lmForward, LmScratch, type MlpLmParams } from './lm.ts';
import { buildCorpus, evaluateNll, initPolicyFromRM, trainPolicyLM, type PolicyCorpus } from './lm-train.ts';
import { MlpLmPolicy, sampleBatch } from './mlp-policy.ts';
import { resolvePpo, rolloutBatch, runPpo, type PpoConfig, type PpoMetrics, type PpoPrompt, type PpoSample, type RewardFn } from './ppo.ts';
import { bagRmReward, makePpoPrompts, outToRm } from './rewards.ts';
import { klOfLogits } from './sampling.ts';
import { CpuPolicyTrainer, DEFAULT_POLICY_OPTIMIZER, type PolicyTrainer } from './trainer.ts';
import { resolveSampling, type GeneratedToken, type SamplingOptions } from './types.ts';
import { policyTokenizer, type PolicyVocab } from './vocab.ts';
import { dict, dictFrom, own } from '../dict.ts';

export interface PolicySessionConfig {
  /** The country whose RM PPO optimises. */
  country: string;
  /** 'global' runs PPO against the global RM instead (a control: the same report, the country RM only measured). */
  against: 'country' | 'global';
  /** Country RMs for best-of-N (the PPO country is always included). */
  countries: string[];
  seed: number;
  /** Country-RM training (runSession, methods start + scpo). */
  rm: { steps: number };
  /** Supervised training of the bundled policy. */
  policy: { steps: number; batch: number; hidden: number; context: number; lr: number };
  bestOfN: { n: number; prompts: number; sampling: SamplingOptions };
  ppo: PpoConfig;
  /** Before/after evaluation: samples per eval prompt set (temperature 1, fixed seeds). */
  evalSamples: number;
  /** Before/after samples shown in the report. */
  showSamples: number;
}

export const DEFAULT_POLICY_SESSION: PolicySessionConfig = {
  country: 'South Africa',
  against: 'country',
  countries: [],
  seed: 0,
  rm: { steps: DEFAULT_CONFIG.steps },
  policy: { steps: 300, batch: 8, hidden: DEFAULT_LM_SHAPE.hidden, context: DEFAULT_LM_SHAPE.context, lr: 3e-3 },
  bestOfN: { n: 8, prompts: 24, sampling: resolveSampling({ temperature: 1, maxTokens: 64 }) },
  ppo: resolvePpo(),
  evalSamples: 64,
  showSamples: 4,
};

/** A partial session config (every level optional), as the CLI, the URL or the UI form give it. */
export type PolicySessionPartial = Omit<Partial<PolicySessionConfig>, 'ppo' | 'rm' | 'policy' | 'bestOfN'> & {
  ppo?: Partial<PpoConfig>;
  rm?: Partial<PolicySessionConfig['rm']>;
  policy?: Partial<PolicySessionConfig['policy']>;
  bestOfN?: Partial<Omit<PolicySessionConfig['bestOfN'], 'sampling'>> & { sampling?: Partial<SamplingOptions> };
};

export function resolvePolicySession(p: PolicySessionPartial = {}): PolicySessionConfig {
  const d = DEFAULT_POLICY_SESSION;
  const c: PolicySessionConfig = {
    ...d,
    ...p,
    rm: { ...d.rm, ...p.rm },
    policy: { ...d.policy, ...p.policy },
    bestOfN: { ...d.bestOfN, ...p.bestOfN, sampling: resolveSampling({ ...d.bestOfN.sampling, ...p.bestOfN?.sampling }) },
    ppo: resolvePpo({ ...d.ppo, seed: p.seed ?? d.seed, ...p.ppo }),
  };
  const int = (name: string, v: number, lo: number, hi: number) => {
    if (!Number.isInteger(v) || v < lo || v > hi) throw new ConfigError(`${name} must be an integer in [${lo}, ${hi}], got ${String(v)}`);
  };
  if (typeof c.country !== 'string' || c.country === '') throw new ConfigError('country: give the country whose RM PPO optimises');
  if (c.against !== 'country' && c.against !== 'global') throw new ConfigError(`against must be country or global, got ${String(c.against)}`);
  int('seed', c.seed, 0, 2 ** 32 - 1);
  int('rm.steps', c.rm.steps, 0, 1e6);
  int('policy.steps', c.policy.steps, 0, 1e6);
  int('policy.batch', c.policy.batch, 1, 4096);
  int('policy.hidden', c.policy.hidden, 1, 4096);
  int('policy.context', c.policy.context, 1, 32);
  if (!(c.policy.lr > 0 && c.policy.lr < 1)) throw new ConfigError(`policy.lr must be in (0, 1), got ${c.policy.lr}`);
  int('bestOfN.n', c.bestOfN.n, 1, 1024);
  int('bestOfN.prompts', c.bestOfN.prompts, 0, 100000);
  int('evalSamples', c.evalSamples, 0, 100000);
  int('showSamples', c.showSamples, 0, 1000);
  c.countries = [...new Set([c.country, ...c.countries])];
  return c;
}

export type PolicyPhase = 'rm' | 'policy' | 'bestofn' | 'ppo' | 'evaluate' | 'done';

export type PolicyEvent =
  | { type: 'phase'; phase: PolicyPhase; label: string }
  | { type: 'policy-step'; step: number; total: number; loss: number }
  | { type: 'bestofn-prompt'; done: number; total: number; row: BestOfNPrompt }
  | { type: 'bestofn-token'; prompt: number; sample: number; token: GeneratedToken }
  | { type: 'ppo-step'; metrics: PpoMetrics; total: number }
  | { type: 'ppo-token'; step: number; prompt: string; text: string; done: boolean };

export interface PolicyEvaluation {
  /** Mean score of eval samples under the PPO country's RM. */
  reward: number;
  rewardGlobal: number;
  /** Mean over samples of sum_t KL(pi(.|s_t) || pi_ref(.|s_t)) (nats). */
  kl: number;
  meanLength: number;
  samples: number;
  /**
   * Synthetic data only: the samples' mean planted value profile, per dimension (pole-A words minus pole-B words,
   * halved, as docs/SYNTHETIC.md defines a response's profile) and the quality words (good minus bad).
   */
  planted?: { profile: number[]; quality: number };
}

/** Word -> [dimension, +1 | -1] of the synthetic generator's planted pole words, and the quality words (+1 / -1). */
export function plantedLexicon(): { poles: Map<string, [number, number]>; quality: Map<string, number> } {
  const poles = new Map<string, [number, number]>();
  PLANTED.dimensions.forEach((d, i) => {
    for (const w of d.poles[0].words) poles.set(w, [i, 1]);
    for (const w of d.poles[1].words) poles.set(w, [i, -1]);
  });
  const quality = new Map<string, number>();
  for (const w of PLANTED.qualityWords.good) quality.set(w, 1);
  for (const w of PLANTED.qualityWords.bad) quality.set(w, -1);
  return { poles, quality };
}

function plantedProfile(vocab: PolicyVocab, seqs: readonly (readonly number[])[]): { profile: number[]; quality: number } {
  const { poles, quality } = plantedLexicon();
  const profile = new Array<number>(PLANTED.dimensions.length).fill(0);
  let q = 0;
  for (const seq of seqs) {
    for (const o of seq) {
      const w = vocab.outWords[o];
      const pole = poles.get(w);
      if (pole) profile[pole[0]] += pole[1] / 2;
      q += quality.get(w) ?? 0;
    }
  }
  const n = Math.max(1, seqs.length);
  return { profile: profile.map((x) => x / n), quality: q / n };
}

export interface PolicyReport {
  app: 'scpo-studio';
  kind: 'policy-report';
  config: PolicySessionConfig;
  data: { source: string; items: number; pairs: number; trainPrompts: number; evalPrompts: number };
  rms: { global: string; countries: Record<string, { source: 'trained' | 'given'; accFull?: number; accStart?: number }> };
  policy: {
    source: 'trained' | 'given';
    backend: string;
    vocabIn: number;
    vocabOut: number;
    params: number;
    steps: number;
    lossFirst: number | null;
    lossLast: number | null;
    heldOutNll: number | null;
    ms: number;
  };
  bestOfN: { before: BestOfNReport | null; after: BestOfNReport | null };
  ppo: {
    country: string;
    /** Which RM PPO optimised ('reward' below is always the country RM's score, 'rewardGlobal' the global RM's). */
    against: 'country' | 'global';
    backend: string;
    metrics: PpoMetrics[];
    samplesBefore: PpoSample[];
    samplesAfter: PpoSample[];
    evalBefore: PolicyEvaluation;
    evalAfter: PolicyEvaluation;
    /** evalAfter - evalBefore under the country RM, and under the global RM. */
    rewardGain: number;
    globalChange: number;
    finalKl: number;
    /**
     * Synthetic data: the eval samples' planted value profile before/after and its projection on
     * (country vector - majority vector), i.e. how far the samples lean where the country differs from the majority.
     */
    planted: {
      dimensions: string[];
      country: number[];
      majority: number[];
      before: number[];
      after: number[];
      towardCountryBefore: number;
      towardCountryAfter: number;
    } | null;
  };
  sampling: { cpuTokensPerSecond: number };
  timings: Record<string, number>;
}

export interface PolicySessionInputs {
  data: PreferenceData;
  /** The bundled (global) RM with its tokenizer. */
  model: LoadedBagRM;
  /** Backend for country-RM training. */
  backend: Backend;
  config: PolicySessionPartial;
  /** Country RMs already trained (e.g. --rm <dir>); missing ones are trained here. */
  countryRMs?: Record<string, BagRMParams>;
  /** A policy already trained (e.g. loaded from its folder); trained here when absent. */
  policy?: { params: MlpLmParams; vocab: PolicyVocab };
  /** The policy trainer factory (cpu by default; webgpu with cpu fallback in the worker/CLI). */
  createTrainer?: (init: MlpLmParams, opt: OptimizerConfig) => Promise<PolicyTrainer>;
  onEvent?: (e: PolicyEvent) => void;
  control?: RunControl;
}

export interface PolicySessionOutput {
  report: PolicyReport;
  /** The policy before and after PPO. */
  basePolicy: { params: MlpLmParams; vocab: PolicyVocab };
  ppoParams: MlpLmParams;
  countryRMs: Record<string, BagRMParams>;
}

/** Unique prompt texts of the items in `pairs`, in first-seen order. */
function promptsOf(data: PreferenceData, filter: (p: PreferenceData['pairs'][number]) => boolean): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const p of data.pairs) {
    if (!filter(p)) continue;
    for (const i of [p.chosen, p.rejected]) {
      const t = data.items[i].prompt;
      if (!seen.has(t)) {
        seen.add(t);
        out.push(t);
      }
    }
  }
  return out;
}

/** Mean reward (two RMs), KL to the reference and length over fixed-seed samples of `params`. */
export async function evaluatePolicy(
  params: MlpLmParams,
  reference: MlpLmParams,
  vocab: PolicyVocab,
  prompts: readonly PpoPrompt[],
  seed: number,
  maxTokens: number,
  reward: RewardFn,
  globalReward: RewardFn,
  planted = false,
): Promise<PolicyEvaluation> {
  if (prompts.length === 0) return { reward: Number.NaN, rewardGlobal: Number.NaN, kl: Number.NaN, meanLength: Number.NaN, samples: 0 };
  const seeds = prompts.map((_, i) => hashSeed(seed, 'eval', i));
  const r = sampleBatch(params, vocab.outIn, prompts.map((p) => p.ids), { temperature: 1, topK: 0, topP: 1, maxTokens }, seeds);
  const a = await reward(prompts, r.tokens);
  const g = await globalReward(prompts, r.tokens);
  const batch = rolloutBatch(vocab, params.config.context, prompts.map((prompt, i) => ({ prompt, tokens: r.tokens[i] })));
  const Vo = params.config.vocabOut;
  const s1 = new LmScratch(params.config, 256);
  const s2 = new LmScratch(params.config, 256);
  let kl = 0;
  for (let start = 0; start < batch.n; start += 256) {
    const S = Math.min(256, batch.n - start);
    lmForward(params, batch, start, S, s1);
    lmForward(reference, batch, start, S, s2);
    for (let i = 0; i < S; i++) kl += klOfLogits(s1.L, i * Vo, s2.L, i * Vo, Vo);
  }
  const mean = (x: Float32Array) => x.reduce((u, v) => u + v, 0) / x.length;
  return {
    reward: mean(a),
    rewardGlobal: mean(g),
    kl: kl / prompts.length,
    meanLength: batch.n / prompts.length,
    samples: prompts.length,
    ...(planted ? { planted: plantedProfile(vocab, r.tokens) } : {}),
  };
}

export async function runPolicySession(inp: PolicySessionInputs): Promise<PolicySessionOutput> {
  const cfg = resolvePolicySession(inp.config);
  const emit = inp.onEvent ?? (() => {});
  const timings: Record<string, number> = {};
  const t0 = performance.now();
  const { data, model } = inp;
  const available = Object.keys(data.countries).filter((c) => (own(data.countries, c)?.pairs ?? 0) > 0);
  for (const c of cfg.countries) {
    if (!available.includes(c) && !own(inp.countryRMs, c)) {
      throw new ConfigError(`unknown or empty country "${c}" in ${data.source}; available: ${available.sort().join(', ')}`);
    }
  }
  const rmVocab = tokenizerVocab(model.tokenizerJson);
  const createTrainer = inp.createTrainer ?? (async (init: MlpLmParams, opt: OptimizerConfig) => new CpuPolicyTrainer(init, opt));

  // 1. Country RMs.
  const countryRMs: Record<string, BagRMParams> = dictFrom(Object.entries(inp.countryRMs ?? {}));
  const rmInfo: PolicyReport['rms']['countries'] = dict();
  for (const c of Object.keys(countryRMs)) rmInfo[c] = { source: 'given' };
  const toTrain = cfg.countries.filter((c) => !countryRMs[c]);
  let t = performance.now();
  if (toTrain.length > 0) {
    emit({ type: 'phase', phase: 'rm', label: `training the ${toTrain.join(', ')} RM${toTrain.length > 1 ? 's' : ''} (scpo)` });
    const expCfg: Partial<ExperimentConfig> = {
      countries: toTrain,
      methods: ['start', 'scpo'],
      efficiency: false,
      seed: cfg.seed,
      steps: cfg.rm.steps,
      evalPoints: 0,
    };
    const majority = DEFAULT_CONFIG.majority.filter((m) => available.includes(m));
    const { result } = await runSession({
      data,
      model,
      backend: inp.backend,
      config: { ...DEFAULT_CONFIG, ...expCfg, majority: majority.length ? majority : [toTrain[0]] },
      globalRm: 'as-loaded',
      control: inp.control,
      onModel: (country, method, params) => {
        if (method === 'scpo') countryRMs[country] = params;
      },
    });
    for (const c of toTrain) {
      const scpo = result.runs.find((r) => r.country === c && r.method === 'scpo');
      const start = result.runs.find((r) => r.country === c && r.method === 'start');
      rmInfo[c] = { source: 'trained', accFull: scpo?.accFull, accStart: start?.accFull };
      if (!countryRMs[c]) throw new Error(`country RM for ${c} was not produced`);
    }
  }
  timings.rmMs = performance.now() - t;

  // 2. The bundled policy.
  t = performance.now();
  const encoded = encodeItems(model.tokenizer, data.items, model.params.config);
  const corpus: PolicyCorpus = buildCorpus(encoded, rmVocab, inp.policy ? { vocab: inp.policy.vocab } : {});
  const trainPairs = data.pairs.filter((p) => p.split === 'train');
  const trainItems = [...new Set(trainPairs.flatMap((p) => [p.chosen, p.rejected]))].sort((a, b) => a - b);
  const testItems = [...new Set(data.pairs.filter((p) => p.split === 'test').flatMap((p) => [p.chosen, p.rejected]))].sort((a, b) => a - b);
  const heldOut = new Rng(hashSeed(cfg.seed, 'heldout')).shuffle(testItems.slice()).slice(0, 200);
  let params: MlpLmParams;
  let losses: number[] = [];
  const polOpt: OptimizerConfig = { ...DEFAULT_POLICY_OPTIMIZER, lr: cfg.policy.lr };
  let policyBackend = 'given';
  let heldOutNll: number | null = null;
  if (inp.policy) {
    params = cloneLm(inp.policy.params);
  } else {
    emit({ type: 'phase', phase: 'policy', label: `training the bundled policy on ${trainItems.length} responses` });
    const init = initPolicyFromRM(corpus, model.params, rmVocab, { hidden: cfg.policy.hidden, context: cfg.policy.context }, cfg.seed);
    const trainer = await createTrainer(init, polOpt);
    policyBackend = trainer.backend;
    try {
      losses = await trainPolicyLM(
        trainer,
        corpus,
        trainItems,
        { steps: cfg.policy.steps, batch: cfg.policy.batch, seed: hashSeed(cfg.seed, 'policy') },
        init.config,
        (step, loss) => emit({ type: 'policy-step', step, total: cfg.policy.steps, loss }),
        inp.control,
      );
      heldOutNll = await evaluateNll(trainer, corpus, heldOut, init.config.context, init.config.maxPromptTokens);
      params = await trainer.params();
    } finally {
      trainer.dispose();
    }
  }
  const vocab = corpus.vocab;
  timings.policyMs = performance.now() - t;

  // 3. Prompts: PPO rollouts from the country's training prompts; evaluation and best-of-N from its test prompts.
  const polTok = policyTokenizer(vocab);
  const trainTexts = new Rng(hashSeed(cfg.seed, 'ppo-prompts')).shuffle(promptsOf(data, (p) => p.split === 'train' && p.country === cfg.country));
  let evalTexts = new Rng(hashSeed(cfg.seed, 'eval-prompts')).shuffle(promptsOf(data, (p) => p.split === 'test' && p.country === cfg.country));
  if (evalTexts.length === 0) evalTexts = trainTexts.slice();
  const mk = (texts: string[]) => makePpoPrompts(texts, polTok, params.config.maxPromptTokens, model.tokenizer, model.params.config.maxPromptTokens);
  const ppoPrompts = mk(trainTexts.length ? trainTexts : evalTexts);
  const evalPrompts: PpoPrompt[] = [];
  const evalBase = mk(evalTexts);
  for (let i = 0; i < cfg.evalSamples && evalBase.length; i++) evalPrompts.push(evalBase[i % evalBase.length]);
  const outRm = outToRm(vocab, rmVocab);
  const countryRM = countryRMs[cfg.country];
  const countryReward = bagRmReward(countryRM, outRm);
  const globalReward = bagRmReward(model.params, outRm);
  // The RM PPO optimises; the report's 'reward' is always the country RM's and 'rewardGlobal' the global RM's.
  const ppoReward = cfg.against === 'country' ? countryReward : globalReward;
  const reward = countryReward;

  // Sampling speed of the CPU policy (lockstep batch of the eval prompts).
  const ts = performance.now();
  const probe = sampleBatch(params, vocab.outIn, evalBase.slice(0, 32).map((p) => p.ids), { temperature: 1, topK: 0, topP: 1, maxTokens: cfg.ppo.maxTokens }, evalBase.slice(0, 32).map((_, i) => i));
  const probeTokens = probe.tokens.reduce((a, x) => a + x.length, 0);
  const cpuTokensPerSecond = probeTokens / Math.max(1e-9, (performance.now() - ts) / 1000);

  // 4. Best-of-N before PPO.
  t = performance.now();
  const rms: NamedRM[] = [{ name: 'global', params: model.params }, ...cfg.countries.map((c) => ({ name: c, params: countryRMs[c] }))];
  const bonPrompts = evalTexts.slice(0, cfg.bestOfN.prompts);
  const runBon = async (p: MlpLmParams, label: string): Promise<BestOfNReport | null> => {
    if (bonPrompts.length === 0) return null;
    emit({ type: 'phase', phase: 'bestofn', label: `best-of-${cfg.bestOfN.n} on ${bonPrompts.length} prompts (${label})` });
    return bestOfN({
      policy: new MlpLmPolicy(p, vocab, `bundled MLP policy (${label})`, polTok),
      prompts: bonPrompts,
      n: cfg.bestOfN.n,
      sampling: cfg.bestOfN.sampling,
      rms,
      tokenizer: model.tokenizer,
      onToken: (prompt, sample, token) => emit({ type: 'bestofn-token', prompt, sample, token }),
      onPrompt: (done, total, row) => emit({ type: 'bestofn-prompt', done, total, row }),
      control: inp.control,
    });
  };
  const bonBefore = await runBon(params, 'before PPO');
  timings.bestOfNMs = performance.now() - t;

  // 5. PPO.
  t = performance.now();
  emit({ type: 'phase', phase: 'ppo', label: `PPO against the ${cfg.against === 'country' ? cfg.country : 'global'} RM (${cfg.ppo.steps} steps)` });
  const synthetic = data.source.startsWith('synthetic');
  const evalBefore = await evaluatePolicy(params, params, vocab, evalPrompts, cfg.seed, cfg.ppo.maxTokens, reward, globalReward, synthetic);
  // runPpo reports its own RM as 'reward': put the country RM's score there whichever RM PPO optimises.
  const swap = cfg.against === 'global';
  const orient = <T extends { reward: number; rewardGlobal: number | null }>(x: T): T =>
    swap ? { ...x, reward: x.rewardGlobal ?? Number.NaN, rewardGlobal: x.reward } : x;
  const ppoTrainer = await createTrainer(params, { ...DEFAULT_POLICY_OPTIMIZER, lr: cfg.ppo.lr });
  let ppoResult;
  try {
    ppoResult = await runPpo({
      trainer: ppoTrainer,
      reference: params,
      vocab,
      prompts: ppoPrompts,
      reward: ppoReward,
      globalReward: cfg.against === 'country' ? globalReward : countryReward,
      config: cfg.ppo,
      samplePrompts: evalBase.slice(0, cfg.showSamples),
      onStep: (metrics) => emit({ type: 'ppo-step', metrics: orient(metrics), total: cfg.ppo.steps }),
      onToken: (step, prompt, text, done) => emit({ type: 'ppo-token', step, prompt, text, done }),
      control: inp.control,
    });
  } finally {
    ppoTrainer.dispose();
  }
  timings.ppoMs = performance.now() - t;
  t = performance.now();
  emit({ type: 'phase', phase: 'evaluate', label: 'evaluating the policy before and after PPO' });
  const evalAfter = await evaluatePolicy(ppoResult.params, params, vocab, evalPrompts, cfg.seed, cfg.ppo.maxTokens, reward, globalReward, synthetic);
  let planted: PolicyReport['ppo']['planted'] = null;
  if (synthetic && evalBefore.planted && evalAfter.planted && PLANTED.countryVectors[cfg.country]) {
    const c = PLANTED.countryVectors[cfg.country];
    const m = PLANTED.majorityVector;
    const toward = (p: number[]) => p.reduce((acc, x, d) => acc + x * (c[d] - m[d]), 0);
    planted = {
      dimensions: PLANTED.dimensions.map((d) => d.name),
      country: [...c],
      majority: [...m],
      before: evalBefore.planted.profile,
      after: evalAfter.planted.profile,
      towardCountryBefore: toward(evalBefore.planted.profile),
      towardCountryAfter: toward(evalAfter.planted.profile),
    };
  }
  const bonAfter = await runBon(ppoResult.params, 'after PPO');
  timings.evaluateMs = performance.now() - t;
  timings.totalMs = performance.now() - t0;

  const nParams = params.E.length + params.W1.length + params.b1.length + params.W2.length + params.b2.length;
  const report: PolicyReport = {
    app: 'scpo-studio',
    kind: 'policy-report',
    config: cfg,
    data: { source: data.source, items: data.items.length, pairs: data.pairs.length, trainPrompts: ppoPrompts.length, evalPrompts: evalBase.length },
    rms: { global: 'bundled', countries: rmInfo },
    policy: {
      source: inp.policy ? 'given' : 'trained',
      backend: policyBackend,
      vocabIn: params.config.vocabIn,
      vocabOut: params.config.vocabOut,
      params: nParams,
      steps: losses.length,
      lossFirst: losses.length ? losses[0] : null,
      lossLast: losses.length ? mean(losses.slice(-20)) : null,
      heldOutNll,
      ms: timings.policyMs,
    },
    bestOfN: { before: bonBefore, after: bonAfter },
    ppo: {
      country: cfg.country,
      backend: ppoTrainer.backend,
      against: cfg.against,
      metrics: ppoResult.metrics.map(orient),
      samplesBefore: ppoResult.before.map(orient),
      samplesAfter: ppoResult.after.map(orient),
      evalBefore,
      evalAfter,
      rewardGain: evalAfter.reward - evalBefore.reward,
      globalChange: evalAfter.rewardGlobal - evalBefore.rewardGlobal,
      finalKl: evalAfter.kl,
      planted,
    },
    sampling: { cpuTokensPerSecond },
    timings,
  };
  emit({ type: 'phase', phase: 'done', label: 'done' });
  return { report, basePolicy: { params, vocab }, ppoParams: ppoResult.params, countryRMs };
}

function mean(a: number[]): number {
  return a.length ? a.reduce((x, y) => x + y, 0) / a.length : Number.NaN;
}
