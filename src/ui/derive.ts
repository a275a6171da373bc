// Pure derivations from the store to what the views show: per-pair SCPO quantities, inspector filtering and
// sorting, histograms, chart series, the results table and progress/ETA. No React, no DOM: unit-tested.
import type { EfficiencyEntry } from '../pipeline/eval.ts';
import type { ExperimentConfig, ExperimentResult, LivePoint, Phase, RunResult } from '../pipeline/experiment.ts';
import { isEdited, isKept, pGlobal, scpoWeight } from '../pipeline/scpo.ts';
import type { Item, Method, Pair } from '../pipeline/types.ts';
import { METHODS } from '../pipeline/types.ts';
import { own } from '../pipeline/dict.ts';

export const runKey = (country: string, method: Method): string => `${country}\u0000${method}`;

// ---------------------------------------------------------------------------------------------------------------
// Pairs

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

/** Per-country pair counts from the pair list (used before a data summary exists, e.g. after an import). */
export function countriesOf(pairs: readonly Pair[]): string[] {
  return [...new Set(pairs.map((p) => p.country))].sort();
}

/**
 * The country RM's margin s_c - s_r per data.pairs index (NaN elsewhere). ExperimentResult.margins[c][m] is aligned
 * with [...sets[c].train, ...sets[c].test].
 */
export function marginsByPair(result: ExperimentResult | null, country: string, method: Method, nPairs: number): Float32Array | null {
  const m = own(result?.margins, country)?.[method];
  const s = own(result?.sets, country);
  if (!m || !s) return null;
  const out = new Float32Array(nPairs).fill(NaN);
  const order = [...s.train, ...s.test];
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

// ---------------------------------------------------------------------------------------------------------------
// Histograms

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

// ---------------------------------------------------------------------------------------------------------------
// Charts

export interface SeriesPoint {
  step: number;
  value: number;
}

/** One country's accuracy-vs-step series per method, in percent. */
export function accuracySeries(
  points: Record<string, LivePoint[]>,
  country: string,
  methods: readonly Method[],
  metric: 'full' | 'edited',
): { method: Method; data: SeriesPoint[] }[] {
  return methods
    .map((m) => ({
      method: m,
      data: (points[runKey(country, m)] ?? [])
        .map((p) => ({ step: p.step, value: (metric === 'full' ? p.accFull : p.accEdited) * 100 }))
        .filter((p) => Number.isFinite(p.value)),
    }))
    .filter((s) => s.data.length > 0);
}

/** Moving average of a loss curve, down-sampled to about `target` points. */
export function smoothLosses(losses: readonly number[], target = 120): SeriesPoint[] {
  if (losses.length === 0) return [];
  const win = Math.max(1, Math.round(losses.length / target));
  const out: SeriesPoint[] = [];
  for (let start = 0; start < losses.length; start += win) {
    const end = Math.min(losses.length, start + win);
    let s = 0;
    for (let k = start; k < end; k++) s += losses[k];
    out.push({ step: end, value: s / (end - start) });
  }
  return out;
}

/** Loss per method of one country: the finished run's full curve, else the live evaluation points' losses. */
export function lossSeries(
  points: Record<string, LivePoint[]>,
  runs: readonly RunResult[],
  country: string,
  methods: readonly Method[],
): { method: Method; data: SeriesPoint[] }[] {
  return methods
    .map((m) => {
      const run = runs.find((r) => r.country === country && r.method === m);
      if (run && run.losses.length) return { method: m, data: smoothLosses(run.losses) };
      const live = (points[runKey(country, m)] ?? [])
        .filter((p) => p.loss !== null && Number.isFinite(p.loss))
        .map((p) => ({ step: p.step, value: p.loss as number }));
      return { method: m, data: live };
    })
    .filter((s) => s.data.length > 0);
}

export interface BiasRow {
  method: Method;
  own: number | null;
  majority: number | null;
}

/** Own-country vs majority accuracy (percent) per method; `country === 'avg'` gives the macro average. */
export function biasRows(runs: readonly RunResult[], countries: readonly string[], country: string, methods: readonly Method[]): BiasRow[] {
  const pctOf = (f: number) => (Number.isFinite(f) ? f * 100 : null);
  return methods
    .map((m) => {
      const rs = runs.filter((r) => r.method === m && (country === 'avg' ? countries.includes(r.country) : r.country === country));
      if (rs.length === 0) return null;
      const mean = (xs: number[]) => {
        const f = xs.filter(Number.isFinite);
        return f.length ? f.reduce((a, b) => a + b, 0) / f.length : NaN;
      };
      return { method: m, own: pctOf(mean(rs.map((r) => r.accFull))), majority: pctOf(mean(rs.map((r) => r.accMajority))) };
    })
    .filter((r): r is BiasRow => r !== null);
}

export function efficiencySeries(entry: EfficiencyEntry | undefined): { fullFt: { pairs: number; acc: number }[]; scpo: { pairs: number; acc: number }[] } {
  if (!entry) return { fullFt: [], scpo: [] };
  return {
    fullFt: entry.fullFt.map((p) => ({ pairs: p.pairs, acc: p.accuracy * 100 })),
    scpo: [{ pairs: entry.scpo.pairs, acc: entry.scpo.accuracy * 100 }],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Results table

export interface Cell {
  full: number | null;
  edited: number | null;
  dFull: number | null;
  dEdited: number | null;
}

export interface TableRow {
  country: string;
  cells: Partial<Record<Method, Cell>>;
  bestFull: Method | null;
  bestEdited: Method | null;
  keptRatio: number | null;
  editedRatio: number | null;
}

function mean(xs: (number | null)[]): number | null {
  const f = xs.filter((x): x is number => x !== null && Number.isFinite(x));
  return f.length ? f.reduce((a, b) => a + b, 0) / f.length : null;
}

function best(cells: Partial<Record<Method, Cell>>, key: 'full' | 'edited'): Method | null {
  let bm: Method | null = null;
  let bv = -Infinity;
  for (const m of METHODS) {
    const v = cells[m]?.[key];
    if (v !== null && v !== undefined && v > bv) {
      bv = v;
      bm = m;
    }
  }
  return bm;
}

const round2 = (v: number | null) => (v === null ? null : Math.round(v * 100) / 100);

/**
 * Countries x methods in percent (two decimals, like the reports), deltas vs `start`, the macro-average row
 * and the edited ratios. Built from runs so it fills in live; equals reports.full/partial once done.
 */
export function resultsTable(
  runs: readonly RunResult[],
  countries: readonly string[],
  methods: readonly Method[],
  ratios?: { train: Record<string, number | null>; test: Record<string, number | null> },
): { rows: TableRow[]; avg: TableRow } {
  const pct = (f: number) => (Number.isFinite(f) ? Math.round(f * 10000) / 100 : null);
  const rows: TableRow[] = countries.map((c) => {
    const cells: Partial<Record<Method, Cell>> = {};
    const start = runs.find((r) => r.country === c && r.method === 'start');
    for (const m of methods) {
      const r = runs.find((x) => x.country === c && x.method === m);
      if (!r) continue;
      const full = pct(r.accFull);
      const edited = pct(r.accEdited);
      const sf = start ? pct(start.accFull) : null;
      const se = start ? pct(start.accEdited) : null;
      cells[m] = {
        full,
        edited,
        dFull: full !== null && sf !== null ? round2(full - sf) : null,
        dEdited: edited !== null && se !== null ? round2(edited - se) : null,
      };
    }
    return {
      country: c,
      cells,
      bestFull: best(cells, 'full'),
      bestEdited: best(cells, 'edited'),
      keptRatio: own(ratios?.train, c) ?? null,
      editedRatio: own(ratios?.test, c) ?? null,
    };
  });
  const avgCells: Partial<Record<Method, Cell>> = {};
  for (const m of methods) {
    const cs = rows.map((r) => r.cells[m]).filter((c): c is Cell => c !== undefined);
    if (cs.length === 0) continue;
    avgCells[m] = {
      full: round2(mean(cs.map((c) => c.full))),
      edited: round2(mean(cs.map((c) => c.edited))),
      dFull: round2(mean(cs.map((c) => c.dFull))),
      dEdited: round2(mean(cs.map((c) => c.dEdited))),
    };
  }
  return {
    rows,
    avg: {
      country: 'Macro average',
      cells: avgCells,
      bestFull: best(avgCells, 'full'),
      bestEdited: best(avgCells, 'edited'),
      keptRatio: ratios?.train.avg ?? null,
      editedRatio: ratios?.test.avg ?? null,
    },
  };
}

/** Macro average (percent) per method from finished runs: what tests and the header read. */
export function macroByMethod(runs: readonly RunResult[], countries: readonly string[], metric: 'full' | 'edited'): Partial<Record<Method, number>> {
  const out: Partial<Record<Method, number>> = {};
  for (const m of METHODS) {
    const vs = countries
      .map((c) => runs.find((r) => r.country === c && r.method === m))
      .map((r) => (r ? (metric === 'full' ? r.accFull : r.accEdited) : NaN))
      .filter(Number.isFinite);
    if (vs.length) out[m] = (vs.reduce((a, b) => a + b, 0) / vs.length) * 100;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Progress

export const PHASES: readonly Phase[] = ['load', 'score', 'filter', 'train', 'efficiency', 'evaluate'];

export interface PhaseProgress {
  done: number;
  total: number;
  label: string;
  startedAt: number;
  endedAt: number | null;
}

/** Fraction of one phase done, counting the live step of the (country, method) run in progress. */
export function phaseFraction(p: PhaseProgress, stepFraction: number): number {
  if (p.endedAt !== null) return 1;
  if (p.total <= 0) return 0;
  return Math.min(1, (p.done + Math.min(1, Math.max(0, stepFraction))) / p.total);
}

/** Remaining seconds by linear extrapolation of the phase so far; null until there is something to go on. */
export function etaSeconds(fraction: number, startedAt: number, now: number): number | null {
  if (fraction <= 0.01 || fraction >= 1) return null;
  const elapsed = (now - startedAt) / 1000;
  return (elapsed / fraction) * (1 - fraction);
}

export function formatEta(s: number | null): string {
  if (s === null || !Number.isFinite(s)) return '';
  if (s < 60) return `~${Math.max(1, Math.round(s))} s left`;
  const m = Math.floor(s / 60);
  return `~${m} min ${Math.round(s - m * 60)} s left`;
}

/** Countries for the config panel: the data summary's, else the defaults' (before any data is loaded). */
export function availableCountries(summary: { countries: Record<string, { pairs: number }> } | null, config: ExperimentConfig): string[] {
  if (!summary) return [...new Set([...config.countries, ...config.majority])].sort();
  return Object.keys(summary.countries)
    .filter((c) => summary.countries[c].pairs > 0)
    .sort();
}

export const fmt = (v: number | null | undefined, digits = 2): string =>
  v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits);

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
