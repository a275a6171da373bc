// PPO against a reward model (RLHF style, Ziegler et al. 2019 / InstructGPT):
//   - rollouts: one response per prompt sampled from the current policy at temperature 1 (on-policy);
//   - reward: the chosen RM's score of (prompt, response) at the last token, plus a per-token KL penalty to the
//     frozen reference policy, r_t = -klCoef * (log pi_old(a_t|s_t) - log pi_ref(a_t|s_t));
//   - advantages: GAE(gamma, lambda) with a value head (a linear head on the policy's hidden features, detached,
//     fitted by least squares steps on the returns), or 'baseline': reward-to-go minus the batch mean (no critic);
//     advantages are whitened over the batch's tokens;
//   - objective: clipped surrogate, J = mean_t min(rho_t A_t, clip(rho_t, 1-eps, 1+eps) A_t), rho_t = exp(logpi - logpi_old),
//     maximised with the PolicyTrainer's weighted cross-entropy step: w_t = rho_t A_t [unclipped branch active] / N,
//     which is exactly -dJ/dlogpi_t (the step's gradient is -sum_t w_t grad logpi_t).
// Metrics per PPO step: mean reward under the PPO RM and under the global RM, KL(pi||ref) per sequence, entropy,
// clip fraction, approximate KL(old||new), value loss, response length.
import { hashSeed, Rng } from '../rng.ts';
import { checkpointTick, type RunControl } from '../train/loop.ts';
import { appendResponseExamples, emptyExamples, lmForward, LmScratch, toLmBatch, type LmBatch, type MlpLmParams } from './lm.ts';
import { sampleBatch } from './mlp-policy.ts';
import { entropyOfLogits, klOfLogits, logSumExp } from './sampling.ts';
import type { PolicyTrainer } from './trainer.ts';
import { EOS_OUT, tokenText, type PolicyVocab } from './vocab.ts';
import { ConfigError } from '../types.ts';

// ---------------------------------------------------------------------------------------------------------------
// The math, as small pure functions (unit-tested against hand-computed values).

/** Probability ratio rho = pi_new / pi_old from log-probabilities. */
export function probRatio(logpNew: number, logpOld: number): number {
  return Math.exp(logpNew - logpOld);
}

export interface SurrogateTerm {
  /** min(rho A, clip(rho) A). */
  objective: number;
  /** d objective / d logpi_new (= rho A on the unclipped branch, else 0). */
  gradLogp: number;
  /** |rho - 1| > eps. */
  clipped: boolean;
}

/** One token's clipped surrogate term. */
export function clippedSurrogate(ratio: number, advantage: number, eps: number): SurrogateTerm {
  const unclipped = ratio * advantage;
  const clippedRatio = Math.min(Math.max(ratio, 1 - eps), 1 + eps);
  const clippedObj = clippedRatio * advantage;
  // The unclipped branch is the active (smaller) one unless clipping strictly lowers the objective.
  const useUnclipped = unclipped <= clippedObj;
  return {
    objective: useUnclipped ? unclipped : clippedObj,
    gradLogp: useUnclipped ? unclipped : 0,
    clipped: Math.abs(ratio - 1) > eps,
  };
}

/**
 * Generalised advantage estimation for one sequence of T steps ending in a terminal state (V_T = 0):
 * delta_t = r_t + gamma V_{t+1} - V_t, A_t = delta_t + gamma lambda A_{t+1}; returns_t = A_t + V_t.
 */
export function gae(rewards: ArrayLike<number>, values: ArrayLike<number>, gamma: number, lambda: number): { advantages: Float64Array; returns: Float64Array } {
  const T = rewards.length;
  const advantages = new Float64Array(T);
  const returns = new Float64Array(T);
  let next = 0;
  let nextValue = 0;
  for (let t = T - 1; t >= 0; t--) {
    const delta = rewards[t] + gamma * nextValue - values[t];
    next = delta + gamma * lambda * next;
    advantages[t] = next;
    returns[t] = next + values[t];
    nextValue = values[t];
  }
  return { advantages, returns };
}

/** Discounted reward-to-go G_t = sum_{u >= t} gamma^(u-t) r_u. */
export function rewardToGo(rewards: ArrayLike<number>, gamma: number): Float64Array {
  const out = new Float64Array(rewards.length);
  let acc = 0;
  for (let t = rewards.length - 1; t >= 0; t--) {
    acc = rewards[t] + gamma * acc;
    out[t] = acc;
  }
  return out;
}

/** Per-token rewards: -klCoef (logpi_old - logpi_ref) at every token, plus `score` at the last one. */
export function tokenRewards(score: number, logpOld: ArrayLike<number>, logpRef: ArrayLike<number>, klCoef: number): Float64Array {
  const T = logpOld.length;
  const r = new Float64Array(T);
  for (let t = 0; t < T; t++) r[t] = -klCoef * (logpOld[t] - logpRef[t]);
  if (T > 0) r[T - 1] += score;
  return r;
}

/** The adaptive KL controller's update: beta (1 + rate clip(kl / target - 1, -0.2, 0.2)). */
export function adaptKlCoef(beta: number, kl: number, target: number, rate: number): number {
  const e = Math.min(0.2, Math.max(-0.2, kl / target - 1));
  return beta * (1 + rate * e);
}

/** (x - mean) / (std + 1e-8) in place; returns [mean, std]. */
export function whiten(x: Float64Array): [number, number] {
  const n = x.length;
  if (n === 0) return [0, 0];
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[i];
  mean /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (x[i] - mean) ** 2;
  const std = Math.sqrt(v / n);
  for (let i = 0; i < n; i++) x[i] = (x[i] - mean) / (std + 1e-8);
  return [mean, std];
}

// ---------------------------------------------------------------------------------------------------------------
// The loop.

export interface PpoConfig {
  /** PPO iterations (rollout + optimisation). */
  steps: number;
  /** Rollouts (prompts) per iteration. */
  batchPrompts: number;
  /** Optimisation passes over each rollout batch. */
  epochs: number;
  /** Minibatches per pass (split by sequence). */
  minibatches: number;
  lr: number;
  clip: number;
  klCoef: number;
  /**
   * Adaptive KL (Ziegler et al. 2019): when set, klCoef is the starting value and after each step it is multiplied by
   * 1 + klRate * clip(KL / klTarget - 1, -0.2, 0.2), KL being the step's mean sequence KL (nats). null = fixed.
   */
  klTarget: number | null;
  klRate: number;
  gamma: number;
  lambda: number;
  advantage: 'gae' | 'baseline';
  /** Adam learning rate of the value head. */
  valueLr: number;
  maxTokens: number;
  seed: number;
}

export const DEFAULT_PPO: PpoConfig = {
  steps: 40,
  batchPrompts: 16,
  epochs: 2,
  minibatches: 2,
  lr: 5e-4,
  clip: 0.2,
  klCoef: 0.1,
  klTarget: null,
  klRate: 0.5,
  gamma: 1,
  lambda: 0.95,
  advantage: 'gae',
  valueLr: 1e-2,
  maxTokens: 64,
  seed: 0,
};

export function resolvePpo(partial: Partial<PpoConfig> = {}): PpoConfig {
  const c = { ...DEFAULT_PPO, ...partial };
  const num = (k: keyof PpoConfig, lo: number, hi: number, int = false) => {
    const v = c[k] as number;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi || (int && !Number.isInteger(v))) {
      throw new ConfigError(`ppo: ${k} must be ${int ? 'an integer' : 'a number'} in [${lo}, ${hi}], got ${String(v)}`);
    }
  };
  num('steps', 0, 1e6, true);
  num('batchPrompts', 1, 4096, true);
  num('epochs', 1, 100, true);
  num('minibatches', 1, 4096, true);
  num('lr', 0, 1);
  num('clip', 1e-6, 10);
  num('klCoef', 0, 100);
  if (c.klTarget !== null) num('klTarget', 1e-6, 1e6);
  num('klRate', 0, 10);
  num('gamma', 0, 1);
  num('lambda', 0, 1);
  num('valueLr', 0, 10);
  num('maxTokens', 1, 4096, true);
  num('seed', 0, 2 ** 32 - 1, true);
  if (c.advantage !== 'gae' && c.advantage !== 'baseline') throw new ConfigError(`ppo: advantage must be gae or baseline, got ${String(c.advantage)}`);
  return c;
}

/** A prompt as the policy sees it (input ids) and as the reward model sees it (its own token ids, optional). */
export interface PpoPrompt {
  text: string;
  ids: Int32Array;
  rmIds?: Int32Array;
}

/** Sequence-level scores of responses (output ids, [EOS] possibly last) to prompts. */
export type RewardFn = (prompts: readonly PpoPrompt[], responses: readonly (readonly number[])[]) => Float32Array | Promise<Float32Array>;

export interface PpoMetrics {
  step: number;
  /** Mean score of this step's rollouts under the PPO reward model (before the update). */
  reward: number;
  /** Same rollouts under the global RM (when given). */
  rewardGlobal: number | null;
  /** Mean over sequences of sum_t KL(pi_old(.|s_t) || pi_ref(.|s_t)) (exact, nats). */
  kl: number;
  /** Mean over sequences of sum_t (logpi_old - logpi_ref) at the sampled tokens (the k1 estimator the penalty uses). */
  klSampled: number;
  /** Mean per-token entropy of pi_old (nats). */
  entropy: number;
  /** Fraction of token updates with |rho - 1| > clip (all epochs). */
  clipFrac: number;
  /** Mean of (logpi_old - logpi_new) over the last epoch's tokens (approximate KL(old || new)). */
  approxKl: number;
  valueLoss: number;
  /** The KL coefficient used for this step's rewards (changes only with klTarget). */
  klCoef: number;
  /** Surrogate objective (mean over tokens, first minibatch of the first epoch). */
  objective: number;
  meanLength: number;
  ms: number;
}

export interface PpoSample {
  prompt: string;
  text: string;
  reward: number;
  rewardGlobal: number | null;
}

export interface PpoInputs {
  trainer: PolicyTrainer;
  /** The frozen reference policy (usually the trainer's initial parameters). */
  reference: MlpLmParams;
  vocab: PolicyVocab;
  prompts: readonly PpoPrompt[];
  reward: RewardFn;
  /** Scores the same rollouts for the global-RM curve (optional). */
  globalReward?: RewardFn;
  config: PpoConfig;
  /** Prompts for the before/after samples (sampled at temperature 1 with fixed seeds). */
  samplePrompts?: readonly PpoPrompt[];
  onStep?: (m: PpoMetrics) => void;
  /** Streams the first rollout of each step, token by token (the UI's live sample). */
  onToken?: (step: number, prompt: string, text: string, done: boolean) => void;
  control?: RunControl;
}

export interface PpoResult {
  metrics: PpoMetrics[];
  before: PpoSample[];
  after: PpoSample[];
  params: MlpLmParams;
}

interface Rollout {
  prompt: PpoPrompt;
  tokens: number[];
  logpOld: Float64Array;
  logpRef: Float64Array;
  values: Float64Array;
  features: Float64Array; // [T, H]
  advantages: Float64Array;
  returns: Float64Array;
  score: number;
}

/** Linear value head on detached hidden features: v = w . h + b, fitted with Adam on squared error. */
class ValueHead {
  w: Float64Array;
  b = 0;
  private mw: Float64Array;
  private vw: Float64Array;
  private mb = 0;
  private vb = 0;
  private t = 0;
  constructor(
    readonly H: number,
    private readonly lr: number,
  ) {
    this.w = new Float64Array(H);
    this.mw = new Float64Array(H);
    this.vw = new Float64Array(H);
  }
  predict(f: Float64Array, off: number): number {
    let v = this.b;
    for (let j = 0; j < this.H; j++) v += this.w[j] * f[off + j];
    return v;
  }
  /** One Adam step on mean squared error over the rollouts' tokens; returns the loss before the step. */
  fit(rs: Rollout[]): number {
    const g = new Float64Array(this.H);
    let gb = 0;
    let loss = 0;
    let n = 0;
    for (const r of rs) {
      for (let t = 0; t < r.tokens.length; t++) {
        const e = this.predict(r.features, t * this.H) - r.returns[t];
        loss += e * e;
        gb += e;
        for (let j = 0; j < this.H; j++) g[j] += e * r.features[t * this.H + j];
        n++;
      }
    }
    if (n === 0) return 0;
    const t = ++this.t;
    const b1 = 0.9;
    const b2 = 0.999;
    const c1 = 1 - b1 ** t;
    const c2 = 1 - b2 ** t;
    const upd = (gi: number, m: number, v: number): [number, number, number] => {
      const mi = b1 * m + (1 - b1) * gi;
      const vi = b2 * v + (1 - b2) * gi * gi;
      return [(this.lr * (mi / c1)) / (Math.sqrt(vi / c2) + 1e-8), mi, vi];
    };
    for (let j = 0; j < this.H; j++) {
      const [d, m, v] = upd((2 * g[j]) / n, this.mw[j], this.vw[j]);
      this.w[j] -= d;
      this.mw[j] = m;
      this.vw[j] = v;
    }
    const [d, m, v] = upd((2 * gb) / n, this.mb, this.vb);
    this.b -= d;
    this.mb = m;
    this.vb = v;
    return loss / n;
  }
}

/** Token examples of rollouts, in sequence order (contexts rebuilt from the sampled tokens). */
export function rolloutBatch(vocab: PolicyVocab, k: number, seqs: readonly { prompt: PpoPrompt; tokens: readonly number[] }[]): LmBatch {
  const e = emptyExamples();
  for (const s of seqs) appendResponseExamples(vocab, k, s.prompt.ids, s.tokens, e);
  return toLmBatch(e);
}

/** Per example: log-softmax of the logits at its target. */
export function targetLogprobs(logits: Float32Array | Float64Array, target: Int32Array, C: number): Float64Array {
  const out = new Float64Array(target.length);
  for (let i = 0; i < target.length; i++) out[i] = logits[i * C + target[i]] - logSumExp(logits, i * C, C);
  return out;
}

async function samples(p: MlpLmParams, vocab: PolicyVocab, prompts: readonly PpoPrompt[], cfg: PpoConfig, inp: PpoInputs): Promise<PpoSample[]> {
  if (prompts.length === 0) return [];
  const seeds = prompts.map((_, i) => hashSeed(cfg.seed, 'sample', i));
  const r = sampleBatch(p, vocab.outIn, prompts.map((q) => q.ids), { temperature: 1, topK: 0, topP: 1, maxTokens: cfg.maxTokens }, seeds);
  const scores = await inp.reward(prompts, r.tokens);
  const global = inp.globalReward ? await inp.globalReward(prompts, r.tokens) : null;
  return prompts.map((q, i) => ({
    prompt: q.text,
    text: r.tokens[i].map((id, j) => tokenText(vocab, id, j)).join(''),
    reward: scores[i],
    rewardGlobal: global ? global[i] : null,
  }));
}

export async function runPpo(inp: PpoInputs): Promise<PpoResult> {
  const cfg = resolvePpo(inp.config);
  const { trainer, vocab, reference } = inp;
  if (inp.prompts.length === 0) throw new ConfigError('ppo: no prompts');
  const lmCfg = reference.config;
  const { context: k, hidden: H, vocabOut: Vo } = lmCfg;
  const value = new ValueHead(H, cfg.valueLr);
  const metrics: PpoMetrics[] = [];
  let current = await trainer.params();
  const before = await samples(current, vocab, inp.samplePrompts ?? [], cfg, inp);
  const scratch = new LmScratch(lmCfg, 256);
  const refScratch = new LmScratch(lmCfg, 256);
  let cursor = 0;
  let klCoef = cfg.klCoef;

  for (let step = 1; step <= cfg.steps; step++) {
    const t0 = performance.now();
    await checkpointTick(inp.control);
    // 1. Rollouts.
    const prompts: PpoPrompt[] = [];
    for (let i = 0; i < cfg.batchPrompts; i++) prompts.push(inp.prompts[cursor++ % inp.prompts.length]);
    const seeds = prompts.map((_, i) => hashSeed(cfg.seed, 'rollout', step, i));
    let live = '';
    const sampled = sampleBatch(
      current,
      vocab.outIn,
      prompts.map((q) => q.ids),
      { temperature: 1, topK: 0, topP: 1, maxTokens: cfg.maxTokens },
      seeds,
      inp.onToken
        ? (seq, id, _lp, pos) => {
            if (seq !== 0) return;
            live += tokenText(vocab, id, pos);
            inp.onToken!(step, prompts[0].text, live, id === EOS_OUT);
          }
        : undefined,
      inp.control?.signal,
    );
    if (inp.control?.signal?.aborted) await checkpointTick(inp.control);
    const scores = await inp.reward(prompts, sampled.tokens);
    const globalScores = inp.globalReward ? await inp.globalReward(prompts, sampled.tokens) : null;

    // 2. Old/reference log-probs, features, entropy and KL at every sampled state.
    const seqs = prompts.map((prompt, i) => ({ prompt, tokens: sampled.tokens[i] }));
    const all = rolloutBatch(vocab, k, seqs);
    const N = all.n;
    const oldLogits = new Float64Array(N * Vo);
    const refLogits = new Float64Array(N * Vo);
    const feats = new Float64Array(N * H);
    for (let start = 0; start < N; start += scratch.cap) {
      const S = Math.min(scratch.cap, N - start);
      lmForward(current, all, start, S, scratch);
      oldLogits.set(scratch.L.subarray(0, S * Vo), start * Vo);
      feats.set(scratch.Hh.subarray(0, S * H), start * H);
      lmForward(reference, all, start, S, refScratch);
      refLogits.set(refScratch.L.subarray(0, S * Vo), start * Vo);
    }
    const logpOldAll = targetLogprobs(oldLogits, all.target, Vo);
    const logpRefAll = targetLogprobs(refLogits, all.target, Vo);
    let entropy = 0;
    let klExact = 0;
    for (let i = 0; i < N; i++) {
      entropy += entropyOfLogits(oldLogits, i * Vo, Vo);
      klExact += klOfLogits(oldLogits, i * Vo, refLogits, i * Vo, Vo);
    }
    let klSampled = 0;
    for (let i = 0; i < N; i++) klSampled += logpOldAll[i] - logpRefAll[i];

    // 3. Rewards, values, advantages.
    const rollouts: Rollout[] = [];
    let off = 0;
    for (let i = 0; i < seqs.length; i++) {
      const T = seqs[i].tokens.length;
      const logpOld = logpOldAll.slice(off, off + T);
      const logpRef = logpRefAll.slice(off, off + T);
      const features = feats.slice(off * H, (off + T) * H);
      const values = new Float64Array(T);
      for (let t = 0; t < T; t++) values[t] = value.predict(features, t * H);
      const r = tokenRewards(scores[i], logpOld, logpRef, klCoef);
      let advantages: Float64Array;
      let returns: Float64Array;
      if (cfg.advantage === 'gae') {
        ({ advantages, returns } = gae(r, values, cfg.gamma, cfg.lambda));
      } else {
        returns = rewardToGo(r, cfg.gamma);
        advantages = returns.slice();
      }
      rollouts.push({ prompt: seqs[i].prompt, tokens: seqs[i].tokens, logpOld, logpRef, values, features, advantages, returns, score: scores[i] });
      off += T;
    }
    const flatAdv = new Float64Array(N);
    off = 0;
    for (const r of rollouts) {
      flatAdv.set(r.advantages, off);
      off += r.tokens.length;
    }
    // For 'baseline' the advantages are still the raw reward-to-go here: whitening subtracts the batch mean
    // (the baseline) and scales.
    whiten(flatAdv);
    off = 0;
    for (const r of rollouts) {
      r.advantages = flatAdv.slice(off, off + r.tokens.length);
      off += r.tokens.length;
    }

    // 4. Policy optimisation: clipped surrogate, minibatches by sequence.
    let clipped = 0;
    let updates = 0;
    let approxKl = 0;
    let approxN = 0;
    let objective = Number.NaN;
    const order = rollouts.map((_, i) => i);
    for (let epoch = 0; epoch < cfg.epochs; epoch++) {
      // Seeded shuffle per (step, epoch), independent of everything else.
      const rng = new Rng(hashSeed(cfg.seed, 'ppo-shuffle', step, epoch));
      rng.shuffle(order);
      const per = Math.ceil(order.length / cfg.minibatches);
      for (let mb = 0; mb < cfg.minibatches; mb++) {
        const pick = order.slice(mb * per, (mb + 1) * per).map((i) => rollouts[i]);
        if (pick.length === 0) continue;
        const batch = rolloutBatch(vocab, k, pick);
        if (batch.n === 0) continue;
        const logits = await trainer.logits(batch);
        const logpNew = targetLogprobs(logits, batch.target, Vo);
        let q = 0;
        let obj = 0;
        for (const r of pick) {
          for (let t = 0; t < r.tokens.length; t++, q++) {
            const ratio = probRatio(logpNew[q], r.logpOld[t]);
            const term = clippedSurrogate(ratio, r.advantages[t], cfg.clip);
            batch.weight[q] = term.gradLogp / batch.n;
            obj += term.objective;
            if (term.clipped) clipped++;
            updates++;
            if (epoch === cfg.epochs - 1) {
              approxKl += r.logpOld[t] - logpNew[q];
              approxN++;
            }
          }
        }
        if (Number.isNaN(objective)) objective = obj / batch.n;
        await trainer.step(batch);
        await checkpointTick(inp.control);
      }
    }
    const valueLoss = cfg.advantage === 'gae' ? value.fit(rollouts) : 0;
    current = await trainer.params();

    const B = rollouts.length;
    const m: PpoMetrics = {
      step,
      reward: mean(Array.from(scores)),
      rewardGlobal: globalScores ? mean(Array.from(globalScores)) : null,
      kl: klExact / B,
      klSampled: klSampled / B,
      entropy: N ? entropy / N : 0,
      clipFrac: updates ? clipped / updates : 0,
      approxKl: approxN ? approxKl / approxN : 0,
      valueLoss,
      klCoef,
      objective,
      meanLength: N / B,
      ms: performance.now() - t0,
    };
    metrics.push(m);
    inp.onStep?.(m);
    if (cfg.klTarget !== null) klCoef = adaptKlCoef(klCoef, m.kl, cfg.klTarget, cfg.klRate);
  }
  const after = await samples(current, vocab, inp.samplePrompts ?? [], cfg, inp);
  return { metrics, before, after, params: current };
}

function mean(a: number[]): number {
  return a.length ? a.reduce((x, y) => x + y, 0) / a.length : Number.NaN;
}
