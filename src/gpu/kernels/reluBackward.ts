// ReLU backward: dZ = dY where the pre-activation Z > 0, else 0 (relu'(0) = 0, matching the CPU trainer).
import { checkDims, checkInputs, elementwiseBindings, elementwiseProgram, type KernelDef, type KernelProgram } from './kernel.ts';

export interface ReluBackwardDims {
  n: number;
}

export interface ReluBackwardInputs extends Record<string, Float32Array> {
  /** Pre-activations saved by the forward pass. */
  Z: Float32Array;
  dY: Float32Array;
}

export interface ReluBackwardOutputs extends Record<string, Float32Array> {
  dZ: Float32Array;
}

function validate(d: ReluBackwardDims): void {
  checkDims(d, { n: 0 });
}

function attributes(_d: ReluBackwardDims) {
  return { key: 'reluBackward' };
}

const bindings = (d: ReluBackwardDims) => elementwiseBindings(d.n, ['Z', 'dY'], 'dZ');

function program(d: ReluBackwardDims): KernelProgram {
  validate(d);
  return elementwiseProgram(attributes(d).key, bindings(d), d.n, `  dZ[idx] = select(0.0, dY[idx], Z[idx] > 0.0);`);
}

function cpu(d: ReluBackwardDims, x: ReluBackwardInputs): ReluBackwardOutputs {
  validate(d);
  checkInputs(bindings(d), x);
  const dZ = new Float32Array(d.n);
  for (let i = 0; i < d.n; i++) dZ[i] = x.Z[i] > 0 ? x.dY[i] : 0;
  return { dZ };
}

export const reluBackward: KernelDef<ReluBackwardDims, ReluBackwardInputs, ReluBackwardOutputs> = {
  name: 'reluBackward',
  validate,
  attributes,
  program,
  cpu,
  outputs: ['dZ'],
};
