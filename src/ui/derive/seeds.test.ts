// The seeds report's path into the studio: parse (validated, null read back as NaN) -> table rows, macro bars with
// error bars, paired sentences. Built from real seedsReport() output over hand-made results, so a wrong mean/sd/
// interval mapping shows up against stats.summarize.
import { describe, expect, it } from 'vitest';
import { parseSeedsReport, pickReportFolder } from '../../pipeline/job/import.ts';
import type { ExperimentResult } from '../../pipeline/experiment.ts';
import { seedsReport } from '../../pipeline/seeds.ts';
import { summarize } from '../../pipeline/stats.ts';
import { cellText, intervalText, macroBars, pairedSentences, seedsRows } from './seeds.ts';

function fake(seed: number, chile: [number, number], mexico: [number, number]): ExperimentResult {
  const tbl = (x: number) => ({ Chile: { start: chile[0] - x, scpo: chile[1] - x }, Mexico: { start: mexico[0] - x, scpo: mexico[1] - x }, avg: { start: (chile[0] + mexico[0]) / 2 - x, scpo: (chile[1] + mexico[1]) / 2 - x } });
  return {
    config: { seed, countries: ['Chile', 'Mexico'], methods: ['start', 'scpo'] },
    reports: { full: tbl(0), partial: tbl(5), validation: tbl(1), editedRatios: { train: { avg: 0.3 }, test: { avg: 0.25 } } },
  } as unknown as ExperimentResult;
}

const results = [fake(0, [60, 70], [50, 64]), fake(1, [62, 71], [52, 69]), fake(2, [61, 75], [51, 62])];
const rep = parseSeedsReport(JSON.stringify(seedsReport(results)));

describe('seeds report in the studio', () => {
  it('maps mean, sd and the 95% interval per (country, method) and set', () => {
    const chileScpo = summarize([70, 71, 75]);
    const full = seedsRows(rep, 'full');
    expect(full.map((r) => r.row)).toEqual(['Chile', 'Mexico', 'avg']);
    const c = full[0].cells.scpo!;
    expect(c.mean).toBeCloseTo(chileScpo.mean, 10);
    expect(c.sd).toBeCloseTo(chileScpo.sd, 10);
    expect([c.lo, c.hi]).toEqual(chileScpo.ci95);
    expect(cellText(c)).toBe(`${chileScpo.mean.toFixed(1)} ± ${chileScpo.sd.toFixed(1)}`);
    expect(intervalText(c)).toBe(`[${chileScpo.ci95[0].toFixed(1)}, ${chileScpo.ci95[1].toFixed(1)}]`);
    // The edited set is its own table (5 points lower here), not the full one again.
    expect(seedsRows(rep, 'partial')[1].cells.start!.mean).toBeCloseTo(summarize([45, 47, 46]).mean, 10);
  });

  it('draws the macro average per method with the 95% interval as error bars', () => {
    const bars = macroBars(rep, 'full');
    expect(bars.map((b) => b.method)).toEqual(['start', 'scpo']);
    const s = summarize([(70 + 64) / 2, (71 + 69) / 2, (75 + 62) / 2]);
    expect(bars[1].mean).toBeCloseTo(s.mean, 10);
    expect(bars[1].err[0]).toBeCloseTo(s.mean - s.ci95[0], 10);
    expect(bars[1].err[1]).toBeCloseTo(s.ci95[1] - s.mean, 10);
    expect(bars[1].err[0]).toBeGreaterThan(0);
    // Two seeds far apart: the interval passes 100%, the drawn bar stops there (the table keeps the true bounds).
    const wide = macroBars(parseSeedsReport(JSON.stringify(seedsReport([fake(0, [60, 70], [50, 60]), fake(1, [60, 98], [50, 88])]))), 'full')[1];
    expect(wide.hi).toBeGreaterThan(100);
    expect(wide.mean + wide.err[1]).toBe(100);
    expect(wide.mean - wide.err[0]).toBeCloseTo(Math.max(0, wide.lo), 10);
  });

  it('says the paired comparison in words', () => {
    const [line] = pairedSentences(rep, 'full');
    const d = [70 + 64, 71 + 69, 75 + 62].map((x, i) => x / 2 - [55, 57, 56][i]);
    const mean = d.reduce((a, b) => a + b, 0) / 3;
    expect(line).toContain(`scpo beats start by ${mean.toFixed(2)} points`);
    expect(line).toContain('wins in 3 of 3 seeds');
    expect(pairedSentences(rep, 'partial')[0]).toMatch(/^On the edited test set/);
  });

  it('one seed: no sd or interval, error bars of zero, null read back as NaN', () => {
    const one = parseSeedsReport(JSON.stringify(seedsReport([results[0]])));
    expect(one.full.Chile.scpo!.sd).toBeNaN();
    expect(cellText(seedsRows(one, 'full')[0].cells.scpo)).toBe('70.0');
    expect(macroBars(one, 'full')[0].err).toEqual([0, 0]);
  });

  it('rejects a bad file naming the file and the field', () => {
    const raw = JSON.parse(JSON.stringify(seedsReport(results)));
    expect(() => parseSeedsReport('{oops')).toThrow(/^seeds_report\.json: not JSON/);
    raw.full.Chile.scpo.mean = 'high';
    expect(() => parseSeedsReport(JSON.stringify(raw))).toThrow(/^seeds_report\.json: full\.Chile\.scpo\.mean: expected a number, got "high"/);
    raw.full.Chile.scpo.mean = 1;
    raw.partial.Mexico.magic = raw.partial.Mexico.scpo;
    expect(() => parseSeedsReport(JSON.stringify(raw))).toThrow(/^seeds_report\.json: partial\.Mexico: unknown method "magic"/);
  });

  it('a --seeds folder: run.json from the first seed-<s>/, seeds_report.json from above it', () => {
    const { names } = pickReportFolder(['out/seeds_report.json', 'out/seed-0/run.json', 'out/seed-0/full_report.json', 'out/seed-1/run.json']);
    expect(names['seeds_report.json']).toBe('out/seeds_report.json');
    expect(names['run.json']).toBe('out/seed-0/run.json');
    expect(pickReportFolder(['seeds_report.json', 'seed-0/run.json']).names['seeds_report.json']).toBe('seeds_report.json');
  });
});
