// Pairwise accuracy count: out[0] = #{i : S[chosen[i]] > S[rejected[i]]} (ties count as wrong, like the CPU
// eval). One workgroup of 256 counts strided pairs, then a tree sum of integers: exact and deterministic.
import {
  checkInt,
  checkLength,
  declareBindings,
  packUniforms,
  uniformStruct,
  type KernelDef,
  type KernelProgram,
} from './kernel.ts';

const RWG = 256;

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
  checkInt('items', d.items, 0);
  checkInt('pairs', d.pairs, 0);
}

function attributes(_d: PairAccuracyDims) {
  return { key: 'pairAccuracy' };
}

function program(d: PairAccuracyDims): KernelProgram {
  validate(d);
  const bindings = [
    { name: 'S', access: 'read', dtype: 'f32', elements: d.items },
    { name: 'chosen', access: 'read', dtype: 'i32', elements: d.pairs },
    { name: 'rejected', access: 'read', dtype: 'i32', elements: d.pairs },
    { name: 'count', access: 'read_write', dtype: 'u32', elements: 1 },
  ] as const;
  const wgsl = `
${declareBindings([...bindings], uniformStruct([['pairs', 'u32']]))}
var<workgroup> part: array<u32, ${RWG}>;
@compute @workgroup_size(${RWG})
fn main(@builtin(local_invocation_index) lid: u32) {
  var acc = 0u;
  for (var i = lid; i < params.pairs; i += ${RWG}u) {
    if (S[chosen[i]] > S[rejected[i]]) { acc += 1u; }
  }
  part[lid] = acc;
  workgroupBarrier();
  for (var s = ${RWG / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { part[lid] = part[lid] + part[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { count[0] = part[0]; }
}`;
  return {
    kernel: 'pairAccuracy',
    key: attributes(d).key,
    wgsl,
    bindings: [...bindings],
    uniforms: packUniforms([['u32', d.pairs]]),
    passes: [{ entryPoint: 'main', workgroups: [1, 1, 1] }],
  };
}

function cpu(d: PairAccuracyDims, x: PairAccuracyInputs): PairAccuracyOutputs {
  validate(d);
  checkLength('S', x.S, d.items);
  checkLength('chosen', x.chosen, d.pairs);
  checkLength('rejected', x.rejected, d.pairs);
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
