// Data and model choice: the embedded synthetic set, PRISM / GlobalOpinionQA files (picker or drag-and-drop),
// the opt-in hub ids; then what the worker made of the data: counts per country and the skipped rows.
import { useEffect, useRef, useState } from 'react';
import type { DragEvent } from 'react';
import type { DataChoice } from '../actions.ts';
import { loadData } from '../runner.ts';
import { update, useStudio } from '../store.ts';
import { NumberField } from './common.tsx';
import { estimateUseLite } from '../../pipeline/use-lite-session.ts';
import { estimateUseLiteTune } from '../../pipeline/rm/use-lite/train-session.ts';
import { USE_LITE_TUNE_LR } from '../../pipeline/rm/use-lite/spec.ts';
import { METHOD_SPECS } from '../../pipeline/scpo.ts';

const isActive = (st: string) => st === 'running' || st === 'paused';

function setData(data: DataChoice, autoload = true): void {
  update(() => ({ data }));
  if (autoload) loadData();
}

/** Sorts dropped or picked files into PRISM's two slots or GOQA's one, by name. */
export function classifyFiles(files: File[]): { data: DataChoice | null; unknown: string[] } {
  const unknown: string[] = [];
  let utterances: File | null = null;
  let survey: File | null = null;
  let goqa: File | null = null;
  for (const f of files) {
    const n = f.name.toLowerCase();
    if (n.includes('utterance')) utterances = f;
    else if (n.includes('survey')) survey = f;
    else if (n.endsWith('.csv')) goqa = f;
    else unknown.push(f.name);
  }
  if (goqa && !utterances && !survey) return { data: { kind: 'goqa', file: goqa }, unknown };
  if (utterances || survey) return { data: { kind: 'prism', utterances, survey }, unknown: goqa ? [...unknown, goqa.name] : unknown };
  return { data: null, unknown };
}

function FileSlot({ label, accept, file, testid, onFile, disabled }: { label: string; accept: string; file: File | null; testid: string; onFile: (f: File | null) => void; disabled: boolean }) {
  return (
    <label className="file-slot">
      <span>{label}</span>
      <input type="file" accept={accept} data-testid={testid} disabled={disabled} onChange={(e) => onFile(e.target.files?.[0] ?? null)} />
      <span className="file-name">{file ? `${file.name} (${(file.size / 1024).toFixed(1)} KiB)` : 'none chosen'}</span>
    </label>
  );
}

function ModelPicker({ disabled }: { disabled: boolean }) {
  const model = useStudio((s) => s.model);
  const allowNetwork = useStudio((s) => s.allowNetwork);
  const dirRef = useRef<HTMLInputElement>(null);
  useEffect(() => {
    // React has no typed prop for these; they make the picker choose a folder.
    dirRef.current?.setAttribute('webkitdirectory', '');
    dirRef.current?.setAttribute('directory', '');
  }, [model.kind]);
  return (
    <fieldset className="subgroup" disabled={disabled}>
      <legend>Reward model</legend>
      <label className="radio">
        <input type="radio" name="model" data-testid="model-bundled" checked={model.kind === 'bundled'} onChange={() => update(() => ({ model: { kind: 'bundled' } }))} />
        Bundled GloVe-bag RM
      </label>
      <label className="radio">
        <input type="radio" name="model" data-testid="model-use-lite" checked={model.kind === 'use-lite'} onChange={() => update(() => ({ model: { kind: 'use-lite' } }))} />
        USE-lite transformer (pretrained encoder, Apache-2.0)
      </label>
      {model.kind === 'use-lite' ? <UseLiteTune /> : null}
      {model.kind === 'use-lite' ? <UseLiteEstimate /> : null}
      <label className="radio">
        <input
          type="radio"
          name="model"
          data-testid="model-files"
          checked={model.kind === 'files'}
          onChange={() => update(() => ({ model: { kind: 'files', files: [], paths: [], name: '' } }))}
        />
        Local model folder
      </label>
      {model.kind === 'files' ? (
        <label className="file-slot">
          <span>Folder in HF layout (config.json, tokenizer.json, onnx/model.onnx)</span>
          <input
            ref={dirRef}
            type="file"
            multiple
            data-testid="model-folder"
            onChange={(e) => {
              const files = Array.from(e.target.files ?? []);
              // Drop the picked folder's own name: the worker wants paths inside it.
              const paths = files.map((f) => (f.webkitRelativePath || f.name).split('/').slice(1).join('/') || f.name);
              const name = files[0]?.webkitRelativePath.split('/')[0] || `${files.length} files`;
              update(() => ({ model: { kind: 'files', files, paths, name } }));
            }}
          />
          <span className="file-name">{model.files.length ? `${model.name}: ${model.files.length} files` : 'none chosen'}</span>
        </label>
      ) : null}
      {allowNetwork ? (
        <>
          <label className="radio">
            <input type="radio" name="model" data-testid="model-hub" checked={model.kind === 'hub'} onChange={() => update(() => ({ model: { kind: 'hub', id: '' } }))} />
            Hub model (network)
          </label>
          {model.kind === 'hub' ? (
            <label className="field">
              Model id
              <input type="text" data-testid="model-hub-id" placeholder="owner/name" value={model.id} onChange={(e) => update(() => ({ model: { kind: 'hub', id: e.target.value } }))} />
            </label>
          ) : null}
        </>
      ) : null}
    </fieldset>
  );
}

/**
 * What a USE-lite run costs before it starts: the texts it encodes (selected + majority countries and the global
 * sample), their FLOPs, and a time at the measured onnxruntime-web wasm speed (threads only when the page is
 * cross-origin isolated).
 */
function UseLiteEstimate() {
  const items = useStudio((s) => s.items);
  const pairs = useStudio((s) => s.pairs);
  const config = useStudio((s) => s.config);
  if (!items || !pairs) return <p className="hint" data-testid="model-use-lite-estimate">Load data to see how long encoding takes.</p>;
  // The worker trains data-parallel on the cores (up to 4; peer workers need no cross-origin isolation).
  const g = globalThis as { navigator?: { hardwareConcurrency?: number } };
  const threads = Math.max(1, Math.min(4, g.navigator?.hardwareConcurrency ?? 1));
  const e = estimateUseLite(items, pairs, config.countries, config.majority, { seed: config.seed, threads });
  const time = e.seconds < 90 ? `${Math.max(1, Math.round(e.seconds))} s` : `${(e.seconds / 60).toFixed(1)} min`;
  return (
    <p className="hint" data-testid="model-use-lite-estimate">
      Frozen encoder, trained heads. Encodes {e.items.toLocaleString()} texts (~{Math.round(e.tokens / 1000).toLocaleString()}k tokens, {Math.round(e.gflop).toLocaleString()} GFLOP):
      about {time} on this CPU ({threads} thread{threads > 1 ? 's' : ''}), then training as usual. A real GPU would take seconds.
    </p>
  );
}

/** USE-lite fine-tuning: head (frozen encoder), LoRA or top layer; sequence length; the "quick" preset for a laptop CPU. */
function UseLiteTune() {
  const model = useStudio((s) => s.model);
  const pairs = useStudio((s) => s.pairs);
  if (model.kind !== 'use-lite') return null;
  const tune = model.tune ?? 'head';
  const set = (m: Partial<Extract<typeof model, { kind: 'use-lite' }>>) => update(() => ({ model: { ...model, ...m } }));
  const quick = () =>
    update((s) => {
      // Two of the chosen countries that the loaded data has, and the three methods of the paper's table.
      const known = new Set((pairs ?? []).map((p) => p.country));
      const two = s.config.countries.filter((c) => known.size === 0 || known.has(c)).slice(0, 2);
      return {
        model: { kind: 'use-lite', tune: 'lora', seqLen: 64 },
        config: { ...s.config, countries: two.length ? two : s.config.countries.slice(0, 2), methods: ['start', 'full_ft', 'scpo'], steps: 40, evalPoints: 2, efficiency: false, lr: USE_LITE_TUNE_LR },
      };
    });
  return (
    <div className="subgroup" data-testid="use-lite-tune">
      <label className="field">
        Fine-tuning
        <select data-testid="use-lite-tune-mode" value={tune} onChange={(e) => set({ tune: e.target.value as 'lora' | 'top' | 'head' })}>
          <option value="head">head only (frozen encoder, fastest)</option>
          <option value="lora">LoRA (rank 8 adapters on attention + FFN, and the head)</option>
          <option value="top">top layer (layer 1, tanh layer, head)</option>
        </select>
      </label>
      {tune !== 'head' ? (
        <NumberField label="Sequence length (tokens)" value={model.seqLen ?? 128} min={2} max={128} step={1} integer testid="use-lite-seq-len" onCommit={(v) => set({ seqLen: v })} />
      ) : null}
      <button type="button" data-testid="use-lite-quick" onClick={quick}>
        Quick preset (LoRA, 2 countries, 40 steps, 64 tokens, lr 1e-3)
      </button>
      {tune !== 'head' ? <UseLiteTuneEstimate /> : null}
    </div>
  );
}

function UseLiteTuneEstimate() {
  const model = useStudio((s) => s.model);
  const config = useStudio((s) => s.config);
  if (model.kind !== 'use-lite') return null;
  // The worker trains data-parallel on the cores (up to 4; peer workers need no cross-origin isolation).
  const g = globalThis as { navigator?: { hardwareConcurrency?: number } };
  const threads = Math.max(1, Math.min(4, g.navigator?.hardwareConcurrency ?? 1));
  const runs = config.countries.length * config.methods.filter((m) => METHOD_SPECS[m].trains).length;
  const e = estimateUseLiteTune(runs, config.steps, config.batch, model.seqLen ?? 128, threads);
  const time = e.seconds < 90 ? `${Math.max(1, Math.round(e.seconds))} s` : `${(e.seconds / 60).toFixed(1)} min`;
  return (
    <p className="hint" data-testid="use-lite-tune-estimate">
      Fine-tuning {runs} country run{runs === 1 ? '' : 's'} of {config.steps} steps: ~{Math.round(e.gflop).toLocaleString()} GFLOP, about {time} of training on this CPU ({threads} thread{threads > 1 ? 's' : ''}), plus encoding
      below. A real GPU would take seconds.
    </p>
  );
}

function Summary() {
  const summary = useStudio((s) => s.summary);
  const dataStatus = useStudio((s) => s.dataStatus);
  const dataError = useStudio((s) => s.dataError);
  if (dataStatus === 'error' && dataError) {
    return (
      <div className="data-error" role="alert" data-testid="data-error">
        <strong>Could not use this data.</strong> {dataError.message}
        {dataError.file && !dataError.message.includes(dataError.file) ? (
          <div className="mono">
            {dataError.file}:{dataError.line ?? 0}:{dataError.field ?? ''}
          </div>
        ) : null}
        <div className="hint">Fix the file or pick another; the studio keeps working.</div>
      </div>
    );
  }
  if (!summary) return <p className="muted" data-testid="data-status">{dataStatus === 'loading' ? 'Loading data…' : 'No data loaded yet.'}</p>;
  const countries = Object.entries(summary.countries).sort((a, b) => b[1].pairs - a[1].pairs);
  return (
    <div data-testid="data-summary">
      <p className="summary-line" data-testid="data-status">
        {dataStatus === 'loading' ? 'Reloading… ' : ''}
        <strong>{summary.source}</strong> ({summary.format}): {summary.items.toLocaleString()} responses, {summary.pairs.toLocaleString()} pairs, {summary.tiesDropped} ties dropped
      </p>
      <div className="country-counts" tabIndex={0} aria-label="Pairs per country">
        <table>
          <thead>
            <tr>
              <th scope="col">Country</th>
              <th scope="col">Users</th>
              <th scope="col">Pairs</th>
              <th scope="col">Train</th>
              <th scope="col">Test</th>
            </tr>
          </thead>
          <tbody>
            {countries.map(([c, st]) => (
              <tr key={c}>
                <th scope="row">{c}</th>
                <td>{st.users}</td>
                <td>{st.pairs}</td>
                <td>{st.trainPairs}</td>
                <td>{st.testPairs}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {summary.issues.count > 0 ? (
        <details className="issues" data-testid="data-issues" open>
          <summary>
            Skipped {summary.issues.count} row{summary.issues.count === 1 ? '' : 's'}:{' '}
            {Object.entries(summary.issues.byReason)
              .map(([r, n]) => `${r} (${n})`)
              .join(', ')}
          </summary>
          <ul>
            {summary.issues.examples.map((e, i) => (
              <li key={i} className="mono">
                {e.file}:{e.line}:{e.field} {e.message}
              </li>
            ))}
          </ul>
        </details>
      ) : (
        <p className="muted small" data-testid="data-issues-none">
          No rows skipped.
        </p>
      )}
    </div>
  );
}

export function DatasetPicker() {
  const data = useStudio((s) => s.data);
  const strict = useStudio((s) => s.strict);
  const allowNetwork = useStudio((s) => s.allowNetwork);
  const status = useStudio((s) => s.run.status);
  const [drag, setDrag] = useState(false);
  const [dropNote, setDropNote] = useState('');
  const disabled = isActive(status);

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setDrag(false);
    if (disabled) return;
    const { data: d, unknown } = classifyFiles(Array.from(e.dataTransfer.files));
    if (d) {
      // Merge with a PRISM file dropped earlier, so the two can come one at a time.
      const merged: DataChoice =
        d.kind === 'prism' && data.kind === 'prism' ? { kind: 'prism', utterances: d.utterances ?? data.utterances, survey: d.survey ?? data.survey } : d;
      setData(merged);
    }
    setDropNote(unknown.length ? `Not recognised (name it *utterances*, *survey* or *.csv): ${unknown.join(', ')}` : '');
  };

  return (
    <section
      className={`panel ${drag ? 'dragging' : ''}`}
      data-testid="dataset-picker"
      aria-labelledby="h-data"
      onDragOver={(e) => {
        e.preventDefault();
        setDrag(true);
      }}
      onDragLeave={() => setDrag(false)}
      onDrop={onDrop}
    >
      <header className="panel-head">
        <h2 id="h-data">Data</h2>
      </header>
      <fieldset className="subgroup" disabled={disabled}>
        <legend>Preference pairs</legend>
        <label className="radio">
          <input type="radio" name="data" data-testid="data-synthetic" checked={data.kind === 'synthetic'} onChange={() => setData({ kind: 'synthetic', seed: 0 })} />
          Embedded synthetic set
        </label>
        {data.kind === 'synthetic' ? (
          <NumberField label="Data seed" value={data.seed} min={0} max={2 ** 32 - 1} integer testid="data-seed" onCommit={(v) => setData({ kind: 'synthetic', seed: v })} />
        ) : null}
        <label className="radio">
          <input
            type="radio"
            name="data"
            data-testid="data-prism"
            checked={data.kind === 'prism'}
            onChange={() => setData({ kind: 'prism', utterances: null, survey: null }, false)}
          />
          PRISM files
        </label>
        {data.kind === 'prism' ? (
          <div className="file-slots">
            <FileSlot
              label="utterances (.jsonl or .parquet)"
              accept=".jsonl,.json,.parquet"
              file={data.utterances}
              testid="prism-utterances"
              disabled={disabled}
              onFile={(f) => setData({ ...data, utterances: f })}
            />
            <FileSlot label="survey (.jsonl or .parquet)" accept=".jsonl,.json,.parquet" file={data.survey} testid="prism-survey" disabled={disabled} onFile={(f) => setData({ ...data, survey: f })} />
          </div>
        ) : null}
        <label className="radio">
          <input type="radio" name="data" data-testid="data-goqa" checked={data.kind === 'goqa'} onChange={() => setData({ kind: 'goqa', file: null }, false)} />
          GlobalOpinionQA csv
        </label>
        {data.kind === 'goqa' ? (
          <div className="file-slots">
            <FileSlot label="global_opinions.csv" accept=".csv" file={data.file} testid="goqa-file" disabled={disabled} onFile={(f) => setData({ kind: 'goqa', file: f })} />
          </div>
        ) : null}
        {allowNetwork ? (
          <>
            <label className="radio">
              <input type="radio" name="data" data-testid="data-hub" checked={data.kind === 'hub'} onChange={() => setData({ kind: 'hub', id: '' }, false)} />
              Hub dataset (network)
            </label>
            {data.kind === 'hub' ? (
              <label className="field">
                Dataset id
                <input
                  type="text"
                  data-testid="hub-dataset-id"
                  placeholder="HannahRoseKirk/prism-alignment"
                  value={data.id}
                  onChange={(e) => update(() => ({ data: { kind: 'hub', id: e.target.value } }))}
                  onBlur={() => loadData()}
                />
              </label>
            ) : null}
          </>
        ) : null}
        <p className="drop-hint small muted" data-testid="data-drop">
          …or drop utterances/survey files or a .csv anywhere on this panel.
        </p>
        {dropNote ? (
          <p className="small warn" role="status">
            {dropNote}
          </p>
        ) : null}
        <label className="check small">
          <input
            type="checkbox"
            data-testid="strict-mode"
            checked={strict}
            onChange={(e) => {
              update(() => ({ strict: e.target.checked }));
              loadData();
            }}
          />
          Strict: stop at the first bad row
        </label>
      </fieldset>
      <Summary />
      <ModelPicker disabled={disabled} />
    </section>
  );
}
