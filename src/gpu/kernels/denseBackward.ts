// Dense backward of Y = X @ W + b: dW[k, n] = sum_m X[m, k] dY[m, n], db[n] = sum_m dY[m, n] and (optionally)
// dX[m, k] = sum_n W[k, n] dY[m, n]. Three entry points, one invocation per output element, each summing in
// ascending order (m for dW/db, n for dX) as the CPU trainer does, so no atomics and deterministic results.
import {
  assembleProgram,
  checkDims,
  checkInputs,
  declareParams,
  linearEntry,
  linearGroups,
  type BindingSpec,
  type KernelDef,
  type KernelProgram,
  type KernelPass,
  type NamedUniform,
} from './kernel.ts';

export interface DenseBackwardDims {
  M: number;
  K: number;
  N: number;
  /** Compute dX too (false for the first layer when the embeddings are frozen). */
  inputGrad: boolean;
}

export interface DenseBackwardInputs extends Record<string, Float32Array> {
  X: Float32Array;
  W: Float32Array;
  dY: Float32Array;
}

export interface DenseBackwardOutputs extends Record<string, Float32Array> {
  dX: Float32Array;
  dW: Float32Array;
  db: Float32Array;
}

function validate(d: DenseBackwardDims): void {
  checkDims(d, { M: 0, K: 1, N: 1 });
  if (typeof d.inputGrad !== 'boolean') throw new RangeError('inputGrad must be a boolean');
}

function attributes(d: DenseBackwardDims) {
  // inputGrad only selects which entry points run, so it is not part of the compiled module's key.
  return { key: `denseBackward:K${d.K}:N${d.N}`, K: d.K, N: d.N };
}

function bindings(d: DenseBackwardDims): BindingSpec[] {
  const { M, K, N } = d;
  return [
    { name: 'X', access: 'read', dtype: 'f32', elements: M * K },
    { name: 'W', access: 'read', dtype: 'f32', elements: K * N },
    { name: 'dY', access: 'read', dtype: 'f32', elements: M * N },
    { name: 'dX', access: 'read_write', dtype: 'f32', elements: d.inputGrad ? M * K : 0 },
    { name: 'dW', access: 'read_write', dtype: 'f32', elements: K * N },
    { name: 'db', access: 'read_write', dtype: 'f32', elements: N },
  ];
}

function program(d: DenseBackwardDims): KernelProgram {
  validate(d);
  const { M, K, N } = d;
  const bind = bindings(d);
  const uniforms: NamedUniform[] = [['M', 'u32', M]];
  const wgsl = `
const K: u32 = ${K}u;
const N: u32 = ${N}u;
${declareParams(bind, uniforms)}
${linearEntry('grad_w')}
  if (idx >= K * N) { return; }
  let k = idx / N;
  let n = idx % N;
  var acc = 0.0;
  for (var m = 0u; m < params.M; m++) {
    acc += X[m * K + k] * dY[m * N + n];
  }
  dW[idx] = acc;
}

${linearEntry('grad_b')}
  if (idx >= N) { return; }
  var acc = 0.0;
  for (var m = 0u; m < params.M; m++) {
    acc += dY[m * N + idx];
  }
  db[idx] = acc;
}

${linearEntry('grad_x')}
  if (idx >= params.M * K) { return; }
  let m = idx / K;
  let k = idx % K;
  var acc = 0.0;
  for (var n = 0u; n < N; n++) {
    acc += W[k * N + n] * dY[m * N + n];
  }
  dX[idx] = acc;
}`;
  const passes: KernelPass[] = [
    { entryPoint: 'grad_w', workgroups: linearGroups(K * N) },
    { entryPoint: 'grad_b', workgroups: linearGroups(N) },
  ];
  if (d.inputGrad) passes.push({ entryPoint: 'grad_x', workgroups: linearGroups(M * K) });
  return assembleProgram({
    kernel: 'denseBackward',
    key: attributes(d).key,
    wgsl,
    bindings: bind,
    uniforms,
    passes,
  });
}

function cpu(d: DenseBackwardDims, x: DenseBackwardInputs): DenseBackwardOutputs {
  validate(d);
  const { M, K, N } = d;
  checkInputs(bindings(d), x);
  const dW = new Float32Array(K * N);
  const db = new Float32Array(N);
  const dX = new Float32Array(d.inputGrad ? M * K : 0);
  for (let k = 0; k < K; k++) {
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let m = 0; m < M; m++) acc += x.X[m * K + k] * x.dY[m * N + n];
      dW[k * N + n] = acc;
    }
  }
  for (let n = 0; n < N; n++) {
    let acc = 0;
    for (let m = 0; m < M; m++) acc += x.dY[m * N + n];
    db[n] = acc;
  }
  if (d.inputGrad) {
    for (let m = 0; m < M; m++) {
      for (let k = 0; k < K; k++) {
        let acc = 0;
        for (let n = 0; n < N; n++) acc += x.W[k * N + n] * x.dY[m * N + n];
        dX[m * K + k] = acc;
      }
    }
  }
  return { dX, dW, db };
}

export const denseBackward: KernelDef<DenseBackwardDims, DenseBackwardInputs, DenseBackwardOutputs> = {
  name: 'denseBackward',
  validate,
  attributes,
  program,
  cpu,
  outputs: ['dX', 'dW', 'db'],
};
