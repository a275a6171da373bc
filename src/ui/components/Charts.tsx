// Live charts (recharts): accuracy vs step, loss, bias (own vs majority), data efficiency, and the histograms of
// p_global (tau marked) and SCPO weights. They read the live slice, so they update while training runs.
import { startTransition, useDeferredValue, useEffect, useMemo, useRef, useState } from 'react';
import type { ReactNode } from 'react';
import { Bar, BarChart, CartesianGrid, ComposedChart, Legend, Line, LineChart, ReferenceLine, ResponsiveContainer, Scatter, Tooltip, XAxis, YAxis } from 'recharts';
import type { XAxisProps, YAxisProps } from 'recharts';
import type { Method } from '../../pipeline/types.ts';
import { accuracySeries, biasRows, edgesAround, efficiencySeries, fmt, histogramEdges, lossSeries, trainDistribution } from '../derive.ts';
import { chartSvg, download, svgToPng } from '../export.ts';
import { update, useStudio } from '../store.ts';
import { chartTheme, METHOD_COLORS, useChartSizes, useResolvedTheme } from './common.tsx';
import { own } from '../../pipeline/dict.ts';
import { useShallow } from 'zustand/react/shallow';
import type { LivePoint, RunResult } from '../../pipeline/experiment.ts';
import { runKey } from '../derive.ts';
import { turns } from './turns.ts';

/** The plot margin every chart uses. */
const MARGIN = { top: 6, right: 12, bottom: 0, left: -8 };

/**
 * A chart's mount, in its turn among the charts (see turns.ts): null until the turn comes, then the width of `ref`'s
 * element at that moment (for good). The chart then renders at that size at once (ResponsiveContainer's
 * initialDimension) instead of rendering an empty container first and the chart in its measuring effect; the render is
 * a transition (React renders it in slices), and the turn ends when it committed.
 */
function useMountTurn(ref: { readonly current: HTMLElement | null }): number | null {
  const token = useRef({}).current;
  const [width, setWidth] = useState<number | null>(null);
  useEffect(() => {
    if (width !== null) {
      turns.end(token);
      return;
    }
    turns.ask(token, () => {
      const w = Math.round(ref.current?.getBoundingClientRect().width ?? 0);
      startTransition(() => setWidth(w));
    });
    return () => (turns.drop(token), turns.end(token));
  }, [width, token, ref]);
  return width;
}

/**
 * A chart panel: title, SVG/PNG export, the sized plot area and a note. The plot mounts in its turn (useMountTurn),
 * also while it has no data (then hidden under "Waiting for data…"): the charts' first, costliest render (recharts'
 * store, axes, legend, and compiling its code) happens when the page opens, one chart per task, not in the first
 * second of a run when the data arrive and the training workers take the cores.
 */
function ChartFrame({ title, testid, points, children, note, extra }: { title: string; testid: string; points: number; children: ReactNode; note?: ReactNode; extra?: ReactNode }) {
  const ref = useRef<HTMLDivElement>(null);
  const theme = chartTheme(useResolvedTheme());
  const { height } = useChartSizes();
  const width = useMountTurn(ref);
  const [err, setErr] = useState('');
  const file = testid.replace(/-chart$/, '');
  const save = (kind: 'svg' | 'png') => {
    const s = ref.current ? chartSvg(ref.current, theme.bg, title, theme.fg) : null;
    if (!s) return;
    if (kind === 'svg') download(`${file}.svg`, s, 'image/svg+xml');
    else
      svgToPng(s)
        .then((b) => download(`${file}.png`, b))
        .catch((e: unknown) => setErr(String(e)));
  };
  const empty = points === 0;
  return (
    <section className="chart panel" data-testid={testid} data-points={points} data-mounted={width !== null} aria-label={title}>
      <header className="panel-head">
        <h3>{title}</h3>
        <div className="panel-actions">
          {extra}
          {(['svg', 'png'] as const).map((kind) => (
            <button
              key={kind}
              type="button"
              className="small-btn"
              data-testid={`${testid}-${kind}`}
              disabled={empty}
              aria-label={`Download ${title} as ${kind.toUpperCase()}`}
              onClick={() => save(kind)}
            >
              {kind.toUpperCase()}
            </button>
          ))}
        </div>
      </header>
      <div className="chart-body" ref={ref} style={{ height }}>
        {width !== null ? (
          // Laid out but invisible while empty (not display: none, where recharts would measure a zero size).
          <div className={empty ? 'chart-plot empty' : 'chart-plot'}>
            <ResponsiveContainer width="100%" height={height} initialDimension={{ width, height }}>
              {children}
            </ResponsiveContainer>
          </div>
        ) : null}
        {empty ? <div className="chart-empty muted">Waiting for data…</div> : null}
      </div>
      {note ? <div className="chart-note small muted">{note}</div> : null}
      {err ? <div className="small warn">{err}</div> : null}
    </section>
  );
}

const formatValue = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : String(v));

/**
 * The theme plus the parts every cartesian chart shares, in the order they are drawn: grid, themed x and y axes
 * (sized for the normal or the presentation layout), tooltip and, unless `legend` is false, the legend.
 * Legend text is the neutral foreground colour next to a method-coloured swatch: method colours on the panel
 * background are only 2.5-3.7:1, below the 4.5:1 text needs.
 */
function useAxes() {
  const t = chartTheme(useResolvedTheme());
  const z = useChartSizes();
  const axis = { stroke: t.muted, tick: { fill: t.muted, fontSize: z.tick } };
  const parts = (x: XAxisProps, y: YAxisProps, legend = true) => (
    <>
      <CartesianGrid stroke={t.grid} strokeDasharray="3 3" />
      <XAxis {...x} {...axis} />
      <YAxis width={z.yWidth} {...y} {...axis} />
      <Tooltip contentStyle={{ background: t.bg, border: `1px solid ${t.grid}`, color: t.fg, fontSize: z.tooltip }} labelStyle={{ color: t.fg }} formatter={formatValue} />
      {legend ? (
        <Legend
          wrapperStyle={{ fontSize: z.legend, color: t.fg }}
          iconSize={z.legend - 2}
          formatter={(value: unknown) => (
            <span className="legend-text" style={{ color: t.fg }}>
              {String(value)}
            </span>
          )}
        />
      ) : null}
    </>
  );
  return { t, z, parts };
}

/** The x axis of the per-step line charts. */
const STEP_X: XAxisProps = { type: 'number', dataKey: 'step', domain: [0, 'dataMax'], allowDuplicatedCategory: false };
/** The x axis of the histograms (bin labels, every fourth shown). */
const BIN_X: XAxisProps = { dataKey: 'label', interval: 3 };
/** The y axis of the histograms (pair counts). */
const COUNT_Y: YAxisProps = { allowDecimals: false };

/**
 * How often a live chart takes new data while a run streams: a recharts render (scales, ticks measured in the DOM, SVG)
 * costs tens of ms of the page's thread, and the runner applies worker messages every 250 ms; charts need not follow
 * that fast (bench:studio: the page's main thread is the one core the two training workers do not have).
 */
export const LIVE_CHART_MS = 1000;

/**
 * A live chart's input: `value`, taken at most every `ms` while it streams (the latest one at most `ms` after it
 * arrived; the first at once), in its turn among the charts, and rendered as a deferred value (React renders it in
 * the background, interruptibly). When `key` changes (another country or metric chosen) the new value shows at once:
 * throttling applies to streaming, not to what the user asks for.
 */
export function useLive<T>(value: T, key: string, ms = LIVE_CHART_MS): T {
  const [shown, setShown] = useState({ value, key });
  // Its own place in the charts' turn queue (a chart's mount holds another one, see useMountTurn).
  const token = useRef({}).current;
  const last = useRef(0);
  const chosen = key !== shown.key;
  useEffect(() => {
    if (chosen) {
      last.current = Date.now();
      setShown({ value, key });
      return;
    }
    if (Object.is(value, shown.value)) return;
    const ask = () =>
      turns.ask(token, () => {
        last.current = Date.now();
        setShown({ value, key });
      });
    const t = setTimeout(ask, Math.max(0, last.current + ms - Date.now()));
    return () => {
      clearTimeout(t);
      turns.drop(token);
    };
  }, [value, key, shown, ms, chosen, token]);
  const deferred = useDeferredValue(shown);
  // Committed: the next chart may render.
  useEffect(() => {
    if (deferred === shown) turns.end(token);
  }, [deferred, shown, token]);
  useEffect(() => () => (turns.drop(token), turns.end(token)), [token]);
  return chosen ? value : deferred.value;
}

/** `value`, keeping the previous object while its JSON is the same (a chart's rows recomputed with equal numbers). */
function useSameContent<T>(value: T): T {
  const ref = useRef<{ json: string; value: T } | null>(null);
  const json = JSON.stringify(value);
  if (ref.current?.json !== json) ref.current = { json, value };
  return ref.current.value;
}

/** The selected country and the config of the shown run (or the form's, before any run). */
function useScope() {
  const country = useStudio((s) => s.ui.country);
  const cfg = useStudio((s) => s.run.config ?? s.config);
  return { country, cfg };
}

function methodsOf(cfg: { methods: Method[] }): Method[] {
  return cfg.methods;
}

/**
 * The live points of the shown country's runs only, as a record that keeps its identity while they do not change:
 * the charts of one country do not re-render (recharts is the page's main cost) while other countries train.
 */
function useCountryPoints(country: string, methods: readonly Method[]): Record<string, LivePoint[]> {
  const arrays = useStudio(useShallow((s) => methods.map((m) => s.live.points[runKey(country, m)])));
  return useMemo(() => {
    const out: Record<string, LivePoint[]> = {};
    methods.forEach((m, i) => {
      if (arrays[i]) out[runKey(country, m)] = arrays[i];
    });
    return out;
  }, [country, methods, arrays]);
}

/** The finished runs of the shown country (same identity while they do not change). */
function useCountryRuns(country: string): RunResult[] {
  return useStudio(useShallow((s) => s.live.runs.filter((r) => r.country === country)));
}

export function AccuracyChart() {
  const { country, cfg } = useScope();
  // Deferred: a live update re-renders the chart in a background, interruptible render (see liveChart below).
  const metric = useStudio((s) => s.ui.metric);
  const points = useLive(useCountryPoints(country, cfg.methods), `${country}\u0000${metric}`);
  const a = useAxes();
  const series = useMemo(() => {
    const ms = methodsOf(cfg);
    const full = metric !== 'edited' ? accuracySeries(points, country, ms, 'full').map((x) => ({ ...x, metric: 'full' as const })) : [];
    const edited = metric !== 'full' ? accuracySeries(points, country, ms, 'edited').map((x) => ({ ...x, metric: 'edited' as const })) : [];
    return [...full, ...edited];
  }, [points, country, metric, cfg]);
  const n = series.reduce((k, s) => k + s.data.length, 0);
  const chart = useMemo(
    () => (
      <LineChart margin={MARGIN}>
        {a.parts(STEP_X, { unit: '%', domain: ['auto', 'auto'] })}
        {series.map((s) => (
          <Line
            key={`${s.method}-${s.metric}`}
            data={s.data}
            dataKey="value"
            name={`${s.method}${metric === 'both' ? ` ${s.metric}` : ''}`}
            stroke={METHOD_COLORS[s.method]}
            strokeDasharray={s.metric === 'edited' ? '5 3' : undefined}
            strokeWidth={s.method === 'scpo' ? 2.4 : 1.5}
            dot={{ r: 2 }}
            isAnimationActive={false}
            legendType={s.metric === 'edited' && metric === 'both' ? 'none' : 'line'}
          />
        ))}
      </LineChart>
    ),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [series, metric, a.t.bg, a.z.tick],
  );
  return (
    <ChartFrame title={`Accuracy vs step · ${country}`} testid="accuracy-chart" points={n} note="Solid: full test set · dashed: edited test set (pairs the global RM gets wrong).">
      {chart}
    </ChartFrame>
  );
}

export function LossChart() {
  const { country, cfg } = useScope();
  const livePoints = useCountryPoints(country, cfg.methods);
  const liveRuns = useCountryRuns(country);
  const { points, runs } = useLive(useMemo(() => ({ points: livePoints, runs: liveRuns }), [livePoints, liveRuns]), country);
  const a = useAxes();
  const series = useMemo(() => lossSeries(points, runs, country, methodsOf(cfg)), [points, runs, country, cfg]);
  const n = series.reduce((k, s) => k + s.data.length, 0);
  const chart = useMemo(
    () => (
      <LineChart margin={MARGIN}>
        {a.parts(STEP_X, { domain: ['auto', 'auto'], tickFormatter: (v: number) => v.toFixed(2) })}
        {series.map((s) => (
          <Line key={s.method} data={s.data} dataKey="value" name={s.method} stroke={METHOD_COLORS[s.method]} dot={false} strokeWidth={s.method === 'scpo' ? 2.2 : 1.4} isAnimationActive={false} />
        ))}
      </LineChart>
    ),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [series, a.t.bg, a.z.tick],
  );
  return (
    <ChartFrame title={`Training loss · ${country}`} testid="loss-chart" points={n} note="Weighted Bradley-Terry loss (smoothed once a run ends).">
      {chart}
    </ChartFrame>
  );
}

export function BiasChart() {
  const { country, cfg } = useScope();
  const [scope, setScope] = useState<'country' | 'avg'>('country');
  const [view, setView] = useState<'acc' | 'gap'>('acc');
  const runs = useLive(useStudio((s) => s.live.runs), `${country}\u0000${scope}`);
  const a = useAxes();
  // Other countries' runs finishing change `runs` but not these rows: the chart then does not render again.
  const rows = useSameContent(useMemo(() => biasRows(runs, cfg.countries, scope === 'avg' ? 'avg' : country, methodsOf(cfg)), [runs, cfg, country, scope]));
  const gaps = useMemo(() => rows.map((r) => ({ method: r.method, gap: r.own !== null && r.majority !== null ? Math.round((r.own - r.majority) * 100) / 100 : null })), [rows]);
  const majority = cfg.majority.join(' + ') || 'majority';
  const start = rows.find((r) => r.method === 'start');
  const where = scope === 'avg' ? 'the average country' : country;
  // The one sentence the chart exists for, in numbers: how far the global RM is from this country vs the majority.
  const note =
    start && start.own !== null && start.majority !== null ? (
      <span data-testid="bias-gap">
        Global RM: {start.own.toFixed(1)}% on {where} vs {start.majority.toFixed(1)}% on the majority ({start.own - start.majority >= 0 ? '+' : '−'}
        {Math.abs(start.own - start.majority).toFixed(1)} points).
      </span>
    ) : (
      'Own-country test accuracy vs accuracy on the majority countries\' test pairs.'
    );
  // The same element while rows, view and theme stay: React then skips the recharts subtree entirely.
  const chart = useMemo(
    () =>
      view === 'acc' ? (
        // The axis starts at 0: a zoomed axis turns a 3-point gap into bars of very different heights (and hides a large one).
        <BarChart data={rows} margin={MARGIN}>
          {a.parts({ dataKey: 'method', interval: 0 }, { unit: '%', domain: [0, 100], ticks: [0, 25, 50, 75, 100] })}
          <Bar dataKey="own" name="own country" fill={a.t.accent} isAnimationActive={false} />
          <Bar dataKey="majority" name="majority" fill={a.t.muted} isAnimationActive={false} />
        </BarChart>
      ) : (
        <BarChart data={gaps} margin={MARGIN}>
          {a.parts({ dataKey: 'method', interval: 0 }, { unit: ' pt', domain: [(min: number) => Math.min(0, Math.floor(min - 2)), (max: number) => Math.max(0, Math.ceil(max + 2))] }, false)}
          <ReferenceLine y={0} stroke={a.t.fg} />
          <Bar dataKey="gap" name="own − majority (points)" fill={a.t.accent} isAnimationActive={false} />
        </BarChart>
      ),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [rows, gaps, view, a.t.bg, a.z.tick],
  );
  return (
    <ChartFrame
      title={`Bias · ${scope === 'avg' ? 'all countries' : country} vs ${majority}`}
      testid="bias-chart"
      points={rows.length}
      note={note}
      extra={
        <>
          <select aria-label="Bias chart view" data-testid="bias-view" className="small-select" value={view} onChange={(e) => setView(e.target.value as 'acc' | 'gap')}>
            <option value="acc">accuracy</option>
            <option value="gap">gap</option>
          </select>
          <select aria-label="Bias chart scope" className="small-select" value={scope} onChange={(e) => setScope(e.target.value as 'country' | 'avg')}>
            <option value="country">this country</option>
            <option value="avg">average</option>
          </select>
        </>
      }
    >
      {chart}
    </ChartFrame>
  );
}

export function EfficiencyChart() {
  const eff = useLive(useStudio((s) => s.live.efficiency), 'efficiency');
  const country = useStudio((s) => s.ui.country);
  const a = useAxes();
  const entry = own(eff, country);
  const data = useMemo(() => efficiencySeries(entry), [entry]);
  return (
    <ChartFrame
      title={`Data efficiency · ${country}`}
      testid="efficiency-chart"
      points={data.fullFt.length + (entry ? 1 : 0)}
      note={
        entry ? (
          <>
            full_ft needs {entry.fullFtPairsForScpoAccuracy === null ? 'more pairs than it had' : `${Math.round(entry.fullFtPairsForScpoAccuracy)} pairs`} to match scpo on {entry.scpo.pairs}
            {entry.ratio !== null ? ` (×${fmt(entry.ratio)})` : ''}.
          </>
        ) : (
          'full_ft on random subsets vs scpo on its kept pairs (after training).'
        )
      }
    >
      <ComposedChart margin={MARGIN}>
        {a.parts({ type: 'number', dataKey: 'pairs', name: 'training pairs', domain: [0, 'dataMax'] }, { type: 'number', dataKey: 'acc', unit: '%', domain: ['auto', 'auto'] })}
        <Line data={data.fullFt} dataKey="acc" name="full_ft (subsets)" stroke={METHOD_COLORS.full_ft} dot={{ r: 3 }} isAnimationActive={false} />
        <Scatter data={data.scpo} dataKey="acc" name="scpo" fill={METHOD_COLORS.scpo} shape="diamond" isAnimationActive={false} />
      </ComposedChart>
    </ChartFrame>
  );
}

function useDistribution() {
  // Live (like the other charts): the histograms appear in their turn, in a background render, when the scores arrive.
  const livePairs = useStudio((s) => s.pairs);
  const liveRPlus = useStudio((s) => s.live.rPlus);
  const liveRMinus = useStudio((s) => s.live.rMinus);
  const { pairs, rPlus, rMinus } = useLive(useMemo(() => ({ pairs: livePairs, rPlus: liveRPlus, rMinus: liveRMinus }), [livePairs, liveRPlus, liveRMinus]), 'scores');
  const { country, cfg } = useScope();
  return useMemo(() => {
    if (!pairs || !rPlus || !rMinus) return null;
    return trainDistribution(pairs, rPlus, rMinus, [country], cfg.tau, cfg.beta);
  }, [pairs, rPlus, rMinus, country, cfg.tau, cfg.beta]);
}

export function PGlobalHistogram() {
  const dist = useDistribution();
  const { country, cfg } = useScope();
  const { tau } = cfg;
  const a = useAxes();
  const bins = useMemo(() => {
    if (!dist) return [];
    const kept = dist.kept;
    return histogramEdges(dist.p, edgesAround(tau, 20), kept).map((b) => ({ label: b.lo.toFixed(2), kept: b.count2, filtered: b.count }));
  }, [dist, tau]);
  const tauLabel = bins.find((b) => Math.abs(Number(b.label) - tau) < 1e-9)?.label;
  const nKept = dist ? dist.kept.filter(Boolean).length : 0;
  return (
    <ChartFrame
      title={`p_global of training pairs · ${country}`}
      testid="pglobal-chart"
      points={dist?.p.length ?? 0}
      note={dist ? `Kept ${nKept} of ${dist.p.length} (p_global < tau = ${tau}); the rest the global RM already agrees with.` : 'After global scoring.'}
    >
      <BarChart data={bins} margin={MARGIN} barCategoryGap={1}>
        {a.parts(BIN_X, COUNT_Y)}
        <Bar dataKey="kept" stackId="p" name="kept" fill={METHOD_COLORS.scpo} isAnimationActive={false} />
        <Bar dataKey="filtered" stackId="p" name="filtered out" fill={a.t.muted} isAnimationActive={false} />
        {tauLabel ? <ReferenceLine x={tauLabel} position="start" stroke={a.t.fg} strokeDasharray="4 2" label={{ value: `tau ${tau}`, fill: a.t.fg, fontSize: a.z.label, position: 'insideTopRight' }} /> : null}
      </BarChart>
    </ChartFrame>
  );
}

export function WeightHistogram() {
  const dist = useDistribution();
  const { country, cfg } = useScope();
  const { beta } = cfg;
  const a = useAxes();
  const bins = useMemo(() => {
    if (!dist) return [];
    const w = dist.w.filter((_, i) => dist.kept[i]);
    return histogramEdges(w, edgesAround(0.5, 20)).map((b) => ({ label: b.lo.toFixed(2), pairs: b.count }));
  }, [dist]);
  const n = bins.reduce((k, b) => k + b.pairs, 0);
  return (
    <ChartFrame
      title={`SCPO weights of kept pairs · ${country}`}
      testid="weight-chart"
      points={n}
      note={`w = min(exp((r+ − r−)/β), 1), β = ${beta}: the more the global RM disputes a pair, the less it counts.`}
    >
      <BarChart data={bins} margin={MARGIN} barCategoryGap={1}>
        {a.parts(BIN_X, COUNT_Y, false)}
        <Bar dataKey="pairs" name="kept pairs" fill={METHOD_COLORS.weight_only} isAnimationActive={false} />
      </BarChart>
    </ChartFrame>
  );
}

export function ChartToolbar() {
  const { country, cfg } = useScope();
  const metric = useStudio((s) => s.ui.metric);
  return (
    <div className="toolbar" role="group" aria-label="Chart options">
      <label>
        Country{' '}
        <select data-testid="chart-country" value={country} onChange={(e) => update((s) => ({ ui: { ...s.ui, country: e.target.value } }))}>
          {cfg.countries.map((c) => (
            <option key={c} value={c}>
              {c}
            </option>
          ))}
        </select>
      </label>
      <label>
        Test set{' '}
        <select data-testid="chart-metric" value={metric} onChange={(e) => update((s) => ({ ui: { ...s.ui, metric: e.target.value as 'full' | 'edited' | 'both' } }))}>
          <option value="both">full + edited</option>
          <option value="full">full</option>
          <option value="edited">edited</option>
        </select>
      </label>
    </div>
  );
}

export function ChartsView() {
  const present = useStudio((s) => s.ui.present);
  // Presentation mode tells the story in order: the bias first, then whether steering fixes it, then how.
  return (
    <div className="charts-view">
      <ChartToolbar />
      {present ? (
        <div className="chart-grid">
          <BiasChart />
          <AccuracyChart />
          <EfficiencyChart />
          <PGlobalHistogram />
          <WeightHistogram />
          <LossChart />
        </div>
      ) : (
        <div className="chart-grid">
          <AccuracyChart />
          <LossChart />
          <BiasChart />
          <EfficiencyChart />
          <PGlobalHistogram />
          <WeightHistogram />
        </div>
      )}
    </div>
  );
}
