// Row sources: JSONL lines, Parquet rows and in-memory objects behind one shape, so one validator serves all three.
import type { InputFile } from '../types.ts';
import { readLines } from './lines.ts';
import { isParquet, readParquetRows } from './parquet.ts';

/** One raw row with its location; `error` is set when the line could not even be parsed. */
export type RawRow = { line: number; row: unknown; error?: undefined } | { line: number; row?: undefined; error: string };

export interface RowSource {
  /** File name used in issues, e.g. "utterances.jsonl" or "synthetic/utterances.jsonl". */
  name: string;
  rows: AsyncIterable<RawRow>;
}

const NON_FINITE: Record<string, number> = {
  '\u0000NaN': NaN,
  '\u0000Infinity': Infinity,
  '\u0000-Infinity': -Infinity,
};

/**
 * Python's json module writes bare NaN / Infinity, which JSON.parse rejects for the whole line. Rewriting those tokens
 * (outside strings only) into sentinels lets the validator name the exact field instead of reporting "bad json".
 */
function replaceNonFiniteTokens(text: string): string | null {
  let out = '';
  let last = 0;
  let inString = false;
  let changed = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') {
      inString = true;
      continue;
    }
    for (const token of ['-Infinity', 'Infinity', 'NaN']) {
      if (text.startsWith(token, i)) {
        out += text.slice(last, i) + JSON.stringify('\u0000' + token);
        i += token.length - 1;
        last = i + 1;
        changed = true;
        break;
      }
    }
  }
  return changed ? out + text.slice(last) : null;
}

export function parseJsonLine(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    const rewritten = replaceNonFiniteTokens(text);
    if (rewritten !== null) {
      try {
        const value: unknown = JSON.parse(rewritten, (_key, v: unknown) =>
          typeof v === 'string' && Object.prototype.hasOwnProperty.call(NON_FINITE, v) ? NON_FINITE[v] : v,
        );
        return { ok: true, value };
      } catch {
        // Fall through to the original message, which points at the real problem.
      }
    }
    const message = e instanceof Error ? e.message : String(e);
    return { ok: false, message: `not valid JSON (${message})` };
  }
}

async function* jsonlRows(file: InputFile): AsyncIterable<RawRow> {
  for await (const { line, text } of readLines(file)) {
    const parsed = parseJsonLine(text);
    if (parsed.ok) yield { line, row: parsed.value };
    else yield { line, error: parsed.message };
  }
}

/** Opens a JSONL or Parquet file (detected by name or PAR1 magic); `columns` limits what Parquet decodes. */
export async function fileRows(file: InputFile, columns: readonly string[]): Promise<RowSource> {
  if (await isParquet(file)) return { name: file.name, rows: readParquetRows(file, columns) };
  return { name: file.name, rows: jsonlRows(file) };
}

/** In-memory rows (synthetic data), numbered like lines of the JSONL file they stand for. */
export function memoryRows(name: string, rows: readonly unknown[]): RowSource {
  async function* gen(): AsyncIterable<RawRow> {
    for (let i = 0; i < rows.length; i++) yield { line: i + 1, row: rows[i] };
  }
  return { name, rows: gen() };
}
