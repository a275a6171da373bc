// The webgpu trainer with its plans run by the kernels' CPU twins instead of a GPU: isolates the plan and host
// bookkeeping from the WGSL, so they can be checked against the cpu backend on machines without WebGPU. Slow;
// tests only (it lived in src/gpu/webgpu.ts, which ships to the browser).
import type { TrainerCheckpoint } from '../../src/gpu/backend.ts';
import { neverLost } from '../../src/gpu/device-calls.ts';
import { TwinExecutor } from '../../src/gpu/kernels/plan.ts';
import { WebGpuTrainer } from '../../src/gpu/webgpu.ts';
import type { WebGpuTrainerOptions } from '../../src/gpu/webgpu.ts';
import type { BagRMParams, OptimizerConfig } from '../../src/pipeline/rm/types.ts';

export function createTwinPlanTrainer(
  init: BagRMParams | TrainerCheckpoint,
  opt: OptimizerConfig,
  options?: WebGpuTrainerOptions,
): WebGpuTrainer {
  return new WebGpuTrainer(new TwinExecutor(), neverLost(), init, opt, options);
}
