// Sum of a vector into out[0]: one workgroup of 256; invocation t sums x[t], x[t+256], ... in order, then a
// fixed-shape tree in workgroup memory combines the partials. Deterministic (no atomics), exact for integers.
import { checkDims, checkInputs, reduceProgram, type BindingSpec, type KernelDef, type KernelProgram } from './kernel.ts';

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
  checkDims(d, { n: 0 });
}

function attributes(_d: ReduceSumDims) {
  return { key: 'reduceSum' };
}

function bindings(d: ReduceSumDims): BindingSpec[] {
  return [
    { name: 'x', access: 'read', dtype: 'f32', elements: d.n },
    { name: 'out', access: 'read_write', dtype: 'f32', elements: 1 },
  ];
}

function program(d: ReduceSumDims): KernelProgram {
  validate(d);
  return reduceProgram({
    kernel: 'reduceSum',
    key: attributes(d).key,
    bindings: bindings(d),
    count: ['n', 'u32', d.n],
    acc: 'f32',
    item: '{ acc += x[i]; }',
  });
}

function cpu(d: ReduceSumDims, x: ReduceSumInputs): ReduceSumOutputs {
  validate(d);
  checkInputs(bindings(d), x);
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
