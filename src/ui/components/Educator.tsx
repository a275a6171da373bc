// Educator mode: a guided walkthrough whose steps point at live elements of the studio and quote the current
// run's own numbers (what the global RM gets wrong for a minority, what the filter keeps, why weights shrink).
import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import type { ReactNode } from 'react';
import type { StudioState, Tab } from '../actions.ts';
import { biasRows, macroByMethod, trainDistribution } from '../derive.ts';
import { isEdited } from '../../pipeline/scpo.ts';
import { update, useStudio } from '../store.ts';

interface Step {
  target: string;
  tab?: Tab;
  title: string;
  body: (s: StudioState) => ReactNode;
}

function facts(s: StudioState) {
  const c = s.ui.country;
  const cfg = s.run.config ?? s.config;
  let testN = 0;
  let wrong = 0;
  if (s.pairs && s.live.rPlus && s.live.rMinus) {
    for (let i = 0; i < s.pairs.length; i++) {
      const p = s.pairs[i];
      if (p.country !== c || p.split !== 'test' || !Number.isFinite(s.live.rPlus[i])) continue;
      testN++;
      if (isEdited(s.live.rPlus[i], s.live.rMinus[i])) wrong++;
    }
  }
  const dist = s.pairs && s.live.rPlus && s.live.rMinus ? trainDistribution(s.pairs, s.live.rPlus, s.live.rMinus, [c], cfg.tau, cfg.beta) : null;
  const kept = dist ? dist.kept.filter(Boolean).length : 0;
  const keptW = dist ? dist.w.filter((_, i) => dist.kept[i]).sort((a, b) => a - b) : [];
  const medianW = keptW.length ? keptW[Math.floor(keptW.length / 2)] : NaN;
  const ed = macroByMethod(s.live.runs, cfg.countries, 'edited');
  const full = macroByMethod(s.live.runs, cfg.countries, 'full');
  const biasC = biasRows(s.live.runs, cfg.countries, c, ['start', 'scpo']);
  const biasAvg = biasRows(s.live.runs, cfg.countries, 'avg', ['start', 'scpo']);
  return { c, cfg, testN, wrong, dist, kept, medianW, ed, full, biasC, biasAvg };
}

const pc = (a: number, b: number) => (b > 0 ? `${((a / b) * 100).toFixed(0)}%` : '–');
const p1 = (v: number | undefined) => (v === undefined ? '–' : `${v.toFixed(1)}%`);
const waiting = <em> (Run the experiment to see this country's numbers.)</em>;

const STEPS: Step[] = [
  {
    target: 'dataset-picker',
    title: '1 · Preference pairs per country',
    body: () => (
      <>
        Each pair is a prompt with a <strong>chosen</strong> and a <strong>rejected</strong> response, judged by a user who lives in one country. A single global reward
        model is trained mostly on majority-country judgements; SCPO steers it towards one country&rsquo;s preferences.
      </>
    ),
  },
  {
    target: 'run-button',
    title: '2 · Score with the global RM, then train',
    body: () => (
      <>
        A run first scores every response with the global RM: <strong>r+</strong> for the chosen one, <strong>r−</strong> for the rejected one. Then it trains one
        country RM per method and country, evaluating live.
      </>
    ),
  },
  {
    target: 'bias-chart',
    tab: 'charts',
    title: '3 · The global RM favours the majority',
    body: (s) => {
      const f = facts(s);
      const st = f.biasC.find((r) => r.method === 'start');
      const avg = f.biasAvg.find((r) => r.method === 'start');
      const maj = f.cfg.majority.join(' and ') || 'the majority countries';
      return (
        <>
          The bars compare the global RM&rsquo;s accuracy on this country&rsquo;s test pairs with its accuracy on {maj}&rsquo;s (axis from 0; switch the view to
          &ldquo;gap&rdquo; for the difference).{' '}
          {st && st.own !== null && st.majority !== null ? (
            <>
              For <strong>{f.c}</strong> it is right on <strong>{st.own.toFixed(1)}%</strong> of pairs vs <strong>{st.majority.toFixed(1)}%</strong> for the majority
              {avg && avg.own !== null && avg.majority !== null ? (
                <>
                  {' '}
                  (all selected countries: {avg.own.toFixed(1)}% vs {avg.majority.toFixed(1)}%)
                </>
              ) : null}
              : that gap is the bias SCPO steers against.
            </>
          ) : (
            waiting
          )}
        </>
      );
    },
  },
  {
    target: 'pair-inspector',
    tab: 'pairs',
    title: '4 · What the global RM gets wrong for a minority',
    body: (s) => {
      const f = facts(s);
      return (
        <>
          Where r+ &lt; r−, the global RM prefers the response this country&rsquo;s user rejected. {f.testN > 0 ? (
            <>
              For <strong>{f.c}</strong> that is <strong>{pc(f.wrong, f.testN)}</strong> of its {f.testN} test pairs: the <em>edited</em> test set.
            </>
          ) : (
            waiting
          )}{' '}
          Tick &ldquo;wrong by global RM&rdquo; to list them and click one to read it whole.
        </>
      );
    },
  },
  {
    target: 'pglobal-chart',
    tab: 'charts',
    title: '5 · What the filter keeps',
    body: (s) => {
      const f = facts(s);
      return (
        <>
          p_global = sigmoid(r+ − r−) is the global RM&rsquo;s confidence that the chosen response wins. SCPO keeps a training pair only when p_global &lt; tau ={' '}
          {f.cfg.tau}: pairs the global RM already gets right with confidence teach the country RM nothing new.{' '}
          {f.dist ? (
            <>
              For {f.c}: <strong>{f.kept}</strong> of {f.dist.p.length} training pairs kept ({pc(f.kept, f.dist.p.length)}).
            </>
          ) : (
            waiting
          )}
        </>
      );
    },
  },
  {
    target: 'weight-chart',
    tab: 'charts',
    title: '6 · Why weights shrink divergent pairs',
    body: (s) => {
      const f = facts(s);
      return (
        <>
          Each kept pair gets w = min(exp((r+ − r−)/β), 1) with β = {f.cfg.beta}. A pair the global RM strongly disputes (r+ far below r−) is as likely to be one
          person&rsquo;s idiosyncrasy or noise as a cultural difference, so it counts less; pairs near the boundary keep weight ≈ 1.
          {Number.isFinite(f.medianW) ? (
            <>
              {' '}
              Median weight of {f.c}&rsquo;s kept pairs: <strong>{f.medianW.toFixed(2)}</strong>.
            </>
          ) : null}
        </>
      );
    },
  },
  {
    target: 'accuracy-chart',
    tab: 'charts',
    title: '7 · Watch it learn',
    body: () => (
      <>
        Accuracy on the full (solid) and edited (dashed) test sets, per method, updates while training runs. The edited set is where the global RM starts below 50%:
        that is where steering shows.
      </>
    ),
  },
  {
    target: 'results-table',
    tab: 'results',
    title: '8 · The verdict',
    body: (s) => {
      const f = facts(s);
      return (
        <>
          Macro average over countries on the edited set: start <strong>{p1(f.ed.start)}</strong> → scpo <strong>{p1(f.ed.scpo)}</strong> (full set {p1(f.full.start)}{' '}
          → {p1(f.full.scpo)}). Compare with full_ft (all pairs, no filter or weights) and the parts of SCPO (filter_only, weight_only). Highlighted per row: the
          best method that does not lose on the full set; <em>inverse</em> is an ablation and can top the edited set only by collapsing on the full one.
        </>
      );
    },
  },
];

export function Educator() {
  const step = useStudio((s) => s.ui.educator);
  return step === null ? null : <Tour step={step} />;
}

function Tour({ step }: { step: number }) {
  // The whole state, but only while the tour is open: its texts quote live numbers.
  const state = useStudio((s) => s);
  const cardRef = useRef<HTMLDivElement>(null);
  const [rect, setRect] = useState<DOMRect | null>(null);
  // Where the focus was when the tour opened (usually the tour button): it goes back there when the tour closes.
  const opener = useRef<Element | null>(null);
  useEffect(() => {
    opener.current = document.activeElement;
    return () => {
      const el = opener.current;
      if (el instanceof HTMLElement && el.isConnected) requestAnimationFrame(() => el.focus());
    };
  }, []);
  const cur = STEPS[Math.min(step, STEPS.length - 1)];

  useEffect(() => {
    if (cur?.tab) update((s) => ({ ui: { ...s.ui, tab: cur.tab as Tab } }));
  }, [cur]);
  useLayoutEffect(() => {
    if (!cur) return;
    let raf = 0;
    // Bring the target into view once per step (the tab may have just switched); afterwards only follow it, so the
    // user can still scroll freely while the tour is open.
    let shown = false;
    const measure = () => {
      const el = document.querySelector(`[data-testid="${cur.target}"]`);
      if (el) {
        if (!shown) el.scrollIntoView({ block: 'nearest' });
        shown = true;
        setRect(el.getBoundingClientRect());
      } else setRect(null);
    };
    raf = requestAnimationFrame(measure);
    // Targets move as data arrives: re-measure while the tour is open.
    const t = setInterval(measure, 250);
    window.addEventListener('resize', measure);
    document.addEventListener('scroll', measure, true);
    return () => {
      cancelAnimationFrame(raf);
      clearInterval(t);
      window.removeEventListener('resize', measure);
      document.removeEventListener('scroll', measure, true);
    };
  }, [cur]);
  useEffect(() => {
    cardRef.current?.focus();
  }, [step]);
  const go = (k: number | null) => update((s) => ({ ui: { ...s.ui, educator: k } }));
  const pad = 6;
  const vw = window.innerWidth;
  const vh = window.innerHeight;
  const cardW = 360;
  let left = 16;
  let top = 80;
  if (rect) {
    // Beside the target if there is room, else below or above it.
    if (rect.right + cardW + 24 < vw) {
      left = rect.right + 16;
      top = Math.min(Math.max(16, rect.top), vh - 260);
    } else if (rect.left - cardW - 24 > 0) {
      left = rect.left - cardW - 16;
      top = Math.min(Math.max(16, rect.top), vh - 260);
    } else if (rect.bottom + 260 < vh) {
      left = Math.min(Math.max(16, rect.left), vw - cardW - 16);
      top = rect.bottom + 12;
    } else if (rect.top - 260 > 0) {
      left = Math.min(Math.max(16, rect.left), vw - cardW - 16);
      top = rect.top - 260;
    } else {
      // A target as big as the view (a whole tab): park the card bottom-left, over the sidebar.
      left = 12;
      top = vh - 250;
    }
  }
  return (
    <div className="tour">
      {rect ? (
        <div className="tour-highlight" aria-hidden="true" style={{ left: rect.left - pad, top: rect.top - pad, width: rect.width + 2 * pad, height: rect.height + 2 * pad }} />
      ) : null}
      <div
        className="tour-card"
        data-testid="educator"
        ref={cardRef}
        tabIndex={-1}
        role="dialog"
        aria-modal="false"
        aria-labelledby="tour-title"
        style={{ left, top, width: cardW }}
        onKeyDown={(e) => {
          if (e.key === 'Escape') go(null);
          if (e.key === 'ArrowRight' && step < STEPS.length - 1) go(step + 1);
          if (e.key === 'ArrowLeft' && step > 0) go(step - 1);
        }}
      >
        <h2 id="tour-title">{cur.title}</h2>
        <p data-testid="educator-body">{cur.body(state)}</p>
        <div className="row">
          <span className="muted small">
            {step + 1} / {STEPS.length}
          </span>
          <span className="grow" />
          <button type="button" onClick={() => go(step - 1)} disabled={step === 0}>
            Back
          </button>
          {step < STEPS.length - 1 ? (
            <button type="button" className="primary" data-testid="educator-next" onClick={() => go(step + 1)}>
              Next
            </button>
          ) : (
            <button type="button" className="primary" onClick={() => go(null)}>
              Finish
            </button>
          )}
          <button type="button" className="link" onClick={() => go(null)}>
            Close
          </button>
        </div>
      </div>
    </div>
  );
}
