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

/**
 * The training ops with forward and backward side by side, so gradients are reviewed in one place
 * (x = concat(r, p) from the bag; z = x W1 + b1; h = relu(z); s = h W2 + b2; L = mean w softplus(-(s_c - s_r))).
 */
export const OP_TABLE = [
  { op: 'embedding bag (mean)', forward: 'embeddingBagForward', backward: 'embeddingBagBackward', grad: 'dE[row] += dX[bag] / |bag| per occurrence' },
  { op: 'dense', forward: 'denseForward', backward: 'denseBackward', grad: 'dW = X^T dY, db = sum_m dY, dX = dY W^T' },
  { op: 'relu', forward: 'reluForward', backward: 'reluBackward', grad: 'dZ = dY [Z > 0]' },
  { op: 'weighted BT loss', forward: 'btLossForward', backward: 'btLossBackward', grad: 'dS_c = -dS_r = -(w/B) sigmoid(-d)' },
  { op: 'AdamW', forward: 'adamwDense', backward: null, grad: 'optimizer step (dense MLP tensors)' },
  { op: 'lazy AdamW', forward: 'adamwSparse', backward: null, grad: 'optimizer step (touched embedding rows)' },
  { op: 'weighted softmax cross-entropy (policy)', forward: 'softmaxCrossEntropy', backward: 'softmaxCrossEntropy', grad: 'dZ_i = w_i (softmax(Z_i) - onehot(y_i))' },
] as const;
