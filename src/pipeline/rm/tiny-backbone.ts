// A tiny transformers.js feature-extraction model in HF layout (BERT-typed config, WordLevel tokenizer, ONNX graph
// Gather + token-type embedding -> Tanh(MatMul) -> masked), made so the backbone path runs offline and in tests.
import onnxProto from 'onnx-proto';
import { Rng } from '../rng.ts';
import { buildTokenizerConfig, buildTokenizerJson, SPECIAL_TOKENS } from './tokenizer.ts';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

export interface TinyBackboneOptions {
  /** Vocabulary words (special tokens are prepended). */
  words: string[];
  /** Output width (last_hidden_state's last dim). */
  hidden?: number;
  /** Optional pretrained word vectors [words.length, sourceDim], randomly projected down to `hidden`. */
  vectors?: Float32Array;
  sourceDim?: number;
  seed?: number;
  maxLength?: number;
}

const enc = new TextEncoder();

function floatTensor(name: string, dims: number[], data: Float32Array): onnxProto.onnx.ITensorProto {
  return { name, dims, dataType: FLOAT, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** config.json, tokenizer.json, tokenizer_config.json and onnx/model.onnx of the tiny backbone, path -> bytes. */
export function buildTinyBackboneFiles(opts: TinyBackboneOptions): Record<string, Uint8Array> {
  const H = opts.hidden ?? 32;
  const maxLength = opts.maxLength ?? 512;
  const rng = new Rng(opts.seed ?? 1);
  const tokJson = buildTokenizerJson(opts.words);
  const vocabSize = Object.keys((tokJson.model as { vocab: Record<string, number> }).vocab).length;
  const nSpecial = SPECIAL_TOKENS.length;

  const emb = new Float32Array(vocabSize * H);
  if (opts.vectors && opts.sourceDim) {
    const D0 = opts.sourceDim;
    if (opts.vectors.length !== opts.words.length * D0) throw new Error('tiny backbone: vectors do not match words x sourceDim');
    const proj = new Float32Array(D0 * H);
    for (let i = 0; i < proj.length; i++) proj[i] = rng.normal() / Math.sqrt(D0);
    // Words are deduplicated by buildTokenizerJson; the first occurrence owns the row.
    const vocab = (tokJson.model as { vocab: Record<string, number> }).vocab;
    opts.words.forEach((w, wi) => {
      const row = vocab[w];
      if (row < nSpecial || row === undefined) return;
      for (let j = 0; j < H; j++) {
        let a = 0;
        for (let d = 0; d < D0; d++) a += opts.vectors![wi * D0 + d] * proj[d * H + j];
        emb[row * H + j] = a;
      }
    });
  } else {
    for (let i = nSpecial * H; i < emb.length; i++) emb[i] = rng.normal() * 0.5;
  }
  // [UNK] gets a fixed random vector so unknown words still register.
  for (let j = 0; j < H; j++) emb[H + j] = rng.normal() * 0.5;
  const typeEmb = new Float32Array(2 * H);
  for (let i = 0; i < typeEmb.length; i++) typeEmb[i] = rng.normal() * 0.1;
  const W = new Float32Array(H * H);
  for (let i = 0; i < W.length; i++) W[i] = rng.normal() / Math.sqrt(H);
  const b = new Float32Array(H);

  const n = (opType: string, input: string[], output: string[], attribute: onnxProto.onnx.IAttributeProto[] = []) => ({
    opType,
    input,
    output,
    name: output[0],
    attribute,
  });
  const dims = (d: Array<string | number>) => ({ dim: d.map((x) => (typeof x === 'string' ? { dimParam: x } : { dimValue: x })) });
  const model = onnx.ModelProto.create({
    irVersion: 7,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'scpo-studio',
    docString: 'Tiny offline test backbone: word + token-type embeddings -> tanh(linear), masked',
    graph: {
      name: 'tiny_backbone',
      initializer: [
        floatTensor('word_embeddings', [vocabSize, H], emb),
        floatTensor('token_type_embeddings', [2, H], typeEmb),
        floatTensor('dense_weight', [H, H], W),
        floatTensor('dense_bias', [H], b),
        { name: 'axis2', dims: [1], dataType: INT64, int64Data: [2] },
      ],
      node: [
        n('Gather', ['word_embeddings', 'input_ids'], ['tok'], [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 }]),
        n('Gather', ['token_type_embeddings', 'token_type_ids'], ['typ'], [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 }]),
        n('Add', ['tok', 'typ'], ['sum']),
        n('MatMul', ['sum', 'dense_weight'], ['lin0']),
        n('Add', ['lin0', 'dense_bias'], ['lin']),
        n('Tanh', ['lin'], ['act']),
        n('Cast', ['attention_mask'], ['mask_f'], [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: FLOAT }]),
        n('Unsqueeze', ['mask_f', 'axis2'], ['mask3']),
        n('Mul', ['act', 'mask3'], ['last_hidden_state']),
      ],
      input: ['input_ids', 'attention_mask', 'token_type_ids'].map((name) => ({
        name,
        type: { tensorType: { elemType: INT64, shape: dims(['batch_size', 'sequence_length']) } },
      })),
      output: [
        { name: 'last_hidden_state', type: { tensorType: { elemType: FLOAT, shape: dims(['batch_size', 'sequence_length', H]) } } },
      ],
    },
  });

  const config = {
    architectures: ['BertModel'],
    model_type: 'bert',
    vocab_size: vocabSize,
    hidden_size: H,
    num_hidden_layers: 1,
    num_attention_heads: 1,
    intermediate_size: H,
    hidden_act: 'tanh',
    max_position_embeddings: maxLength,
    type_vocab_size: 2,
    pad_token_id: 0,
    // Keeps transformers.js on onnx/model.onnx on every device (its wasm default would ask for a q8 file).
    'transformers.js_config': { dtype: 'fp32' },
    scpo_note: 'Tiny offline test backbone generated by scripts/build-models.ts; not a real BERT.',
  };
  return {
    'config.json': enc.encode(JSON.stringify(config, null, 1) + '\n'),
    'tokenizer.json': enc.encode(JSON.stringify(tokJson)),
    'tokenizer_config.json': enc.encode(JSON.stringify(buildTokenizerConfig(maxLength), null, 1) + '\n'),
    'onnx/model.onnx': onnx.ModelProto.encode(model).finish(),
  };
}
