// Countries x methods: full and edited accuracy (percent), deltas vs start, macro average, edited ratios. The cells
// that tell the story are highlighted (story.ts: the best non-ablation method per row, on the edited set only among
// methods that do not lose on the full set; every method of a tie); ablations are marked; collapsed methods and
// partial (cancelled) runs are said in words. Fills in live from finished (country, method) runs.
import { Fragment, useMemo } from 'react';
import type { Method } from '../../pipeline/types.ts';
import type { Cell, TableRow } from '../derive.ts';
import { fmt, resultsTable } from '../derive.ts';
import { useStudio } from '../store.ts';
import { ABLATIONS, collapsedMethods, FULL_LOSS_TOLERANCE, highlightRow, partialLabel } from '../story.ts';
import { METHOD_COLORS } from './common.tsx';
import { SeedsPanel } from './SeedsPanel.tsx';

function delta(d: number | null) {
  if (d === null) return null;
  const cls = d > 0 ? 'up' : d < 0 ? 'down' : '';
  return <span className={`delta ${cls}`}>{d > 0 ? '+' : ''}{d.toFixed(2)}</span>;
}

function CellView({ c, m, bestFull, bestEdited }: { c: Cell | undefined; m: Method; bestFull: boolean; bestEdited: boolean }) {
  const abl = ABLATIONS.has(m) ? ' ablation' : '';
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
      <td className={`num${bestFull ? ' best' : ''}${abl}`} data-method={m} data-metric="full" title={bestFull ? 'best method of this row on the full test set' : undefined}>
        {fmt(c.full)}
        {m !== 'start' ? delta(c.dFull) : null}
      </td>
      <td
        className={`num${bestEdited ? ' best' : ''}${abl}`}
        data-method={m}
        data-metric="edited"
        title={bestEdited ? 'best method of this row on the edited set among those that do not lose on the full set' : undefined}
      >
        {fmt(c.edited)}
        {m !== 'start' ? delta(c.dEdited) : null}
      </td>
    </>
  );
}

function Row({ r, methods, isAvg }: { r: TableRow; methods: Method[]; isAvg?: boolean }) {
  const h = highlightRow(r, methods);
  return (
    <tr className={isAvg ? 'avg-row' : undefined} data-country={isAvg ? 'avg' : r.country}>
      <th scope="row">{r.country}</th>
      {methods.map((m) => (
        <CellView key={m} c={r.cells[m]} m={m} bestFull={h.full.includes(m)} bestEdited={h.edited.includes(m)} />
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
  const collapsed = collapsedMethods(avg, methods);
  const trained = methods.filter((m) => m !== 'start');
  const partial = partialLabel(status, runs.filter((r) => r.method !== 'start').length, cfg.countries.length * trained.length);
  return (
    <div className="results-wrap">
      {partial ? (
        <p className="notice warn partial-label" data-testid="partial-label" role="status">
          {partial}
        </p>
      ) : null}
      {collapsed.length ? (
        <p className="notice warn" data-testid="collapse-warning" role="status">
          {collapsed
            .map(
              (c) =>
                `${c.method}${ABLATIONS.has(c.method) ? ' (ablation, as expected)' : ''} collapsed: ${c.full.toFixed(1)}% macro on the full test set, ${c.drop.toFixed(1)} points vs start`,
            )
            .join('; ')}
          {cfg.tau <= 0.5 ? ` (tau ${cfg.tau} keeps only pairs the global RM ranks wrong).` : '.'}
        </p>
      ) : null}
      <p className="results-help small muted" data-testid="results-help">
          Test accuracy (%) per country and method: <strong>full</strong> test set and <strong>edited</strong> set (pairs the global RM ranks wrong); small numbers are
          deltas vs start. Highlighted: the best method of each row on the full set, and on the edited set the best among methods that do not lose more than{' '}
          {FULL_LOSS_TOLERANCE} points on the full set (ties all highlighted; the <em>inverse</em> ablation is never a candidate). Kept = share of training pairs
          the filter keeps; edited = share of test pairs in the edited set (in the average row both pool the pairs of all countries, as
          the reference code does; accuracies are the mean over countries).
      </p>
      <table className="results" data-testid="results-table" data-complete={status === 'done' ? 'true' : 'false'}>
        <caption className="sr-only">Test accuracy (%) per country and method</caption>
        <thead>
          <tr>
            <th scope="col" rowSpan={2}>
              Country
            </th>
            {methods.map((m) => (
              <th key={m} scope="colgroup" colSpan={2} className={`method-head${ABLATIONS.has(m) ? ' ablation' : ''}`}>
                <span className="swatch" style={{ background: METHOD_COLORS[m] }} aria-hidden="true" />
                {m}
                {ABLATIONS.has(m) ? <span className="tag tag-ablation">ablation</span> : null}
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
      <SeedsPanel />
    </div>
  );
}
