// The compute-backend interface that training runs against: `cpu` (reference, deterministic) and `webgpu` (WGSL).
// The pipeline's training loop only sees this interface, so a backend can be swapped mid-run from a checkpoint.
import type { BagRMParams, EncodedItems, OptimizerConfig, PairBatch } from '../pipeline/rm/types.ts';

export type BackendName = 'cpu' | 'webgpu';

export interface StepResult {
  /** Weighted BT loss of the batch: -mean(w * log sigmoid(s_c - s_r)). */
  loss: number;
}

/**
 * Full trainer state, enough to resume bit-for-bit on any backend. Generic over the model's params `P` (the bag
 * RM by default; the USE-lite RM's is UseLiteRM, whose moments are keyed by its trained tensors and adapters).
 */
export interface TrainerCheckpoint<P = BagRMParams> {
  params: P;
  /** Adam first/second moments, same shapes as the trained tensors, keyed by tensor name (bag: E, W1, b1, W2, b2). */
  m: Record<string, Float32Array>;
  v: Record<string, Float32Array>;
  /** Per embedding row: the Adam step count of that row (lazy/sparse Adam). Length vocabSize (bag); empty when no row is trained sparsely. */
  rowStep: Int32Array;
  step: number;
}

export interface Trainer<P = BagRMParams> {
  readonly backend: BackendName;
  /** One optimizer step on the batch (B may be 0: no-op returning loss 0). */
  step(items: EncodedItems, batch: PairBatch): Promise<StepResult>;
  /** Scores of the given items (all items when `indices` is omitted). */
  score(items: EncodedItems, indices?: Int32Array): Promise<Float32Array>;
  checkpoint(): Promise<TrainerCheckpoint<P>>;
  /**
   * A copy of the current parameters: checkpoint().params without the optimizer state, for a caller that needs only
   * the model (the experiment's onModel). Optional; FailoverTrainer falls back to checkpoint().params.
   */
  params?(): Promise<P>;
  dispose(): void;
}

export interface Backend<P = BagRMParams> {
  readonly name: BackendName;
  /** Human-readable description (adapter info, or why it fell back). */
  readonly info: string;
  /** Loads what the trainers will run on (the cpu backend's wasm kernels), so `info` says it; selection awaits it. */
  prepare?(): Promise<void>;
  createTrainer(init: P | TrainerCheckpoint<P>, opt: OptimizerConfig): Promise<Trainer<P>>;
}
