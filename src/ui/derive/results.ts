// The results table (full and edited accuracy, deltas vs start, macro average, edited ratios).
import type { RunResult } from '../../pipeline/experiment.ts';
import type { Method } from '../../pipeline/types.ts';
import { METHODS } from '../../pipeline/types.ts';
import { own } from '../../pipeline/dict.ts';

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
