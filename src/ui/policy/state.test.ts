// The policy panel's pure state: worker messages fold into the state (and stale runs are ignored), the form maps
// to a valid session config, and the protocol validators reject malformed messages.
import { describe, expect, it } from 'vitest';
import { resolvePolicySession } from '../../pipeline/policy/session.ts';
import { parseFromPolicyWorker, parseToPolicyWorker } from '../../workers/policy-protocol.ts';
import { addFinished, applyMessage, DEFAULT_FORM, initialPolicyState, metricRows, sessionConfig, startRun } from './state.ts';

const metrics = (step: number) => ({ step, reward: step, rewardGlobal: -step, kl: 0.1 * step, klSampled: 0, entropy: 1, clipFrac: 0.25, approxKl: 0, valueLoss: 0, klCoef: 0.1, objective: 0, meanLength: 10, ms: 5 });

describe('policy panel state', () => {
  it('folds updates of the current run and ignores other runs', () => {
    let s = startRun(initialPolicyState(), 7);
    expect(s.status).toBe('running');
    s = applyMessage(s, { type: 'backend', id: 7, name: 'cpu', reason: 'cpu requested' });
    s = applyMessage(s, {
      type: 'updates',
      id: 7,
      updates: [
        { type: 'phase', phase: 'ppo', label: 'PPO' },
        { type: 'ppo-step', metrics: metrics(1), total: 3 },
        { type: 'ppo-live', step: 1, prompt: 'p', text: 'hello', done: false },
        { type: 'bestofn-prompt', done: 1, total: 2, row: { prompt: 'p', responses: ['a', 'b'], scores: { global: [1, 2], X: [2, 1] }, picks: { global: 1, X: 0 } } },
      ],
    });
    s = applyMessage(s, { type: 'updates', id: 6, updates: [{ type: 'ppo-step', metrics: metrics(9), total: 3 }] });
    expect(s.metrics.map((m) => m.step)).toEqual([1]);
    expect(s.ppoLive?.text).toBe('hello');
    expect(s.bonRows).toHaveLength(1);
    expect(s.backend?.name).toBe('cpu');
    expect(metricRows(s.metrics)[0]).toEqual({ step: 1, reward: 1, global: -1, kl: 0.1, entropy: 1, clip: 25 });
    s = applyMessage(s, { type: 'error', id: 7, error: { kind: 'cancelled', message: 'run cancelled' } });
    expect(s.status).toBe('cancelled');
    expect(s.error).toBe('');
  });

  it('streams a playground generation', () => {
    let s = initialPolicyState();
    s = { ...s, gen: { id: 3, text: '', done: false, which: 'base', ms: null } };
    s = applyMessage(s, { type: 'token', id: 3, index: 0, text: 'the', eos: false });
    s = applyMessage(s, { type: 'token', id: 3, index: 1, text: ' plan', eos: false });
    expect(s.gen.text).toBe('the plan');
    s = applyMessage(s, { type: 'generated', id: 3, generation: { prompt: 'x', text: 'the plan', tokens: [1, 2], logprobs: [-1, -1], finish: 'eos', ms: 4 } });
    expect(s.gen.done).toBe(true);
    expect(s.gen.ms).toBe(4);
  });

  it('keeps one side-by-side row per (country, target RM), replaced by newer runs, across runs', () => {
    const row = (country: string, gain: number, against: 'country' | 'global' = 'country') => ({
      country, against, steps: 3, rewardGain: gain, globalChange: 0, finalKl: 1, disagreementAfter: 0.5, towardCountry: null, warnings: [],
    });
    let rows = addFinished([], row('Mexico', 1));
    rows = addFinished(rows, row('Chile', 2));
    rows = addFinished(rows, row('Mexico', 3));
    rows = addFinished(rows, row('Mexico', 4, 'global'));
    expect(rows.map((r) => [r.country, r.against, r.rewardGain])).toEqual([
      ['Chile', 'country', 2],
      ['Mexico', 'country', 3],
      ['Mexico', 'global', 4],
    ]);
    // A new run starts with the finished table of earlier runs.
    const s = { ...initialPolicyState(), finished: rows };
    expect(startRun(s, 9).finished).toBe(rows);
  });

  it('the default form is a valid session config', () => {
    const c = resolvePolicySession(sessionConfig(DEFAULT_FORM));
    expect(c.ppo.steps).toBe(DEFAULT_FORM.ppoSteps);
    expect(c.bestOfN.n).toBe(DEFAULT_FORM.bonN);
    expect(() => resolvePolicySession(sessionConfig({ ...DEFAULT_FORM, bonN: 0 }))).toThrow(/bestOfN.n/);
  });
});

describe('policy worker protocol', () => {
  it('accepts well-formed messages and rejects malformed ones', () => {
    expect(parseToPolicyWorker({ type: 'start', id: 1, config: {}, data: { kind: 'synthetic', seed: 0 }, backend: 'auto', policy: 'bundled' })).not.toBeNull();
    expect(parseToPolicyWorker({ type: 'start', id: 1, config: {}, data: { kind: 'prism' }, backend: 'auto', policy: 'bundled' })).toBeNull();
    expect(parseToPolicyWorker({ type: 'generate', id: 2, prompt: 'hi', sampling: { temperature: 1, topK: 0, topP: 1, maxTokens: 5, seed: 0 }, which: 'ppo' })).not.toBeNull();
    expect(parseToPolicyWorker({ type: 'generate', id: 2, prompt: 'hi', sampling: {}, which: 'ppo' })).toBeNull();
    expect(parseToPolicyWorker({ type: 'cancel', id: 3 })).toEqual({ type: 'cancel', id: 3 });
    expect(parseToPolicyWorker({ type: 'nope', id: 3 })).toBeNull();
    expect(parseFromPolicyWorker({ type: 'updates', id: 1, updates: [{ type: 'ppo-step', metrics: metrics(1), total: 2 }] })).not.toBeNull();
    expect(parseFromPolicyWorker({ type: 'updates', id: 1, updates: [{ type: 'ppo-step', metrics: { step: 'x' }, total: 2 }] })).toBeNull();
    expect(parseFromPolicyWorker({ type: 'error', id: 1, error: { kind: 'weird', message: 'x' } })).toBeNull();
    expect(parseFromPolicyWorker({ type: 'result', id: 1, report: { kind: 'other' } })).toBeNull();
    expect(parseFromPolicyWorker({ type: 'token', id: 1, index: 0, text: 'a', eos: false })).not.toBeNull();
  });
});
