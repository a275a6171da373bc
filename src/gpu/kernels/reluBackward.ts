// ReLU backward: dZ = dY where the pre-activation Z > 0, else 0 (relu'(0) = 0, matching the CPU trainer).
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
  checkInt('n', d.n, 0);
}

function attributes(_d: ReluBackwardDims) {
  return { key: 'reluBackward' };
}

function program(d: ReluBackwardDims): KernelProgram {
  validate(d);
  const bindings = [
    { name: 'Z', access: 'read', dtype: 'f32', elements: d.n },
    { name: 'dY', access: 'read', dtype: 'f32', elements: d.n },
    { name: 'dZ', access: 'read_write', dtype: 'f32', elements: d.n },
  ] as const;
  const wgsl = `
${declareBindings([...bindings], uniformStruct([['n', 'u32']]))}
${linearEntry('main')}
  if (idx >= params.n) { return; }
  dZ[idx] = select(0.0, dY[idx], Z[idx] > 0.0);
}`;
  return {
    kernel: 'reluBackward',
    key: attributes(d).key,
    wgsl,
    bindings: [...bindings],
    uniforms: packUniforms([['u32', d.n]]),
    passes: [{ entryPoint: 'main', workgroups: linearGroups(d.n) }],
  };
}

function cpu(d: ReluBackwardDims, x: ReluBackwardInputs): ReluBackwardOutputs {
  validate(d);
  checkLength('Z', x.Z, d.n);
  checkLength('dY', x.dY, d.n);
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
