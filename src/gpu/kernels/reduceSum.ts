// Sum of a vector into out[0]: one workgroup of 256; invocation t sums x[t], x[t+256], ... in order, then a
// fixed-shape tree in workgroup memory combines the partials. Deterministic (no atomics), exact for integers.
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

export interface ReduceSumDims {
  n: number;
}

export interface ReduceSumInputs extends Record<string, Float32Array> {
  x: Float32Array;
}

export interface ReduceSumOutputs extends Record<string, Float32Array> {
  out: Float32Array;
}

function validate(d: ReduceSumDims): void {
  checkInt('n', d.n, 0);
}

function attributes(_d: ReduceSumDims) {
  return { key: 'reduceSum' };
}

function program(d: ReduceSumDims): KernelProgram {
  validate(d);
  const bindings = [
    { name: 'x', access: 'read', dtype: 'f32', elements: d.n },
    { name: 'out', access: 'read_write', dtype: 'f32', elements: 1 },
  ] as const;
  const wgsl = `
${declareBindings([...bindings], uniformStruct([['n', 'u32']]))}
var<workgroup> part: array<f32, ${RWG}>;
@compute @workgroup_size(${RWG})
fn main(@builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var i = lid; i < params.n; i += ${RWG}u) { acc += x[i]; }
  part[lid] = acc;
  workgroupBarrier();
  for (var s = ${RWG / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { part[lid] = part[lid] + part[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { out[0] = part[0]; }
}`;
  return {
    kernel: 'reduceSum',
    key: attributes(d).key,
    wgsl,
    bindings: [...bindings],
    uniforms: packUniforms([['u32', d.n]]),
    passes: [{ entryPoint: 'main', workgroups: [1, 1, 1] }],
  };
}

function cpu(d: ReduceSumDims, x: ReduceSumInputs): ReduceSumOutputs {
  validate(d);
  checkLength('x', x.x, d.n);
  let acc = 0;
  for (let i = 0; i < d.n; i++) acc += x.x[i];
  return { out: Float32Array.of(acc) };
}

export const reduceSum: KernelDef<ReduceSumDims, ReduceSumInputs, ReduceSumOutputs> = {
  name: 'reduceSum',
  validate,
  attributes,
  program,
  cpu,
  outputs: ['out'],
};
