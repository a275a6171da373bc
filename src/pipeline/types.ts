// Shared data types of the SCPO pipeline: datasets, pairs, data issues, run config and reports.
// Types plus the two error classes; every other module (data loaders, rm, scpo, eval, workers, ui) imports from here.

import { quoteText, safeMessage } from './text.ts';

/** One scored text: a response to a prompt. Items are deduplicated per dataset and referenced by index. */
export interface Item {
  prompt: string;
  response: string;
}

export type Split = 'train' | 'test';

/** A preference pair; `chosen`/`rejected` index into `PreferenceData.items`. */
export interface Pair {
  chosen: number;
  rejected: number;
  /** PRISM `survey.location.reside_country` of the user, or the GOQA country. */
  country: string;
  /** Unit of the train/test split: the PRISM user_id, or the GOQA question. */
  group: string;
  /** PRISM interaction_id, or the GOQA question id. */
  key: string;
  split: Split;
  /** Human score of chosen / rejected (PRISM 1-100; GOQA share 0-1). */
  scoreChosen: number;
  scoreRejected: number;
}

/** One bad input row, located precisely so the user can fix it. */
export interface DataIssue {
  file: string;
  /** 1-based line (JSONL/CSV) or row number (Parquet); 0 when the issue concerns the whole file. */
  line: number;
  field: string;
  message: string;
}

export interface DataIssueReport {
  /** Number of skipped rows (or values). */
  count: number;
  /** Counts per reason, e.g. "missing field", "bad json". */
  byReason: Record<string, number>;
  /** The first examples (at most 20). */
  examples: DataIssue[];
}

export interface CountryStats {
  users: number;
  pairs: number;
  trainPairs: number;
  testPairs: number;
}

export type DataFormat = 'prism' | 'goqa';

/**
 * How groups (users / questions) were split into train and test. 'stratified': within each country (the default);
 * 'reference': all groups pooled and split at random, as the reference code does (`train_test_split` over all
 * survey users). GOQA always splits its questions once for all countries.
 */
export type SplitRule = 'stratified' | 'reference';

export interface SplitInfo {
  rule: SplitRule;
  seed: number;
  testFraction: number;
}

export interface PreferenceData {
  format: DataFormat;
  /** Human-readable origin, e.g. "synthetic:0" or a folder name. */
  source: string;
  items: Item[];
  pairs: Pair[];
  countries: Record<string, CountryStats>;
  /** Ties dropped during pair construction. */
  tiesDropped: number;
  /** Pairs whose chosen and rejected text are identical (kept, as the reference does; no model can rank them right). */
  identicalTextPairs: number;
  split: SplitInfo;
  issues: DataIssueReport;
}

/** A DataIssue safe to print: control characters escaped, file/field and message capped (text.ts). */
export function safeIssue(issue: DataIssue): DataIssue {
  return { file: quoteText(issue.file), line: issue.line, field: quoteText(issue.field), message: safeMessage(issue.message) };
}

/**
 * Thrown in strict mode (and for fatal problems such as a missing file); never shown as a stack trace. Its parts
 * come from user data, so they are made safe to print here, once for every caller.
 */
export class DataError extends Error {
  readonly file: string;
  readonly line: number;
  readonly field: string;
  constructor(issue: DataIssue) {
    const safe = safeIssue(issue);
    super(`${safe.file}:${safe.line}:${safe.field}: ${safe.message}`);
    this.name = 'DataError';
    this.file = safe.file;
    this.line = safe.line;
    this.field = safe.field;
  }
}

/** Error in user-supplied configuration (CLI flags, URL hash, UI form). Multi-line (usage); controls escaped. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(safeMessage(message, true, 8000));
    this.name = 'ConfigError';
  }
}

/** A named input file, as a Blob so Node (fs.openAsBlob) and the browser (File) share one code path. */
export interface InputFile {
  name: string;
  blob: Blob;
}

export const METHODS = ['start', 'full_ft', 'filter_only', 'weight_only', 'scpo', 'inverse'] as const;
export type Method = (typeof METHODS)[number];

export const DEFAULT_COUNTRIES = [
  'Chile',
  'South Africa',
  'New Zealand',
  'Australia',
  'Mexico',
  'Israel',
  'Canada',
] as const;
export const DEFAULT_MAJORITY = ['United States', 'United Kingdom'] as const;
