// Node-only: resolves a path on disk (PRISM folder, Parquet files, GOQA .csv) to InputFiles via fs.openAsBlob.
import { openAsBlob } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { DataError, type DataFormat, type InputFile, type PreferenceData } from '../types.ts';
import { loadGoqa } from './goqa.ts';
import type { LoadOptions } from './options.ts';
import { loadPrism, type PrismFiles } from './prism.ts';

export type OpenedData = { format: 'prism'; files: PrismFiles } | { format: 'goqa'; files: { csv: InputFile } };

function notFound(path: string, message: string): DataError {
  return new DataError({ file: path, line: 0, field: '(file)', message });
}

async function input(path: string, root: string): Promise<InputFile> {
  // Names relative to the opened folder keep messages short but unambiguous ("utterances/train.parquet").
  const blob = await openAsBlob(path);
  return { name: relative(root, path) || basename(path), blob };
}

/** Files under `dir`, depth <= 3 (HF parquet mirrors nest tables as <table>/<split>/NNNN.parquet). */
async function listFiles(dir: string, depth = 0): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory() && depth < 3 && !entry.name.startsWith('.')) out.push(...(await listFiles(full, depth + 1)));
    else if (entry.isFile()) out.push(full);
  }
  return out.sort();
}

function pickTable(files: string[], root: string, table: string, ext: string): string | null | 'many' {
  const hits = files.filter((f) => f.toLowerCase().endsWith(ext) && relative(root, f).toLowerCase().includes(table));
  if (hits.length === 0) return null;
  if (hits.length > 1) return 'many';
  return hits[0];
}

/**
 * Resolves `path` to loader inputs: a folder with utterances.jsonl + survey.jsonl, a folder with utterances and survey
 * Parquet files, a GOQA .csv file (or a folder holding global_opinions.csv), or one of the PRISM files itself.
 * Missing or ambiguous paths throw DataError with line 0 naming the path.
 */
export async function openDataPath(path: string, format?: DataFormat): Promise<OpenedData> {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw notFound(path, 'no such file or folder');
  }
  if (info.isFile()) {
    if (format === 'goqa' || (format === undefined && path.toLowerCase().endsWith('.csv'))) {
      return { format: 'goqa', files: { csv: await input(path, dirname(path)) } };
    }
    // A PRISM table file given directly: its sibling table is looked up in the same folder.
    return openDataPath(dirname(path), 'prism');
  }
  if (!info.isDirectory()) throw notFound(path, 'not a file or folder');
  const files = await listFiles(path);

  if (format !== 'prism') {
    const csv = files.find((f) => basename(f).toLowerCase() === 'global_opinions.csv') ?? (format === 'goqa' ? files.find((f) => f.toLowerCase().endsWith('.csv')) : undefined);
    if (csv) return { format: 'goqa', files: { csv: await input(csv, path) } };
    if (format === 'goqa') throw notFound(path, 'no global_opinions.csv (or other .csv) in this folder');
  }

  for (const ext of ['.jsonl', '.parquet']) {
    const utt = pickTable(files, path, 'utterances', ext);
    const sur = pickTable(files, path, 'survey', ext);
    if (utt === 'many' || sur === 'many') {
      throw notFound(path, `several ${ext} files match "utterances" or "survey"; point at a folder with one of each`);
    }
    if (utt && sur) return { format: 'prism', files: { utterances: await input(utt, path), survey: await input(sur, path) } };
  }
  // Mixed formats (utterances.parquet + survey.jsonl) are fine for the loader, so try them before giving up.
  const utt = pickTable(files, path, 'utterances', '.jsonl') ?? pickTable(files, path, 'utterances', '.parquet');
  const sur = pickTable(files, path, 'survey', '.jsonl') ?? pickTable(files, path, 'survey', '.parquet');
  if (utt && sur && utt !== 'many' && sur !== 'many') {
    return { format: 'prism', files: { utterances: await input(utt, path), survey: await input(sur, path) } };
  }
  const missing = [utt ? null : 'utterances.jsonl (or utterances .parquet)', sur ? null : 'survey.jsonl (or survey .parquet)']
    .filter(Boolean)
    .join(' and ');
  throw notFound(path, `no PRISM data here: missing ${missing}`);
}

/** openDataPath + the matching loader; `source` is the path the user gave. */
export async function loadDataPath(path: string, format?: DataFormat, opts?: LoadOptions): Promise<PreferenceData> {
  const opened = await openDataPath(path, format);
  const data = opened.format === 'goqa' ? await loadGoqa(opened.files.csv, opts) : await loadPrism(opened.files, opts);
  return { ...data, source: path };
}
