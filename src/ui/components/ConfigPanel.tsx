// The run's settings: countries, majority, tau, beta, methods, steps, lr, batch, seed (+ advanced), mirrored in
// the URL hash by runner.ts; "copy link" shares them.
import { useState } from 'react';
import { DEFAULT_CONFIG } from '../../pipeline/experiment.ts';
import { DEFAULT_COUNTRIES, DEFAULT_MAJORITY, METHODS } from '../../pipeline/types.ts';
import type { BackendPref } from '../../workers/protocol.ts';
import * as A from '../actions.ts';
import { availableCountries } from '../derive.ts';
import { shareLink } from '../runner.ts';
import { update, useStudio } from '../store.ts';
import { settingWarnings } from '../story.ts';
import { METHOD_COLORS, NumberField } from './common.tsx';
import { dict, own } from '../../pipeline/dict.ts';

const METHOD_HELP: Record<string, string> = {
  start: 'the global RM, untrained',
  full_ft: 'all country pairs, weight 1',
  filter_only: 'pairs with p_global < tau, weight 1',
  weight_only: 'all pairs, SCPO weights',
  scpo: 'filter + weights',
  inverse: 'filter + inverse weights (ablation)',
};

function CountryList({ label, selected, options, counts, onToggle, testid, disabled }: { label: string; selected: string[]; options: string[]; counts: Record<string, number>; onToggle: (c: string, on: boolean) => void; testid: string; disabled: boolean }) {
  return (
    <fieldset className="countries" data-testid={testid} disabled={disabled}>
      <legend>
        {label} <span className="hint">({selected.length} selected)</span>
      </legend>
      <div className="country-grid">
        {options.map((c) => (
          <label key={c} className="check">
            <input type="checkbox" checked={selected.includes(c)} onChange={(e) => onToggle(c, e.target.checked)} aria-label={`${label}: ${c}`} />
            <span>{c}</span>
            {own(counts, c) !== undefined ? <span className="hint">{own(counts, c)}</span> : null}
          </label>
        ))}
      </div>
    </fieldset>
  );
}

export function ConfigPanel() {
  const config = useStudio((s) => s.config);
  const summary = useStudio((s) => s.summary);
  const backendPref = useStudio((s) => s.backendPref);
  const hashNotice = useStudio((s) => s.hashNotice);
  const status = useStudio((s) => s.run.status);
  const [copied, setCopied] = useState<string>('');
  const disabled = status === 'running' || status === 'paused';
  const warnings = settingWarnings(config);
  const set = (patch: Parameters<typeof A.setConfig>[1]) => update((s) => A.setConfig(s, patch));
  const options = availableCountries(summary, config);
  const counts: Record<string, number> = dict();
  if (summary) for (const [c, st] of Object.entries(summary.countries)) counts[c] = st.pairs;
  // Keep selected countries visible even if the data lacks them (the run would report them as unknown).
  const countryOptions = [...new Set([...options, ...config.countries])].filter((c) => !config.majority.includes(c));
  const majorityOptions = [...new Set([...options, ...config.majority])].filter((c) => !config.countries.includes(c));

  const copy = async () => {
    const link = shareLink();
    try {
      await navigator.clipboard.writeText(link);
      setCopied('Link copied.');
    } catch {
      setCopied(link);
    }
  };

  return (
    <section className="panel" data-testid="config-panel" aria-labelledby="h-config">
      <header className="panel-head">
        <h2 id="h-config">Experiment</h2>
        <div className="panel-actions">
          <button type="button" data-testid="copy-link" onClick={copy} title="Copy a link that reproduces these settings">
            Copy link
          </button>
          <button type="button" data-testid="config-defaults" disabled={disabled} onClick={() => set({ ...DEFAULT_CONFIG, countries: [...DEFAULT_COUNTRIES], majority: [...DEFAULT_MAJORITY] })}>
            Defaults
          </button>
        </div>
      </header>
      {hashNotice ? (
        <p className="notice warn" role="alert" data-testid="hash-notice">
          {hashNotice}{' '}
          <button type="button" className="link" onClick={() => update(() => ({ hashNotice: null }))}>
            Dismiss
          </button>
        </p>
      ) : null}
      {copied ? (
        copied === 'Link copied.' ? (
          <p className="small muted" role="status" data-testid="copy-status">
            {copied}
          </p>
        ) : (
          <label className="field small" data-testid="copy-status">
            Copy this link:
            <input type="text" readOnly value={copied} onFocus={(e) => e.target.select()} />
          </label>
        )
      ) : null}
      <CountryList label="Countries" testid="config-countries" selected={config.countries} options={countryOptions} counts={counts} disabled={disabled} onToggle={(c, on) => set({ countries: A.toggleIn(config.countries, c, on) })} />
      <CountryList label="Majority" testid="config-majority" selected={config.majority} options={majorityOptions} counts={counts} disabled={disabled} onToggle={(c, on) => set({ majority: A.toggleIn(config.majority, c, on) })} />
      <fieldset className="methods" data-testid="config-methods" disabled={disabled}>
        <legend>Methods</legend>
        {METHODS.map((m) => (
          <label key={m} className="check" title={METHOD_HELP[m]}>
            <input type="checkbox" data-testid={`method-${m}`} checked={config.methods.includes(m)} onChange={(e) => set({ methods: METHODS.filter((x) => (x === m ? e.target.checked : config.methods.includes(x))) })} />
            <span className="swatch" style={{ background: METHOD_COLORS[m] }} aria-hidden="true" />
            <span>{m}</span>
            <span className="hint">{METHOD_HELP[m]}</span>
          </label>
        ))}
      </fieldset>
      <fieldset className="grid2" disabled={disabled}>
        <legend className="sr-only">Hyper-parameters</legend>
        <NumberField label="tau" hint="filter" value={config.tau} min={0} max={1} step={0.05} testid="config-tau" onCommit={(v) => set({ tau: v })} />
        <NumberField label="beta" hint="weights" value={config.beta} min={0.000001} max={1000000} step={0.1} testid="config-beta" onCommit={(v) => set({ beta: v })} />
        <p className="field-help" data-testid="help-tau">
          tau: keep a training pair only if the global RM&rsquo;s confidence p_global is below it (higher keeps more; 1 keeps all).
        </p>
        <p className="field-help" data-testid="help-beta">
          beta: how much disputed pairs count, w = min(exp((r+ − r−)/β), 1) (smaller shrinks them more).
        </p>
        {warnings.map((w) => (
          <p key={w.field} className="field-warning" role="status" data-testid={`warn-${w.field}`}>
            ⚠ {w.text}
          </p>
        ))}
        <NumberField label="steps" hint="per run" value={config.steps} min={0} max={10000000} integer testid="config-steps" onCommit={(v) => set({ steps: v })} />
        <NumberField label="learning rate" value={config.lr} min={0} max={10} step={0.0001} testid="config-lr" onCommit={(v) => set({ lr: v })} />
        <NumberField label="batch" value={config.batch} min={1} max={65536} integer testid="config-batch" onCommit={(v) => set({ batch: v })} />
        <NumberField label="seed" value={config.seed} min={0} max={2 ** 32 - 1} integer testid="config-seed" onCommit={(v) => set({ seed: v })} />
      </fieldset>
      <details className="advanced">
        <summary>Advanced</summary>
        <fieldset className="grid2" disabled={disabled}>
          <legend className="sr-only">Advanced settings</legend>
          <NumberField label="epochs cap" value={config.epochs} min={0.001} max={10000} step={0.5} testid="config-epochs" onCommit={(v) => set({ epochs: v })} />
          <NumberField label="weight decay" value={config.weightDecay} min={0} max={10} step={0.001} testid="config-wd" onCommit={(v) => set({ weightDecay: v })} />
          <NumberField label="live eval points" value={config.evalPoints} min={0} max={1000} integer testid="config-evalpoints" onCommit={(v) => set({ evalPoints: v })} />
          <div className="field">
            <label htmlFor="cfg-backend">compute backend</label>
            <select id="cfg-backend" data-testid="config-backend" value={backendPref} onChange={(e) => update(() => ({ backendPref: e.target.value as BackendPref }))}>
              <option value="auto">auto</option>
              <option value="cpu">cpu</option>
              <option value="webgpu">webgpu</option>
            </select>
          </div>
          <label className="check">
            <input type="checkbox" checked={config.freezeEmbeddings} onChange={(e) => set({ freezeEmbeddings: e.target.checked })} /> freeze embeddings
          </label>
          <label className="check">
            <input type="checkbox" data-testid="config-efficiency" checked={config.efficiency} onChange={(e) => set({ efficiency: e.target.checked })} /> data-efficiency runs
          </label>
        </fieldset>
      </details>
    </section>
  );
}
