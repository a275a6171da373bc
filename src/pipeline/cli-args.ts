// Flag-value parsing shared by the headless CLIs (scpo, ppo): bad values become a one-line ConfigError.
import { ConfigError } from './types.ts';

export function listFlag(v: string | undefined): string[] | undefined {
  return v === undefined ? undefined : v.split(',').map((s) => s.trim()).filter(Boolean);
}

export function numberFlag(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new ConfigError(`--${flag} expects a number, got "${v}"`);
  return n;
}
