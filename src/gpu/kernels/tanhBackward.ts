// tanh backward from the forward's output: dX = dY (1 - Y^2).
import { elementwiseKernel } from './kernel.ts';

export const tanhBackward = elementwiseKernel(
  'tanhBackward',
  ['Y', 'dY'],
  'dX',
  `  let y = Y[idx];
  dX[idx] = dY[idx] * (1.0 - y * y);`,
  (x, i) => x.dY[i] * (1 - x.Y[i] * x.Y[i]),
);
