// The bundled policy in HF layout: ONNX graph (onnx-proto) of one next-token step, export/import of its weights,
// config.json with the output vocabulary, and the policy's word-level tokenizer; loading through a ReadFile so Node
// (fs) and the browser (fetch) share one path. Sampling from the ONNX file runs in onnxruntime-web (ort-policy.ts).
//
// Graph inputs (int64): context_ids [batch, k] (input ids of the k previous tokens, oldest first, [SEP] = start),
// prompt_ids [batch, P] and prompt_mask [batch, P] (1 = token, 0 = padding; P >= 1). Output: logits [batch, Vout].
import onnxProto from 'onnx-proto';
import type { ReadFile } from '../rm/files.ts';
import { buildTokenizerConfig, tokenizerVocab, SPECIAL_TOKENS } from '../rm/tokenizer.ts';
import { LM_TENSORS, lmShapes, validateLmConfig, validateLmParams, type MlpLmConfig, type MlpLmParams } from './lm.ts';
import { policyTokenizerJson, vocabFromWords, EOS_TOKEN, type PolicyVocab } from './vocab.ts';
import { UNK_TOKEN } from '../rm/tokenizer.ts';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
type ITensorProto = onnxProto.onnx.ITensorProto;
type IntLike = number | { toNumber(): number };

export const POLICY_MODEL_TYPE = 'scpo-mlp-lm';
export const POLICY_ARCHITECTURE = 'ScpoMlpLanguageModel';
export const POLICY_INPUTS = ['context_ids', 'prompt_ids', 'prompt_mask'] as const;
export const POLICY_OUTPUT = 'logits';

function floatTensor(name: string, dims: number[], data: Float32Array): ITensorProto {
  // Copy: the parameters may be views with an offset; rawData is little-endian f32.
  const copy = data.slice();
  return { name, dims, dataType: FLOAT, rawData: new Uint8Array(copy.buffer) };
}

function intAttr(name: string, i: number): onnxProto.onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i };
}

function node(opType: string, input: string[], output: string[], attribute: onnxProto.onnx.IAttributeProto[] = []) {
  return { opType, input, output, name: output[0], attribute };
}

function valueInfo(name: string, elemType: number, dims: Array<string | number>) {
  return { name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } } };
}

/** Serialized ONNX model (opset 13) of one next-token step of the policy. */
export function exportPolicyOnnx(p: MlpLmParams): Uint8Array {
  validateLmParams(p, 'exportPolicyOnnx');
  const { context: k, dim: D, vocabOut: Vo } = p.config;
  const s = lmShapes(p.config);
  const model = onnx.ModelProto.create({
    irVersion: 7,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'scpo-studio',
    producerVersion: '1',
    docString: 'SCPO bundled policy: k previous word embeddings + mean prompt embedding -> MLP -> next-word logits',
    metadataProps: [{ key: 'scpo_policy_config', value: JSON.stringify(p.config) }],
    graph: {
      name: 'scpo_mlp_lm',
      initializer: [
        floatTensor('E', s.E, p.E),
        floatTensor('W1', s.W1, p.W1),
        floatTensor('b1', s.b1, p.b1),
        floatTensor('W2', s.W2, p.W2),
        floatTensor('b2', s.b2, p.b2),
        { name: 'ctx_shape', dims: [2], dataType: INT64, int64Data: [0, k * D] },
        { name: 'vec_shape', dims: [2], dataType: INT64, int64Data: [0, D] },
        { name: 'axis1', dims: [1], dataType: INT64, int64Data: [1] },
        { name: 'axis2', dims: [1], dataType: INT64, int64Data: [2] },
        floatTensor('one', [], new Float32Array([1])),
      ],
      node: [
        node('Gather', ['E', 'context_ids'], ['ctx_emb'], [intAttr('axis', 0)]),
        node('Reshape', ['ctx_emb', 'ctx_shape'], ['ctx_flat']),
        node('Gather', ['E', 'prompt_ids'], ['p_emb'], [intAttr('axis', 0)]),
        node('Cast', ['prompt_mask'], ['pm'], [intAttr('to', FLOAT)]),
        node('Unsqueeze', ['pm', 'axis1'], ['pm3']),
        node('MatMul', ['pm3', 'p_emb'], ['p_sum']),
        node('ReduceSum', ['pm3', 'axis2'], ['p_cnt'], [intAttr('keepdims', 1)]),
        node('Max', ['p_cnt', 'one'], ['p_den']),
        node('Div', ['p_sum', 'p_den'], ['p_mean3']),
        node('Reshape', ['p_mean3', 'vec_shape'], ['p_mean']),
        node('Concat', ['ctx_flat', 'p_mean'], ['x'], [intAttr('axis', 1)]),
        node('MatMul', ['x', 'W1'], ['z0']),
        node('Add', ['z0', 'b1'], ['z']),
        node('Relu', ['z'], ['h']),
        node('MatMul', ['h', 'W2'], ['l0']),
        node('Add', ['l0', 'b2'], [POLICY_OUTPUT]),
      ],
      input: [
        valueInfo('context_ids', INT64, ['batch', k]),
        valueInfo('prompt_ids', INT64, ['batch', 'prompt_length']),
        valueInfo('prompt_mask', INT64, ['batch', 'prompt_length']),
      ],
      output: [valueInfo(POLICY_OUTPUT, FLOAT, ['batch', Vo])],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** The parameters stored in a policy ONNX file; `config` must match the initializer shapes. */
export function importPolicyOnnx(bytes: Uint8Array, config: MlpLmConfig, where = 'model.onnx'): MlpLmParams {
  let model: onnxProto.onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new Error(`${where}: not a valid ONNX model (${(e as Error).message})`);
  }
  const inits = new Map<string, ITensorProto>();
  for (const t of model.graph?.initializer ?? []) if (t.name) inits.set(t.name, t);
  const shapes = lmShapes(config);
  const out = { config: { ...config } } as MlpLmParams;
  for (const name of LM_TENSORS) {
    const t = inits.get(name);
    if (!t) throw new Error(`${where}: initializer ${name} is missing`);
    const dims = (t.dims ?? []).map((d) => (typeof d === 'number' ? d : (d as { toNumber(): number }).toNumber()));
    const want = shapes[name];
    if (dims.length !== want.length || dims.some((d: IntLike, i) => d !== want[i])) {
      throw new Error(`${where}: initializer ${name} has shape [${dims.join(', ')}], config.json implies [${want.join(', ')}]`);
    }
    if (!t.rawData || t.rawData.length !== want.reduce((a, b) => a * b, 1) * 4) throw new Error(`${where}: initializer ${name} has no (or a truncated) raw buffer`);
    const arr = new Float32Array(t.rawData.length / 4);
    new Uint8Array(arr.buffer).set(t.rawData);
    out[name] = arr;
  }
  validateLmParams(out, where);
  return out;
}

/** Padded int64 inputs of the ONNX step for `n` rows. */
export function policyOnnxInputs(
  k: number,
  rows: readonly { ctx: ArrayLike<number>; prompt: ArrayLike<number> }[],
): { n: number; P: number; context_ids: BigInt64Array; prompt_ids: BigInt64Array; prompt_mask: BigInt64Array } {
  const n = rows.length;
  let P = 1;
  for (const r of rows) P = Math.max(P, r.prompt.length);
  const context_ids = new BigInt64Array(n * k);
  const prompt_ids = new BigInt64Array(n * P);
  const prompt_mask = new BigInt64Array(n * P);
  rows.forEach((r, i) => {
    for (let c = 0; c < k; c++) context_ids[i * k + c] = BigInt(r.ctx[c]);
    for (let t = 0; t < r.prompt.length; t++) {
      prompt_ids[i * P + t] = BigInt(r.prompt[t]);
      prompt_mask[i * P + t] = 1n;
    }
  });
  return { n, P, context_ids, prompt_ids, prompt_mask };
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export const POLICY_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx'] as const;

/** config.json, tokenizer.json (input vocabulary), tokenizer_config.json, onnx/model.onnx: path -> bytes. */
export function policyFiles(p: MlpLmParams, vocab: PolicyVocab, extra: Record<string, unknown> = {}): Record<string, Uint8Array> {
  validateLmParams(p, 'policyFiles');
  if (vocab.inWords.length !== p.config.vocabIn || vocab.outWords.length !== p.config.vocabOut) {
    throw new Error('policyFiles: the vocabulary does not match the model');
  }
  const config = {
    architectures: [POLICY_ARCHITECTURE],
    model_type: POLICY_MODEL_TYPE,
    ...p.config,
    // Output vocabulary after [EOS], [UNK] (each word is also an input word of tokenizer.json).
    output_words: vocab.outWords.slice(2),
    ...extra,
  };
  return {
    'config.json': enc.encode(JSON.stringify(config) + '\n'),
    'tokenizer.json': enc.encode(JSON.stringify(policyTokenizerJson(vocab))),
    'tokenizer_config.json': enc.encode(JSON.stringify(buildTokenizerConfig(512), null, 1) + '\n'),
    'onnx/model.onnx': exportPolicyOnnx(p),
  };
}

/** Loads a policy folder written by policyFiles; errors name the file at fault. */
export async function loadPolicy(read: ReadFile): Promise<{ params: MlpLmParams; vocab: PolicyVocab; onnx: Uint8Array }> {
  const get = async (path: string) => {
    try {
      return await read(path);
    } catch (e) {
      throw new Error(`policy file ${path} could not be read: ${(e as Error).message}`);
    }
  };
  const json = async (path: string) => {
    try {
      return JSON.parse(dec.decode(await get(path))) as Record<string, unknown>;
    } catch (e) {
      if ((e as Error).message.startsWith('policy file')) throw e;
      throw new Error(`policy file ${path} is not valid JSON: ${(e as Error).message}`);
    }
  };
  const [cfgJson, tokJson, onnxBytes] = await Promise.all([json('config.json'), json('tokenizer.json'), get('onnx/model.onnx')]);
  if (cfgJson.model_type !== POLICY_MODEL_TYPE) throw new Error(`config.json: model_type is ${JSON.stringify(cfgJson.model_type)}, expected "${POLICY_MODEL_TYPE}"`);
  const config: MlpLmConfig = {
    vocabIn: cfgJson.vocabIn as number,
    vocabOut: cfgJson.vocabOut as number,
    dim: cfgJson.dim as number,
    context: cfgJson.context as number,
    hidden: cfgJson.hidden as number,
    maxPromptTokens: cfgJson.maxPromptTokens as number,
  };
  validateLmConfig(config, 'config.json');
  const words = cfgJson.output_words;
  if (!Array.isArray(words) || !words.every((w) => typeof w === 'string')) throw new Error('config.json: output_words must be a list of words');
  const inWords = tokenizerVocab(tokJson);
  if (inWords.length !== config.vocabIn) throw new Error(`tokenizer.json has ${inWords.length} tokens but config.json says vocabIn ${config.vocabIn}`);
  const vocab = vocabFromWords(inWords.slice(SPECIAL_TOKENS.length), words as string[]);
  if (vocab.outWords.length !== config.vocabOut) throw new Error(`config.json: ${words.length} output words + [EOS], [UNK] != vocabOut ${config.vocabOut}`);
  void EOS_TOKEN;
  void UNK_TOKEN;
  return { params: importPolicyOnnx(onnxBytes, config, 'onnx/model.onnx'), vocab, onnx: onnxBytes };
}
