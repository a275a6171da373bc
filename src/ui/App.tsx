// The studio's layout: header, a sidebar (data, experiment settings, run controls) and the main views
// (live charts, results, pair inspector, policy steering) behind keyboard-reachable tabs; notices and the guided tour on top.
import { lazy, Suspense, useEffect, useState } from 'react';
import type { KeyboardEvent } from 'react';
import type { Tab } from './actions.ts';
import * as A from './actions.ts';
import { ChartsView } from './components/Charts.tsx';
import { ConfigPanel } from './components/ConfigPanel.tsx';
import { DatasetPicker } from './components/DatasetPicker.tsx';
import { Educator } from './components/Educator.tsx';
import { ExportMenu } from './components/ExportMenu.tsx';
import { Header, setTheme } from './components/Header.tsx';
import { PairInspector } from './components/PairInspector.tsx';
import { ResultsTable } from './components/ResultsTable.tsx';
import { RunControls } from './components/RunControls.tsx';
import { NARROW_QUERY, useMedia } from './components/common.tsx';
import { PRESENT_KEY, THEME_KEY } from './boot.ts';
import { update, useStudio } from './store.ts';
import { partialLabel } from './story.ts';

// `short`: the label on narrow screens, so all four tabs fit a phone's width.
const TABS: { id: Tab; label: string; short: string }[] = [
  { id: 'charts', label: 'Live charts', short: 'Charts' },
  { id: 'results', label: 'Results', short: 'Results' },
  { id: 'pairs', label: 'Pair inspector', short: 'Pairs' },
  { id: 'policy', label: 'Policy steering', short: 'Policy' },
];

// The policy panel (best-of-N, PPO) brings its own worker and charts: loaded only when its tab opens.
const PolicyPanel = lazy(() => import('./policy/PolicyPanel.tsx').then((m) => ({ default: m.PolicyPanel })));

function PolicyView() {
  const countries = useStudio((s) => s.config.countries);
  return (
    <Suspense fallback={<p>Loading the policy tools…</p>}>
      <PolicyPanel countries={countries} />
    </Suspense>
  );
}

function Notices() {
  const notices = useStudio((s) => s.notices);
  if (notices.length === 0) return null;
  return (
    <div className="notices" data-testid="notices" aria-live="polite">
      {notices.map((n) => (
        <div key={n.id} className={`notice ${n.level}`} role={n.level === 'error' ? 'alert' : 'status'} data-testid={`notice-${n.level}`}>
          <span>{n.text}</span>
          <button type="button" className="link" aria-label="Dismiss notice" onClick={() => update((s) => A.dismissNotice(s, n.id))}>
            ✕
          </button>
        </div>
      ))}
    </div>
  );
}

function Tabs() {
  const tab = useStudio((s) => s.ui.tab);
  const select = (t: Tab) => update((s) => ({ ui: { ...s.ui, tab: t } }));
  const onKey = (e: KeyboardEvent) => {
    // WAI-ARIA tabs: arrows move between tabs.
    const i = TABS.findIndex((t) => t.id === tab);
    if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
      e.preventDefault();
      const next = TABS[(i + (e.key === 'ArrowRight' ? 1 : TABS.length - 1)) % TABS.length];
      select(next.id);
      document.getElementById(`tab-${next.id}`)?.focus();
    }
  };
  return (
    <div className="tabs" role="tablist" aria-label="Views" onKeyDown={onKey}>
      {TABS.map((t) => (
        <button
          key={t.id}
          id={`tab-${t.id}`}
          type="button"
          role="tab"
          data-testid={`tab-${t.id}`}
          aria-selected={tab === t.id}
          aria-controls={`view-${t.id}`}
          tabIndex={tab === t.id ? 0 : -1}
          onClick={() => select(t.id)}
        >
          <span className="tab-long">{t.label}</span>
          <span className="tab-short">{t.short}</span>
        </button>
      ))}
    </div>
  );
}

/** First load, nothing run yet: what to press and what to expect. */
function Intro() {
  const show = useStudio((s) => s.run.status === 'idle' && !s.result && s.live.runs.length === 0 && !s.interrupted);
  if (!show) return null;
  return (
    <p className="intro" data-testid="intro">
      Press <strong>Run</strong> to train one reward model per selected country and method (default: bundled synthetic data, 7 countries × 6 methods). The
      default run takes about 15–30 s on a laptop; the charts fill in while it trains. Then open <strong>Results</strong>, or take the <strong>Guided tour</strong>.
    </p>
  );
}

function ResultOrigin() {
  const status = useStudio((s) => s.run.status);
  const cancelledRuns = useStudio((s) => (s.run.status === 'cancelled' ? s.live.runs.filter((r) => r.method !== 'start').length : 0));
  const cancelledTotal = useStudio((s) => (s.run.status === 'cancelled' && s.run.config ? s.run.config.countries.length * s.run.config.methods.filter((m) => m !== 'start').length : 0));
  const origin = useStudio((s) => s.resultOrigin);
  const savedAt = useStudio((s) => s.resultSavedAt);
  const source = useStudio((s) => s.result?.source);
  const partialRuns = useStudio((s) => (s.resultOrigin === 'partial' ? s.live.runs.filter((r) => r.method !== 'start').length : 0));
  const partialTotal = useStudio((s) => (s.resultOrigin === 'partial' && s.run.config ? s.run.config.countries.length * s.run.config.methods.filter((m) => m !== 'start').length : 0));
  const cancelled = partialLabel(status, cancelledRuns, cancelledTotal);
  if (cancelled) {
    return (
      <span className="small warn" data-testid="result-origin" data-partial="true">
        {cancelled}
      </span>
    );
  }
  if (!origin) return null;
  if (origin === 'partial') {
    return (
      <span className="small muted" data-testid="result-origin" data-partial="true">
        Partial results of an interrupted run ({partialRuns} of {partialTotal} runs finished; resume to complete it)
      </span>
    );
  }
  const when = savedAt ? new Date(savedAt).toLocaleString() : '';
  return (
    <span className="small muted" data-testid="result-origin">
      {origin === 'restored' ? `Restored last run (${source}${when ? `, ${when}` : ''})` : origin === 'import' ? `Imported run (${source})` : savedAt ? 'Saved in this browser' : ''}
    </span>
  );
}

export function App() {
  const tab = useStudio((s) => s.ui.tab);
  const present = useStudio((s) => s.ui.present);
  const narrow = useMedia(NARROW_QUERY);
  // Narrow screens: data and settings fold into a drawer under the run controls, so the views get the screen.
  const [drawer, setDrawer] = useState(false);
  useEffect(() => {
    try {
      const t = localStorage.getItem(THEME_KEY);
      if (t === 'light' || t === 'dark') setTheme(t);
      if (localStorage.getItem(PRESENT_KEY) === '1') update((s) => ({ ui: { ...s.ui, present: true } }));
    } catch {
      // ignore: system theme, normal layout
    }
  }, []);
  const settingsHidden = present || (narrow && !drawer);
  return (
    <div className="app">
      <a className="skip" href="#main">
        Skip to results
      </a>
      <Header />
      <div className="layout">
        <aside className="sidebar" aria-label="Run, data and settings">
          <RunControls />
          {narrow && !present ? (
            <button type="button" className="drawer-toggle" data-testid="settings-drawer" aria-expanded={drawer} aria-controls="settings" onClick={() => setDrawer((d) => !d)}>
              {drawer ? 'Hide data & settings ▴' : 'Data & settings ▾'}
            </button>
          ) : null}
          <div id="settings" className="settings" hidden={settingsHidden}>
            <DatasetPicker />
            <ConfigPanel />
          </div>
        </aside>
        <main id="main" className="main" tabIndex={-1}>
          <Notices />
          <Intro />
          <div className="main-head">
            <Tabs />
            <ResultOrigin />
            <ExportMenu />
          </div>
          <div className="view" id={`view-${tab}`} role="tabpanel" aria-labelledby={`tab-${tab}`}>
            {tab === 'charts' ? (
              <ChartsView />
            ) : tab === 'results' ? (
              <ResultsTable />
            ) : tab === 'pairs' ? (
              <PairInspector />
            ) : (
              <PolicyView />
            )}
          </div>
        </main>
      </div>
      <Educator />
    </div>
  );
}
