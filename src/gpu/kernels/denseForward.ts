// Dense forward: Y[M, N] = X[M, K] @ W[K, N] + b[N] (W row-major [K, N], as W1 and W2 of the bag RM).
// One invocation per output; the k-sum runs in order starting from the bias, like the CPU trainer.
import { checkDims, checkInputs, linearProgram, type BindingSpec, type KernelDef, type KernelProgram } from './kernel.ts';

export interface DenseForwardDims {
  /** Rows (items); dynamic, passed as a uniform. */
  M: number;
  K: number;
  N: number;
}

export interface DenseForwardInputs extends Record<string, Float32Array> {
  X: Float32Array;
  W: Float32Array;
  b: Float32Array;
}

export interface DenseForwardOutputs extends Record<string, Float32Array> {
  Y: Float32Array;
}

function validate(d: DenseForwardDims): void {
  checkDims(d, { M: 0, K: 1, N: 1 });
}

function attributes(d: DenseForwardDims) {
  return { key: `denseForward:K${d.K}:N${d.N}`, K: d.K, N: d.N };
}

function bindings(d: DenseForwardDims): BindingSpec[] {
  return [
    { name: 'X', access: 'read', dtype: 'f32', elements: d.M * d.K },
    { name: 'W', access: 'read', dtype: 'f32', elements: d.K * d.N },
    { name: 'b', access: 'read', dtype: 'f32', elements: d.N },
    { name: 'Y', access: 'read_write', dtype: 'f32', elements: d.M * d.N },
  ];
}

function program(d: DenseForwardDims): KernelProgram {
  validate(d);
  return linearProgram({
    kernel: 'denseForward',
    key: attributes(d).key,
    bindings: bindings(d),
    uniforms: [['M', 'u32', d.M]],
    invocations: d.M * d.N,
    consts: [`const K: u32 = ${d.K}u;`, `const N: u32 = ${d.N}u;`],
    guard: 'params.M * N',
    body: `  let m = idx / N;
  let n = idx % N;
  var acc = b[n];
  for (var k = 0u; k < K; k++) {
    acc += X[m * K + k] * W[k * N + n];
  }
  Y[idx] = acc;`,
  });
}

function cpu(d: DenseForwardDims, x: DenseForwardInputs): DenseForwardOutputs {
  validate(d);
  checkInputs(bindings(d), x);
  const { M, K, N } = d;
  const Y = new Float32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let acc = x.b[n];
      for (let k = 0; k < K; k++) acc += x.X[m * K + k] * x.W[k * N + n];
      Y[m * N + n] = acc;
    }
  }
  return { Y };
}

export const denseForward: KernelDef<DenseForwardDims, DenseForwardInputs, DenseForwardOutputs> = {
  name: 'denseForward',
  validate,
  attributes,
  program,
  cpu,
  outputs: ['Y'],
};
