// ReLU backward: dZ = dY where the pre-activation Z (saved by the forward pass) > 0, else 0 (relu'(0) = 0, matching
// the CPU trainer).
import { elementwiseKernel } from './kernel.ts';

export const reluBackward = elementwiseKernel(
  'reluBackward',
  ['Z', 'dY'],
  'dZ',
  `  dZ[idx] = select(0.0, dY[idx], Z[idx] > 0.0);`,
  (x, i) => (x.Z[i] > 0 ? x.dY[i] : 0),
);
