// The policy panel: best-of-N steering side by side, live PPO charts (reward under the country and global RMs, KL,
// entropy, clip fraction), streaming samples, and a playground, with start/pause/cancel. Self-contained: its own
// worker (src/workers/policy.worker.ts), store (./store.ts) and styles; mount it anywhere as <PolicyPanel />.
import { useEffect, useMemo, useState } from 'react';
import type { ReactNode } from 'react';
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { DEFAULT_COUNTRIES } from '../../pipeline/types.ts';
import type { BestOfNPrompt } from '../../pipeline/policy/bestofn.ts';
import { hackingSignals } from '../../pipeline/policy/signals.ts';
import { metricRows, type PolicyForm } from './state.ts';
import { policyActions, usePolicyStore } from './store.ts';
import './policy.css';

export interface PolicyPanelProps {
  /** Chart colours; follows the page (prefers-color-scheme) when omitted. */
  theme?: 'light' | 'dark';
  /** Countries offered for PPO (default: the studio's seven minority countries). */
  countries?: readonly string[];
}

const COLORS = { country: '#e11d48', global: '#3b82f6', kl: '#8b5cf6', entropy: '#10b981', clip: '#d97706' };

function palette(theme: 'light' | 'dark') {
  return theme === 'dark' ? { grid: '#2b333f', fg: '#d7dde6', bg: '#151a21' } : { grid: '#e3e7ee', fg: '#1f2933', bg: '#ffffff' };
}

function usePageTheme(forced?: 'light' | 'dark'): 'light' | 'dark' {
  const [dark, setDark] = useState(() => typeof window !== 'undefined' && (window.matchMedia?.('(prefers-color-scheme: dark)').matches ?? false));
  useEffect(() => {
    const mq = window.matchMedia?.('(prefers-color-scheme: dark)');
    if (!mq) return;
    const on = () => setDark(mq.matches);
    mq.addEventListener('change', on);
    return () => mq.removeEventListener('change', on);
  }, []);
  return forced ?? (dark ? 'dark' : 'light');
}

const fmt = (x: number | null | undefined, d = 3) => (x === null || x === undefined || Number.isNaN(x) ? '–' : x.toFixed(d));

function Num({ label, value, onChange, min, max, step, integer, testid, disabled }: { label: string; value: number; onChange: (v: number) => void; min: number; max: number; step?: number; integer?: boolean; testid: string; disabled?: boolean }) {
  const [text, setText] = useState(String(value));
  useEffect(() => setText(String(value)), [value]);
  const n = Number(text);
  const ok = text.trim() !== '' && Number.isFinite(n) && n >= min && n <= max && (!integer || Number.isInteger(n));
  return (
    <label className="field policy-field">
      <span>{label}</span>
      <input
        type="number"
        value={text}
        min={min}
        max={max}
        step={step ?? (integer ? 1 : 'any')}
        disabled={disabled}
        aria-invalid={!ok}
        data-testid={testid}
        onChange={(e) => {
          setText(e.target.value);
          const v = Number(e.target.value);
          if (e.target.value.trim() !== '' && Number.isFinite(v) && v >= min && v <= max && (!integer || Number.isInteger(v))) onChange(v);
        }}
      />
    </label>
  );
}

function Chart({ title, testid, children, points }: { title: string; testid: string; children: ReactNode; points: number }) {
  return (
    <section className="panel policy-chart" data-testid={testid} data-points={points} aria-label={title}>
      <header className="panel-head">
        <h3>{title}</h3>
      </header>
      {points === 0 ? <p className="muted small">no PPO steps yet</p> : children}
    </section>
  );
}

function ConfigForm({ countries, busy }: { countries: readonly string[]; busy: boolean }) {
  const f = usePolicyStore((s) => s.form);
  const set = (p: Partial<PolicyForm>) => policyActions.setForm(p);
  const setS = (p: Partial<PolicyForm['sampling']>) => policyActions.setForm({ sampling: { ...f.sampling, ...p } });
  return (
    <fieldset className="policy-config" disabled={busy} data-testid="policy-config">
      <legend>PPO against a country RM</legend>
      <label className="field policy-field">
        <span>Country</span>
        <select value={f.country} data-testid="policy-country" onChange={(e) => set({ country: e.target.value })}>
          {countries.map((c) => (
            <option key={c} value={c}>
              {c}
            </option>
          ))}
        </select>
      </label>
      <label className="field policy-field">
        <span>Policy</span>
        <select value={f.policy} data-testid="policy-source" onChange={(e) => set({ policy: e.target.value as PolicyForm['policy'] })}>
          <option value="bundled">bundled (pre-trained)</option>
          <option value="train">train on the data first</option>
        </select>
      </label>
      <label className="field policy-field">
        <span>Backend</span>
        <select value={f.backend} data-testid="policy-backend" onChange={(e) => set({ backend: e.target.value as PolicyForm['backend'] })}>
          <option value="auto">auto (webgpu, else cpu)</option>
          <option value="webgpu">webgpu</option>
          <option value="cpu">cpu</option>
        </select>
      </label>
      <div className="policy-grid">
        <Num label="PPO steps" value={f.ppoSteps} onChange={(v) => set({ ppoSteps: v })} min={1} max={2000} integer testid="policy-steps" />
        <Num label="Rollouts / step" value={f.batchPrompts} onChange={(v) => set({ batchPrompts: v })} min={1} max={256} integer testid="policy-batch" />
        <Num label="KL coefficient" value={f.klCoef} onChange={(v) => set({ klCoef: v })} min={0} max={10} step={0.01} testid="policy-kl" />
        <Num label="Learning rate" value={f.lr} onChange={(v) => set({ lr: v })} min={1e-6} max={0.1} step={1e-4} testid="policy-lr" />
        <Num label="Best-of-N: N" value={f.bonN} onChange={(v) => set({ bonN: v })} min={1} max={64} integer testid="policy-n" />
        <Num label="Best-of-N prompts" value={f.bonPrompts} onChange={(v) => set({ bonPrompts: v })} min={1} max={200} integer testid="policy-prompts" />
        <Num label="Temperature" value={f.sampling.temperature} onChange={(v) => setS({ temperature: v })} min={0} max={5} step={0.1} testid="policy-temperature" />
        <Num label="Top-k (0 = off)" value={f.sampling.topK} onChange={(v) => setS({ topK: v })} min={0} max={10000} integer testid="policy-topk" />
        <Num label="Top-p" value={f.sampling.topP} onChange={(v) => setS({ topP: v })} min={0.01} max={1} step={0.05} testid="policy-topp" />
        <Num label="Max tokens" value={f.sampling.maxTokens} onChange={(v) => setS({ maxTokens: v })} min={1} max={256} integer testid="policy-maxtokens" />
        <Num label="Seed" value={f.seed} onChange={(v) => set({ seed: v })} min={0} max={2 ** 32 - 1} integer testid="policy-seed" />
      </div>
    </fieldset>
  );
}

function Controls() {
  const status = usePolicyStore((s) => s.status);
  const message = usePolicyStore((s) => s.message);
  const backend = usePolicyStore((s) => s.backend);
  const error = usePolicyStore((s) => s.error);
  const running = status === 'running' || status === 'paused';
  return (
    <div className="policy-controls">
      <div className="row">
        <button type="button" data-testid="policy-start" disabled={running} onClick={() => policyActions.start()}>
          Start
        </button>
        {status === 'paused' ? (
          <button type="button" data-testid="policy-resume" onClick={() => policyActions.resume()}>
            Resume
          </button>
        ) : (
          <button type="button" data-testid="policy-pause" disabled={status !== 'running'} onClick={() => policyActions.pause()}>
            Pause
          </button>
        )}
        <button type="button" data-testid="policy-cancel" disabled={!running} onClick={() => policyActions.cancel()}>
          Cancel
        </button>
        <span className="policy-status" data-testid="policy-status" data-status={status} aria-live="polite">
          {status}
          {message && message !== status ? ` · ${message}` : ''}
        </span>
      </div>
      {backend && (
        <p className="small muted" data-testid="policy-backend-reason">
          policy training on <strong>{backend.name}</strong>: {backend.reason}
        </p>
      )}
      {error && (
        <p className="warn" role="alert" data-testid="policy-error">
          {error}
        </p>
      )}
    </div>
  );
}

function PpoCharts({ theme }: { theme: 'light' | 'dark' }) {
  const metrics = usePolicyStore((s) => s.metrics);
  const country = usePolicyStore((s) => s.form.country);
  const rows = useMemo(() => metricRows(metrics), [metrics]);
  const p = palette(theme);
  const axis = { stroke: p.fg, fontSize: 11 };
  const tip = { contentStyle: { background: p.bg, borderColor: p.grid, color: p.fg } };
  const chart = (key: 'kl' | 'entropy' | 'clip', color: string, name: string) => (
    <ResponsiveContainer width="100%" height={160}>
      <LineChart data={rows} margin={{ top: 6, right: 10, bottom: 0, left: -10 }}>
        <CartesianGrid stroke={p.grid} />
        <XAxis dataKey="step" {...axis} />
        <YAxis {...axis} />
        <Tooltip {...tip} />
        <Line type="monotone" dataKey={key} name={name} stroke={color} dot={false} isAnimationActive={false} />
      </LineChart>
    </ResponsiveContainer>
  );
  return (
    <div className="policy-charts">
      <Chart title={`Reward: ${country} RM vs global RM`} testid="policy-reward-chart" points={rows.length}>
        <ResponsiveContainer width="100%" height={160}>
          <LineChart data={rows} margin={{ top: 6, right: 10, bottom: 0, left: -10 }}>
            <CartesianGrid stroke={p.grid} />
            <XAxis dataKey="step" {...axis} />
            <YAxis {...axis} />
            <Tooltip {...tip} />
            {/* Neutral legend text beside the coloured swatch: the series colours are below 4.5:1 as text. */}
            <Legend wrapperStyle={{ fontSize: 12 }} formatter={(v: unknown) => <span style={{ color: p.fg }}>{String(v)}</span>} />
            <Line type="monotone" dataKey="reward" name={country} stroke={COLORS.country} dot={false} isAnimationActive={false} />
            <Line type="monotone" dataKey="global" name="global" stroke={COLORS.global} dot={false} isAnimationActive={false} />
          </LineChart>
        </ResponsiveContainer>
      </Chart>
      <Chart title="KL to the reference (nats / response)" testid="policy-kl-chart" points={rows.length}>
        {chart('kl', COLORS.kl, 'KL')}
      </Chart>
      <Chart title="Entropy (nats / token)" testid="policy-entropy-chart" points={rows.length}>
        {chart('entropy', COLORS.entropy, 'entropy')}
      </Chart>
      <Chart title="Clip fraction (%)" testid="policy-clip-chart" points={rows.length}>
        {chart('clip', COLORS.clip, 'clip %')}
      </Chart>
    </div>
  );
}

function LiveSample() {
  const live = usePolicyStore((s) => s.ppoLive);
  const policyLoss = usePolicyStore((s) => s.policyLoss);
  const policyTotal = usePolicyStore((s) => s.policyTotal);
  const last = policyLoss.at(-1);
  return (
    <section className="panel" data-testid="policy-live" aria-label="Live PPO sample">
      <header className="panel-head">
        <h3>Live sample{live ? ` (PPO step ${live.step})` : ''}</h3>
      </header>
      {last && (
        <p className="small muted" data-testid="policy-supervised">
          supervised policy training: step {last.step}/{policyTotal}, loss {fmt(last.loss)}
        </p>
      )}
      {live ? (
        <>
          <p className="small muted">prompt: {live.prompt}</p>
          <p className="mono policy-stream" data-testid="policy-live-text">
            {live.text}
            {!live.done && <span className="policy-caret" aria-hidden="true" />}
          </p>
        </>
      ) : (
        <p className="muted small">The first rollout of each PPO step streams here.</p>
      )}
    </section>
  );
}

function BonTable({ row, rms }: { row: BestOfNPrompt; rms: string[] }) {
  return (
    <table className="policy-bon" data-testid="policy-bon-table">
      <thead>
        <tr>
          <th scope="col">#</th>
          <th scope="col">response</th>
          {rms.map((r) => (
            <th key={r} scope="col">
              {r}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {row.responses.map((text, i) => (
          <tr key={i} data-testid={`policy-bon-row-${i}`}>
            <td>{i + 1}</td>
            <td className="policy-bon-text">{text || <em className="muted">(empty)</em>}</td>
            {rms.map((r) => {
              const picked = row.picks[r] === i;
              return (
                <td key={r} className={picked ? 'policy-pick' : undefined} data-picked={picked ? r : undefined}>
                  {fmt(row.scores[r]?.[i], 2)}
                  {picked && <span className="policy-badge">pick</span>}
                </td>
              );
            })}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function BestOfN() {
  const streamed = usePolicyStore((s) => s.bonRows);
  const total = usePolicyStore((s) => s.bonTotal);
  const live = usePolicyStore((s) => s.bonLive);
  const sel = usePolicyStore((s) => s.bonSelected);
  const report = usePolicyStore((s) => s.report);
  // Best-of-N is judged on the base policy by default: after PPO every RM may be choosing among N copies of the
  // same collapsed answer, which says nothing about what the RMs prefer.
  const [judged, setJudged] = useState<'before' | 'after'>('before');
  const finished = report?.bestOfN[judged] ?? report?.bestOfN.before ?? null;
  const rows = finished ? finished.prompts : streamed;
  const rms = rows[0] ? Object.keys(rows[0].scores) : [];
  const row = rows[Math.min(sel, rows.length - 1)];
  const live2 = report?.bestOfN.after ? null : live;
  const disagree = (nm: string) => rows.filter((r) => r.picks[nm] !== r.picks.global).length / Math.max(1, rows.length);
  return (
    <section className="panel" data-testid="policy-bon" aria-label="Best-of-N">
      <header className="panel-head">
        <h3>
          Best-of-N {rows.length ? `(${rows.length}/${finished ? finished.prompts.length : total} prompts)` : ''}
        </h3>
        {report?.bestOfN.before && report.bestOfN.after ? (
          <div className="panel-actions">
            <label className="small">
              judged on{' '}
              <select value={judged} data-testid="policy-bon-judged" onChange={(e) => setJudged(e.target.value as 'before' | 'after')}>
                <option value="before">the base policy</option>
                <option value="after">the policy after PPO</option>
              </select>
            </label>
          </div>
        ) : null}
      </header>
      {rows.length === 0 && <p className="muted small">Samples N responses per prompt once and lets every RM pick its best.</p>}
      {rms.length > 1 && (
        <p className="small" data-testid="policy-bon-disagreement">
          {rms
            .filter((r) => r !== 'global')
            .map((r) => `${r} picks a different response than the global RM on ${(100 * disagree(r)).toFixed(0)}% of prompts`)
            .join('; ')}
        </p>
      )}
      {report?.bestOfN.before && report.bestOfN.after && (
        <p className="small muted" data-testid="policy-bon-before-after">
          disagreement before PPO {Object.entries(report.bestOfN.before.disagreement).map(([c, x]) => `${c} ${(100 * x).toFixed(0)}%`).join(', ')}; after PPO{' '}
          {Object.entries(report.bestOfN.after.disagreement).map(([c, x]) => `${c} ${(100 * x).toFixed(0)}%`).join(', ')} (table: {judged === 'before' ? 'the base policy' : 'after PPO'})
        </p>
      )}
      {rows.length > 0 && (
        <label className="field policy-field">
          <span>Prompt</span>
          <select value={Math.min(sel, rows.length - 1)} data-testid="policy-bon-prompt" onChange={(e) => policyActions.selectBon(Number(e.target.value))}>
            {rows.map((r, i) => (
              <option key={i} value={i}>
                {i + 1}. {r.prompt}
              </option>
            ))}
          </select>
        </label>
      )}
      {row && <BonTable row={row} rms={rms} />}
      {live2 && (
        <p className="mono small policy-stream" data-testid="policy-bon-live">
          sampling prompt {live2.prompt + 1}, response {live2.sample + 1}: {live2.text}
        </p>
      )}
    </section>
  );
}

function Signals({ report }: { report: NonNullable<ReturnType<typeof usePolicyStore.getState>['report']> }) {
  const signals = useMemo(() => hackingSignals(report), [report]);
  const tripped = signals.filter((x) => x.warn);
  return (
    <div className="policy-signals" data-testid="policy-signals" data-warnings={tripped.length}>
      {tripped.length ? (
        <p className="policy-warning" role="status" data-testid="policy-hacking-warning">
          ⚠ {tripped.length} sign{tripped.length === 1 ? '' : 's'} of reward hacking: the reward gain above may come from exploiting the {report.ppo.country} RM rather
          than from answers its users would prefer. Read the samples before trusting it.
        </p>
      ) : (
        <p className="small" data-testid="policy-hacking-ok">
          No sign of reward hacking on these checks (variety, repetition, prompt-following, length, global RM, KL).
        </p>
      )}
      <table className="policy-bon">
        <thead>
          <tr>
            <th scope="col">check</th>
            <th scope="col">before PPO</th>
            <th scope="col">after PPO</th>
            <th scope="col">reading</th>
          </tr>
        </thead>
        <tbody>
          {signals.map((x) => (
            <tr key={x.id} data-testid={`policy-signal-${x.id}`} data-warn={x.warn ? 'true' : 'false'} className={x.warn ? 'policy-signal-warn' : undefined}>
              <th scope="row">{x.label}</th>
              <td>{x.before === null ? '–' : fmt(x.before, 2)}</td>
              <td>{fmt(x.after, 2)}</td>
              <td>
                {x.warn ? '⚠ ' : ''}
                {x.reading}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Summary() {
  const r = usePolicyStore((s) => s.report);
  if (!r) return null;
  const p = r.ppo;
  const tripped = hackingSignals(r).filter((x) => x.warn).length;
  return (
    <section className="panel" data-testid="policy-summary" aria-label="PPO result">
      <header className="panel-head">
        <h3>After PPO against the {p.country} RM</h3>
      </header>
      <p data-testid="policy-summary-numbers">
        {p.country} RM reward {fmt(p.evalBefore.reward)} → {fmt(p.evalAfter.reward)} (<strong>{p.rewardGain >= 0 ? '+' : ''}{fmt(p.rewardGain)}</strong>
        {tripped ? <span className="policy-gain-caveat"> ⚠ see the {tripped} reward-hacking sign{tripped === 1 ? '' : 's'} below</span> : null}); global RM{' '}
        {fmt(p.evalBefore.rewardGlobal)} → {fmt(p.evalAfter.rewardGlobal)} ({p.globalChange >= 0 ? '+' : ''}
        {fmt(p.globalChange)}); KL to the reference {fmt(p.finalKl)} nats/response; sampling {r.sampling.cpuTokensPerSecond.toFixed(0)} tokens/s (cpu).
      </p>
      <Signals report={r} />
      <table className="policy-bon" data-testid="policy-before-after">
        <thead>
          <tr>
            <th scope="col">prompt</th>
            <th scope="col">before PPO</th>
            <th scope="col">after PPO</th>
          </tr>
        </thead>
        <tbody>
          {p.samplesBefore.map((b, i) => (
            <tr key={i}>
              <td>{b.prompt}</td>
              <td className="policy-bon-text">
                {b.text} <span className="muted small">({fmt(b.reward, 2)} / global {fmt(b.rewardGlobal, 2)})</span>
              </td>
              <td className="policy-bon-text">
                {p.samplesAfter[i]?.text} <span className="muted small">({fmt(p.samplesAfter[i]?.reward, 2)} / global {fmt(p.samplesAfter[i]?.rewardGlobal, 2)})</span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** Finished PPO runs of this session, one row per country (and target RM), to compare countries side by side. */
function Comparison() {
  const rows = usePolicyStore((s) => s.finished);
  if (rows.length === 0) return null;
  const signed = (x: number) => `${x >= 0 ? '+' : ''}${fmt(x, 2)}`;
  return (
    <section className="panel" data-testid="policy-compare" aria-label="PPO runs side by side">
      <header className="panel-head">
        <h3>PPO runs side by side</h3>
      </header>
      <table className="policy-bon">
        <thead>
          <tr>
            <th scope="col">country</th>
            <th scope="col">PPO against</th>
            <th scope="col">steps</th>
            <th scope="col">own RM gain</th>
            <th scope="col">global RM change</th>
            <th scope="col">KL at end</th>
            <th scope="col">best-of-N differs from global</th>
            <th scope="col">lean toward own values</th>
            <th scope="col">reward-hacking signs</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={`${r.country}-${r.against}`} data-testid="policy-compare-row">
              <td>{r.country}</td>
              <td>{r.against === 'country' ? 'country RM' : 'global RM'}</td>
              <td>{r.steps}</td>
              <td>{signed(r.rewardGain)}</td>
              <td>{signed(r.globalChange)}</td>
              <td>{fmt(r.finalKl, 2)}</td>
              <td>{r.disagreementAfter === null ? '–' : `${Math.round(r.disagreementAfter * 100)}%`}</td>
              <td>{r.towardCountry ? `${fmt(r.towardCountry.before, 2)} → ${fmt(r.towardCountry.after, 2)}` : '–'}</td>
              <td title={r.warnings.join('; ')}>{r.warnings.length ? `⚠ ${r.warnings.length}` : 'none'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function Playground() {
  const gen = usePolicyStore((s) => s.gen);
  const hasPpo = usePolicyStore((s) => s.report !== null);
  const [prompt, setPrompt] = useState('What is the best way to start with cooking dinner at home as someone new to it?');
  return (
    <section className="panel" data-testid="policy-playground" aria-label="Playground">
      <header className="panel-head">
        <h3>Playground</h3>
      </header>
      <textarea className="policy-prompt" rows={2} value={prompt} onChange={(e) => setPrompt(e.target.value)} data-testid="policy-play-prompt" aria-label="Prompt" />
      <div className="row">
        <button type="button" disabled={!gen.done} data-testid="policy-play-base" onClick={() => policyActions.generate(prompt, 'base')}>
          Generate (base policy)
        </button>
        <button type="button" disabled={!gen.done || !hasPpo} data-testid="policy-play-ppo" onClick={() => policyActions.generate(prompt, 'ppo')}>
          Generate (after PPO)
        </button>
        {gen.ms !== null && <span className="small muted">{gen.ms.toFixed(0)} ms</span>}
      </div>
      <p className="mono policy-stream" data-testid="policy-play-text" aria-live="polite">
        {gen.text}
        {!gen.done && <span className="policy-caret" aria-hidden="true" />}
      </p>
    </section>
  );
}

export function PolicyPanel({ theme, countries = DEFAULT_COUNTRIES }: PolicyPanelProps) {
  const t = usePageTheme(theme);
  const status = usePolicyStore((s) => s.status);
  useEffect(() => () => policyActions.dispose(), []);
  return (
    <div className="policy-panel" data-testid="policy-panel">
      <div className="policy-top">
        <ConfigForm countries={countries} busy={status === 'running' || status === 'paused'} />
        <Controls />
      </div>
      <PpoCharts theme={t} />
      <LiveSample />
      <BestOfN />
      <Summary />
      <Comparison />
      <Playground />
    </div>
  );
}

export default PolicyPanel;
