// Prints the sweep of bench/sweep.sh as a Markdown table: macro VALIDATION accuracy % (mean +- sd over seeds) per
// config and method, and the config chosen (best mean of full_ft and scpo on validation). Test accuracy is not read.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { SeedsReport } from '../src/pipeline/seeds.ts';

const dir = process.argv[2] ?? 'out/sweep';
const rows: { name: string; rep: SeedsReport; score: number }[] = [];
for (const name of readdirSync(dir).sort()) {
  const f = join(dir, name, 'seeds_report.json');
  if (!existsSync(f)) continue;
  const rep = JSON.parse(readFileSync(f, 'utf8')) as SeedsReport;
  const v = rep.validation.avg;
  rows.push({ name, rep, score: ((v.full_ft?.mean ?? NaN) + (v.scpo?.mean ?? NaN)) / 2 });
}
const cell = (s: { mean: number; sd: number } | undefined) => (s ? `${s.mean.toFixed(1)} ± ${s.sd.toFixed(1)}` : '-');
console.log('| config | start | full_ft | scpo |');
console.log('|---|---|---|---|');
for (const r of rows) {
  const v = r.rep.validation.avg;
  console.log(`| ${r.name} | ${cell(v.start)} | ${cell(v.full_ft)} | ${cell(v.scpo)} |`);
}
const best = rows.reduce((a, b) => (b.score > a.score ? b : a));
console.log(`\nchosen on validation: ${best.name} (mean of full_ft and scpo ${best.score.toFixed(2)}; seeds ${best.rep.seeds.join(',')})`);
