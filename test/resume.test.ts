// Resuming an interrupted experiment: finished (country, method) runs are reused, not trained again, and the
// result equals an uninterrupted run's (per-run seeds come from hashSeed(seed, country, method)).
import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../src/gpu/cpu/trainer.ts';
import { loadSynthetic } from '../src/pipeline/data/index.ts';
import { resolveConfig } from '../src/pipeline/experiment.ts';
import type { CompletedRuns, ExperimentEvent, RunResult } from '../src/pipeline/experiment.ts';
import { runSession } from '../src/pipeline/session.ts';
import type { Method } from '../src/pipeline/types.ts';
import { parseToWorker } from '../src/workers/protocol.ts';
import { tinyModel } from './helpers/tiny-model.ts';

const countries = ['Chile', 'Mexico'];

async function runSmall(completed?: CompletedRuns) {
  const data = await loadSynthetic(0, { scale: 0.3 }, { seed: 0 });
  const model = tinyModel(data);
  const config = resolveConfig({ countries, steps: 30, evalPoints: 3, seed: 0 });
  const events: ExperimentEvent[] = [];
  const out = await runSession({
    data,
    model,
    backend: cpuBackend,
    config,
    globalRm: 'train',
    globalTrain: { steps: 150 },
    onEvent: (e) => events.push(e),
    completed,
  });
  return { ...out, events };
}

const trainedPoints = (events: ExperimentEvent[]) => events.filter((e) => e.type === 'point' && e.point.step > 0);
const runEvents = (events: ExperimentEvent[]) => events.filter((e): e is Extract<ExperimentEvent, { type: 'run' }> => e.type === 'run');

describe('resuming an interrupted experiment', () => {
  it('skips the finished runs and gives the uninterrupted result', async () => {
    const full = await runSmall();
    // What the studio persists as the runs arrive: each 'run' event's result and margins.
    const finished = runEvents(full.events).filter((e) => e.run.method !== 'start').slice(0, 3);
    expect(finished.length).toBe(3);
    for (const e of finished) expect(e.margins).toBeInstanceOf(Float32Array);
    const completed: CompletedRuns = { runs: [], margins: {} };
    for (const e of finished) {
      completed.runs.push(structuredClone(e.run));
      (completed.margins[e.run.country] ??= {})[e.run.method] = Float32Array.from(e.margins!);
    }
    // The worker accepts it (structured clone keeps the Float32Arrays) and rejects a malformed one.
    const msg = { type: 'run', id: 1, config: full.result.config, data: { kind: 'synthetic', seed: 0 }, model: { kind: 'bundled' }, backend: 'cpu', strict: false };
    expect(parseToWorker(structuredClone({ ...msg, completed }))).not.toBeNull();
    expect(parseToWorker({ ...msg, completed: { runs: [{ country: 'Chile' }], margins: {} } })).toBeNull();
    expect(parseToWorker({ ...msg, completed: { runs: [], margins: { Chile: { scpo: [1, 2] } } } })).toBeNull();

    const resumed = await runSmall(completed);
    expect(resumed.result.reports).toEqual(full.result.reports);
    expect(resumed.result.runs.map((r: RunResult) => [r.country, r.method, r.accFull, r.accEdited, r.accMajority])).toEqual(
      full.result.runs.map((r: RunResult) => [r.country, r.method, r.accFull, r.accEdited, r.accMajority]),
    );
    for (const c of countries) {
      for (const m of Object.keys(full.result.margins[c]) as Method[]) expect(resumed.result.margins[c][m]).toEqual(full.result.margins[c][m]);
    }
    // Every run is still announced, the reused ones marked; only the missing ones trained (live points).
    const rs = runEvents(resumed.events);
    expect(rs.length).toBe(runEvents(full.events).length);
    expect(rs.filter((e) => e.resumed).map((e) => `${e.run.country}/${e.run.method}`)).toEqual(finished.map((e) => `${e.run.country}/${e.run.method}`));
    const skippedKeys = new Set(finished.map((e) => `${e.run.country}/${e.run.method}`));
    const pts = trainedPoints(resumed.events);
    expect(pts.length).toBeGreaterThan(0);
    expect(pts.some((e) => e.type === 'point' && skippedKeys.has(`${e.country}/${e.method}`))).toBe(false);
    expect(pts.length).toBe(trainedPoints(full.events).filter((e) => e.type === 'point' && !skippedKeys.has(`${e.country}/${e.method}`)).length);
  }, 120_000);

  it('trains a completed run again when it does not fit the config', async () => {
    const full = await runSmall();
    const e = runEvents(full.events).find((x) => x.run.method === 'scpo')!;
    // Wrong margins length (other data): not reused.
    const completed: CompletedRuns = { runs: [e.run], margins: { [e.run.country]: { scpo: new Float32Array(3) } } };
    const again = await runSmall(completed);
    expect(runEvents(again.events).some((x) => x.resumed)).toBe(false);
    expect(again.result.reports).toEqual(full.result.reports);
  }, 120_000);
});
