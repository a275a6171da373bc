// LoRA for the USE-lite reward model: seeded adapter init, which tensors each tune mode trains, and merging the
// adapters into the weights for export (an exported country RM is a plain USE-lite RM: no adapter ops in ONNX).
import { hashSeed, Rng } from '../../rng.ts';
import type { GradPlan } from './grad.ts';
import { loraTargets, tensorSpecs, type LoraConfig, type LoraParams, type TuneMode, type UseLiteConfig, type UseLiteParams } from './spec.ts';

/** A [in,r] uniform(-1/sqrt(in), 1/sqrt(in)) from the seed and the target name; B [r,out] zeros (the adapter starts exact). */
export function initLora(c: UseLiteConfig, lc: LoraConfig, seed: number): LoraParams {
  checkLoraConfig(lc);
  const A: Record<string, Float32Array> = {};
  const B: Record<string, Float32Array> = {};
  for (const t of loraTargets(c)) {
    const rng = new Rng(hashSeed(seed, 'lora', t.name));
    const bound = 1 / Math.sqrt(t.inDim);
    const a = new Float32Array(t.inDim * lc.rank);
    for (let i = 0; i < a.length; i++) a[i] = rng.uniform(-bound, bound);
    A[t.name] = a;
    B[t.name] = new Float32Array(lc.rank * t.outDim);
  }
  return { config: { ...lc }, A, B };
}

export function checkLoraConfig(lc: LoraConfig): void {
  if (!Number.isInteger(lc.rank) || lc.rank < 1 || lc.rank > 512) throw new Error(`LoRA rank must be an integer in [1, 512], got ${lc.rank}`);
  if (!Number.isFinite(lc.alpha) || lc.alpha <= 0) throw new Error(`LoRA alpha must be a positive number, got ${lc.alpha}`);
}

/** Base tensors a tune mode trains ('lora' also trains every adapter). */
export function trainableTensors(c: UseLiteConfig, mode: TuneMode): string[] {
  if (mode === 'head') return ['head.w', 'head.b'];
  if (mode === 'top') return tensorSpecs(c).filter((t) => t.top).map((t) => t.name);
  return ['head.w', 'head.b'];
}

export function gradPlan(c: UseLiteConfig, mode: TuneMode): GradPlan {
  return { tensors: new Set(trainableTensors(c, mode)), lora: mode === 'lora' };
}

/** The weights with every adapter merged in: W + (alpha / r) A B (float64 sums); other tensors are shared, not copied. */
export function mergeLora(p: UseLiteParams, l: LoraParams): UseLiteParams {
  const tensors = { ...p.tensors };
  const r = l.config.rank;
  const scale = l.config.alpha / r;
  for (const t of loraTargets(p.config)) {
    const A = l.A[t.name];
    const B = l.B[t.name];
    if (!A || !B) throw new Error(`mergeLora: adapter ${t.name} is missing`);
    const W = p.tensors[t.name];
    const out = new Float32Array(W.length);
    const row = new Float64Array(t.outDim);
    for (let i = 0; i < t.inDim; i++) {
      row.fill(0);
      for (let q = 0; q < r; q++) {
        const a = A[i * r + q];
        if (a === 0) continue;
        for (let j = 0; j < t.outDim; j++) row[j] += a * B[q * t.outDim + j];
      }
      for (let j = 0; j < t.outDim; j++) out[i * t.outDim + j] = W[i * t.outDim + j] + scale * row[j];
    }
    tensors[t.name] = out;
  }
  return { config: p.config, tensors };
}
