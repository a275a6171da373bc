// ReLU forward: Y = X where X > 0, else 0 (strict >, so relu(0) = 0 and relu'(0) = 0 as in the CPU trainer).
import { elementwiseKernel } from './kernel.ts';

export const reluForward = elementwiseKernel(
  'reluForward',
  ['X'],
  'Y',
  `  let x = X[idx];
  Y[idx] = select(0.0, x, x > 0.0);`,
  (x, i) => (x.X[i] > 0 ? x.X[i] : 0),
);
