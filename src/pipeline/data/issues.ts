// Collects bad input rows into a DataIssueReport, or throws DataError at the first one in strict mode.
import { DataError, safeIssue, type DataIssue, type DataIssueReport, type InputFile } from '../types.ts';

export const MAX_EXAMPLES = 20;

/** Whole-line problems have no single field. */
export const ROW_FIELD = '(row)';
/** Problems with a file as a whole (missing, empty, unreadable). */
export const FILE_FIELD = '(file)';

/** Examples of one file quoted when none of its rows was usable. */
const NO_ROWS_EXAMPLES = 3;

export class IssueCollector {
  private readonly report: DataIssueReport = { count: 0, byReason: {}, examples: [] };
  /** Per file: reason counts and its first examples (a Map: file names are user data). */
  private readonly files = new Map<string, { count: number; byReason: Map<string, number>; examples: DataIssue[] }>();

  constructor(private readonly strict: boolean) {}

  /** Records one skipped row (or value); throws in strict mode so the user fixes the first problem first. */
  add(reason: string, issue: DataIssue): void {
    if (this.strict) throw new DataError(issue);
    this.report.count++;
    // Own data properties only (reasons are fixed strings, but a record keyed by text must not touch its prototype).
    Object.defineProperty(this.report.byReason, reason, {
      value: (Object.hasOwn(this.report.byReason, reason) ? this.report.byReason[reason] : 0) + 1,
      enumerable: true,
      writable: true,
      configurable: true,
    });
    const safe = safeIssue(issue);
    if (this.report.examples.length < MAX_EXAMPLES) this.report.examples.push(safe);
    let f = this.files.get(issue.file);
    if (!f) this.files.set(issue.file, (f = { count: 0, byReason: new Map(), examples: [] }));
    f.count++;
    f.byReason.set(reason, (f.byReason.get(reason) ?? 0) + 1);
    if (f.examples.length < NO_ROWS_EXAMPLES) f.examples.push(safe);
  }

  /**
   * The bad rows of `file` in a few words, for the error when none of its rows was usable: the count, the reasons
   * and the first examples, as strict mode would have reported them. Empty when the file had no bad rows.
   */
  describeFile(file: string): string {
    const f = this.files.get(file);
    if (!f) return '';
    const reasons = [...f.byReason].sort((a, b) => b[1] - a[1]).map(([r, n]) => `${r} ${n}`).join(', ');
    const first = f.examples.map((e) => `line ${e.line}, ${e.field}: ${e.message}`).join('; ');
    return `${f.count} bad row${f.count === 1 ? '' : 's'} (${reasons}); first: ${first}`;
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

/**
 * The fatal "no usable rows" error of `file`, with what was wrong with its rows (IssueCollector.describeFile) so a
 * lenient load says as much as a strict one.
 */
export function noUsableRows(file: string, what: string, issues: IssueCollector): DataError {
  const why = issues.describeFile(file);
  return fileError(file, why ? `${what}: ${why}` : what);
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
