// The report CSV neutralises spreadsheet formulas that come from user data (country names), like results_table.csv.
import { describe, expect, it } from 'vitest';
import type { ExperimentResult, RunResult } from './experiment.ts';
import { csvCell, reportCsv } from './report.ts';

function run(country: string, accFull: number): RunResult {
  return { country, method: 'scpo', trainPairs: 12, steps: 3, accFull, accEdited: Number.NaN, accMajority: 0.5, accVal: 0.75, losses: [], points: [], ms: 1 };
}

describe('report.csv', () => {
  it('writes formula-looking country names as text, quoted where needed', () => {
    const result = { runs: [run('=HYPERLINK("http://x","y")', 0.5), run('@SUM(1+1)', 0.25), run('+1', 1), run('-2', 1), run('\tTab', 1), run('Chile', 0.125)] };
    const lines = reportCsv(result as unknown as ExperimentResult).trim().split('\n');
    expect(lines[0]).toBe('country,method,full_acc,edited_acc,majority_acc,val_acc,train_pairs');
    expect(lines.slice(1)).toEqual([
      `"'=HYPERLINK(""http://x"",""y"")",scpo,50.00,,50.00,75.00,12`,
      `'@SUM(1+1),scpo,25.00,,50.00,75.00,12`,
      `'+1,scpo,100.00,,50.00,75.00,12`,
      `'-2,scpo,100.00,,50.00,75.00,12`,
      `'\tTab,scpo,100.00,,50.00,75.00,12`,
      'Chile,scpo,12.50,,50.00,75.00,12',
    ]);
  });

  it('leaves numbers alone and quotes separators', () => {
    expect(csvCell(-1.5)).toBe('-1.5');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('line\nbreak')).toBe('"line\nbreak"');
    expect(csvCell(null)).toBe('');
  });
});
