// Export: the CLI's report files, a results CSV, the run config, the full run bundle (re-importable), chart images
// (on each chart); import of a saved run; the country-RM ONNX export placeholder.
import { useEffect, useRef, useState } from 'react';
import { download, reportFiles, toJson } from '../export.ts';
import type { Method } from '../../pipeline/types.ts';
import { currentBundleJson, exportJob, exportModel, importRunFiles } from '../runner.ts';
import { runKey } from '../derive.ts';
import { useStudio } from '../store.ts';

export function ExportMenu() {
  const result = useStudio((s) => s.result);
  const config = useStudio((s) => s.config);
  const summary = useStudio((s) => s.summary);
  const model = useStudio((s) => s.model);
  const [open, setOpen] = useState(false);
  const menuRef = useRef<HTMLDivElement>(null);
  const importRef = useRef<HTMLInputElement>(null);
  const folderRef = useRef<HTMLInputElement>(null);
  // A directory picker (the job's or the CLI's report folder); React has no typed prop for it.
  useEffect(() => folderRef.current?.setAttribute('webkitdirectory', ''), []);
  useEffect(() => {
    if (!open) return;
    const close = (e: MouseEvent) => {
      if (menuRef.current && !menuRef.current.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener('mousedown', close);
    return () => document.removeEventListener('mousedown', close);
  }, [open]);
  const globalRm = model.kind === 'bundled' ? 'bundled scpo-glove-rm' : model.kind === 'files' ? `local folder ${model.name}` : `hub ${model.id}`;
  const files = result ? reportFiles(result, summary?.source === result.source ? summary : null, globalRm) : [];
  const stamp = result ? `-${result.config.seed}` : '';
  return (
    <div
      className="export-menu"
      ref={menuRef}
      onKeyDown={(e) => {
        if (e.key === 'Escape') setOpen(false);
      }}
    >
      <button type="button" data-testid="export-button" aria-expanded={open} aria-haspopup="true" onClick={() => setOpen((o) => !o)}>
        Export ▾
      </button>
      <button type="button" data-testid="import-button" onClick={() => importRef.current?.click()}>
        Import run…
      </button>
      <input
        ref={importRef}
        type="file"
        accept=".json,.zip,application/json,application/zip"
        hidden
        data-testid="import-input"
        title="A saved run (.json) or a zip of a report folder (the PyTorch job's or the CLI's --out)"
        onChange={(e) => {
          const fs = [...(e.target.files ?? [])];
          if (fs.length) void importRunFiles(fs);
          e.target.value = '';
        }}
      />
      <button type="button" data-testid="import-folder-button" title="The PyTorch job's or the CLI's --out folder" onClick={() => folderRef.current?.click()}>
        Import report folder…
      </button>
      <input
        ref={folderRef}
        type="file"
        multiple
        hidden
        data-testid="import-folder-input"
        onChange={(e) => {
          const fs = [...(e.target.files ?? [])];
          if (fs.length) void importRunFiles(fs);
          e.target.value = '';
        }}
      />
      {open ? (
        <div className="menu" role="menu" aria-label="Export">
          <p className="menu-title">Reports {result ? '' : '(after a run)'}</p>
          {files.map((f) => (
            <button key={f.name} type="button" role="menuitem" data-testid={`export-${f.name}`} disabled={!result} onClick={() => download(f.name, f.text, f.mime)}>
              {f.name}
            </button>
          ))}
          <button
            type="button"
            role="menuitem"
            data-testid="export-all"
            disabled={!result}
            onClick={() => {
              // One click, several files: Chromium asks once to allow multiple downloads.
              files.forEach((f, k) => setTimeout(() => download(f.name, f.text, f.mime), k * 150));
            }}
          >
            all report files
          </button>
          <p className="menu-title">Run</p>
          <button
            type="button"
            role="menuitem"
            data-testid="export-bundle"
            disabled={!result}
            title="Everything needed to view this run again (Import run…)"
            onClick={() => {
              const j = currentBundleJson();
              if (j) download(`scpo-run${stamp}.json`, j, 'application/json');
            }}
          >
            run bundle (re-importable)
          </button>
          <button type="button" role="menuitem" data-testid="export-config" onClick={() => download('config.json', toJson(result?.config ?? config), 'application/json')}>
            config.json
          </button>
          <p className="menu-title">Scale out</p>
          <JobExport />
          <p className="menu-title">Trained reward model (ONNX)</p>
          <ModelExport />
        </div>
      ) : null}
    </div>
  );
}

/** Country RM export (HF layout: config, tokenizer, onnx/model.onnx), from the run trained in this page's worker. */
function ModelExport() {
  const result = useStudio((s) => s.result);
  const origin = useStudio((s) => s.resultOrigin);
  const uiCountry = useStudio((s) => s.ui.country);
  const resumed = useStudio((s) => s.live.resumed);
  const [method, setMethod] = useState<Method>('scpo');
  const [busy, setBusy] = useState(false);
  const countries = result?.config.countries ?? [];
  const country = countries.includes(uiCountry) ? uiCountry : (countries[0] ?? '');
  const methods = result?.config.methods ?? [];
  // Trained weights live in the worker of the page that ran them; saved or imported runs keep only the numbers.
  const why = !result
    ? 'after a run'
    : origin !== 'run'
      ? 'run again in this page to export models (weights are not saved with results)'
      : method !== 'start' && resumed.includes(runKey(country, method))
        ? `${country} · ${method} finished before a reload and was not retrained when the run resumed: its weights are not in this page (run again to export it)`
        : '';
  return (
    <div className="model-export">
      <label className="small">
        method{' '}
        <select aria-label="Model to export: method" data-testid="export-onnx-method" value={method} disabled={!result || origin !== 'run'} onChange={(e) => setMethod(e.target.value as Method)}>
          {methods.map((m) => (
            <option key={m} value={m}>
              {m}
            </option>
          ))}
        </select>
      </label>
      <button
        type="button"
        role="menuitem"
        data-testid="export-onnx"
        disabled={!!why || busy}
        title={why || `Download the ${country} · ${method} reward model`}
        onClick={() => {
          setBusy(true);
          void exportModel(country, method).finally(() => setBusy(false));
        }}
      >
        {busy ? 'exporting…' : `${country || 'country'} RM (${method})`}
      </button>
      {why ? <span className="small muted">{why}</span> : null}
    </div>
  );
}

/**
 * A PyTorch DDP job (zip): of this page's latest run (its scores), or without a run of the form's settings, data
 * and model (scored on the CPU in the worker, trained nowhere: for data too big to train here).
 */
function JobExport() {
  const result = useStudio((s) => s.result);
  const origin = useStudio((s) => s.resultOrigin);
  const dataStatus = useStudio((s) => s.dataStatus);
  const [busy, setBusy] = useState(false);
  const ofRun = !!result && origin === 'run';
  const why = ofRun || dataStatus === 'ready' ? '' : 'after the data has loaded';
  return (
    <>
      <button
        type="button"
        role="menuitem"
        data-testid="export-job"
        disabled={!!why || busy}
        title={
          why ||
          `Export as PyTorch job: data, plan, weights and a torch.distributed trainer (job/run.py) that writes the same reports; ${ofRun ? 'of the latest run (its global scores)' : 'of the current settings, scored here, trained nowhere'}`
        }
        onClick={() => {
          setBusy(true);
          void exportJob().finally(() => setBusy(false));
        }}
      >
        {busy ? 'exporting…' : 'Export as PyTorch job (zip)'}
      </button>
      <span className="small muted">{why || (ofRun ? 'of the latest run' : 'of the current settings (no run needed)')}</span>
    </>
  );
}
