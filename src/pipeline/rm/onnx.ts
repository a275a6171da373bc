// ONNX form of the bag RM: export/import of the graph (onnx-proto) and the one place that builds its int64 input tensors.
import onnxProto from 'onnx-proto';
import { tensorShapes, validateParams, TENSOR_NAMES, type TensorName } from './bag.ts';
import type { BagRMConfig, BagRMParams, EncodedItems } from './types.ts';

const { onnx } = onnxProto;
type ITensorProto = onnxProto.onnx.ITensorProto;
type INodeProto = onnxProto.onnx.INodeProto;
type IValueInfoProto = onnxProto.onnx.IValueInfoProto;
type IntLike = number | { toNumber(): number };

export const ONNX_OPSET = 13;
export const ONNX_INPUTS = ['input_ids', 'attention_mask', 'token_type_ids'] as const;
export const ONNX_OUTPUT = 'logits';
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

/** Model inputs for some items: each row is the prompt (token type 0) then the response (type 1), right-padded. */
export interface OnnxBatch {
  batch: number;
  seq: number;
  input_ids: BigInt64Array;
  attention_mask: BigInt64Array;
  token_type_ids: BigInt64Array;
}

/**
 * The int64 tensors [batch, seq] for items `indices` (all when omitted). seq is at least 1 so a batch of
 * items with no tokens at all still has a valid shape; padding is id 0 ([PAD]) with attention 0.
 */
export function encodeForOnnx(items: EncodedItems, indices?: Int32Array): OnnxBatch {
  const n = indices ? indices.length : items.count;
  const at = (i: number): number => (indices ? indices[i] : i);
  let seq = 1;
  for (let i = 0; i < n; i++) {
    const k = at(i);
    if (k < 0 || k >= items.count) throw new RangeError(`encodeForOnnx: item index ${k} is outside 0..${items.count - 1}`);
    const len = items.promptOffsets[k + 1] - items.promptOffsets[k] + items.responseOffsets[k + 1] - items.responseOffsets[k];
    if (len > seq) seq = len;
  }
  const input_ids = new BigInt64Array(n * seq);
  const attention_mask = new BigInt64Array(n * seq);
  const token_type_ids = new BigInt64Array(n * seq);
  for (let i = 0; i < n; i++) {
    const k = at(i);
    let o = i * seq;
    for (let q = items.promptOffsets[k]; q < items.promptOffsets[k + 1]; q++, o++) {
      input_ids[o] = BigInt(items.promptIds[q]);
      attention_mask[o] = 1n;
    }
    for (let q = items.responseOffsets[k]; q < items.responseOffsets[k + 1]; q++, o++) {
      input_ids[o] = BigInt(items.responseIds[q]);
      attention_mask[o] = 1n;
      token_type_ids[o] = 1n;
    }
  }
  return { batch: n, seq, input_ids, attention_mask, token_type_ids };
}

function floatTensor(name: string, dims: number[], data: Float32Array): ITensorProto {
  // rawData is little-endian f32; every platform this runs on (x86, ARM, wasm) is little-endian.
  return { name, dims, dataType: FLOAT, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

function int64Tensor(name: string, values: number[]): ITensorProto {
  return { name, dims: [values.length], dataType: INT64, int64Data: values };
}

function node(opType: string, input: string[], output: string[], attribute: onnxProto.onnx.IAttributeProto[] = []): INodeProto {
  return { opType, input, output, name: output[0], attribute };
}

function intAttr(name: string, i: number): onnxProto.onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i };
}

function valueInfo(name: string, elemType: number, dims: Array<string | number>): IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}

/** Serialized ONNX model (opset 13) of the bag RM; initializers E, W1, b1, W2 ([H, 1]), b2. */
export function exportBagRMOnnx(p: BagRMParams): Uint8Array {
  validateParams(p, 'exportBagRMOnnx');
  const { vocabSize: V, dim: D, hidden: H } = p.config;
  const initializer: ITensorProto[] = [
    floatTensor('E', [V, D], p.E),
    floatTensor('W1', [2 * D, H], p.W1),
    floatTensor('b1', [H], p.b1),
    floatTensor('W2', [H, 1], p.W2),
    floatTensor('b2', [1], p.b2),
    int64Tensor('axis1', [1]),
    int64Tensor('axis2', [2]),
    int64Tensor('pooled_shape', [0, 2 * D]),
    floatTensor('one', [], new Float32Array([1])),
  ];
  const nodes: INodeProto[] = [
    node('Gather', ['E', 'input_ids'], ['emb'], [intAttr('axis', 0)]),
    node('Cast', ['attention_mask'], ['mask_f'], [intAttr('to', FLOAT)]),
    node('Cast', ['token_type_ids'], ['type_f'], [intAttr('to', FLOAT)]),
    node('Mul', ['mask_f', 'type_f'], ['resp_mask']),
    node('Sub', ['mask_f', 'resp_mask'], ['prompt_mask']),
    node('Unsqueeze', ['resp_mask', 'axis1'], ['resp_mask3']),
    node('Unsqueeze', ['prompt_mask', 'axis1'], ['prompt_mask3']),
    // Row 0 = response, row 1 = prompt, so the reshape below yields concat(r, p).
    node('Concat', ['resp_mask3', 'prompt_mask3'], ['masks'], [intAttr('axis', 1)]),
    node('MatMul', ['masks', 'emb'], ['sums']),
    node('ReduceSum', ['masks', 'axis2'], ['counts'], [intAttr('keepdims', 1)]),
    node('Max', ['counts', 'one'], ['denom']),
    node('Div', ['sums', 'denom'], ['pooled']),
    node('Reshape', ['pooled', 'pooled_shape'], ['x']),
    node('MatMul', ['x', 'W1'], ['h_pre0']),
    node('Add', ['h_pre0', 'b1'], ['h_pre']),
    node('Relu', ['h_pre'], ['h']),
    node('MatMul', ['h', 'W2'], ['out0']),
    node('Add', ['out0', 'b2'], [ONNX_OUTPUT]),
  ];
  const model = onnx.ModelProto.create({
    irVersion: 7,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'scpo-studio',
    producerVersion: '1',
    docString: 'SCPO bag reward model: mean-pooled word embeddings of prompt and response -> MLP -> scalar',
    metadataProps: [{ key: 'scpo_config', value: JSON.stringify(p.config) }],
    graph: {
      name: 'scpo_bag_rm',
      node: nodes,
      initializer,
      input: ONNX_INPUTS.map((n) => valueInfo(n, INT64, ['batch', 'seq'])),
      output: [valueInfo(ONNX_OUTPUT, FLOAT, ['batch', 1])],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

function toNum(x: IntLike): number {
  return typeof x === 'number' ? x : x.toNumber();
}

/** Copies a float initializer out of the (possibly unaligned) protobuf buffer. */
function readFloats(t: onnxProto.onnx.ITensorProto, where: string): Float32Array {
  if (t.dataType !== FLOAT) throw new Error(`${where}: initializer ${t.name} is not float32 (data type ${t.dataType})`);
  if (t.rawData && t.rawData.length > 0) {
    if (t.rawData.length % 4 !== 0) throw new Error(`${where}: initializer ${t.name} has a truncated raw buffer`);
    const out = new Float32Array(t.rawData.length / 4);
    new Uint8Array(out.buffer).set(t.rawData);
    return out;
  }
  return Float32Array.from(t.floatData ?? []);
}

/** The parameters stored in a bag-RM ONNX file; `config` (from config.json) must match the initializer shapes. */
export function importBagRMOnnx(bytes: Uint8Array, config: BagRMConfig, where = 'model.onnx'): BagRMParams {
  let model: onnxProto.onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new Error(`${where}: not a valid ONNX model (${(e as Error).message})`);
  }
  const inits = new Map<string, onnxProto.onnx.ITensorProto>();
  for (const t of model.graph?.initializer ?? []) if (t.name) inits.set(t.name, t);
  const shapes = tensorShapes(config);
  // W2 is stored as a [H, 1] matrix for MatMul.
  const stored: Record<TensorName, number[]> = { ...shapes, W2: [config.hidden, 1] };
  const out = { config: { ...config } } as BagRMParams;
  for (const name of TENSOR_NAMES) {
    const t = inits.get(name);
    if (!t) throw new Error(`${where}: initializer ${name} is missing`);
    const dims = (t.dims ?? []).map((d) => toNum(d as IntLike));
    const want = stored[name];
    if (dims.length !== want.length || dims.some((d, i) => d !== want[i])) {
      throw new Error(`${where}: initializer ${name} has shape [${dims.join(', ')}], config.json implies [${want.join(', ')}]`);
    }
    out[name] = readFloats(t, where);
  }
  validateParams(out, where);
  return out;
}

/** The BagRMConfig recorded in the ONNX metadata by exportBagRMOnnx, or null. */
export function readOnnxConfig(bytes: Uint8Array): BagRMConfig | null {
  const model = onnx.ModelProto.decode(bytes);
  const prop = (model.metadataProps ?? []).find((p) => p.key === 'scpo_config');
  return prop?.value ? (JSON.parse(prop.value) as BagRMConfig) : null;
}
