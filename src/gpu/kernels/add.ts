// Elementwise sum Y = A + B (the residual adds of the transformer's forward; the backward of an add is the
// identity, so it has no kernel: gradients accumulate in place instead).
import { checkDims, checkInputs, elementwiseBindings, elementwiseProgram, type KernelDef, type KernelProgram } from './kernel.ts';

export interface AddDims {
  n: number;
}

export interface AddInputs extends Record<string, Float32Array> {
  A: Float32Array;
  B: Float32Array;
}

export interface AddOutputs extends Record<string, Float32Array> {
  Y: Float32Array;
}

function validate(d: AddDims): void {
  checkDims(d, { n: 0 });
}

function attributes(_d: AddDims) {
  return { key: 'add' };
}

const bindings = (d: AddDims) => elementwiseBindings(d.n, ['A', 'B'], 'Y');

function program(d: AddDims): KernelProgram {
  validate(d);
  return elementwiseProgram(attributes(d).key, bindings(d), d.n, '  Y[idx] = A[idx] + B[idx];');
}

function cpu(d: AddDims, x: AddInputs): AddOutputs {
  validate(d);
  checkInputs(bindings(d), x);
  const Y = new Float32Array(d.n);
  for (let i = 0; i < d.n; i++) Y[i] = x.A[i] + x.B[i];
  return { Y };
}

export const add: KernelDef<AddDims, AddInputs, AddOutputs> = {
  name: 'add',
  validate,
  attributes,
  program,
  cpu,
  outputs: ['Y'],
};
