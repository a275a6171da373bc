// Elementwise sum Y = A + B (the residual adds of the transformer's forward; the backward of an add is the
// identity, so it has no kernel: gradients accumulate in place instead).
import { elementwiseKernel } from './kernel.ts';

export const add = elementwiseKernel(
  'add',
  ['A', 'B'],
  'Y',
  `  Y[idx] = A[idx] + B[idx];`,
  (x, i) => x.A[i] + x.B[i],
);
