// SCPO's filter and weights, and the training-set definition of every method (start, full_ft, filter_only,
// weight_only, scpo, inverse). Pure math over global-RM scores; no training here.
import type { Method } from './types.ts';

/** Numerically stable logistic sigmoid. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** p_global = sigmoid(r+ - r-): the global RM's probability that the chosen response wins. */
export function pGlobal(rPlus: number, rMinus: number): number {
  return sigmoid(rPlus - rMinus);
}

/** Filter rule: a training pair is kept iff sigmoid(r+ - r-) < tau. */
export function isKept(rPlus: number, rMinus: number, tau: number): boolean {
  return pGlobal(rPlus, rMinus) < tau;
}

/** SCPO weight w = min(exp((r+ - r-)/beta), 1): pairs the global RM strongly disputes get less weight. */
export function scpoWeight(rPlus: number, rMinus: number, beta: number): number {
  const z = (rPlus - rMinus) / beta;
  return z >= 0 ? 1 : Math.exp(z);
}

/** Inverse weighting w = max(exp(r- - r+), 1): the opposite emphasis, the ablation of the paper. */
export function inverseWeight(rPlus: number, rMinus: number): number {
  const z = rMinus - rPlus;
  return z <= 0 ? 1 : Math.exp(z);
}

/** Edited test set membership: the global RM ranks the pair wrong (r+ < r-). */
export function isEdited(rPlus: number, rMinus: number): boolean {
  return rPlus < rMinus;
}

export interface MethodSpec {
  /** Trains at all (false only for `start`). */
  trains: boolean;
  /** Uses only pairs that pass the tau filter. */
  filter: boolean;
  weight: (rPlus: number, rMinus: number, beta: number) => number;
}

const one = (): number => 1;

/** One table of what each method does, so the training set of a method is defined in one place. */
export const METHOD_SPECS: Record<Method, MethodSpec> = {
  start: { trains: false, filter: false, weight: one },
  full_ft: { trains: true, filter: false, weight: one },
  filter_only: { trains: true, filter: true, weight: one },
  weight_only: { trains: true, filter: false, weight: scpoWeight },
  scpo: { trains: true, filter: true, weight: scpoWeight },
  inverse: { trains: true, filter: true, weight: (p, m) => inverseWeight(p, m) },
};

export interface TrainingSet {
  /** Indices into the caller's pair list. */
  pairs: number[];
  weights: number[];
}

/**
 * The training pairs and weights of `method`, given global scores of the candidate pairs.
 * `rPlus[i]`/`rMinus[i]` belong to `candidates[i]`.
 */
export function trainingSet(
  method: Method,
  candidates: readonly number[],
  rPlus: ArrayLike<number>,
  rMinus: ArrayLike<number>,
  tau: number,
  beta: number,
): TrainingSet {
  const spec = METHOD_SPECS[method];
  const out: TrainingSet = { pairs: [], weights: [] };
  if (!spec.trains) return out;
  for (let i = 0; i < candidates.length; i++) {
    const p = rPlus[i];
    const m = rMinus[i];
    if (spec.filter && !isKept(p, m, tau)) continue;
    out.pairs.push(candidates[i]);
    out.weights.push(spec.weight(p, m, beta));
  }
  return out;
}
