// Pairwise accuracy count: out[0] = #{i : S[chosen[i]] > S[rejected[i]]} (ties count as wrong, like the CPU
// eval). One workgroup of 256 counts strided pairs, then a tree sum of integers: exact and deterministic.
import { checkDims, checkInputs, reduceProgram, type BindingSpec, type KernelDef, type KernelProgram } from './kernel.ts';

export interface PairAccuracyDims {
  /** Scores available. */
  items: number;
  pairs: number;
}

export interface PairAccuracyInputs extends Record<string, Float32Array | Int32Array> {
  S: Float32Array;
  chosen: Int32Array;
  rejected: Int32Array;
}

export interface PairAccuracyOutputs extends Record<string, Uint32Array> {
  count: Uint32Array;
}

function validate(d: PairAccuracyDims): void {
  checkDims(d, { items: 0, pairs: 0 });
}

function attributes(_d: PairAccuracyDims) {
  return { key: 'pairAccuracy' };
}

function bindings(d: PairAccuracyDims): BindingSpec[] {
  return [
    { name: 'S', access: 'read', dtype: 'f32', elements: d.items },
    { name: 'chosen', access: 'read', dtype: 'i32', elements: d.pairs },
    { name: 'rejected', access: 'read', dtype: 'i32', elements: d.pairs },
    { name: 'count', access: 'read_write', dtype: 'u32', elements: 1 },
  ];
}

function program(d: PairAccuracyDims): KernelProgram {
  validate(d);
  return reduceProgram({
    kernel: 'pairAccuracy',
    key: attributes(d).key,
    bindings: bindings(d),
    count: ['pairs', 'u32', d.pairs],
    acc: 'u32',
    item: `{
    if (S[chosen[i]] > S[rejected[i]]) { acc += 1u; }
  }`,
  });
}

function cpu(d: PairAccuracyDims, x: PairAccuracyInputs): PairAccuracyOutputs {
  validate(d);
  checkInputs(bindings(d), x);
  let n = 0;
  for (let i = 0; i < d.pairs; i++) {
    const c = x.chosen[i];
    const r = x.rejected[i];
    if (!(c >= 0 && c < d.items && r >= 0 && r < d.items)) throw new RangeError(`pair ${i} indexes outside the scores`);
    if (x.S[c] > x.S[r]) n++;
  }
  return { count: Uint32Array.of(n) };
}

export const pairAccuracy: KernelDef<PairAccuracyDims, PairAccuracyInputs, PairAccuracyOutputs> = {
  name: 'pairAccuracy',
  validate,
  attributes,
  program,
  cpu,
  outputs: ['count'],
};
