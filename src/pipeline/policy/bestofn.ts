// Best-of-N steering: sample N responses per prompt once, score them with the global RM and every country RM,
// and report which response each RM picks, the reward distributions, and how often a country's pick differs
// from the global pick. Works with any Policy (bundled MLP, ONNX, transformers.js).
import { hashSeed } from '../rng.ts';
import type { PreTrainedTokenizer } from '../rm/tokenizer.ts';
import type { BagRMParams } from '../rm/types.ts';
import { checkpointTick, type RunControl } from '../train/loop.ts';
import { scoreTexts } from './rewards.ts';
import type { GeneratedToken, Policy, SamplingOptions } from './types.ts';
import { dict } from '../dict.ts';

export interface NamedRM {
  /** "global" or a country name. */
  name: string;
  params: BagRMParams;
}

export interface BestOfNPrompt {
  prompt: string;
  responses: string[];
  /** scores[rm][i] = score of response i under that RM. */
  scores: Record<string, number[]>;
  /** Index of the response each RM picks (argmax, first on ties). */
  picks: Record<string, number>;
}

export interface RewardDistribution {
  mean: number;
  std: number;
  min: number;
  max: number;
  /** Mean over prompts of the best of the N scores (best-of-N reward). */
  meanBest: number;
  histogram: { edges: number[]; counts: number[] };
}

export interface BestOfNReport {
  n: number;
  sampling: SamplingOptions;
  policy: string;
  rms: string[];
  global: string;
  prompts: BestOfNPrompt[];
  /** Per RM: its scores over all N x prompts samples. */
  distributions: Record<string, RewardDistribution>;
  /** Per non-global RM: fraction of prompts whose pick differs from the global RM's pick. */
  disagreement: Record<string, number>;
  /**
   * Per non-global RM: mean score of its own pick minus the global pick, under its own RM (what steering buys)
   * and under the global RM (what it costs the global view).
   */
  steering: Record<string, { ownGain: number; globalCost: number }>;
  ms: number;
  tokens: number;
}

export interface BestOfNInputs {
  policy: Policy;
  prompts: readonly string[];
  n: number;
  sampling: SamplingOptions;
  /** The global RM first, then the country RMs; all share `tokenizer` (the bundled RM's). */
  rms: readonly NamedRM[];
  tokenizer: PreTrainedTokenizer;
  onToken?: (prompt: number, sample: number, t: GeneratedToken) => void;
  onPrompt?: (done: number, total: number, row: BestOfNPrompt) => void;
  control?: RunControl;
}

function argmax(a: ArrayLike<number>): number {
  let b = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[b]) b = i;
  return b;
}

function distribution(all: number[], best: number[], bins = 20): RewardDistribution {
  const n = all.length;
  const mean = n ? all.reduce((a, b) => a + b, 0) / n : Number.NaN;
  const std = n ? Math.sqrt(all.reduce((a, b) => a + (b - mean) ** 2, 0) / n) : Number.NaN;
  const min = n ? Math.min(...all) : Number.NaN;
  const max = n ? Math.max(...all) : Number.NaN;
  const width = (max - min) / bins || 1;
  const edges = Array.from({ length: bins + 1 }, (_, i) => min + i * width);
  const counts = new Array<number>(bins).fill(0);
  for (const x of all) counts[Math.min(bins - 1, Math.floor((x - min) / width))]++;
  const meanBest = best.length ? best.reduce((a, b) => a + b, 0) / best.length : Number.NaN;
  return { mean, std, min, max, meanBest, histogram: { edges, counts } };
}

/** Seed of sample i of prompt j: independent of N and of the other prompts. */
export function bestOfNSeed(base: number, prompt: number, sample: number): number {
  return hashSeed(base, 'best-of-n', prompt, sample);
}

export async function bestOfN(inp: BestOfNInputs): Promise<BestOfNReport> {
  const t0 = performance.now();
  if (inp.rms.length === 0) throw new Error('best-of-N: give at least the global RM');
  const names = inp.rms.map((r) => r.name);
  const global = names[0];
  const rows: BestOfNPrompt[] = [];
  let tokens = 0;
  for (let j = 0; j < inp.prompts.length; j++) {
    const prompt = inp.prompts[j];
    const responses: string[] = [];
    for (let i = 0; i < inp.n; i++) {
      await checkpointTick(inp.control);
      const g = await inp.policy.generate(
        prompt,
        { ...inp.sampling, seed: bestOfNSeed(inp.sampling.seed, j, i) },
        inp.onToken ? (t) => inp.onToken!(j, i, t) : undefined,
        inp.control?.signal,
      );
      responses.push(g.text);
      tokens += g.tokens.length;
    }
    const sc = scoreTexts(
      inp.rms.map((r) => r.params),
      inp.tokenizer,
      responses.map((response) => ({ prompt, response })),
    );
    const scores: Record<string, number[]> = dict();
    const picks: Record<string, number> = dict();
    names.forEach((nm, r) => {
      scores[nm] = Array.from(sc[r]);
      picks[nm] = argmax(sc[r]);
    });
    const row = { prompt, responses, scores, picks };
    rows.push(row);
    inp.onPrompt?.(j + 1, inp.prompts.length, row);
  }
  const distributions: Record<string, RewardDistribution> = dict();
  for (const nm of names) {
    distributions[nm] = distribution(
      rows.flatMap((r) => r.scores[nm]),
      rows.map((r) => r.scores[nm][r.picks[nm]]),
    );
  }
  const disagreement: Record<string, number> = dict();
  const steering: Record<string, { ownGain: number; globalCost: number }> = dict();
  for (const nm of names.slice(1)) {
    const P = rows.length || 1;
    disagreement[nm] = rows.filter((r) => r.picks[nm] !== r.picks[global]).length / P;
    let own = 0;
    let cost = 0;
    for (const r of rows) {
      own += r.scores[nm][r.picks[nm]] - r.scores[nm][r.picks[global]];
      cost += r.scores[global][r.picks[nm]] - r.scores[global][r.picks[global]];
    }
    steering[nm] = { ownGain: own / P, globalCost: cost / P };
  }
  return {
    n: inp.n,
    sampling: inp.sampling,
    policy: inp.policy.name,
    rms: names,
    global,
    prompts: rows,
    distributions,
    disagreement,
    steering,
    ms: performance.now() - t0,
    tokens,
  };
}
