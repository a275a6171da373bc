// ReLU forward: Y = X where X > 0, else 0 (strict >, so relu(0) = 0 and relu'(0) = 0 as in the CPU trainer).
import {
  checkInt,
  checkLength,
  declareBindings,
  linearEntry,
  linearGroups,
  packUniforms,
  uniformStruct,
  type KernelDef,
  type KernelProgram,
} from './kernel.ts';

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
  checkInt('n', d.n, 0);
}

function attributes(_d: ReluForwardDims) {
  return { key: 'reluForward' };
}

function program(d: ReluForwardDims): KernelProgram {
  validate(d);
  const bindings = [
    { name: 'X', access: 'read', dtype: 'f32', elements: d.n },
    { name: 'Y', access: 'read_write', dtype: 'f32', elements: d.n },
  ] as const;
  const wgsl = `
${declareBindings([...bindings], uniformStruct([['n', 'u32']]))}
${linearEntry('main')}
  if (idx >= params.n) { return; }
  let x = X[idx];
  Y[idx] = select(0.0, x, x > 0.0);
}`;
  return {
    kernel: 'reluForward',
    key: attributes(d).key,
    wgsl,
    bindings: [...bindings],
    uniforms: packUniforms([['u32', d.n]]),
    passes: [{ entryPoint: 'main', workgroups: linearGroups(d.n) }],
  };
}

function cpu(d: ReluForwardDims, x: ReluForwardInputs): ReluForwardOutputs {
  validate(d);
  checkLength('X', x.X, d.n);
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
