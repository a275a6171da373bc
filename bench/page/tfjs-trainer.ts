// The bag RM trained with TensorFlow.js, for the benchmark only: same model (embedding bag of prompt and response
// -> 2D-H-1 ReLU MLP), same weighted Bradley-Terry loss, Adam. The embedding gather has a custom gradient that
// scatters into the table (tf.scatterND): stock tf.gather's gradient (UnsortedSegmentSum) takes minutes per step
// on cpu and is missing on wasm (../../shared/PLATFORM.md). tfjs has no sparse/lazy Adam, so E gets a dense
// Adam update every step (ours updates only the touched rows); weight decay is 0 on both sides in the benchmark.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import type { BagRMParams, EncodedItems, PairBatch } from '../../src/pipeline/rm/types.ts';

export type TfjsBackendName = 'cpu' | 'wasm' | 'webgpu';

interface SideTensors {
  ids: tf.Tensor1D;
  mask: tf.Tensor2D;
  L: number;
}

/** Selects a tfjs backend; throws with the reason when it cannot start. */
export async function useTfjsBackend(name: TfjsBackendName, wasmPath: string): Promise<string> {
  if (name === 'wasm') {
    setWasmPaths(wasmPath);
    // The threaded-SIMD build's inlined pthread worker fails once bundled ("e is not defined"): single-threaded
    // SIMD, which is also what runs in Node (PLATFORM.md), and on 2 cores threads would add little.
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  }
  const ok = await tf.setBackend(name);
  await tf.ready();
  if (!ok || tf.getBackend() !== name) throw new Error(`tfjs backend ${name} did not start (got ${tf.getBackend()})`);
  return name;
}

export class TfjsBagTrainer {
  private readonly E: tf.Variable;
  private readonly W1: tf.Variable;
  private readonly b1: tf.Variable;
  private readonly W2: tf.Variable;
  private readonly b2: tf.Variable;
  private readonly opt: tf.AdamOptimizer;
  private readonly D: number;
  private readonly H: number;

  constructor(p: BagRMParams, lr: number) {
    const { vocabSize: V, dim: D, hidden: H } = p.config;
    this.D = D;
    this.H = H;
    const v = (t: tf.Tensor, name: string): tf.Variable => {
      const x = tf.variable(t, true, name);
      t.dispose();
      return x;
    };
    this.E = v(tf.tensor2d(p.E, [V, D]), 'E');
    this.W1 = v(tf.tensor2d(p.W1, [2 * D, H]), 'W1');
    this.b1 = v(tf.tensor1d(p.b1), 'b1');
    this.W2 = v(tf.tensor2d(p.W2, [H, 1]), 'W2');
    this.b2 = v(tf.tensor1d(p.b2), 'b2');
    this.opt = tf.train.adam(lr, 0.9, 0.999, 1e-8);
  }

  /** Padded ids [n, L] and mask of one side (prompt or response) of `rows` items. */
  private static side(offsets: Int32Array, ids: Int32Array, rows: Int32Array): { ids: Int32Array; mask: Float32Array; L: number } {
    let L = 1;
    for (const k of rows) L = Math.max(L, offsets[k + 1] - offsets[k]);
    const out = new Int32Array(rows.length * L);
    const mask = new Float32Array(rows.length * L);
    rows.forEach((k, i) => {
      for (let q = offsets[k], o = i * L; q < offsets[k + 1]; q++, o++) {
        out[o] = ids[q];
        mask[o] = 1;
      }
    });
    return { ids: out, mask, L };
  }

  /** Padded ids and masks of both sides as tensors (made outside minimize: its scopes would dispose them before backprop). */
  private inputs(items: EncodedItems, rows: Int32Array): SideTensors[] {
    const n = rows.length;
    return [
      [items.responseOffsets, items.responseIds],
      [items.promptOffsets, items.promptIds],
    ].map(([o, ids]) => {
      const s = TfjsBagTrainer.side(o, ids, rows);
      return { ids: tf.tensor1d(s.ids, 'int32'), mask: tf.tensor2d(s.mask, [n, s.L]), L: s.L };
    });
  }

  /** Scores [n] (call inside a tidy/minimize); `sides` = [response, prompt]. */
  private forward(n: number, sides: SideTensors[]): tf.Tensor1D {
    const pool = ({ ids, mask, L }: SideTensors): tf.Tensor2D => {
      const gatherRows = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
        const E = args[0] as tf.Tensor;
        return {
          value: tf.gather(E, ids),
          // Scatter-add into a zero table (duplicate ids accumulate), instead of UnsortedSegmentSum.
          gradFunc: (dy: tf.Tensor | tf.Tensor[]) => tf.scatterND(ids.expandDims(1), dy as tf.Tensor, E.shape),
        };
      });
      const emb = (gatherRows(this.E) as tf.Tensor2D).reshape([n, L, this.D]);
      const sum = emb.mul(mask.expandDims(2)).sum(1) as tf.Tensor2D;
      return sum.div(mask.sum(1, true).maximum(1)) as tf.Tensor2D;
    };
    const x = tf.concat(sides.map(pool), 1);
    const h = tf.relu(x.matMul(this.W1).add(this.b1));
    return h.matMul(this.W2).reshape([n]).add(this.b2) as tf.Tensor1D;
  }

  /** One Adam step on the batch; returns the loss (read back, like the other trainers do every step). */
  async step(items: EncodedItems, batch: PairBatch): Promise<number> {
    const B = batch.chosen.length;
    const rows = new Int32Array(2 * B);
    rows.set(batch.chosen, 0);
    rows.set(batch.rejected, B);
    const w = tf.tensor1d(batch.weight);
    const sides = this.inputs(items, rows);
    const cost = this.opt.minimize(
      () => {
        const s = this.forward(2 * B, sides);
        const d = s.slice(0, B).sub(s.slice(B, B));
        return tf.mean(w.mul(tf.softplus(d.neg()))) as tf.Scalar;
      },
      true,
      [this.E, this.W1, this.b1, this.W2, this.b2],
    );
    w.dispose();
    for (const t of sides) tf.dispose([t.ids, t.mask]);
    // Async read: dataSync() on the webgpu backend returned zeros on SwiftShader (and is discouraged there).
    const loss = cost ? (await cost.data())[0] : Number.NaN;
    cost?.dispose();
    return loss;
  }

  /** Scores of `rows` (for checking the tfjs forward against ours). */
  async score(items: EncodedItems, rows: Int32Array): Promise<Float32Array> {
    const sides = this.inputs(items, rows);
    const s = tf.tidy(() => this.forward(rows.length, sides));
    const out = (await s.data()) as Float32Array;
    s.dispose();
    for (const t of sides) tf.dispose([t.ids, t.mask]);
    return out;
  }

  dispose(): void {
    for (const v of [this.E, this.W1, this.b1, this.W2, this.b2]) v.dispose();
    this.opt.dispose();
  }

  get hidden(): number {
    return this.H;
  }
}
