// tanh: Y = tanh(X), evaluated as sign(x) (1 - e) / (1 + e) with e = exp(-2|x|) (exp of non-positive
// arguments only: no overflow for large |x|, where some implementations' built-in tanh returns NaN).
import { elementwiseKernel } from './kernel.ts';

export const tanhForward = elementwiseKernel(
  'tanhForward',
  ['X'],
  'Y',
  `  let x = X[idx];
  let e = exp(-2.0 * abs(x));
  Y[idx] = sign(x) * ((1.0 - e) / (1.0 + e));`,
  (x, i) => Math.tanh(x.X[i]),
);
