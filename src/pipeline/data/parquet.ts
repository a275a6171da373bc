// Parquet access for the loaders: detection, a Blob-backed AsyncBuffer for hyparquet, and row-group-wise row streaming.
import { parquetMetadataAsync, parquetReadObjects, parquetSchema, type AsyncBuffer, type FileMetaData } from 'hyparquet';
import type { InputFile } from '../types.ts';
import { errorMessage, fileError } from './issues.ts';

const MAGIC = 'PAR1';

/** By name first (cheap), else by the PAR1 magic, so a renamed mirror file still loads. */
export async function isParquet(file: InputFile): Promise<boolean> {
  if (/\.parquet$/i.test(file.name)) return true;
  if (file.blob.size < 8) return false;
  const head = new Uint8Array(await file.blob.slice(0, 4).arrayBuffer());
  return String.fromCharCode(...head) === MAGIC;
}

/** hyparquet reads only the byte ranges it needs (footer, then column chunks), so the file never sits whole in memory. */
export function blobAsyncBuffer(blob: Blob): AsyncBuffer {
  return {
    byteLength: blob.size,
    slice: (start: number, end?: number) => blob.slice(start, end).arrayBuffer(),
  };
}

export interface ParquetRow {
  /** 1-based row number, the Parquet analogue of a line number. */
  line: number;
  row: Record<string, unknown>;
}

/**
 * Yields the rows of a Parquet file one row group at a time, reading only the wanted top-level columns that exist
 * (a missing column then shows up as a per-row "missing field", like in JSONL).
 */
export async function* readParquetRows(file: InputFile, wanted: readonly string[]): AsyncIterable<ParquetRow> {
  const buffer = blobAsyncBuffer(file.blob);
  let metadata: FileMetaData;
  try {
    metadata = await parquetMetadataAsync(buffer);
  } catch (e) {
    throw fileError(file.name, `not a readable Parquet file: ${errorMessage(e)}`);
  }
  const present = new Set(parquetSchema(metadata).children.map((c) => c.element.name));
  const columns = wanted.filter((c) => present.has(c));
  if (columns.length === 0) {
    throw fileError(file.name, `none of the columns ${wanted.join(', ')} are in this Parquet file`);
  }
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    let rows: Record<string, unknown>[];
    try {
      rows = await parquetReadObjects({ file: buffer, metadata, columns, rowStart, rowEnd });
    } catch (e) {
      // Usually a codec hyparquet lacks (it reads uncompressed and snappy); re-exporting with snappy fixes it.
      throw fileError(file.name, `cannot decode rows ${rowStart + 1}-${rowEnd}: ${errorMessage(e)}`);
    }
    for (let i = 0; i < rows.length; i++) yield { line: rowStart + i + 1, row: rows[i] };
    rowStart = rowEnd;
  }
}
