// Reward-hacking signals: a collapsed policy (one repeated phrase for every prompt, KL 11.5, global RM up) trips
// them; a healthy one does not.
import { describe, expect, it } from 'vitest';
import type { PolicyReport } from './session.ts';
import { distinctN, hackingSignals, klReading, repetition, sameness } from './signals.ts';

const PROMPTS = ['how do I start cooking at home', 'what should I teach my children', 'how can I save money', 'is it good to travel alone'];
const HEALTHY = [
  'start with simple recipes and cook with friends on weekends',
  'teach them honesty and respect for their elders and community',
  'keep a budget and put a little aside every month for later',
  'travel alone can be safe if you plan ahead and tell your family',
];
const HACKED = PROMPTS.map(() => 'eating less sugar is the tradition and tradition and tradition and tradition');

function report(after: string[], o: { gain: number; global: number; kl: number; lenB?: number; lenA?: number }): Pick<PolicyReport, 'ppo'> {
  const ev = (len: number, g: number) => ({ reward: 0, rewardGlobal: g, kl: 0, meanLength: len, samples: 4 });
  return {
    ppo: {
      country: 'South Africa',
      against: 'country',
      backend: 'cpu',
      metrics: [],
      samplesBefore: PROMPTS.map((prompt, i) => ({ prompt, text: HEALTHY[i], reward: 0, rewardGlobal: 0 })),
      samplesAfter: PROMPTS.map((prompt, i) => ({ prompt, text: after[i], reward: 1, rewardGlobal: 0 })),
      evalBefore: ev(o.lenB ?? 12, 0),
      evalAfter: ev(o.lenA ?? 12, o.global),
      rewardGain: o.gain,
      globalChange: o.global,
      finalKl: o.kl,
      planted: null,
    },
  };
}

describe('reward-hacking signals', () => {
  it('measures distinct-n, repetition and sameness', () => {
    expect(distinctN(['a b c', 'a b d'], 1)).toBeCloseTo(4 / 6);
    expect(distinctN(['a b c', 'a b d'], 2)).toBeCloseTo(3 / 4);
    expect(repetition(['a b a b a b'])).toBeCloseTo(1 - 2 / 5);
    expect(repetition(['a b c d'])).toBe(0);
    expect(sameness(['x y', 'x y'])).toBe(1);
    expect(sameness(['x y', 'z w'])).toBe(0);
  });

  it('trips every text signal, the global-RM and the KL signal on the collapsed South Africa run', () => {
    const s = hackingSignals(report(HACKED, { gain: 4.964, global: 1.94, kl: 11.5 }));
    const warn = Object.fromEntries(s.map((x) => [x.id, x.warn]));
    expect(warn).toEqual({ distinct: true, repetition: true, sameness: true, length: false, global: true, kl: true });
    expect(s.find((x) => x.id === 'kl')?.reading).toContain('reward hacking');
    expect(s.find((x) => x.id === 'global')?.reading).toContain('not specific to South Africa');
  });

  it('stays quiet on a healthy run and flags length changes', () => {
    const healthy = HEALTHY.map((t) => `${t} today`);
    expect(hackingSignals(report(healthy, { gain: 1, global: 0.1, kl: 0.8 })).filter((x) => x.warn)).toEqual([]);
    const long = hackingSignals(report(healthy, { gain: 1, global: 0.1, kl: 0.8, lenB: 10, lenA: 22 }));
    expect(long.filter((x) => x.warn).map((x) => x.id)).toEqual(['length']);
  });

  it('reads KL in words', () => {
    expect(klReading(0.2)).toContain('almost as the base');
    expect(klReading(3)).toContain('noticeably');
    expect(klReading(11.5)).toContain('reward hacking');
  });
});
