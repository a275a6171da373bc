// The report tables of a finished experiment (pure): accuracy tables, edited ratios, bias split and the
// efficiency summary. Used by the run loop and again by mergeResults on the parts of a parallel run.
import { accuracyTable, macroAverage, pct } from '../eval.ts';
import type { EfficiencyEntry } from '../eval.ts';
import type { Method } from '../types.ts';
import { efficiencyEnabled } from './config.ts';
import type { ExperimentConfig } from './config.ts';
import type { CountrySets, Reports, RunResult } from './types.ts';
import { dict, own } from '../dict.ts';

/**
 * The report tables from finished runs (pure): accuracy tables, edited ratios, bias split and the efficiency
 * summary. `efficiencyCountries`: per-country efficiency entries (any key order; reported in config order).
 */
export function buildReports(
  config: ExperimentConfig,
  sets: Record<string, CountrySets>,
  runs: readonly RunResult[],
  efficiencyCountries: Record<string, EfficiencyEntry>,
): Reports {
  const get = (c: string, m: Method) => runs.find((r) => r.country === c && r.method === m);
  const reports: Reports = {
    full: accuracyTable(config.countries, config.methods, (c, m) => get(c, m)?.accFull ?? Number.NaN),
    partial: accuracyTable(config.countries, config.methods, (c, m) => get(c, m)?.accEdited ?? Number.NaN),
    validation: accuracyTable(config.countries, config.methods, (c, m) => get(c, m)?.accVal ?? Number.NaN),
    editedRatios: { train: dict(), test: dict(), macro: { train: null, test: null } },
    bias: { majority: config.majority, countries: dict(), avg: {} },
    efficiency: {
      fractions: config.efficiencyFractions,
      countries: dict(),
      avgRatio: null,
      neverReached: [],
    },
  };
  const efficiency = reports.efficiency;
  if (efficiencyEnabled(config)) {
    // Config country order, as runExperiment fills them (the average's summation order is part of the output).
    for (const c of config.countries) if (own(efficiencyCountries, c)) efficiency.countries[c] = efficiencyCountries[c];
    const ratios = Object.values(efficiency.countries)
      .map((e) => e.ratio)
      .filter((r): r is number => r !== null);
    efficiency.avgRatio = ratios.length ? macroAverage(ratios) : null;
    efficiency.neverReached = Object.entries(efficiency.countries)
      .filter(([, e]) => e.fullFtPairsForScpoAccuracy === null)
      .map(([c]) => c);
  } else {
    efficiency.skipped = config.efficiency ? 'needs both full_ft and scpo among the methods' : 'disabled';
  }
  const trainRatios: number[] = [];
  const testRatios: number[] = [];
  const total = { train: 0, kept: 0, test: 0, edited: 0 };
  for (const c of config.countries) {
    const s = sets[c];
    total.train += s.train.length;
    total.kept += s.kept;
    total.test += s.test.length;
    total.edited += s.edited;
    const tr = s.train.length ? s.kept / s.train.length : Number.NaN;
    const te = s.test.length ? s.edited / s.test.length : Number.NaN;
    trainRatios.push(tr);
    testRatios.push(te);
    reports.editedRatios.train[c] = Number.isFinite(tr) ? tr : null;
    reports.editedRatios.test[c] = Number.isFinite(te) ? te : null;
    reports.bias.countries[c] = {};
    for (const m of config.methods) {
      const r = get(c, m);
      reports.bias.countries[c][m] = { own: pct(r?.accFull ?? Number.NaN), majority: pct(r?.accMajority ?? Number.NaN) };
    }
  }
  const finite = (x: number) => (Number.isFinite(x) ? x : null);
  // The reference's "avg" pools the pairs of all countries; the macro mean is reported beside it, labelled.
  reports.editedRatios.train.avg = total.train ? total.kept / total.train : null;
  reports.editedRatios.test.avg = total.test ? total.edited / total.test : null;
  reports.editedRatios.macro = { train: finite(macroAverage(trainRatios)), test: finite(macroAverage(testRatios)) };
  for (const m of config.methods) {
    const rs = config.countries.map((c) => get(c, m));
    reports.bias.avg[m] = {
      own: pct(macroAverage(rs.map((r) => r?.accFull ?? Number.NaN))),
      majority: pct(macroAverage(rs.map((r) => r?.accMajority ?? Number.NaN))),
    };
  }
  return reports;
}
