// Helpers every view shares: the key of a (country, method) run and number formatting.
import type { Method } from '../../pipeline/types.ts';

export const runKey = (country: string, method: Method): string => `${country}\u0000${method}`;

export const fmt = (v: number | null | undefined, digits = 2): string =>
  v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits);
