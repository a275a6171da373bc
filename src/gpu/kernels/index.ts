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
import { matmul } from './matmul.ts';
import { biasGrad } from './biasGrad.ts';
import { add } from './add.ts';
import { layerNormForward } from './layerNormForward.ts';
import { layerNormBackward } from './layerNormBackward.ts';
import { attentionForward } from './attentionForward.ts';
import { attentionBackward } from './attentionBackward.ts';
import { tanhForward } from './tanhForward.ts';
import { tanhBackward } from './tanhBackward.ts';
import { meanPoolForward } from './meanPoolForward.ts';
import { meanPoolBackward } from './meanPoolBackward.ts';
import { l2NormForward } from './l2NormForward.ts';
import { l2NormBackward } from './l2NormBackward.ts';
import { useEmbedding } from './useEmbedding.ts';

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
  // The USE-lite transformer RM (forward and backward).
  matmul,
  biasGrad,
  add,
  layerNormForward,
  layerNormBackward,
  attentionForward,
  attentionBackward,
  tanhForward,
  tanhBackward,
  meanPoolForward,
  meanPoolBackward,
  l2NormForward,
  l2NormBackward,
  useEmbedding,
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
  // The USE-lite transformer RM (src/gpu/use-lite-webgpu*.ts; forward order in src/pipeline/rm/use-lite/spec.ts).
  { op: 'USE input', forward: 'useEmbedding', backward: null, grad: 'none: the embedding table is frozen in every tune mode' },
  { op: 'projection (+ LoRA)', forward: 'matmul', backward: 'matmul', grad: 'dX = dY W^T (transB), dW = X^T dY (transA), LoRA: dB = s t^T dY, dt = s dY B^T, dA = X^T dt, dX += dt A^T' },
  { op: 'projection bias', forward: 'matmul', backward: 'biasGrad', grad: 'db = sum_rows dY' },
  { op: 'residual add', forward: 'add', backward: null, grad: 'identity: gradients accumulate in place (matmul/layerNormBackward accumulate)' },
  { op: 'layer norm', forward: 'layerNormForward', backward: 'layerNormBackward', grad: 'dX = rstd (g - mean g - xhat mean(g xhat)), g = dY gamma; dgamma = sum dY xhat; dbeta = sum dY' },
  { op: 'masked softmax attention', forward: 'attentionForward', backward: 'attentionBackward', grad: 'dS = P (dA.v - dA.a); dq = s dS k; dk = s dS^T q; dv = P^T dA' },
  { op: 'tanh', forward: 'tanhForward', backward: 'tanhBackward', grad: 'dX = dY (1 - Y^2)' },
  { op: 'masked mean pooling', forward: 'meanPoolForward', backward: 'meanPoolBackward', grad: 'dX[t] = dOut / len for t < len, else 0' },
  { op: 'l2 normalise', forward: 'l2NormForward', backward: 'l2NormBackward', grad: 'dX = r (dY - Y (Y.dY))' },
] as const;
