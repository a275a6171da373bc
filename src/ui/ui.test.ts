// Unit tests of the studio's pure modules: URL-hash schema, derivations, run bundle round trip, zip, actions.
import { crc32 as nodeCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../pipeline/experiment.ts';
import type { ExperimentResult, RunResult } from '../pipeline/experiment.ts';
import type { Item, Pair } from '../pipeline/types.ts';
import * as A from './actions.ts';
import {
  countryPairs,
  edgesAround,
  etaSeconds,
  filterPairs,
  histogramEdges,
  marginsByPair,
  resultsTable,
  smoothLosses,
  sortPairs,
  DEFAULT_PAIR_FILTER,
  runKey,
} from './derive.ts';
import { bundleJson, parseBundle, toCsv, toJson } from './export.ts';
import { DEFAULT_HASH_STATE, encodeHash, parseHash } from './hash.ts';
import { crc32, zip } from './zip.ts';

describe('hash schema', () => {
  it('round-trips a config, data seed and backend', () => {
    const state = {
      config: { ...DEFAULT_CONFIG, countries: ['Chile', 'South Africa'], tau: 0.55, beta: 2, seed: 9, methods: ['start' as const, 'scpo' as const] },
      data: { kind: 'synthetic' as const, seed: 4 },
      backend: 'cpu' as const,
    };
    const h = encodeHash(state);
    expect(h).toContain('South%20Africa');
    const back = parseHash(`#${h}`);
    expect(back.notice).toBeNull();
    expect(back.state).toEqual(state);
  });

  it('gives defaults and a notice for invalid values, unknown keys and methods', () => {
    for (const bad of ['tau=2', 'steps=1.5', 'foo=1', 'methods=scpo,nope', 'tau=', 'tau=0x10', 'data=http://x', 'backend=tpu', 'freeze=maybe']) {
      const r = parseHash(bad);
      expect(r.notice, bad).toMatch(/invalid/);
      expect(r.state).toEqual(DEFAULT_HASH_STATE);
    }
  });

  it('treats an empty hash as no link', () => {
    expect(parseHash('')).toMatchObject({ notice: null, present: false });
    expect(parseHash('#')).toMatchObject({ notice: null, present: false });
  });
});

const items: Item[] = [
  { prompt: 'p0', response: 'alpha' },
  { prompt: 'p0', response: 'beta' },
  { prompt: 'p1', response: 'Gamma <script>' },
  { prompt: 'p1', response: 'delta' },
];
const pair = (chosen: number, rejected: number, country: string, split: 'train' | 'test'): Pair => ({
  chosen,
  rejected,
  country,
  split,
  group: 'u',
  key: 'k',
  scoreChosen: 60,
  scoreRejected: 40,
});
const pairs: Pair[] = [pair(0, 1, 'Chile', 'train'), pair(2, 3, 'Chile', 'train'), pair(1, 0, 'Chile', 'test'), pair(3, 2, 'Mexico', 'test')];
// p_global: sigmoid(2)=0.88 (filtered), sigmoid(-1)=0.27 (kept, weight e^(-1/1.1)), test wrong, test right.
const rPlus = Float32Array.from([2, 0, 0, 1]);
const rMinus = Float32Array.from([0, 1, 1, 0]);
const table = { rPlus, rMinus, margins: null, tau: 0.7, beta: 1.1 };

describe('pair derivations', () => {
  it('filters by kept/filtered, wrong-by-global, weight and text', () => {
    const own = countryPairs(pairs, 'Chile');
    expect(own).toEqual([0, 1, 2]);
    const f = (patch: Partial<typeof DEFAULT_PAIR_FILTER>) => filterPairs(own, pairs, items, table, { ...DEFAULT_PAIR_FILTER, ...patch });
    expect(f({})).toEqual([0, 1, 2]);
    expect(f({ kept: 'kept' })).toEqual([1]);
    expect(f({ kept: 'filtered' })).toEqual([0]);
    expect(f({ kept: 'test' })).toEqual([2]);
    expect(f({ wrongOnly: true })).toEqual([1, 2]);
    expect(f({ weightMax: 0.5 })).toEqual([1, 2]);
    expect(f({ search: 'GAMMA <SCR' })).toEqual([1]);
    expect(f({ search: 'zzz' })).toEqual([]);
  });

  it('sorts stably with unscored pairs last', () => {
    const rp = Float32Array.from([2, NaN, 0, 1]);
    const t = { ...table, rPlus: rp };
    expect(sortPairs([0, 1, 2, 3], pairs, t, 'pGlobal', 'desc')).toEqual([0, 3, 2, 1]);
    expect(sortPairs([0, 1, 2, 3], pairs, t, 'pGlobal', 'asc')).toEqual([2, 3, 0, 1]);
  });

  it('maps margins back to pair indices through the result sets', () => {
    const result = { margins: { Chile: { scpo: Float32Array.from([0.5, -0.25, 1]) } }, sets: { Chile: { train: [0, 1], test: [2], kept: 1, edited: 1 } } } as unknown as ExperimentResult;
    const m = marginsByPair(result, 'Chile', 'scpo', 4) as Float32Array;
    expect(Array.from(m.subarray(0, 3))).toEqual([0.5, -0.25, 1]);
    expect(Number.isNaN(m[3])).toBe(true);
    expect(marginsByPair(result, 'Chile', 'full_ft', 4)).toBeNull();
  });

  it('puts tau exactly on a histogram edge', () => {
    const e = edgesAround(0.7, 20);
    expect(e[0]).toBe(0);
    expect(e[e.length - 1]).toBeCloseTo(1, 12);
    expect(e.some((x) => Math.abs(x - 0.7) < 1e-12)).toBe(true);
    const bins = histogramEdges([0.1, 0.69, 0.7, 0.99, 1, NaN], e, [true, true, false, false, false, true]);
    expect(bins.reduce((n, b) => n + b.count + b.count2, 0)).toBe(5);
    const at = bins.findIndex((b) => Math.abs(b.lo - 0.7) < 1e-12);
    expect(bins[at].count).toBe(1);
    expect(bins[at - 1].count2).toBe(1);
  });
});

const run = (country: string, method: RunResult['method'], accFull: number, accEdited: number): RunResult => ({
  country,
  method,
  accFull,
  accEdited,
  accMajority: 0.5,
  accVal: 0.5,
  trainPairs: 10,
  steps: 5,
  losses: [0.7, 0.6, 0.5],
  points: [{ step: 0, loss: null, accFull, accEdited }],
  ms: 1,
});

describe('results table', () => {
  it('computes percent, deltas vs start, best per row and the macro average', () => {
    const runs = [run('A', 'start', 0.5, 0), run('A', 'scpo', 0.6, 0.4), run('A', 'full_ft', 0.55, 0.5), run('B', 'start', 0.7, 0), run('B', 'scpo', 0.8, 0.3)];
    const { rows, avg } = resultsTable(runs, ['A', 'B'], ['start', 'full_ft', 'scpo']);
    expect(rows[0].cells.scpo).toEqual({ full: 60, edited: 40, dFull: 10, dEdited: 40 });
    expect(rows[0].bestFull).toBe('scpo');
    expect(rows[0].bestEdited).toBe('full_ft');
    expect(rows[1].cells.full_ft).toBeUndefined();
    expect(avg.cells.scpo?.full).toBe(70);
    expect(avg.cells.full_ft?.full).toBe(55);
  });

  it('smooths losses and estimates ETA', () => {
    expect(smoothLosses([1, 3, 5, 7], 2)).toEqual([
      { step: 2, value: 2 },
      { step: 4, value: 6 },
    ]);
    expect(etaSeconds(0.5, 0, 10_000)).toBeCloseTo(10);
    expect(etaSeconds(0, 0, 10_000)).toBeNull();
  });
});

describe('export', () => {
  it('writes JSON without NaN and typed arrays as arrays; CSV quotes and defuses formulas', () => {
    expect(toJson({ a: NaN, b: Float32Array.from([1, NaN]) }, 0)).toBe('{"a":null,"b":[1,null]}');
    expect(toCsv([['a,b', '=1+1', 'x"y', 2, null]])).toBe('"a,b",\'=1+1,"x""y",2,\n');
  });

  it('round-trips a run bundle', () => {
    const result: ExperimentResult = {
      config: DEFAULT_CONFIG,
      source: 'synthetic:0',
      backend: 'cpu',
      rPlus: Float32Array.from([1, NaN]),
      rMinus: Float32Array.from([0, 2]),
      sets: { Chile: { train: [0], val: [], test: [1], kept: 1, edited: 0 } },
      runs: [run('Chile', 'scpo', 0.6, NaN)],
      margins: { Chile: { scpo: Float32Array.from([0.5, -1]) } },
      reports: { full: {}, partial: {}, validation: {}, editedRatios: { train: {}, test: {}, macro: { train: null, test: null } }, bias: { majority: [], countries: {}, avg: {} }, efficiency: { fractions: [], countries: {}, avgRatio: null, neverReached: [] } },
      timings: { totalMs: 5 },
    };
    const b = parseBundle(bundleJson({ result, summary: null, items, pairs, savedAt: 'now' }));
    expect(Array.from(b.result.rPlus)[0]).toBe(1);
    expect(Number.isNaN(b.result.rPlus[1])).toBe(true);
    expect(b.result.margins.Chile.scpo).toBeInstanceOf(Float32Array);
    expect(Number.isNaN(b.result.runs[0].accEdited)).toBe(true);
    expect(b.pairs).toHaveLength(4);
    expect(b.items?.[2].response).toBe('Gamma <script>');
  });

  it('rejects files that are not runs, with a reason', () => {
    expect(() => parseBundle('nope')).toThrow(/not JSON/);
    expect(() => parseBundle('{"hello":1}')).toThrow(/not a saved studio run/);
    expect(() => parseBundle('{"format":"scpo-studio-run","version":1,"result":{}}')).toThrow(/no result/);
    expect(() => parseBundle('{"format":"scpo-studio-run","version":1,"result":{"config":{"tau":9},"runs":[],"reports":{}}}')).toThrow(/tau/);
  });

  it('validates the whole bundle against its schema and names what is wrong', () => {
    const reports = { full: {}, partial: {}, editedRatios: { train: {}, test: {} }, bias: { majority: [], countries: {}, avg: {} }, efficiency: { fractions: [], countries: {}, avgRatio: null, neverReached: [] } };
    const base = { format: 'scpo-studio-run', version: 1, savedAt: 'now', summary: null, items: null, pairs: null };
    const result = { config: { countries: ['Chile'] }, source: 's', backend: 'cpu', rPlus: [], rMinus: [], sets: {}, runs: [], margins: {}, reports, timings: {} };
    const parse = (b: unknown) => () => parseBundle(JSON.stringify(b));
    expect(parse({ ...base, result })).not.toThrow();
    expect(parse({ ...base, summary: {}, result })).toThrow(/^not a valid run: summary\.format: /);
    expect(parse({ ...base, result: { ...result, reports: {} } })).toThrow(/result\.reports\.full: /);
    expect(parse({ ...base, result: { ...result, runs: [{ country: 'Chile', method: 'scpo', trainPairs: 1, steps: 1, accFull: 'high', accEdited: 0, accMajority: 0 }] } })).toThrow(
      /result\.runs\.0\.accFull: /,
    );
    expect(parse({ ...base, result: { ...result, reports: { ...reports, full: { Chile: { magic: 1 } } } } })).toThrow(/result\.reports\.full\.Chile/);
    expect(parse({ ...base, result: { ...result, margins: { Chile: { scpo: 'x' } } } })).toThrow(/result\.margins\.Chile\.scpo/);
    expect(parse({ ...base, result: { ...result, runs: [{ country: 'Peru', method: 'start', trainPairs: 0, steps: 0, accFull: 0.5, accEdited: 0.5, accMajority: 0.5 }] } })).toThrow(/"Peru"/);
    expect(parse({ ...base, items: [{ prompt: 'p', response: 'r' }], pairs: [{ chosen: 0, rejected: 5, country: 'Chile', split: 'train' }], result })).toThrow(/pairs\.0/);
  });

  it('keeps a country named __proto__ through an import, as plain data', () => {
    const text =
      '{"format":"scpo-studio-run","version":1,"savedAt":"now","summary":null,"items":null,"pairs":null,"result":{"config":{"countries":["__proto__"]},' +
      '"source":"s","backend":"cpu","rPlus":[],"rMinus":[],"sets":{"__proto__":{"train":[0],"test":[1],"kept":1,"edited":0}},' +
      '"runs":[{"country":"__proto__","method":"start","trainPairs":0,"steps":0,"accFull":0.5,"accEdited":0.25,"accMajority":0.5,"losses":[],"points":[],"ms":0}],' +
      '"margins":{"__proto__":{"start":[1,2]}},"timings":{},"reports":{"full":{"__proto__":{"start":50},"avg":{"start":50}},"partial":{"__proto__":{"start":25},"avg":{"start":25}},' +
      '"editedRatios":{"train":{"__proto__":1},"test":{"__proto__":0}},"bias":{"majority":[],"countries":{"__proto__":{"start":{"own":50,"majority":50}}},"avg":{}},' +
      '"efficiency":{"fractions":[],"countries":{},"avgRatio":null,"neverReached":[]}}}}';
    const b = parseBundle(text);
    expect(Object.keys(b.result.reports.full)).toEqual(['__proto__', 'avg']);
    expect(b.result.reports.full.__proto__.start).toBe(50);
    expect(Array.from(b.result.margins.__proto__.start ?? [])).toEqual([1, 2]);
    expect(Object.keys(b.result.sets)).toEqual(['__proto__']);
    expect(Object.keys(Object.prototype)).toEqual([]);
  });
});

describe('zip', () => {
  it('matches zlib crc32 and writes a readable stored archive', async () => {
    const data = new TextEncoder().encode('hello, zip');
    expect(crc32(data)).toBe(nodeCrc32(data));
    const z = new Uint8Array(await zip([{ path: 'dir/a.txt', bytes: data }, { path: 'b.bin', bytes: new Uint8Array([0, 1, 2]) }]).arrayBuffer());
    const view = new DataView(z.buffer);
    const eocd = z.length - 22;
    expect(view.getUint32(eocd, true)).toBe(0x06054b50);
    expect(view.getUint16(eocd + 10, true)).toBe(2);
    const cd = view.getUint32(eocd + 16, true);
    expect(view.getUint32(cd, true)).toBe(0x02014b50);
    const nameLen = view.getUint16(30 - 4, true);
    expect(new TextDecoder().decode(z.subarray(30, 30 + nameLen))).toBe('dir/a.txt');
    expect(new TextDecoder().decode(z.subarray(30 + nameLen, 30 + nameLen + data.length))).toBe('hello, zip');
  });
});

describe('actions', () => {
  it('folds live events and the result', () => {
    let s = A.initialState();
    const apply = (p: Partial<A.StudioState>) => (s = { ...s, ...p });
    apply(A.startRun(s, 1, DEFAULT_CONFIG, 0));
    apply(A.applyMessage(s, { type: 'events', id: 1, events: [{ type: 'phase', phase: 'train', done: 0, total: 2, label: 'Chile · scpo' }] }, 10));
    apply(
      A.applyMessage(
        s,
        { type: 'events', id: 1, events: [{ type: 'point', country: 'Chile', method: 'scpo', point: { step: 5, loss: 0.6, accFull: 0.6, accEdited: 0.3 }, totalSteps: 10 }] },
        20,
      ),
    );
    expect(s.live.pointCount).toBe(1);
    expect(s.live.firstPointAt).toBe(20);
    expect(s.run.stepFraction).toBe(0.5);
    expect(s.run.phases.train?.startedAt).toBe(10);
    apply(A.applyMessage(s, { type: 'events', id: 1, events: [{ type: 'backend-fallback', run: 'Chile · scpo', from: 'webgpu', to: 'cpu', reason: 'device lost', atStep: 7, resumedFrom: 5 }] }, 30));
    expect(s.backend?.name).toBe('cpu');
    expect(s.backend?.reason).toContain('device lost');
    expect(s.notices).toHaveLength(1);
  });

  it('shows the finished runs of an interrupted run and marks resumed ones', () => {
    const run = (method: RunResult['method']): RunResult => ({
      country: 'Chile',
      method,
      trainPairs: 10,
      steps: 5,
      accFull: 0.7,
      accEdited: 0.4,
      accMajority: 0.6,
      accVal: 0.6,
      losses: [0.5],
      points: [{ step: 0, loss: null, accFull: 0.5, accEdited: 0 }],
      ms: 1,
    });
    let s = A.initialState();
    const apply = (p: Partial<A.StudioState>) => (s = { ...s, ...p });
    const cfg = { ...DEFAULT_CONFIG, countries: ['Chile'] };
    apply(A.showPartial(s, { config: cfg, data: { kind: 'synthetic', seed: 0 }, model: { kind: 'bundled' }, backend: 'cpu', startedAt: 0, progress: 0.3, label: 'x', runs: [run('start'), run('scpo')] }));
    expect(s.resultOrigin).toBe('partial');
    expect(s.result).toBeNull();
    expect(s.live.runs.map((r) => r.method)).toEqual(['start', 'scpo']);
    expect(s.run.config).toBe(cfg);
    expect(s.interrupted?.runs).toHaveLength(2);
    apply(A.startRun(s, 2, cfg, 0, [run('scpo')]));
    expect(s.live.runs).toHaveLength(1);
    apply(A.applyMessage(s, { type: 'events', id: 2, events: [{ type: 'run', run: run('scpo'), resumed: true }, { type: 'run', run: run('full_ft') }] }, 5));
    expect(s.live.resumed).toEqual([runKey('Chile', 'scpo')]);
    expect(s.live.runs.map((r) => r.method)).toEqual(['scpo', 'full_ft']);
  });

  it('drops selected countries the data lacks, with a notice', () => {
    const s = A.initialState();
    const summary = {
      format: 'goqa' as const,
      source: 'g.csv',
      items: 4,
      pairs: 2,
      tiesDropped: 0,
      identicalTextPairs: 0,
      split: { rule: 'stratified' as const, seed: 0, testFraction: 0.15 },
      countries: { Chile: { users: 1, pairs: 1, trainPairs: 1, testPairs: 0 }, 'United States': { users: 1, pairs: 1, trainPairs: 1, testPairs: 0 } },
      issues: { count: 0, byReason: {}, examples: [] },
    };
    const p = A.applyMessage(s, { type: 'data', id: 1, summary }, 0);
    expect(p.config?.countries).toEqual(['Chile']);
    expect(p.config?.majority).toEqual(['United States']);
    expect(p.notices?.[0].text).toContain('United Kingdom');
  });

  it('a failed load keeps a finished run on screen', () => {
    let s = A.initialState();
    s = { ...s, run: { ...s.run, status: 'done' } };
    const p = A.applyMessage(s, { type: 'error', id: 2, error: { kind: 'data', message: 'x.csv:0:(file): bad', file: 'x.csv' } }, 0);
    expect(p.run).toBeUndefined();
    expect(p.dataStatus).toBe('error');
    expect(p.notices?.[0].text).toBe('Data problem: x.csv:0:(file): bad');
  });
});
