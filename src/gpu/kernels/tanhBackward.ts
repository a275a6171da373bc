// tanh backward from the forward's output: dX = dY (1 - Y^2).
import { checkDims, checkInputs, elementwiseBindings, elementwiseProgram, type KernelDef, type KernelProgram } from './kernel.ts';

export interface TanhBackwardDims {
  n: number;
}

export interface TanhBackwardInputs extends Record<string, Float32Array> {
  Y: Float32Array;
  dY: Float32Array;
}

export interface TanhBackwardOutputs extends Record<string, Float32Array> {
  dX: Float32Array;
}

function validate(d: TanhBackwardDims): void {
  checkDims(d, { n: 0 });
}

function attributes(_d: TanhBackwardDims) {
  return { key: 'tanhBackward' };
}

const bindings = (d: TanhBackwardDims) => elementwiseBindings(d.n, ['Y', 'dY'], 'dX');

function program(d: TanhBackwardDims): KernelProgram {
  validate(d);
  return elementwiseProgram(
    attributes(d).key,
    bindings(d),
    d.n,
    `  let y = Y[idx];
  dX[idx] = dY[idx] * (1.0 - y * y);`,
  );
}

function cpu(d: TanhBackwardDims, x: TanhBackwardInputs): TanhBackwardOutputs {
  validate(d);
  checkInputs(bindings(d), x);
  const dX = new Float32Array(d.n);
  for (let i = 0; i < d.n; i++) dX[i] = x.dY[i] * (1 - x.Y[i] * x.Y[i]);
  return { dX };
}

export const tanhBackward: KernelDef<TanhBackwardDims, TanhBackwardInputs, TanhBackwardOutputs> = {
  name: 'tanhBackward',
  validate,
  attributes,
  program,
  cpu,
  outputs: ['dX'],
};
