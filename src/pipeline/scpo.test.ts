import { describe, expect, it } from 'vitest';
import { inverseWeight, isEdited, isKept, pGlobal, scpoWeight, sigmoid, trainingSet } from './scpo.ts';

describe('filter and weights', () => {
  it('sigmoid is stable and symmetric', () => {
    expect(sigmoid(0)).toBe(0.5);
    expect(sigmoid(1000)).toBe(1);
    expect(sigmoid(-1000)).toBe(0);
    expect(sigmoid(2) + sigmoid(-2)).toBeCloseTo(1, 12);
    expect(pGlobal(1.5, 0.5)).toBeCloseTo(1 / (1 + Math.exp(-1)), 12);
  });

  it('keeps a pair iff sigmoid(r+ - r-) < tau', () => {
    // sigmoid(1) = 0.7311 >= 0.7: dropped; sigmoid(0.8) = 0.6900 < 0.7: kept.
    expect(isKept(1, 0, 0.7)).toBe(false);
    expect(isKept(0.8, 0, 0.7)).toBe(true);
    expect(isKept(-3, 0, 0.7)).toBe(true);
    // Boundary: p exactly tau is not kept (strict inequality).
    expect(isKept(0, 0, 0.5)).toBe(false);
  });

  it('scpo weight w = min(exp((r+ - r-)/beta), 1)', () => {
    expect(scpoWeight(2, 0, 1.1)).toBe(1);
    expect(scpoWeight(0, 0, 1.1)).toBe(1);
    expect(scpoWeight(0, 1, 1.1)).toBeCloseTo(Math.exp(-1 / 1.1), 12); // 0.40289...
    expect(scpoWeight(0, 1, 1.1)).toBeCloseTo(0.402890, 5);
    expect(scpoWeight(-1000, 1000, 1.1)).toBe(0);
  });

  it('inverse weight w = max(exp(r- - r+), 1)', () => {
    expect(inverseWeight(1, 0)).toBe(1);
    expect(inverseWeight(0, 1)).toBeCloseTo(Math.E, 12);
    expect(inverseWeight(0, 2.5)).toBeCloseTo(Math.exp(2.5), 10);
  });

  it('edited = the global RM ranks the pair wrong', () => {
    expect(isEdited(0, 1)).toBe(true);
    expect(isEdited(1, 0)).toBe(false);
    expect(isEdited(1, 1)).toBe(false);
  });
});

describe('training sets per method', () => {
  // Three candidate pairs: confidently right (d=3), unsure (d=0.2), wrong (d=-2).
  const cand = [10, 11, 12];
  const rp = [3, 0.2, 0];
  const rm = [0, 0, 2];
  const tau = 0.7;
  const beta = 1.1;
  it('start trains on nothing', () => {
    expect(trainingSet('start', cand, rp, rm, tau, beta).pairs).toEqual([]);
  });
  it('full_ft: all pairs, weight 1', () => {
    expect(trainingSet('full_ft', cand, rp, rm, tau, beta)).toEqual({ pairs: [10, 11, 12], weights: [1, 1, 1] });
  });
  it('filter_only drops the confident pair', () => {
    expect(trainingSet('filter_only', cand, rp, rm, tau, beta)).toEqual({ pairs: [11, 12], weights: [1, 1] });
  });
  it('weight_only keeps all with scpo weights', () => {
    const t = trainingSet('weight_only', cand, rp, rm, tau, beta);
    expect(t.pairs).toEqual([10, 11, 12]);
    expect(t.weights[0]).toBe(1);
    expect(t.weights[1]).toBe(1);
    expect(t.weights[2]).toBeCloseTo(Math.exp(-2 / 1.1), 12);
  });
  it('scpo filters and weights', () => {
    const t = trainingSet('scpo', cand, rp, rm, tau, beta);
    expect(t.pairs).toEqual([11, 12]);
    expect(t.weights[1]).toBeCloseTo(0.16234, 4);
  });
  it('inverse filters and up-weights disputed pairs', () => {
    const t = trainingSet('inverse', cand, rp, rm, tau, beta);
    expect(t.pairs).toEqual([11, 12]);
    expect(t.weights[0]).toBe(1);
    expect(t.weights[1]).toBeCloseTo(Math.exp(2), 10);
  });
});
