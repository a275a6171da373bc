// Flag parsing shared by the headless CLIs (scpo, ppo): `--help` prints the usage and exits 0, an unknown flag or
// a bad value is one ConfigError line ending in "see --help".
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { ConfigError } from './types.ts';

/** Thrown for --help / -h: the entry point prints `usage` to stdout and exits 0. */
export class HelpRequested extends Error {
  constructor(readonly usage: string) {
    super('help requested');
    this.name = 'HelpRequested';
  }
}

/** parseArgs with the CLIs' conventions; `options` must not declare `help` (it is handled here). */
export function parseFlags<O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O, usage: string) {
  if (argv.includes('--help') || argv.includes('-h')) throw new HelpRequested(usage);
  try {
    return parseArgs({ args: argv, allowPositionals: false, strict: true, options }).values;
  } catch (e) {
    const err = e as Error & { code?: string };
    const unknown = /^Unknown option '([^']+)'/.exec(err.message);
    if (unknown) throw new ConfigError(`unknown flag ${unknown[1]}; see --help`);
    // Node's messages are several sentences; the first one says what is wrong.
    throw new ConfigError(`${err.message.split(/\.\s|\n/)[0]}; see --help`);
  }
}

export function listFlag(v: string | undefined): string[] | undefined {
  return v === undefined ? undefined : v.split(',').map((s) => s.trim()).filter(Boolean);
}

export function numberFlag(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new ConfigError(`--${flag} expects a number, got "${v}"`);
  return n;
}
