// A tiny causal LM in Hugging Face layout that transformers.js's text-generation pipeline runs offline: a
// GPT-2-typed config (model_type gpt2, 1 layer, 1 head), a word-level tokenizer and an onnx-proto graph of one
// attention layer WITH a key/value cache (transformers.js feeds only the newest token after the first step, so a
// cache-less graph would see one token of context): inputs input_ids, attention_mask, position_ids,
// past_key_values.0.{key,value} [batch, 1, past, d]; outputs logits [batch, seq, V], present.0.{key,value}.
// x = wte[ids] + wpe[pos]; q,k,v = x Wq, x Wk, x Wv; causal + padding masked softmax(q K^T / sqrt d) V;
// h = x + att Wo; logits = h wte^T (tied). It is a test/demo model: weights are seeded (embeddings optionally from
// GloVe rows), not trained.
import onnxProto from 'onnx-proto';
import { Rng } from '../rng.ts';
import { buildTokenizerJson, SEP_TOKEN, SPECIAL_TOKENS, UNK_TOKEN, PAD_TOKEN } from '../rm/tokenizer.ts';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

export interface TinyGpt2Options {
  words: string[];
  dim?: number;
  maxPositions?: number;
  seed?: number;
  /** Optional word vectors [words.length, sourceDim], randomly projected to `dim`. */
  vectors?: Float32Array;
  sourceDim?: number;
}

const enc = new TextEncoder();

function f32(name: string, dims: number[], data: Float32Array): onnxProto.onnx.ITensorProto {
  return { name, dims, dataType: FLOAT, rawData: new Uint8Array(data.slice().buffer) };
}
function i64(name: string, dims: number[], values: number[]): onnxProto.onnx.ITensorProto {
  return { name, dims, dataType: INT64, int64Data: values };
}
function n(opType: string, input: string[], output: string[], attribute: onnxProto.onnx.IAttributeProto[] = []) {
  return { opType, input, output, name: output[0], attribute };
}
const intAttr = (name: string, i: number) => ({ name, type: onnx.AttributeProto.AttributeType.INT, i });
const intsAttr = (name: string, ints: number[]) => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints });
function vi(name: string, elemType: number, dims: Array<string | number>) {
  return { name, type: { tensorType: { elemType, shape: { dim: dims.map((x) => (typeof x === 'string' ? { dimParam: x } : { dimValue: x })) } } } };
}

/** config.json, generation_config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx. */
export function buildTinyGpt2Files(opts: TinyGpt2Options): Record<string, Uint8Array> {
  const d = opts.dim ?? 32;
  const P = opts.maxPositions ?? 256;
  const rng = new Rng(opts.seed ?? 1);
  const tokJson = buildTokenizerJson(opts.words);
  const vocab = (tokJson.model as { vocab: Record<string, number> }).vocab;
  const V = Object.keys(vocab).length;
  const wte = new Float32Array(V * d);
  if (opts.vectors && opts.sourceDim) {
    const D0 = opts.sourceDim;
    const proj = Float32Array.from({ length: D0 * d }, () => rng.normal() / Math.sqrt(D0));
    opts.words.forEach((w, wi) => {
      const row = vocab[w];
      if (row === undefined || row < SPECIAL_TOKENS.length) return;
      for (let j = 0; j < d; j++) {
        let a = 0;
        for (let q = 0; q < D0; q++) a += opts.vectors![wi * D0 + q] * proj[q * d + j];
        wte[row * d + j] = a;
      }
    });
  } else {
    for (let i = SPECIAL_TOKENS.length * d; i < wte.length; i++) wte[i] = rng.normal() * 0.5;
  }
  for (let j = 0; j < d; j++) wte[2 * d + j] = rng.normal() * 0.5; // [SEP] = end of text
  const wpe = Float32Array.from({ length: P * d }, () => rng.normal() * 0.05);
  const mat = (s: number) => Float32Array.from({ length: d * d }, () => rng.normal() * s);
  const lmHead = new Float32Array(d * V);
  for (let v = 0; v < V; v++) for (let j = 0; j < d; j++) lmHead[j * V + v] = wte[v * d + j];

  const graph = {
    name: 'tiny_gpt2',
    initializer: [
      f32('wte', [V, d], wte),
      f32('wpe', [P, d], wpe),
      f32('Wq', [d, d], mat(1 / Math.sqrt(d))),
      f32('Wk', [d, d], mat(1 / Math.sqrt(d))),
      f32('Wv', [d, d], mat(1 / Math.sqrt(d))),
      f32('Wo', [d, d], mat(0.5 / Math.sqrt(d))),
      f32('lm_head', [d, V], lmHead),
      f32('scale', [], new Float32Array([1 / Math.sqrt(d)])),
      f32('zero_f', [], new Float32Array([0])),
      f32('neg', [], new Float32Array([-1e9])),
      f32('one_f', [], new Float32Array([1])),
      i64('ax1', [1], [1]),
      i64('ax0', [1], [0]),
      i64('ax12', [2], [1, 2]),
      i64('i1', [], [1]),
      i64('i2', [], [2]),
      i64('zero_i', [], [0]),
      i64('one_i', [], [1]),
    ],
    node: [
      n('Gather', ['wte', 'input_ids'], ['tok'], [intAttr('axis', 0)]),
      n('Gather', ['wpe', 'position_ids'], ['pos'], [intAttr('axis', 0)]),
      n('Add', ['tok', 'pos'], ['x']),
      n('MatMul', ['x', 'Wq'], ['q']),
      n('MatMul', ['x', 'Wk'], ['k']),
      n('MatMul', ['x', 'Wv'], ['v']),
      n('Unsqueeze', ['q', 'ax1'], ['q4']),
      n('Unsqueeze', ['k', 'ax1'], ['k4']),
      n('Unsqueeze', ['v', 'ax1'], ['v4']),
      n('Concat', ['past_key_values.0.key', 'k4'], ['present.0.key'], [intAttr('axis', 2)]),
      n('Concat', ['past_key_values.0.value', 'v4'], ['present.0.value'], [intAttr('axis', 2)]),
      n('Transpose', ['present.0.key'], ['kT'], [intsAttr('perm', [0, 1, 3, 2])]),
      n('MatMul', ['q4', 'kT'], ['s0']),
      n('Mul', ['s0', 'scale'], ['s1']),
      // Padding: attention_mask [b, T] -> bias [b, 1, 1, T].
      n('Cast', ['attention_mask'], ['am'], [intAttr('to', FLOAT)]),
      n('Unsqueeze', ['am', 'ax12'], ['am4']),
      n('Sub', ['one_f', 'am4'], ['am_inv']),
      n('Mul', ['am_inv', 'neg'], ['pad_bias']),
      // Causal: query i (absolute position T - s + i) sees keys j <= T - s + i.
      n('Shape', ['present.0.key'], ['kshape']),
      n('Gather', ['kshape', 'i2'], ['T'], [intAttr('axis', 0)]),
      n('Shape', ['input_ids'], ['qshape']),
      n('Gather', ['qshape', 'one_i'], ['S'], [intAttr('axis', 0)]),
      n('Sub', ['T', 'S'], ['past']),
      n('Range', ['past', 'T', 'one_i'], ['qpos']),
      n('Range', ['zero_i', 'T', 'one_i'], ['kpos']),
      n('Unsqueeze', ['qpos', 'ax1'], ['qpos2']),
      n('Unsqueeze', ['kpos', 'ax0'], ['kpos2']),
      n('Greater', ['kpos2', 'qpos2'], ['future']),
      n('Where', ['future', 'neg', 'zero_f'], ['causal_bias']),
      n('Add', ['s1', 'pad_bias'], ['s2']),
      n('Add', ['s2', 'causal_bias'], ['s3']),
      n('Softmax', ['s3'], ['att'], [intAttr('axis', -1)]),
      n('MatMul', ['att', 'present.0.value'], ['ctx4']),
      n('Squeeze', ['ctx4', 'ax1'], ['ctx']),
      n('MatMul', ['ctx', 'Wo'], ['o']),
      n('Add', ['x', 'o'], ['h']),
      n('MatMul', ['h', 'lm_head'], ['logits']),
    ],
    input: [
      vi('input_ids', INT64, ['batch_size', 'sequence_length']),
      vi('attention_mask', INT64, ['batch_size', 'total_sequence_length']),
      vi('position_ids', INT64, ['batch_size', 'sequence_length']),
      vi('past_key_values.0.key', FLOAT, ['batch_size', 1, 'past_sequence_length', d]),
      vi('past_key_values.0.value', FLOAT, ['batch_size', 1, 'past_sequence_length', d]),
    ],
    output: [
      vi('logits', FLOAT, ['batch_size', 'sequence_length', V]),
      vi('present.0.key', FLOAT, ['batch_size', 1, 'total_sequence_length', d]),
      vi('present.0.value', FLOAT, ['batch_size', 1, 'total_sequence_length', d]),
    ],
  };
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'scpo-studio',
    docString: 'Tiny GPT-2-typed causal LM (1 layer, 1 head, KV cache) for offline text-generation tests',
    graph,
  });
  const config = {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: V,
    n_embd: d,
    n_head: 1,
    n_layer: 1,
    n_positions: P,
    n_ctx: P,
    bos_token_id: 2,
    eos_token_id: 2,
    pad_token_id: 0,
    use_cache: true,
    'transformers.js_config': { dtype: 'fp32' },
    scpo_note: 'Tiny seeded causal LM generated by scripts/build-models.ts (src/pipeline/policy/tiny-gpt2.ts); untrained.',
  };
  const tokenizerConfig = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    pad_token: PAD_TOKEN,
    unk_token: UNK_TOKEN,
    eos_token: SEP_TOKEN,
    bos_token: SEP_TOKEN,
    model_max_length: P,
    clean_up_tokenization_spaces: true,
  };
  return {
    'config.json': enc.encode(JSON.stringify(config, null, 1) + '\n'),
    'generation_config.json': enc.encode(JSON.stringify({ bos_token_id: 2, eos_token_id: 2, pad_token_id: 0 }, null, 1) + '\n'),
    'tokenizer.json': enc.encode(JSON.stringify(tokJson)),
    'tokenizer_config.json': enc.encode(JSON.stringify(tokenizerConfig, null, 1) + '\n'),
    'onnx/model.onnx': onnx.ModelProto.encode(model).finish(),
  };
}
