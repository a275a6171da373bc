// The results table's story highlights (ablations never crowned, ties, losing on the full set), collapse and
// setting warnings, and the partial-run label.
import { describe, expect, it } from 'vitest';
import type { RunResult } from '../pipeline/experiment.ts';
import type { Method } from '../pipeline/types.ts';
import { resultsTable } from './derive.ts';
import { collapsedMethods, highlightRow, pairStatus, partialLabel, settingWarnings } from './story.ts';

const METHODS: Method[] = ['start', 'full_ft', 'filter_only', 'weight_only', 'scpo', 'inverse'];

function run(country: string, method: Method, full: number, edited: number): RunResult {
  return { country, method, trainPairs: 1, steps: 1, accFull: full / 100, accEdited: edited / 100, accMajority: 0.8, accVal: Number.NaN, losses: [], points: [], ms: 0 };
}

function table(rows: Record<string, Partial<Record<Method, [number, number]>>>) {
  const runs = Object.entries(rows).flatMap(([c, ms]) => Object.entries(ms).map(([m, [f, e]]) => run(c, m as Method, f, e)));
  return resultsTable(runs, Object.keys(rows), METHODS);
}

describe('results-table highlights', () => {
  it('never crowns the inverse ablation, even where it has the best edited accuracy', () => {
    // The shape of the edited-set numbers the issue reports: inverse best on edited, but collapsing on full.
    const t = table({
      Chile: { start: [80, 30], full_ft: [81, 40], filter_only: [79, 55], weight_only: [82, 42], scpo: [82.5, 50], inverse: [60, 70] },
    });
    const h = highlightRow(t.rows[0], METHODS);
    expect(h.edited).toEqual(['scpo']);
    expect(h.full).toEqual(['scpo']);
    expect(h.edited).not.toContain('inverse');
  });

  it('skips a method that wins the edited set by losing the full set', () => {
    // filter_only: best edited (55) but 1 point below start on the full set.
    const t = table({ Chile: { start: [80, 30], full_ft: [81, 40], filter_only: [79, 55], scpo: [80.2, 50] } });
    expect(highlightRow(t.rows[0], METHODS).edited).toEqual(['scpo']);
    // Within the tolerance (0.4 points below) it stays a candidate.
    const u = table({ Chile: { start: [80, 30], filter_only: [79.6, 55], scpo: [80.2, 50] } });
    expect(highlightRow(u.rows[0], METHODS).edited).toEqual(['filter_only']);
  });

  it('highlights every method of a tie (Canada: weight_only and scpo both 85.11)', () => {
    const t = table({ Canada: { start: [80, 30], full_ft: [84, 40], weight_only: [85.11, 41], scpo: [85.11, 45] } });
    const h = highlightRow(t.rows[0], METHODS);
    expect(h.full).toEqual(['weight_only', 'scpo']);
    expect(h.edited).toEqual(['scpo']);
  });

  it('start can win the full set but never the edited set; nothing is highlighted when every method loses', () => {
    const t = table({ Chile: { start: [90, 30], full_ft: [85, 40], scpo: [80, 50] } });
    const h = highlightRow(t.rows[0], METHODS);
    expect(h.full).toEqual(['start']);
    expect(h.edited).toEqual([]);
  });
});

describe('collapse and setting warnings', () => {
  it('reports methods whose macro full accuracy fell 10+ points below start', () => {
    const t = table({
      Chile: { start: [72, 30], scpo: [44, 60], full_ft: [73, 35] },
      Mexico: { start: [73, 30], scpo: [45.2, 61], full_ft: [74, 35] },
    });
    const c = collapsedMethods(t.avg, METHODS);
    expect(c.map((x) => x.method)).toEqual(['scpo']);
    expect(c[0].drop).toBeCloseTo(-27.9, 1);
  });

  it('warns before a run that tau <= 0.5 reverses the filtered methods, and about tiny beta', () => {
    const methods = [...METHODS];
    expect(settingWarnings({ tau: 0.7, beta: 1, methods })).toEqual([]);
    const w = settingWarnings({ tau: 0.5, beta: 1, methods });
    expect(w).toHaveLength(1);
    expect(w[0].field).toBe('tau');
    expect(w[0].text).toContain('filter_only, scpo, inverse');
    // No warning when no method uses the filter.
    expect(settingWarnings({ tau: 0.4, beta: 1, methods: ['start', 'full_ft'] })).toEqual([]);
    expect(settingWarnings({ tau: 0.7, beta: 0.01, methods }).map((x) => x.field)).toEqual(['beta']);
  });

  it('labels the numbers of a cancelled run as partial', () => {
    expect(partialLabel('cancelled', 3, 35)).toContain('3 of 35');
    expect(partialLabel('done', 35, 35)).toBeNull();
    expect(partialLabel('cancelled', 0, 35)).toBeNull();
  });
});

describe('pair status in the inspector', () => {
  it('says why a training pair was kept or filtered, in numbers', () => {
    expect(pairStatus('train', false, false, 0.79, 0.7, true, 'Chile', false)).toEqual({
      text: 'filtered',
      why: 'p_global 0.79 ≥ tau 0.70: filtered out (the global RM already agrees)',
    });
    expect(pairStatus('train', true, true, 0.41, 0.7, true, 'Chile', false).why).toBe('p_global 0.41 < tau 0.70: kept for training');
    expect(pairStatus('test', null, true, 0.3, 0.7, true, 'Chile', false).text).toBe('edited');
    // Near tau, enough digits that the comparison reads true.
    expect(pairStatus('train', true, false, 0.6996, 0.7, true, 'Chile', false).why).toBe('p_global 0.6996 < tau 0.7000: kept for training');
  });

  it('explains majority and unselected countries instead of tagging them kept/filtered', () => {
    const m = pairStatus('train', true, false, 0.4, 0.7, false, 'United States', true);
    expect(m.text).toBe('majority');
    expect(m.why).toContain('no country RM is trained');
    expect(pairStatus('test', null, false, 0.6, 0.7, false, 'United States', true).why).toContain('measure the bias');
    expect(pairStatus('train', true, false, 0.4, 0.7, false, 'Peru', false).text).toBe('not run');
  });
});
