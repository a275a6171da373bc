// "Over N seeds": an imported CLI --seeds folder's seeds_report.json — mean ± sd (95% interval) per country and
// method on the full and edited test sets, the macro average per method as bars with 95% error bars, and the
// paired comparisons in words. Derivations live in derive/seeds.ts; this only lays them out.
import { useMemo } from 'react';
import { Bar, BarChart, CartesianGrid, Cell, ErrorBar, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { cellText, intervalText, macroBars, pairedSentences, seedsMethods, seedsRows } from '../derive/seeds.ts';
import type { SeedsSet } from '../derive/seeds.ts';
import { useStudio } from '../store.ts';
import { chartTheme, METHOD_COLORS, useChartSizes, useResolvedTheme } from './common.tsx';

const SET_NAME: Record<SeedsSet, string> = { full: 'full test set', partial: 'edited set' };

function MacroChart({ set }: { set: SeedsSet }) {
  const rep = useStudio((s) => s.seeds)!;
  const bars = useMemo(() => macroBars(rep, set), [rep, set]);
  const t = chartTheme(useResolvedTheme());
  const { height, tick } = useChartSizes();
  return (
    <figure className="seeds-chart" data-testid={`seeds-chart-${set}`} data-bars={bars.length}>
      <figcaption className="small">Macro average, {SET_NAME[set]} (mean, 95% interval)</figcaption>
      <div style={{ height }}>
        <ResponsiveContainer width="100%" height="100%">
          {/* The axis starts at 0, like the other accuracy bars: a zoomed axis exaggerates small gaps. */}
          <BarChart data={bars} margin={{ top: 6, right: 12, bottom: 0, left: -8 }}>
            <CartesianGrid stroke={t.grid} vertical={false} />
            <XAxis dataKey="method" interval={0} tick={{ fill: t.fg, fontSize: tick }} />
            <YAxis unit="%" domain={[0, 100]} ticks={[0, 25, 50, 75, 100]} tick={{ fill: t.fg, fontSize: tick }} />
            <Tooltip
              formatter={(_v, _n, item) => {
                const b = item.payload as (typeof bars)[number];
                return [`${b.mean.toFixed(1)}% ± ${Number.isFinite(b.sd) ? b.sd.toFixed(1) : '–'} (95% ${Number.isFinite(b.lo) ? `${b.lo.toFixed(1)}–${b.hi.toFixed(1)}` : 'n/a'})`, 'accuracy'];
              }}
            />
            <Bar dataKey="mean" name="accuracy" isAnimationActive={false}>
              {bars.map((b) => (
                <Cell key={b.method} fill={METHOD_COLORS[b.method]} />
              ))}
              <ErrorBar dataKey="err" width={6} stroke={t.fg} strokeWidth={1.5} direction="y" isAnimationActive={false} />
            </Bar>
          </BarChart>
        </ResponsiveContainer>
      </div>
    </figure>
  );
}

function SeedsTable({ set }: { set: SeedsSet }) {
  const rep = useStudio((s) => s.seeds)!;
  const rows = useMemo(() => seedsRows(rep, set), [rep, set]);
  const methods = seedsMethods(rep);
  return (
    <table className="results seeds-table" data-testid={`seeds-table-${set}`}>
      <caption className="small">Accuracy % on the {SET_NAME[set]}: mean ± sd over seeds, 95% interval below</caption>
      <thead>
        <tr>
          <th scope="col">Country</th>
          {methods.map((m) => (
            <th key={m} scope="col">
              <span className="swatch" style={{ background: METHOD_COLORS[m] }} aria-hidden="true" />
              {m}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.row} className={r.row === 'avg' ? 'avg-row' : undefined} data-country={r.row}>
            <th scope="row">{r.row}</th>
            {methods.map((m) => (
              <td key={m} className="num" data-method={m}>
                {cellText(r.cells[m])}
                <br />
                <span className="small muted">{intervalText(r.cells[m])}</span>
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function SeedsPanel() {
  const rep = useStudio((s) => s.seeds);
  if (!rep) return null;
  const sets: SeedsSet[] = ['full', 'partial'];
  return (
    <section className="seeds-panel" data-testid="seeds-panel" aria-labelledby="seeds-title">
      <h3 id="seeds-title">Over {rep.seeds.length} seeds</h3>
      <p className="small muted">
        From the imported seeds_report.json (seeds {rep.seeds.join(', ')}); the table above is the first seed's run. Each seed re-draws the split,
        validation users and batches.
      </p>
      <ul className="seeds-paired" data-testid="seeds-paired">
        {sets.flatMap((set) => pairedSentences(rep, set).map((line) => <li key={`${set}-${line}`}>{line}</li>))}
      </ul>
      <div className="seeds-grid">
        {sets.map((set) => (
          <div key={set}>
            <MacroChart set={set} />
            <SeedsTable set={set} />
          </div>
        ))}
      </div>
    </section>
  );
}
