// Collects bad input rows into a DataIssueReport, or throws DataError at the first one in strict mode.
import { DataError, type DataIssue, type DataIssueReport, type InputFile } from '../types.ts';

export const MAX_EXAMPLES = 20;

/** Whole-line problems have no single field. */
export const ROW_FIELD = '(row)';
/** Problems with a file as a whole (missing, empty, unreadable). */
export const FILE_FIELD = '(file)';

export class IssueCollector {
  private readonly report: DataIssueReport = { count: 0, byReason: {}, examples: [] };

  constructor(private readonly strict: boolean) {}

  /** Records one skipped row (or value); throws in strict mode so the user fixes the first problem first. */
  add(reason: string, issue: DataIssue): void {
    if (this.strict) throw new DataError(issue);
    this.report.count++;
    this.report.byReason[reason] = (this.report.byReason[reason] ?? 0) + 1;
    if (this.report.examples.length < MAX_EXAMPLES) this.report.examples.push(issue);
  }

  get count(): number {
    return this.report.count;
  }

  toReport(): DataIssueReport {
    return {
      count: this.report.count,
      byReason: { ...this.report.byReason },
      examples: this.report.examples.map((e) => ({ ...e })),
    };
  }
}

/** Fatal whole-file problem: always thrown, strict or not. */
export function fileError(file: string, message: string, field = FILE_FIELD): DataError {
  return new DataError({ file, line: 0, field, message });
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

/** Runs a loader body so that only DataError leaves it: anything raw becomes a line-0 DataError on `file`. */
export async function guardFile<T>(file: string, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw fileError(file, `could not read: ${errorMessage(e)}`);
  }
}

/**
 * A present, non-empty file. Duck-typed rather than `instanceof Blob` because Blobs from fs.openAsBlob or another
 * realm (a Worker) need not share this realm's constructor.
 */
export function checkInputFile(file: InputFile | undefined | null, fallbackName: string): InputFile {
  const name = file && typeof file.name === 'string' && file.name !== '' ? file.name : fallbackName;
  const blob: Partial<Blob> | undefined = file?.blob;
  if (!file || !blob || typeof blob.stream !== 'function' || typeof blob.size !== 'number') {
    throw fileError(name, 'file is missing');
  }
  if (blob.size === 0) throw fileError(name, 'file is empty');
  return file;
}
