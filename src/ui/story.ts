// What the studio's views emphasise, as pure functions (unit-tested): which results-table cells tell the story,
// which settings make a method collapse, and whether the numbers on screen are a partial run.
import type { ExperimentConfig } from '../pipeline/experiment.ts';
import type { Method } from '../pipeline/types.ts';
import type { TableRow } from './derive.ts';

/**
 * Control ablations: methods that exist to show what happens without SCPO's design, never candidates for "best".
 * `inverse` gives the most weight to the pairs the global RM disputes most; on the edited set it can win while
 * collapsing on the full set.
 */
export const ABLATIONS: ReadonlySet<Method> = new Set<Method>(['inverse']);

/**
 * A method "does not lose on the full set" in a row when its full-set accuracy is at most this many points below
 * start's (half a point: about one test pair in a few hundred, the noise of one seed).
 */
export const FULL_LOSS_TOLERANCE = 0.5;

/** A method has collapsed when its macro full-set accuracy is this many points or more below start's. */
export const COLLAPSE_POINTS = 10;

export interface RowHighlight {
  /** Methods highlighted in the full-set column: the best non-ablation methods (all of them on a tie). */
  full: Method[];
  /**
   * Methods highlighted in the edited-set column: the best trained, non-ablation methods that do not lose on the
   * full set (all of them on a tie). Empty when every candidate loses on the full set.
   */
  edited: Method[];
}

const EPS = 1e-9;

function argmaxAll(cands: { m: Method; v: number }[]): Method[] {
  if (cands.length === 0) return [];
  const top = Math.max(...cands.map((c) => c.v));
  // Values are percentages rounded to two decimals: equal at that precision is a tie (Canada 85.11 / 85.11).
  return cands.filter((c) => Math.abs(c.v - top) < 0.005 + EPS).map((c) => c.m);
}

/** The cells of one results-table row that tell SCPO's story (see RowHighlight). */
export function highlightRow(row: TableRow, methods: readonly Method[]): RowHighlight {
  const full: { m: Method; v: number }[] = [];
  const edited: { m: Method; v: number }[] = [];
  for (const m of methods) {
    const c = row.cells[m];
    if (!c || ABLATIONS.has(m)) continue;
    if (c.full !== null) full.push({ m, v: c.full });
    if (m === 'start' || c.edited === null) continue;
    // Winning on the edited set by giving up the full set is the failure SCPO's filter and weights avoid.
    if (c.dFull !== null && c.dFull < -FULL_LOSS_TOLERANCE) continue;
    edited.push({ m, v: c.edited });
  }
  return { full: argmaxAll(full), edited: argmaxAll(edited) };
}

export interface Collapse {
  method: Method;
  /** Macro full-set accuracy minus start's, in points. */
  drop: number;
  full: number;
}

/** Methods whose macro full-set accuracy fell COLLAPSE_POINTS or more below start (the table's average row). */
export function collapsedMethods(avg: TableRow, methods: readonly Method[]): Collapse[] {
  const out: Collapse[] = [];
  for (const m of methods) {
    const c = avg.cells[m];
    if (m === 'start' || !c || c.full === null || c.dFull === null) continue;
    if (c.dFull <= -COLLAPSE_POINTS) out.push({ method: m, drop: c.dFull, full: c.full });
  }
  return out;
}

/** Warnings about settings, before a run: what a value does to the methods that use it. */
export function settingWarnings(cfg: Pick<ExperimentConfig, 'tau' | 'beta' | 'methods'>): { field: 'tau' | 'beta'; text: string }[] {
  const out: { field: 'tau' | 'beta'; text: string }[] = [];
  const filtered = cfg.methods.filter((m) => m === 'filter_only' || m === 'scpo' || m === 'inverse');
  if (cfg.tau <= 0.5 && filtered.length) {
    // p_global < 0.5 means r+ < r-: the filter then keeps only pairs the global RM ranks wrong, so the country RM
    // learns to reverse the global RM and loses the pairs everyone agrees on (tau 0.5: scpo 44.6 macro, -28 vs start).
    out.push({
      field: 'tau',
      text: `tau ≤ 0.5 keeps only pairs the global RM ranks wrong: ${filtered.join(', ')} learn to reverse it and usually collapse on the full test set.`,
    });
  } else if (cfg.tau >= 1 && filtered.length) {
    out.push({ field: 'tau', text: 'tau 1 keeps every pair: filter_only equals full_ft and scpo equals weight_only.' });
  }
  const weighted = cfg.methods.filter((m) => m === 'weight_only' || m === 'scpo');
  if (cfg.beta < 0.1 && weighted.length) {
    out.push({
      field: 'beta',
      text: `beta < 0.1 gives almost every pair the global RM disputes a weight near 0: ${weighted.join(', ')} then barely learn from them.`,
    });
  }
  return out;
}

/** How complete the numbers on screen are, for a label next to them. */
export function partialLabel(status: string, finishedRuns: number, totalRuns: number): string | null {
  if (status !== 'cancelled' || finishedRuns === 0) return null;
  return `Partial results: the run was cancelled after ${finishedRuns} of ${totalRuns} runs; countries or methods without a number did not finish.`;
}

/**
 * The filter column's word for a pair, and why, in numbers: "p_global 0.79 ≥ tau 0.70". Pairs of countries with no
 * country RM (the majority, or countries not selected) are only scored, never filtered or trained on.
 */
export function pairStatus(
  split: 'train' | 'test',
  kept: boolean | null,
  wrong: boolean | null,
  pGlobal: number,
  tau: number,
  trained: boolean,
  country: string,
  majority: boolean,
): { text: string; why: string } {
  if (!trained) {
    const who = majority ? `${country} is a majority country` : `${country} is not among the selected countries`;
    return {
      text: majority ? 'majority' : 'not run',
      why: `${who}: no country RM is trained for it, so its pairs are neither kept nor filtered and have no margin${majority && split === 'test' ? '; its test pairs measure the bias (majority accuracy)' : ''}.`,
    };
  }
  // Two decimals, more where two would print p_global and tau equal (0.6996 < 0.70 must not read "0.70 < 0.70").
  let d = 2;
  while (d < 6 && Number.isFinite(pGlobal) && pGlobal !== tau && pGlobal.toFixed(d) === tau.toFixed(d)) d++;
  const p = Number.isFinite(pGlobal) ? pGlobal.toFixed(d) : '–';
  const t = tau.toFixed(d);
  if (split === 'train') {
    if (kept === null) return { text: '–', why: 'not scored yet' };
    return kept ? { text: 'kept', why: `p_global ${p} < tau ${t}: kept for training` } : { text: 'filtered', why: `p_global ${p} ≥ tau ${t}: filtered out (the global RM already agrees)` };
  }
  if (wrong === null) return { text: '–', why: 'not scored yet' };
  return wrong ? { text: 'edited', why: `test pair the global RM ranks wrong (r+ < r−, p_global ${p} < 0.50): in the edited set` } : { text: 'test', why: `test pair (p_global ${p})` };
}
