// Every pair of a country in a virtualized table: texts side by side, human scores, global-RM scores, p_global,
// kept/filtered, weight, and the trained country RM's margin; sort, filter, search, and a full view of one pair.
// Dataset text is rendered only as React text nodes.
import { useVirtualizer } from '@tanstack/react-virtual';
import { useDeferredValue, useEffect, useMemo, useRef, useState } from 'react';
import type { Method } from '../../pipeline/types.ts';
import type { KeptFilter, PairFilter, PairTable, SortKey } from '../derive.ts';
import { countryPairs, DEFAULT_PAIR_FILTER, filterPairs, fmt, marginsByPair, scorePair, sortPairs } from '../derive.ts';
import { update, useStudio } from '../store.ts';
import { own as ownKey } from '../../pipeline/dict.ts';
import { pairStatus } from '../story.ts';

const ROW_H = 40;
/** Row height with "expand texts" on: about five lines of prompt/response, scrollable inside the cell. */
const ROW_H_EXPANDED = 112;
const ALL = '\u0000all';

interface Col {
  key: SortKey | null;
  label: string;
  title?: string;
  cls: string;
}

const COUNTRY_COL: Col = { key: null, label: 'country', cls: 'c-country' };

const COLS: Col[] = [
  { key: 'index', label: '#', cls: 'c-idx' },
  { key: 'split', label: 'split', cls: 'c-split' },
  { key: null, label: 'prompt', cls: 'c-text c-prompt' },
  { key: null, label: 'chosen', cls: 'c-text c-chosen' },
  { key: null, label: 'rejected', cls: 'c-text c-rejected' },
  { key: 'scoreChosen', label: 'h+', title: 'human score of the chosen response', cls: 'c-num c-human' },
  { key: 'scoreRejected', label: 'h−', title: 'human score of the rejected response', cls: 'c-num c-human' },
  { key: 'rPlus', label: 'r+', title: 'global RM score of chosen', cls: 'c-num c-r' },
  { key: 'rMinus', label: 'r−', title: 'global RM score of rejected', cls: 'c-num c-r' },
  { key: 'pGlobal', label: 'p_global', title: 'sigmoid(r+ − r−)', cls: 'c-num c-wide' },
  {
    key: null,
    label: 'filter',
    title: 'training pairs: kept (p_global < tau) or filtered; test pairs: edited when r+ < r−; majority: no country RM is trained for that country',
    cls: 'c-kept',
  },
  { key: 'weight', label: 'weight', title: 'min(exp((r+ − r−)/beta), 1)', cls: 'c-num c-weight' },
  { key: 'margin', label: 'margin', title: 'country RM margin s(chosen) − s(rejected) after training', cls: 'c-num c-wide' },
];

function PairDetail({ index, table, onClose, trainedSet, majoritySet }: { index: number; table: PairTable; onClose: () => void; trainedSet: Set<string>; majoritySet: Set<string> }) {
  const pairs = useStudio((s) => s.pairs);
  const items = useStudio((s) => s.items);
  const closeRef = useRef<HTMLButtonElement>(null);
  useEffect(() => closeRef.current?.focus(), [index]);
  if (!pairs || !items || !pairs[index]) return null;
  const p = pairs[index];
  const sc = scorePair(p, table.rPlus?.[index], table.rMinus?.[index], table.tau, table.beta);
  const ch = items[p.chosen];
  const rj = items[p.rejected];
  const margin = table.margins?.[index];
  const st = pairStatus(p.split, sc.kept, sc.wrong, sc.pGlobal, table.tau, trainedSet.has(p.country), p.country, majoritySet.has(p.country));
  return (
    <div
      className="pair-detail"
      data-testid="pair-detail"
      aria-label={`Pair ${index}`}
      role="dialog"
      onKeyDown={(e) => {
        if (e.key === 'Escape') {
          e.stopPropagation();
          onClose();
        }
      }}
    >
      <header className="panel-head">
        <h3>
          Pair #{index} · {p.country} · {p.split}
        </h3>
        <button type="button" ref={closeRef} onClick={onClose} aria-label="Close pair view" data-testid="pair-detail-close">
          ✕
        </button>
      </header>
      <dl className="pair-facts">
        <div>
          <dt>human</dt>
          <dd>
            {p.scoreChosen} vs {p.scoreRejected}
          </dd>
        </div>
        <div>
          <dt>r+ / r−</dt>
          <dd>
            {fmt(sc.rPlus, 3)} / {fmt(sc.rMinus, 3)}
          </dd>
        </div>
        <div>
          <dt>p_global</dt>
          <dd>{fmt(sc.pGlobal, 3)}</dd>
        </div>
        <div>
          <dt>filter</dt>
          <dd>{st.text}</dd>
        </div>
        <div>
          <dt>weight</dt>
          <dd>{fmt(sc.weight, 3)}</dd>
        </div>
        <div>
          <dt>country RM margin</dt>
          <dd title={trainedSet.has(p.country) ? undefined : 'no country RM for this country'}>{fmt(margin, 3)}</dd>
        </div>
        <div>
          <dt>user / key</dt>
          <dd className="mono">
            {p.group} / {p.key}
          </dd>
        </div>
      </dl>
      <p className="pair-why" data-testid="pair-detail-why">
        {st.why}
      </p>
      <h4>Prompt</h4>
      <div className="pair-text" data-testid="pair-detail-prompt">
        {ch.prompt}
      </div>
      <div className="side-by-side">
        <div>
          <h4 className="chosen-h">Chosen</h4>
          <div className="pair-text" data-testid="pair-detail-chosen">
            {ch.response}
          </div>
        </div>
        <div>
          <h4 className="rejected-h">Rejected</h4>
          <div className="pair-text" data-testid="pair-detail-rejected">
            {rj.response}
          </div>
          {rj.prompt !== ch.prompt ? <p className="small muted">Rejected response's own prompt: {rj.prompt}</p> : null}
        </div>
      </div>
    </div>
  );
}

export function PairInspector() {
  const pairs = useStudio((s) => s.pairs);
  const items = useStudio((s) => s.items);
  const rPlus = useStudio((s) => s.live.rPlus);
  const rMinus = useStudio((s) => s.live.rMinus);
  const result = useStudio((s) => s.result);
  const cfg = useStudio((s) => s.run.config ?? s.config);
  const country = useStudio((s) => s.ui.country);
  const marginMethod = useStudio((s) => s.ui.marginMethod);
  const [filter, setFilter] = useState<PairFilter>(DEFAULT_PAIR_FILTER);
  const [sort, setSort] = useState<{ key: SortKey; dir: 'asc' | 'desc' }>({ key: 'index', dir: 'asc' });
  const [selected, setSelected] = useState<number | null>(null);
  // "All countries" is the inspector's own scope (charts keep their country); margins are per country, so none then.
  const [all, setAll] = useState(false);
  const [expanded, setExpanded] = useState(false);
  const search = useDeferredValue(filter.search);
  const scrollRef = useRef<HTMLDivElement>(null);
  const rowH = expanded ? ROW_H_EXPANDED : ROW_H;
  const trainedSet = useMemo(() => new Set(cfg.countries), [cfg.countries]);
  const majoritySet = useMemo(() => new Set(cfg.majority), [cfg.majority]);
  const cols = all ? [COLS[0], COUNTRY_COL, ...COLS.slice(1)] : COLS;
  /** Closes the pair view and gives the focus back to its row (or the list), where the user was. */
  const closeDetail = () => {
    const i = selected;
    setSelected(null);
    requestAnimationFrame(() => {
      // Not when the user has already put the focus elsewhere within that frame (e.g. clicked the search box).
      const active = document.activeElement;
      if (active !== null && active !== document.body) return;
      const row = i === null ? null : scrollRef.current?.querySelector<HTMLElement>(`[data-index="${i}"]`);
      (row ?? scrollRef.current)?.focus();
    });
  };

  const countries = useMemo(() => {
    const set = new Set<string>(cfg.countries);
    if (pairs) for (const p of pairs) set.add(p.country);
    return [...set].sort();
  }, [pairs, cfg.countries]);
  const table: PairTable = useMemo(
    () => ({
      rPlus,
      rMinus,
      margins: pairs && !all ? marginsByPair(result, country, marginMethod, pairs.length) : null,
      tau: cfg.tau,
      beta: cfg.beta,
    }),
    [rPlus, rMinus, result, country, marginMethod, pairs, cfg.tau, cfg.beta, all],
  );
  const own = useMemo(() => (pairs ? (all ? pairs.map((_, i) => i) : countryPairs(pairs, country)) : []), [pairs, country, all]);
  const rows = useMemo(() => {
    if (!pairs || !items) return [];
    let f = filterPairs(own, pairs, items, table, { ...filter, search });
    // Kept/filtered only applies to countries a country RM is trained for (all-countries view).
    if (all && (filter.kept === 'kept' || filter.kept === 'filtered')) f = f.filter((i) => trainedSet.has(pairs[i].country));
    return sortPairs(f, pairs, table, sort.key, sort.dir);
  }, [own, pairs, items, table, filter, search, sort, all, trainedSet]);

  const virt = useVirtualizer({ count: rows.length, getScrollElement: () => scrollRef.current, estimateSize: () => rowH, overscan: 12 });
  useEffect(() => virt.measure(), [rowH, virt]);
  // Roving focus: one row is in the Tab order; arrows, Page keys, Home and End move it (a grid's keyboard model),
  // so tens of thousands of rows do not each cost a Tab stop.
  const [focusPos, setFocusPos] = useState(0);
  const focusRow = (pos: number) => {
    const next = Math.max(0, Math.min(rows.length - 1, pos));
    setFocusPos(next);
    virt.scrollToIndex(next, { align: 'auto' });
    // Only while the focus is still in the list (or was dropped to the body because the virtualizer unmounted the
    // old row): a key pressed within that frame (Enter opens the pair view) must not have its focus taken back.
    requestAnimationFrame(() => {
      const list = scrollRef.current;
      const active = document.activeElement;
      if (list && (active === null || active === document.body || list.contains(active))) {
        list.querySelector<HTMLElement>(`[data-pos="${next}"]`)?.focus();
      }
    });
  };
  const rowKeys = (e: { key: string; preventDefault: () => void }, pos: number, pairIndex: number) => {
    const page = Math.max(1, Math.floor((scrollRef.current?.clientHeight ?? rowH * 10) / rowH) - 1);
    const moves: Record<string, number> = { ArrowDown: pos + 1, ArrowUp: pos - 1, PageDown: pos + page, PageUp: pos - page, Home: 0, End: rows.length - 1 };
    if (e.key in moves) {
      e.preventDefault();
      focusRow(moves[e.key]);
    } else if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      setSelected(pairIndex);
    }
  };
  useEffect(() => {
    virt.scrollToOffset(0);
  }, [country, all, filter, search, sort, virt]);

  const marginMethods = (result ? Object.keys(ownKey(result.margins, country) ?? {}) : []) as Method[];

  if (!pairs || !items) {
    return (
      <div className="pair-inspector" data-testid="pair-inspector">
        <p className="muted">The pairs appear here once data is loaded.</p>
      </div>
    );
  }

  const setF = (patch: Partial<PairFilter>) => setFilter((f) => ({ ...f, ...patch }));
  const clickSort = (key: SortKey) => setSort((s) => (s.key === key ? { key, dir: s.dir === 'asc' ? 'desc' : 'asc' } : { key, dir: key === 'index' ? 'asc' : 'desc' }));

  return (
    <div className="pair-inspector" data-testid="pair-inspector">
      <div className="toolbar wrap" role="group" aria-label="Pair filters">
        <label>
          Country{' '}
          <select
            data-testid="pair-country"
            value={all ? ALL : country}
            onChange={(e) => {
              const v = e.target.value;
              setAll(v === ALL);
              if (v !== ALL) update((s) => ({ ui: { ...s.ui, country: v } }));
            }}
          >
            <option value={ALL}>all countries</option>
            {countries.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </label>
        <label>
          Show{' '}
          <select data-testid="pair-filter-kept" value={filter.kept} onChange={(e) => setF({ kept: e.target.value as KeptFilter })}>
            <option value="all">all pairs</option>
            <option value="kept">training: kept</option>
            <option value="filtered">training: filtered</option>
            <option value="test">test pairs</option>
          </select>
        </label>
        <label className="check">
          <input type="checkbox" data-testid="pair-filter-wrong" checked={filter.wrongOnly} onChange={(e) => setF({ wrongOnly: e.target.checked })} />
          wrong by global RM
        </label>
        <label>
          weight{' '}
          <input
            type="number"
            className="tiny"
            aria-label="Minimum weight"
            data-testid="pair-weight-min"
            min={0}
            max={1}
            step={0.05}
            value={filter.weightMin}
            onChange={(e) => setF({ weightMin: Number.isFinite(e.target.valueAsNumber) ? e.target.valueAsNumber : 0 })}
          />
          –
          <input
            type="number"
            className="tiny"
            aria-label="Maximum weight"
            data-testid="pair-weight-max"
            min={0}
            max={1}
            step={0.05}
            value={filter.weightMax}
            onChange={(e) => setF({ weightMax: Number.isFinite(e.target.valueAsNumber) ? e.target.valueAsNumber : 1 })}
          />
        </label>
        <label className="grow">
          <span className="sr-only">Search pair texts</span>
          <input type="search" placeholder="Search prompt and responses…" data-testid="pair-search" value={filter.search} onChange={(e) => setF({ search: e.target.value })} />
        </label>
        <label>
          margin of{' '}
          <select
            data-testid="pair-margin-method"
            value={marginMethod}
            disabled={marginMethods.length === 0}
            onChange={(e) => update((s) => ({ ui: { ...s.ui, marginMethod: e.target.value as Method } }))}
          >
            {(marginMethods.length ? marginMethods : [marginMethod]).map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        </label>
        <label className="check">
          <input type="checkbox" data-testid="pair-expand" checked={expanded} onChange={(e) => setExpanded(e.target.checked)} />
          expand texts
        </label>
        <span className="small pair-params" data-testid="pair-params" title="The filter and weight settings of the shown run">
          tau {cfg.tau.toFixed(2)} · beta {cfg.beta}
        </span>
        <span className="muted small" data-testid="pair-count" data-count={rows.length} aria-live="polite">
          {rows.length.toLocaleString()} of {own.length.toLocaleString()} pairs
        </span>
      </div>
      {all ? (
        <p className="small muted pair-all-note" data-testid="pair-all-note">
          All countries: pairs of {[...majoritySet].join(' and ') || 'the majority'} (majority) and of unselected countries are scored by the global RM but no country
          RM is trained for them, so they are neither kept nor filtered and have no margin. Margins are shown for one country at a time.
        </p>
      ) : null}
      <div className={`pair-table${expanded ? ' expanded' : ''}`} role="table" aria-label={all ? 'Pairs of all countries' : `Pairs of ${country}`} aria-rowcount={rows.length + 1}>
        <div role="rowgroup">
        <div className="pair-row pair-head" role="row">
          {cols.map((c) => (
            <div
              key={c.label}
              role="columnheader"
              className={c.cls}
              title={c.title}
              aria-sort={c.key && sort.key === c.key ? (sort.dir === 'asc' ? 'ascending' : 'descending') : undefined}
            >
              {c.key ? (
                <button type="button" className="sort-btn" data-testid={`pair-sort-${c.key}`} onClick={() => clickSort(c.key as SortKey)}>
                  {c.label}
                  {sort.key === c.key ? (sort.dir === 'asc' ? ' ▲' : ' ▼') : ''}
                </button>
              ) : (
                c.label
              )}
            </div>
          ))}
        </div>
        </div>
        <div className="pair-scroll" ref={scrollRef} data-testid="pair-scroll" tabIndex={0} role="rowgroup" aria-label="Pair rows (scroll)">
          <div style={{ height: virt.getTotalSize(), position: 'relative' }}>
            {virt.getVirtualItems().map((v) => {
              const i = rows[v.index];
              const p = pairs[i];
              const sc = scorePair(p, rPlus?.[i], rMinus?.[i], cfg.tau, cfg.beta);
              const margin = table.margins?.[i];
              const trained = trainedSet.has(p.country);
              const st = pairStatus(p.split, sc.kept, sc.wrong, sc.pGlobal, cfg.tau, trained, p.country, majoritySet.has(p.country));
              return (
                <div
                  key={i}
                  role="row"
                  aria-rowindex={v.index + 2}
                  className={`pair-row ${selected === i ? 'selected' : ''} ${st.text}`}
                  data-testid="pair-row"
                  data-index={i}
                  data-pos={v.index}
                  tabIndex={v.index === Math.min(focusPos, rows.length - 1) ? 0 : -1}
                  style={{ transform: `translateY(${v.start}px)`, height: rowH }}
                  onClick={() => {
                    setFocusPos(v.index);
                    setSelected(i);
                  }}
                  onKeyDown={(e) => rowKeys(e, v.index, i)}
                >
                  <div role="cell" className="c-idx">
                    {i}
                  </div>
                  {all ? (
                    <div role="cell" className="c-country" title={p.country}>
                      {p.country}
                    </div>
                  ) : null}
                  <div role="cell" className="c-split" title={p.country}>
                    {p.split}
                  </div>
                  <div role="cell" className="c-text c-prompt" title={expanded ? undefined : items[p.chosen].prompt}>
                    {items[p.chosen].prompt}
                  </div>
                  <div role="cell" className="c-text c-chosen" title={expanded ? undefined : items[p.chosen].response}>
                    {items[p.chosen].response}
                  </div>
                  <div role="cell" className="c-text c-rejected" title={expanded ? undefined : items[p.rejected].response}>
                    {items[p.rejected].response}
                  </div>
                  <div role="cell" className="c-num c-human">
                    {fmt(p.scoreChosen, p.scoreChosen % 1 === 0 ? 0 : 2)}
                  </div>
                  <div role="cell" className="c-num c-human">
                    {fmt(p.scoreRejected, p.scoreRejected % 1 === 0 ? 0 : 2)}
                  </div>
                  <div role="cell" className="c-num c-r">
                    {fmt(sc.rPlus)}
                  </div>
                  <div role="cell" className="c-num c-r">
                    {fmt(sc.rMinus)}
                  </div>
                  <div role="cell" className="c-num c-wide">
                    {fmt(sc.pGlobal)}
                  </div>
                  <div role="cell" className="c-kept" title={st.why}>
                    <span className={`tag tag-${st.text.replace(' ', '-')}`}>{st.text}</span>
                    <span className="sr-only">: {st.why}</span>
                  </div>
                  <div role="cell" className="c-num c-weight">
                    {trained ? fmt(sc.weight) : '–'}
                  </div>
                  <div
                    role="cell"
                    className={`c-num c-wide ${margin !== undefined && Number.isFinite(margin) ? (margin > 0 ? 'up' : 'down') : ''}`}
                    title={!trained ? 'no country RM is trained for this country' : all ? 'margins are shown for one country at a time' : undefined}
                  >
                    {fmt(margin)}
                  </div>
                </div>
              );
            })}
          </div>
        </div>
      </div>
      {selected !== null ? <PairDetail index={selected} table={table} onClose={closeDetail} trainedSet={trainedSet} majoritySet={majoritySet} /> : null}
    </div>
  );
}
