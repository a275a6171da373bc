// Page-side saving of an exported country RM (the 'model' reply of the experiment worker). No zip library is
// available for the browser (node_modules has only adm-zip, which needs Node's fs/zlib), so: one download per file,
// named "<stem>__<path with / as __>", or, when the caller asks and the browser has showDirectoryPicker, the exact
// HF folder (config.json, tokenizer*.json, onnx/model.onnx) written into a folder the user picks.
import { modelStem } from '../pipeline/rm/export.ts';
import type { ModelFile } from './protocol.ts';

/** Download names for the files of one model: "scpo-rm_chile_scpo__onnx__model.onnx". */
export function downloadNames(files: readonly ModelFile[], country: string, method: string): string[] {
  const stem = modelStem(country, method);
  return files.map((f) => `${stem}__${f.path.split('/').join('__')}`);
}

function mimeOf(path: string): string {
  return path.endsWith('.json') ? 'application/json' : 'application/octet-stream';
}

function clickDownload(name: string, blob: Blob): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.rel = 'noopener';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

interface DirHandle {
  getDirectoryHandle(name: string, o?: { create?: boolean }): Promise<DirHandle>;
  getFileHandle(name: string, o?: { create?: boolean }): Promise<{ createWritable(): Promise<{ write(d: Blob): Promise<void>; close(): Promise<void> }> }>;
}

type Picker = (o?: { mode?: 'readwrite'; id?: string }) => Promise<DirHandle>;

/** Writes the HF layout under `<picked folder>/<stem>/`. Throws (AbortError) when the user cancels. */
async function saveToDirectory(pick: Picker, files: readonly ModelFile[], stem: string): Promise<void> {
  const root = await (await pick({ mode: 'readwrite', id: 'scpo-models' })).getDirectoryHandle(stem, { create: true });
  for (const f of files) {
    const parts = f.path.split('/');
    let dir = root;
    for (const p of parts.slice(0, -1)) dir = await dir.getDirectoryHandle(p, { create: true });
    const w = await (await dir.getFileHandle(parts[parts.length - 1], { create: true })).createWritable();
    await w.write(new Blob([f.bytes], { type: mimeOf(f.path) }));
    await w.close();
  }
}

export interface SaveModelOptions {
  /** Try the folder picker first (Chromium); falls back to downloads when unavailable. Default false. */
  directory?: boolean;
  /** Gap between downloads: Chromium asks once to allow several downloads from one click. */
  gapMs?: number;
}

/** Saves an exported model; resolves to how it was saved. */
export async function saveModelFiles(
  files: readonly ModelFile[],
  country: string,
  method: string,
  opts: SaveModelOptions = {},
): Promise<'directory' | 'downloads'> {
  const pick = (globalThis as { showDirectoryPicker?: Picker }).showDirectoryPicker;
  if (opts.directory && typeof pick === 'function') {
    await saveToDirectory(pick.bind(globalThis), files, modelStem(country, method));
    return 'directory';
  }
  const names = downloadNames(files, country, method);
  const gap = opts.gapMs ?? 150;
  for (let i = 0; i < files.length; i++) {
    clickDownload(names[i], new Blob([files[i].bytes], { type: mimeOf(files[i].path) }));
    if (gap > 0 && i + 1 < files.length) await new Promise((r) => setTimeout(r, gap));
  }
  return 'downloads';
}
