// Bias gradient: db[n] = sum_m dY[m, n] (+ db when accumulating), rows in ascending order, one invocation per
// column. The weight and input gradients of a projection are matmul calls; this is the third piece.
import { checkDims, checkInputs, linearProgram, type BindingSpec, type KernelDef, type KernelProgram } from './kernel.ts';

export interface BiasGradDims {
  /** Rows (uniform). */
  M: number;
  N: number;
  accumulate?: boolean;
}

export interface BiasGradInputs extends Record<string, Float32Array | undefined> {
  dY: Float32Array;
  db?: Float32Array;
}

export interface BiasGradOutputs extends Record<string, Float32Array> {
  db: Float32Array;
}

function validate(d: BiasGradDims): void {
  checkDims(d, { M: 0, N: 1 });
  if (d.accumulate !== undefined && typeof d.accumulate !== 'boolean') throw new RangeError('accumulate must be a boolean');
}

function attributes(d: BiasGradDims) {
  return { key: `biasGrad:N${d.N}${d.accumulate ? ':acc' : ''}` };
}

function bindings(d: BiasGradDims): BindingSpec[] {
  return [
    { name: 'dY', access: 'read', dtype: 'f32', elements: d.M * d.N },
    { name: 'db', access: 'read_write', dtype: 'f32', elements: d.N },
  ];
}

function program(d: BiasGradDims): KernelProgram {
  validate(d);
  return linearProgram({
    kernel: 'biasGrad',
    key: attributes(d).key,
    bindings: bindings(d),
    uniforms: [['M', 'u32', d.M]],
    invocations: d.N,
    consts: [`const N: u32 = ${d.N}u;`],
    guard: 'N',
    body: `  var acc = 0.0;
  for (var m = 0u; m < params.M; m++) { acc += dY[m * N + idx]; }
  ${d.accumulate ? 'db[idx] = db[idx] + acc;' : 'db[idx] = acc;'}`,
  });
}

function cpu(d: BiasGradDims, x: BiasGradInputs): BiasGradOutputs {
  validate(d);
  checkInputs(bindings(d), x);
  const db = new Float32Array(d.N);
  for (let n = 0; n < d.N; n++) {
    let acc = 0;
    for (let m = 0; m < d.M; m++) acc += x.dY[m * d.N + n];
    db[n] = d.accumulate && x.db ? x.db[n] + acc : acc;
  }
  return { db };
}

export const biasGrad: KernelDef<BiasGradDims, BiasGradInputs, BiasGradOutputs> = {
  name: 'biasGrad',
  validate,
  attributes,
  program,
  cpu,
  outputs: ['db'],
};
