// ReLU forward: Y = X where X > 0, else 0 (strict >, so relu(0) = 0 and relu'(0) = 0 as in the CPU trainer).
import { checkDims, checkInputs, elementwiseBindings, elementwiseProgram, type KernelDef, type KernelProgram } from './kernel.ts';

export interface ReluForwardDims {
  n: number;
}

export interface ReluForwardInputs extends Record<string, Float32Array> {
  X: Float32Array;
}

export interface ReluForwardOutputs extends Record<string, Float32Array> {
  Y: Float32Array;
}

function validate(d: ReluForwardDims): void {
  checkDims(d, { n: 0 });
}

function attributes(_d: ReluForwardDims) {
  return { key: 'reluForward' };
}

const bindings = (d: ReluForwardDims) => elementwiseBindings(d.n, ['X'], 'Y');

function program(d: ReluForwardDims): KernelProgram {
  validate(d);
  return elementwiseProgram(
    attributes(d).key,
    bindings(d),
    d.n,
    `  let x = X[idx];
  Y[idx] = select(0.0, x, x > 0.0);`,
  );
}

function cpu(d: ReluForwardDims, x: ReluForwardInputs): ReluForwardOutputs {
  validate(d);
  checkInputs(bindings(d), x);
  const Y = new Float32Array(d.n);
  for (let i = 0; i < d.n; i++) Y[i] = x.X[i] > 0 ? x.X[i] : 0;
  return { Y };
}

export const reluForward: KernelDef<ReluForwardDims, ReluForwardInputs, ReluForwardOutputs> = {
  name: 'reluForward',
  validate,
  attributes,
  program,
  cpu,
  outputs: ['Y'],
};
