// The schema of an imported run bundle (zod): every field the studio reads is checked before anything is shown, so a
// hand-edited or truncated file is rejected with the path of what is wrong instead of blanking the page. Records keyed
// by data (countries) are validated entry by entry into prototype-free records (zod's own z.record drops a
// "__proto__" key, which is a legitimate country name here).
import { z } from 'zod';
import { dict } from '../pipeline/dict.ts';
import { METHODS } from '../pipeline/types.ts';

/** JSON has no NaN: exported bundles write it as null (toJson), read back as NaN. */
const num = z.number().nullable().transform((x) => (x === null ? Number.NaN : x));
const numOrNull = z.number().nullable();
const int = z.number().int().nonnegative();
const method = z.enum(METHODS);

/**
 * A record keyed by data (country names) whose values follow `value`: own keys only, into a prototype-free record.
 * `optional`: a missing record reads as empty (fields older bundles may lack).
 */
function dictOf<S extends z.ZodType>(value: S, optional = false) {
  return z.unknown().transform((v, ctx): Record<string, z.output<S>> => {
    const out = dict<z.output<S>>();
    if (v === undefined && optional) return out;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      ctx.addIssue({ code: 'custom', message: `expected an object, got ${v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v}` });
      return z.NEVER;
    }
    for (const [k, x] of Object.entries(v)) {
      const r = value.safeParse(x);
      if (r.success) out[k] = r.data;
      else for (const i of r.error.issues) ctx.addIssue({ code: 'custom', message: i.message, path: [k, ...i.path] });
    }
    return out;
  });
}

/** Per method (only known method names; others are an error). */
function byMethod<S extends z.ZodType>(value: S) {
  return z.partialRecord(method, value);
}

const livePoint = z.object({ step: num, loss: numOrNull, accFull: num, accEdited: num });

export const runSchema = z.object({
  country: z.string(),
  method,
  trainPairs: num,
  steps: num,
  accFull: num,
  accEdited: num,
  accMajority: num,
  // Runs saved before the validation split have none.
  accVal: num.default(Number.NaN),
  losses: z.array(num).default([]),
  points: z.array(livePoint).default([]),
  ms: num.default(Number.NaN),
});

const efficiencyPoint = z.object({ pairs: z.number(), accuracy: num });
const efficiencyEntry = z.object({
  fullFt: z.array(efficiencyPoint),
  scpo: efficiencyPoint,
  fullFtPairsForScpoAccuracy: numOrNull,
  ratio: numOrNull,
});

const accuracyTable = dictOf(byMethod(numOrNull));

const reports = z.object({
  full: accuracyTable,
  partial: accuracyTable,
  validation: accuracyTable.default({}),
  editedRatios: z.object({
    train: dictOf(numOrNull),
    test: dictOf(numOrNull),
    macro: z.object({ train: numOrNull, test: numOrNull }).default({ train: null, test: null }),
  }),
  bias: z.object({
    majority: z.array(z.string()),
    countries: dictOf(byMethod(z.object({ own: numOrNull, majority: numOrNull }))),
    avg: byMethod(z.object({ own: numOrNull, majority: numOrNull })),
  }),
  efficiency: z.object({
    fractions: z.array(z.number()),
    countries: dictOf(efficiencyEntry),
    avgRatio: numOrNull,
    neverReached: z.array(z.string()),
    skipped: z.string().optional(),
  }),
});

const f32 = z.array(z.number().nullable()).transform((a) => Float32Array.from(a, (x) => (x === null ? Number.NaN : x)));

/** The result apart from its config (checked by resolveConfig, which gives the form's messages). */
export const resultSchema = z.object({
  source: z.string().default('imported'),
  backend: z.string().default('unknown'),
  rPlus: f32.default(() => new Float32Array(0)),
  rMinus: f32.default(() => new Float32Array(0)),
  sets: dictOf(z.object({ train: z.array(int), val: z.array(int).default([]), test: z.array(int), kept: num, edited: num }), true),
  runs: z.array(runSchema),
  margins: dictOf(byMethod(f32), true),
  reports,
  timings: dictOf(num, true),
});

export const summarySchema = z.object({
  format: z.enum(['prism', 'goqa']),
  source: z.string(),
  items: int,
  pairs: int,
  tiesDropped: int,
  identicalTextPairs: int.default(0),
  split: z
    .object({ rule: z.enum(['stratified', 'reference']), seed: z.number(), testFraction: z.number() })
    .default({ rule: 'stratified', seed: 0, testFraction: 0.15 }),
  countries: dictOf(z.object({ users: int, pairs: int, trainPairs: int, testPairs: int })),
  issues: z.object({
    count: int,
    byReason: dictOf(int),
    examples: z.array(z.object({ file: z.string(), line: int, field: z.string(), message: z.string() })),
  }),
});

export const itemsSchema = z.array(z.object({ prompt: z.string(), response: z.string() }));
export const pairsSchema = z.array(
  z.object({
    chosen: int,
    rejected: int,
    country: z.string(),
    group: z.string().default(''),
    key: z.string().default(''),
    split: z.enum(['train', 'test']),
    scoreChosen: num.default(Number.NaN),
    scoreRejected: num.default(Number.NaN),
  }),
);

/** The first few problems as "path: message" (e.g. "result.reports.full.Chile.scpo: expected number, received string"). */
export function describeIssues(prefix: string, error: z.ZodError, max = 3): string {
  const parts = error.issues.slice(0, max).map((i) => {
    const path = [prefix, ...i.path.map(String)].filter((p) => p !== '').join('.');
    return `${path}: ${i.message}`;
  });
  const more = error.issues.length - max;
  return parts.join('; ') + (more > 0 ? ` (and ${more} more)` : '');
}

