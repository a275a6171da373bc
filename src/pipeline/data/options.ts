// Loader options, their defaults, and the small value checks every loader shares.
import { ConfigError } from '../types.ts';
import type { SplitRule } from '../types.ts';
import { DEFAULT_TEST_FRACTION } from './split.ts';

export interface LoadOptions {
  /** Throw DataError at the first bad row instead of skipping and counting it. Default false. */
  strict?: boolean;
  /** Seed of the train/test split. Default 0. */
  seed?: number;
  /** Share of users (PRISM) or questions (GOQA) held out for test. Default 0.15. */
  testFraction?: number;
  /** GOQA: minimum difference of shares for two options to form a pair. Default 0.05. */
  goqaMargin?: number;
  /** PRISM: split users within each country ('stratified', default) or all users pooled ('reference'). */
  splitRule?: SplitRule;
}

export const DEFAULT_GOQA_MARGIN = 0.05;

export function resolveOptions(opts: LoadOptions | undefined): Required<LoadOptions> {
  const r: Required<LoadOptions> = {
    strict: opts?.strict ?? false,
    seed: opts?.seed ?? 0,
    testFraction: opts?.testFraction ?? DEFAULT_TEST_FRACTION,
    goqaMargin: opts?.goqaMargin ?? DEFAULT_GOQA_MARGIN,
    splitRule: opts?.splitRule ?? 'stratified',
  };
  if (r.splitRule !== 'stratified' && r.splitRule !== 'reference') {
    throw new ConfigError(`splitRule must be stratified or reference, got ${String(r.splitRule)}`);
  }
  if (!Number.isFinite(r.seed)) throw new ConfigError(`seed must be a finite number, got ${r.seed}`);
  if (!(r.testFraction >= 0 && r.testFraction <= 1)) {
    throw new ConfigError(`testFraction must be between 0 and 1, got ${r.testFraction}`);
  }
  if (!(r.goqaMargin >= 0 && r.goqaMargin <= 1)) {
    throw new ConfigError(`goqaMargin must be between 0 and 1, got ${r.goqaMargin}`);
  }
  return r;
}

/** Short description of a bad value for messages: the user sees what was there, not a JS type name. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'missing';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : String(v);
  if (typeof v === 'bigint') return `${v}`;
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}
