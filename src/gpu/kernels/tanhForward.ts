// tanh: Y = tanh(X), evaluated as sign(x) (1 - e) / (1 + e) with e = exp(-2|x|) (exp of non-positive
// arguments only: no overflow for large |x|, where some implementations' built-in tanh returns NaN).
import { checkDims, checkInputs, elementwiseBindings, elementwiseProgram, type KernelDef, type KernelProgram } from './kernel.ts';

export interface TanhForwardDims {
  n: number;
}

export interface TanhForwardInputs extends Record<string, Float32Array> {
  X: Float32Array;
}

export interface TanhForwardOutputs extends Record<string, Float32Array> {
  Y: Float32Array;
}

function validate(d: TanhForwardDims): void {
  checkDims(d, { n: 0 });
}

function attributes(_d: TanhForwardDims) {
  return { key: 'tanhForward' };
}

const bindings = (d: TanhForwardDims) => elementwiseBindings(d.n, ['X'], 'Y');

function program(d: TanhForwardDims): KernelProgram {
  validate(d);
  return elementwiseProgram(
    attributes(d).key,
    bindings(d),
    d.n,
    `  let x = X[idx];
  let e = exp(-2.0 * abs(x));
  Y[idx] = sign(x) * ((1.0 - e) / (1.0 + e));`,
  );
}

function cpu(d: TanhForwardDims, x: TanhForwardInputs): TanhForwardOutputs {
  validate(d);
  checkInputs(bindings(d), x);
  const Y = new Float32Array(d.n);
  for (let i = 0; i < d.n; i++) Y[i] = Math.tanh(x.X[i]);
  return { Y };
}

export const tanhForward: KernelDef<TanhForwardDims, TanhForwardInputs, TanhForwardOutputs> = {
  name: 'tanhForward',
  validate,
  attributes,
  program,
  cpu,
  outputs: ['Y'],
};
