// Countries x methods: full and edited accuracy (percent), deltas vs start, macro average, edited ratios; the best
// method per row is highlighted. Fills in live from finished (country, method) runs.
import { Fragment, useMemo } from 'react';
import type { Method } from '../../pipeline/types.ts';
import type { Cell, TableRow } from '../derive.ts';
import { fmt, resultsTable } from '../derive.ts';
import { useStudio } from '../store.ts';
import { METHOD_COLORS } from './common.tsx';

function delta(d: number | null) {
  if (d === null) return null;
  const cls = d > 0 ? 'up' : d < 0 ? 'down' : '';
  return <span className={`delta ${cls}`}>{d > 0 ? '+' : ''}{d.toFixed(2)}</span>;
}

function CellView({ c, m, bestFull, bestEdited }: { c: Cell | undefined; m: Method; bestFull: boolean; bestEdited: boolean }) {
  if (!c) {
    return (
      <>
        <td className="num muted">…</td>
        <td className="num muted">…</td>
      </>
    );
  }
  return (
    <>
      <td className={`num ${bestFull ? 'best' : ''}`} data-method={m} data-metric="full" title={bestFull ? 'best in this row' : undefined}>
        {fmt(c.full)}
        {m !== 'start' ? delta(c.dFull) : null}
      </td>
      <td className={`num ${bestEdited ? 'best' : ''}`} data-method={m} data-metric="edited" title={bestEdited ? 'best in this row' : undefined}>
        {fmt(c.edited)}
        {m !== 'start' ? delta(c.dEdited) : null}
      </td>
    </>
  );
}

function Row({ r, methods, isAvg }: { r: TableRow; methods: Method[]; isAvg?: boolean }) {
  return (
    <tr className={isAvg ? 'avg-row' : undefined} data-country={isAvg ? 'avg' : r.country}>
      <th scope="row">{r.country}</th>
      {methods.map((m) => (
        <CellView key={m} c={r.cells[m]} m={m} bestFull={r.bestFull === m} bestEdited={r.bestEdited === m} />
      ))}
      <td className="num">{r.keptRatio === null ? '–' : `${(r.keptRatio * 100).toFixed(1)}%`}</td>
      <td className="num">{r.editedRatio === null ? '–' : `${(r.editedRatio * 100).toFixed(1)}%`}</td>
    </tr>
  );
}

export function ResultsTable() {
  const runs = useStudio((s) => s.live.runs);
  const cfg = useStudio((s) => s.run.config ?? s.config);
  const ratios = useStudio((s) => s.result?.reports.editedRatios);
  const status = useStudio((s) => s.run.status);
  const { rows, avg } = useMemo(() => resultsTable(runs, cfg.countries, cfg.methods, ratios), [runs, cfg, ratios]);
  const methods = cfg.methods;
  return (
    <div className="results-wrap">
      <table className="results" data-testid="results-table" data-complete={status === 'done' ? 'true' : 'false'}>
        <caption>
          Test accuracy (%) per country and method: <strong>full</strong> test set and <strong>edited</strong> set (pairs the global RM ranks wrong); small numbers are
          deltas vs start. Kept = share of training pairs the filter keeps; edited = share of test pairs in the edited set
          (in the average row both pool the pairs of all countries, as the reference code does; accuracies are the mean over countries).
        </caption>
        <thead>
          <tr>
            <th scope="col" rowSpan={2}>
              Country
            </th>
            {methods.map((m) => (
              <th key={m} scope="colgroup" colSpan={2} className="method-head">
                <span className="swatch" style={{ background: METHOD_COLORS[m] }} aria-hidden="true" />
                {m}
              </th>
            ))}
            <th scope="col" rowSpan={2}>
              Kept
            </th>
            <th scope="col" rowSpan={2}>
              Edited
            </th>
          </tr>
          <tr>
            {methods.map((m) => (
              <Fragment key={m}>
                <th scope="col" className="sub">
                  full
                </th>
                <th scope="col" className="sub">
                  edited
                </th>
              </Fragment>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <Row key={r.country} r={r} methods={methods} />
          ))}
        </tbody>
        <tfoot>
          <Row r={avg} methods={methods} isAvg />
        </tfoot>
      </table>
    </div>
  );
}
