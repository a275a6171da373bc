// The pair inspector's derivations: per-pair SCPO quantities, the country RM's margins, filtering and sorting.
import type { ExperimentResult } from '../../pipeline/experiment.ts';
import { isEdited, isKept, pGlobal, scpoWeight } from '../../pipeline/scpo.ts';
import type { Item, Method, Pair } from '../../pipeline/types.ts';
import { own } from '../../pipeline/dict.ts';

/** What the global RM and the filter say about one pair (NaN/null where the pair was not scored). */
export interface PairScore {
  rPlus: number;
  rMinus: number;
  pGlobal: number;
  /** Training pairs only: kept by the tau filter (null for test pairs or unscored ones). */
  kept: boolean | null;
  /** SCPO weight min(exp((r+ - r-)/beta), 1); NaN when unscored. */
  weight: number;
  /** The global RM ranks the pair wrong (r+ < r-): for test pairs, membership of the edited set. */
  wrong: boolean | null;
}

export function scorePair(
  pair: Pair,
  rPlus: number | undefined,
  rMinus: number | undefined,
  tau: number,
  beta: number,
): PairScore {
  if (rPlus === undefined || rMinus === undefined || !Number.isFinite(rPlus) || !Number.isFinite(rMinus)) {
    return { rPlus: NaN, rMinus: NaN, pGlobal: NaN, kept: null, weight: NaN, wrong: null };
  }
  return {
    rPlus,
    rMinus,
    pGlobal: pGlobal(rPlus, rMinus),
    kept: pair.split === 'train' ? isKept(rPlus, rMinus, tau) : null,
    weight: scpoWeight(rPlus, rMinus, beta),
    wrong: isEdited(rPlus, rMinus),
  };
}

/** Index of every pair of `country`, in data order. */
export function countryPairs(pairs: readonly Pair[], country: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < pairs.length; i++) if (pairs[i].country === country) out.push(i);
  return out;
}

/**
 * The country RM's margin s_c - s_r per data.pairs index (NaN elsewhere). ExperimentResult.margins[c][m] is aligned
 * with [...sets[c].train, ...sets[c].val, ...sets[c].test].
 */
export function marginsByPair(result: ExperimentResult | null, country: string, method: Method, nPairs: number): Float32Array | null {
  const m = own(result?.margins, country)?.[method];
  const s = own(result?.sets, country);
  if (!m || !s) return null;
  const out = new Float32Array(nPairs).fill(NaN);
  const order = [...s.train, ...(s.val ?? []), ...s.test];
  const n = Math.min(order.length, m.length);
  for (let k = 0; k < n; k++) if (order[k] < nPairs) out[order[k]] = m[k];
  return out;
}

export type KeptFilter = 'all' | 'kept' | 'filtered' | 'test';
export type SortKey = 'index' | 'split' | 'scoreChosen' | 'scoreRejected' | 'rPlus' | 'rMinus' | 'pGlobal' | 'weight' | 'margin';

export interface PairFilter {
  kept: KeptFilter;
  wrongOnly: boolean;
  weightMin: number;
  weightMax: number;
  search: string;
}

export const DEFAULT_PAIR_FILTER: PairFilter = { kept: 'all', wrongOnly: false, weightMin: 0, weightMax: 1, search: '' };

export interface PairTable {
  rPlus: ArrayLike<number> | null;
  rMinus: ArrayLike<number> | null;
  margins: Float32Array | null;
  tau: number;
  beta: number;
}

// Lower-cased texts per items array, built once: searching 10^5 pairs must not lower-case 3*10^5 strings per keystroke.
const lowered = new WeakMap<readonly Item[], string[]>();
function lowerTexts(items: readonly Item[]): string[] {
  let l = lowered.get(items);
  if (!l) {
    l = items.map((it) => `${it.prompt}\n${it.response}`.toLowerCase());
    lowered.set(items, l);
  }
  return l;
}

/** Filters `indices` (pairs of one country) by the inspector's controls. */
export function filterPairs(
  indices: readonly number[],
  pairs: readonly Pair[],
  items: readonly Item[],
  t: PairTable,
  f: PairFilter,
): number[] {
  const q = f.search.trim().toLowerCase();
  const texts = q ? lowerTexts(items) : null;
  const needWeight = f.weightMin > 0 || f.weightMax < 1;
  const out: number[] = [];
  for (const i of indices) {
    const p = pairs[i];
    if (f.kept !== 'all' || f.wrongOnly || needWeight) {
      const s = scorePair(p, t.rPlus?.[i], t.rMinus?.[i], t.tau, t.beta);
      if (f.kept === 'kept' && s.kept !== true) continue;
      if (f.kept === 'filtered' && s.kept !== false) continue;
      if (f.kept === 'test' && p.split !== 'test') continue;
      if (f.wrongOnly && s.wrong !== true) continue;
      if (needWeight && !(s.weight >= f.weightMin && s.weight <= f.weightMax)) continue;
    }
    if (texts && !texts[p.chosen].includes(q) && !texts[p.rejected].includes(q)) continue;
    out.push(i);
  }
  return out;
}

function sortValue(key: SortKey, i: number, pairs: readonly Pair[], t: PairTable): number {
  const p = pairs[i];
  switch (key) {
    case 'index':
      return i;
    case 'split':
      return p.split === 'train' ? 0 : 1;
    case 'scoreChosen':
      return p.scoreChosen;
    case 'scoreRejected':
      return p.scoreRejected;
    case 'rPlus':
      return t.rPlus?.[i] ?? NaN;
    case 'rMinus':
      return t.rMinus?.[i] ?? NaN;
    case 'pGlobal':
    case 'weight': {
      const s = scorePair(p, t.rPlus?.[i], t.rMinus?.[i], t.tau, t.beta);
      return key === 'pGlobal' ? s.pGlobal : s.weight;
    }
    case 'margin':
      return t.margins?.[i] ?? NaN;
  }
}

/** Stable sort by one column; NaN (unscored) always last, whatever the direction. */
export function sortPairs(
  indices: readonly number[],
  pairs: readonly Pair[],
  t: PairTable,
  key: SortKey,
  dir: 'asc' | 'desc',
): number[] {
  if (key === 'index' && dir === 'asc') return [...indices];
  const vals = new Float64Array(pairs.length);
  for (const i of indices) vals[i] = sortValue(key, i, pairs, t);
  const sign = dir === 'asc' ? 1 : -1;
  return [...indices].sort((a, b) => {
    const va = vals[a];
    const vb = vals[b];
    const na = Number.isNaN(va);
    const nb = Number.isNaN(vb);
    if (na || nb) return na === nb ? a - b : na ? 1 : -1;
    return va === vb ? a - b : (va - vb) * sign;
  });
}
