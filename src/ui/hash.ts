// The URL-hash schema of the studio: a run's config, seed, data source and backend preference as a typed,
// validated query string, so a copied link reproduces a run. A bad hash yields the defaults plus a notice.
import { DEFAULT_CONFIG, resolveConfig } from '../pipeline/experiment.ts';
import type { ExperimentConfig } from '../pipeline/experiment.ts';
import { METHODS } from '../pipeline/types.ts';
import type { Method } from '../pipeline/types.ts';
import type { BackendPref } from '../workers/protocol.ts';

/** Where the data of a linked run comes from: the synthetic generator (reproducible) or files the user holds. */
export type HashData = { kind: 'synthetic'; seed: number } | { kind: 'files' };

export interface HashState {
  config: ExperimentConfig;
  data: HashData;
  backend: BackendPref;
}

export interface HashParse {
  state: HashState;
  /** Set when the hash was present but unusable; the studio shows it and falls back to the defaults. */
  notice: string | null;
  /** True when the hash carried a config at all (an empty hash is not an error). */
  present: boolean;
}

export const DEFAULT_HASH_STATE: HashState = {
  config: DEFAULT_CONFIG,
  data: { kind: 'synthetic', seed: 0 },
  backend: 'auto',
};

const BACKENDS: readonly BackendPref[] = ['auto', 'cpu', 'webgpu'];

// One row per field: how it is written, and how it is read back (throwing on anything malformed).
type Field = {
  key: string;
  write: (s: HashState) => string;
  read: (raw: string, into: { config: Partial<ExperimentConfig>; data?: HashData; backend?: BackendPref }) => void;
};

function parseNumber(key: string, raw: string): number {
  // Number('') is 0 and Number(' 1 ') is 1: insist on a plain numeric literal.
  if (!/^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(raw)) throw new Error(`${key}: "${raw}" is not a number`);
  return Number(raw);
}

function parseList(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function parseBool(key: string, raw: string): boolean {
  if (raw === '1' || raw === 'true') return true;
  if (raw === '0' || raw === 'false') return false;
  throw new Error(`${key}: "${raw}" is not 0/1`);
}

const numField = (key: keyof ExperimentConfig & string): Field => ({
  key,
  write: (s) => String(s.config[key]),
  read: (raw, into) => {
    (into.config as Record<string, unknown>)[key] = parseNumber(key, raw);
  },
});

const FIELDS: Field[] = [
  {
    key: 'countries',
    write: (s) => s.config.countries.join(','),
    read: (raw, into) => {
      into.config.countries = parseList(raw);
    },
  },
  {
    key: 'majority',
    write: (s) => s.config.majority.join(','),
    read: (raw, into) => {
      into.config.majority = parseList(raw);
    },
  },
  {
    key: 'methods',
    write: (s) => s.config.methods.join(','),
    read: (raw, into) => {
      const ms = parseList(raw);
      const bad = ms.filter((m) => !(METHODS as readonly string[]).includes(m));
      if (bad.length) throw new Error(`methods: unknown ${bad.map((b) => `"${b}"`).join(', ')}`);
      into.config.methods = ms as Method[];
    },
  },
  numField('tau'),
  numField('beta'),
  numField('steps'),
  numField('epochs'),
  numField('batch'),
  numField('lr'),
  numField('weightDecay'),
  numField('seed'),
  numField('evalPoints'),
  {
    key: 'freeze',
    write: (s) => (s.config.freezeEmbeddings ? '1' : '0'),
    read: (raw, into) => {
      into.config.freezeEmbeddings = parseBool('freeze', raw);
    },
  },
  {
    key: 'efficiency',
    write: (s) => (s.config.efficiency ? '1' : '0'),
    read: (raw, into) => {
      into.config.efficiency = parseBool('efficiency', raw);
    },
  },
  {
    key: 'fractions',
    write: (s) => s.config.efficiencyFractions.join(','),
    read: (raw, into) => {
      into.config.efficiencyFractions = parseList(raw).map((f) => parseNumber('fractions', f));
    },
  },
  {
    key: 'data',
    write: (s) => (s.data.kind === 'synthetic' ? `synthetic:${s.data.seed}` : 'files'),
    read: (raw, into) => {
      if (raw === 'files') {
        into.data = { kind: 'files' };
        return;
      }
      const m = /^synthetic:(\d{1,10})$/.exec(raw);
      if (!m) throw new Error(`data: "${raw}" is neither synthetic:<seed> nor files`);
      into.data = { kind: 'synthetic', seed: Number(m[1]) };
    },
  },
  {
    key: 'backend',
    write: (s) => s.backend,
    read: (raw, into) => {
      if (!(BACKENDS as readonly string[]).includes(raw)) throw new Error(`backend: "${raw}" is not one of ${BACKENDS.join(', ')}`);
      into.backend = raw as BackendPref;
    },
  },
];

/** Serialises a state to a hash (without the leading '#'). Every field is written, so links survive default changes. */
export function encodeHash(s: HashState): string {
  const q = new URLSearchParams();
  for (const f of FIELDS) q.set(f.key, f.write(s));
  // URLSearchParams writes spaces as '+'; %20 reads back the same and is what people expect in a link.
  return q.toString().replace(/\+/g, '%20');
}

/** Parses a hash (with or without '#'). Unknown keys and any invalid value reject the whole hash (no half-applied links). */
export function parseHash(hash: string): HashParse {
  const raw = hash.startsWith('#') ? hash.slice(1) : hash;
  if (raw.trim() === '') return { state: DEFAULT_HASH_STATE, notice: null, present: false };
  let q: URLSearchParams;
  try {
    q = new URLSearchParams(raw);
  } catch {
    return { state: DEFAULT_HASH_STATE, notice: 'The link could not be read; using the defaults.', present: true };
  }
  const into: { config: Partial<ExperimentConfig>; data?: HashData; backend?: BackendPref } = { config: {} };
  const known = new Map(FIELDS.map((f) => [f.key, f]));
  try {
    for (const [k, v] of q) {
      const f = known.get(k);
      if (!f) throw new Error(`unknown setting "${k}"`);
      f.read(v, into);
    }
    const config = resolveConfig(into.config);
    return {
      state: { config, data: into.data ?? DEFAULT_HASH_STATE.data, backend: into.backend ?? 'auto' },
      notice: null,
      present: true,
    };
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return { state: DEFAULT_HASH_STATE, notice: `The link's settings are invalid (${why}); using the defaults.`, present: true };
  }
}
