// Registry of the WGSL kernels by name (the JSON kernel-test runner and the op table look them up here).
import type { KernelDef } from './kernel.ts';
import { adamwDense } from './adamwDense.ts';
import { adamwSparse } from './adamwSparse.ts';
import { btLossBackward } from './btLossBackward.ts';
import { btLossForward } from './btLossForward.ts';
import { denseBackward } from './denseBackward.ts';
import { denseForward } from './denseForward.ts';
import { embeddingBagBackward } from './embeddingBagBackward.ts';
import { embeddingBagForward } from './embeddingBagForward.ts';
import { pairAccuracy } from './pairAccuracy.ts';
import { reduceSum } from './reduceSum.ts';
import { reluBackward } from './reluBackward.ts';
import { reluForward } from './reluForward.ts';
import { softmaxCrossEntropy } from './softmaxCrossEntropy.ts';

// Inputs are checked at run time by each kernel's validate/cpu, so the registry erases the generic types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyKernel = KernelDef<any, any, any>;

export const KERNELS: Record<string, AnyKernel> = {
  embeddingBagForward,
  embeddingBagBackward,
  denseForward,
  denseBackward,
  reluForward,
  reluBackward,
  btLossForward,
  btLossBackward,
  adamwDense,
  adamwSparse,
  reduceSum,
  pairAccuracy,
  softmaxCrossEntropy,
};
