// Export: the CLI's report files, a results CSV, the run config, the full run bundle (re-importable), chart images
// (on each chart); import of a saved run; the country-RM ONNX export placeholder.
import { useEffect, useRef, useState } from 'react';
import type { KeyboardEvent } from 'react';
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
  const buttonRef = useRef<HTMLButtonElement>(null);
  const listRef = useRef<HTMLDivElement>(null);
  const importRef = useRef<HTMLInputElement>(null);
  // WAI-ARIA menu button: the open menu takes the focus (first item, or the last with ArrowUp); arrows, Home and End
  // move it between the enabled items; Escape closes it and gives the focus back to the button.
  const [focusLast, setFocusLast] = useState(false);
  const items = () => [...(listRef.current?.querySelectorAll<HTMLElement>('[role^="menuitem"]:not(:disabled)') ?? [])];
  useEffect(() => {
    if (!open) return;
    const list = items();
    (focusLast ? list.at(-1) : list[0])?.focus();
  }, [open, focusLast]);
  const close = () => {
    setOpen(false);
    buttonRef.current?.focus();
  };
  const onMenuKey = (e: KeyboardEvent) => {
    const list = items();
    const i = list.indexOf(document.activeElement as HTMLElement);
    const go = (k: number) => {
      e.preventDefault();
      list[(k + list.length) % list.length]?.focus();
    };
    if (e.key === 'ArrowDown') go(i + 1);
    else if (e.key === 'ArrowUp') go(i < 0 ? list.length - 1 : i - 1);
    else if (e.key === 'Home') go(0);
    else if (e.key === 'End') go(list.length - 1);
    else if (e.key === 'Tab') setOpen(false);
  };
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
  const globalRm = model.kind === 'bundled' ? 'bundled scpo-glove-rm' : model.kind === 'use-lite' ? 'use-lite (global head trained on pooled training users)' : model.kind === 'files' ? `local folder ${model.name}` : `hub ${model.id}`;
  const files = result ? reportFiles(result, summary?.source === result.source ? summary : null, globalRm) : [];
  const stamp = result ? `-${result.config.seed}` : '';
  return (
    <div
      className="export-menu"
      ref={menuRef}
      onKeyDown={(e) => {
        if (e.key === 'Escape' && open) {
          e.stopPropagation();
          close();
        }
      }}
    >
      <button
        type="button"
        ref={buttonRef}
        data-testid="export-button"
        aria-expanded={open}
        aria-haspopup="menu"
        aria-controls={open ? 'export-menu' : undefined}
        onClick={() => {
          setFocusLast(false);
          setOpen((o) => !o);
        }}
        onKeyDown={(e) => {
          if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
            e.preventDefault();
            setFocusLast(e.key === 'ArrowUp');
            setOpen(true);
          }
        }}
      >
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
        <div className="menu" role="menu" id="export-menu" aria-label="Export" ref={listRef} onKeyDown={onMenuKey}>
          <div role="group" aria-label="Reports">
          <p className="menu-title" aria-hidden="true">
            Reports {result ? '' : '(after a run)'}
          </p>
          {files.map((f) => (
            <button key={f.name} type="button" role="menuitem" tabIndex={-1} data-testid={`export-${f.name}`} disabled={!result} onClick={() => download(f.name, f.text, f.mime)}>
              {f.name}
            </button>
          ))}
          <button
            type="button"
            role="menuitem"
            tabIndex={-1}
            data-testid="export-all"
            disabled={!result}
            onClick={() => {
              // One click, several files: Chromium asks once to allow multiple downloads.
              files.forEach((f, k) => setTimeout(() => download(f.name, f.text, f.mime), k * 150));
            }}
          >
            all report files
          </button>
          </div>
          <div role="group" aria-label="Run">
          <p className="menu-title" aria-hidden="true">
            Run
          </p>
          <button
            type="button"
            role="menuitem"
            tabIndex={-1}
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
          <button type="button" role="menuitem" tabIndex={-1} data-testid="export-config" onClick={() => download('config.json', toJson(result?.config ?? config), 'application/json')}>
            config.json
          </button>
          </div>
          <div role="group" aria-label="Scale out">
            <p className="menu-title" aria-hidden="true">
              Scale out
            </p>
            <JobExport />
          </div>
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
    // The method is a radio group of menu items (a <select> cannot live inside role=menu).
    <div className="model-export" role="group" aria-label="Trained reward model (ONNX)">
      <p className="menu-title" aria-hidden="true">
        Trained reward model (ONNX)
      </p>
      <div className="method-radios" data-testid="export-onnx-method">
        {methods.map((m) => (
          <button
            key={m}
            type="button"
            role="menuitemradio"
            tabIndex={-1}
            aria-checked={method === m}
            data-testid={`export-onnx-method-${m}`}
            disabled={!result || origin !== 'run'}
            onClick={() => setMethod(m)}
          >
            {method === m ? '● ' : '○ '}
            {m}
          </button>
        ))}
      </div>
      <button
        type="button"
        role="menuitem"
        tabIndex={-1}
        data-testid="export-onnx"
        disabled={!!why || busy}
        title={why || `Download the ${country} · ${method} reward model`}
        aria-describedby={why ? 'export-onnx-why' : undefined}
        onClick={() => {
          setBusy(true);
          void exportModel(country, method).finally(() => setBusy(false));
        }}
      >
        {busy ? 'exporting…' : `${country || 'country'} RM (${method})`}
      </button>
      {why ? (
        <span className="small muted" id="export-onnx-why" aria-hidden="true">
          {why}
        </span>
      ) : null}
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
        tabIndex={-1}
        data-testid="export-job"
        disabled={!!why || busy}
        aria-describedby="export-job-why"
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
      <span className="small muted menu-why" id="export-job-why" aria-hidden="true">
        {why || (ofRun ? 'of the latest run' : 'of the current settings (no run needed)')}
      </span>
    </>
  );
}
