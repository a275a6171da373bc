// Histograms for the distribution charts (p_global with tau on an edge, SCPO weights).
import { isKept, pGlobal, scpoWeight } from '../../pipeline/scpo.ts';
import type { Pair } from '../../pipeline/types.ts';

export interface Bin {
  /** Bin centre (for a numeric axis) and edges. */
  x: number;
  lo: number;
  hi: number;
  count: number;
  /** Optional second series (e.g. kept vs filtered). */
  count2: number;
}

export function histogram(values: ArrayLike<number>, lo: number, hi: number, bins: number, second?: ArrayLike<boolean>): Bin[] {
  const w = (hi - lo) / bins;
  const out: Bin[] = Array.from({ length: bins }, (_, k) => ({ x: lo + (k + 0.5) * w, lo: lo + k * w, hi: lo + (k + 1) * w, count: 0, count2: 0 }));
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    const k = Math.min(bins - 1, Math.max(0, Math.floor((v - lo) / w)));
    if (second && second[i]) out[k].count2++;
    else out[k].count++;
  }
  return out;
}

/** p_global and SCPO weight of the training pairs of `countries`, with kept flags. */
export function trainDistribution(
  pairs: readonly Pair[],
  rPlus: ArrayLike<number>,
  rMinus: ArrayLike<number>,
  countries: readonly string[],
  tau: number,
  beta: number,
): { p: number[]; w: number[]; kept: boolean[] } {
  const want = new Set(countries);
  const p: number[] = [];
  const w: number[] = [];
  const kept: boolean[] = [];
  const n = Math.min(pairs.length, rPlus.length);
  for (let i = 0; i < n; i++) {
    const pr = pairs[i];
    if (pr.split !== 'train' || !want.has(pr.country) || !Number.isFinite(rPlus[i]) || !Number.isFinite(rMinus[i])) continue;
    p.push(pGlobal(rPlus[i], rMinus[i]));
    w.push(scpoWeight(rPlus[i], rMinus[i], beta));
    kept.push(isKept(rPlus[i], rMinus[i], tau));
  }
  return { p, w, kept };
}


/** Histogram over explicit, increasing edges (so a threshold like tau can sit exactly on an edge). */
export function histogramEdges(values: ArrayLike<number>, edges: readonly number[], second?: ArrayLike<boolean>): Bin[] {
  const out: Bin[] = [];
  for (let k = 0; k + 1 < edges.length; k++) out.push({ x: (edges[k] + edges[k + 1]) / 2, lo: edges[k], hi: edges[k + 1], count: 0, count2: 0 });
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v) || out.length === 0) continue;
    let k = out.length - 1;
    // Few bins: a linear scan is simplest and fast enough for 10^5 values x ~20 bins.
    for (let j = 0; j < out.length; j++) {
      if (v < out[j].hi) {
        k = j;
        break;
      }
    }
    if (second && second[i]) out[k].count2++;
    else out[k].count++;
  }
  return out;
}

/** Edges over [0, 1] with about `n` bins and `split` (e.g. tau) exactly on an edge. */
export function edgesAround(split: number, n = 20): number[] {
  const s = Math.min(1, Math.max(0, split));
  const lower = s > 0 ? Math.max(1, Math.round(s * n)) : 0;
  const upper = s < 1 ? Math.max(1, Math.round((1 - s) * n)) : 0;
  const edges: number[] = [0];
  for (let k = 1; k <= lower; k++) edges.push((s * k) / lower);
  for (let k = 1; k <= upper; k++) edges.push(s + ((1 - s) * k) / upper);
  return edges;
}
