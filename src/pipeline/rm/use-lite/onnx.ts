// ONNX graph of the USE-lite reward model (opset 17, written with onnx-proto), for scoring with onnxruntime-web
// (webgpu or wasm EP) and for exported country RMs. Inputs: joint token ids and attention mask [batch, seq]
// (right-padded, seq <= 128). Outputs: `logits` [batch, 1] (the reward, HF sequence-classification convention, like
// the bag RM) and `embedding` [batch, 512] (USE's l2-normalised sentence embedding, the frozen-encoder features).
// The computation is spec.ts's; padded keys get a -1e9 attention bias and padded tokens are left out of the pool.
import onnxProto from 'onnx-proto';
import { checkParams, type UseLiteParams } from './spec.ts';

const { onnx } = onnxProto;
type ITensorProto = onnxProto.onnx.ITensorProto;
type INodeProto = onnxProto.onnx.INodeProto;
type IAttr = onnxProto.onnx.IAttributeProto;

export const USE_ONNX_OPSET = 17;
export const USE_ONNX_INPUTS = ['input_ids', 'attention_mask'] as const;
export const USE_ONNX_SCORE = 'logits';
export const USE_ONNX_EMBEDDING = 'embedding';
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

/**
 * The reward head on the 512-d embedding: the spec's linear head (head.w, head.b), or the MLP head of the
 * frozen-encoder path (relu(emb @ W1 + b1) @ W2 + b2; W1 [512, H] is the embedding half of the bag RM's W1).
 */
export type UseLiteHead =
  | { kind: 'linear' }
  | { kind: 'mlp'; hidden: number; W1: Float32Array; b1: Float32Array; W2: Float32Array; b2: Float32Array };

function f32(name: string, dims: number[], data: Float32Array): ITensorProto {
  // rawData is little-endian f32; every platform this runs on is little-endian.
  return { name, dims, dataType: FLOAT, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}
function i64(name: string, values: number[], dims = [values.length]): ITensorProto {
  return { name, dims, dataType: INT64, int64Data: values };
}
function scalar(name: string, v: number): ITensorProto {
  return f32(name, [], Float32Array.of(v));
}
function intAttr(name: string, i: number): IAttr {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i };
}
function intsAttr(name: string, ints: number[]): IAttr {
  return { name, type: onnx.AttributeProto.AttributeType.INTS, ints };
}
function floatAttr(name: string, f: number): IAttr {
  return { name, type: onnx.AttributeProto.AttributeType.FLOAT, f };
}

/** The fixed sin || cos timing table [maxPositions, embedDim], computed exactly like the reference forward. */
export function timingTable(p: UseLiteParams): Float32Array {
  const c = p.config;
  const half = c.embedDim / 2;
  const ts = p.tensors.timescales;
  const pe = new Float32Array(c.maxPositions * c.embedDim);
  for (let t = 0; t < c.maxPositions; t++) {
    for (let i = 0; i < half; i++) {
      const a = Math.fround(t * ts[i]);
      pe[t * c.embedDim + i] = Math.sin(a);
      pe[t * c.embedDim + half + i] = Math.cos(a);
    }
  }
  return pe;
}

export function exportUseLiteOnnx(p: UseLiteParams, head: UseLiteHead = { kind: 'linear' }, metadata: Record<string, string> = {}): Uint8Array {
  checkParams(p);
  const c = p.config;
  const T = (n: string): Float32Array => p.tensors[n];
  const inits: ITensorProto[] = [];
  const nodes: INodeProto[] = [];
  const add = (op: string, input: string[], output: string, attribute: IAttr[] = []): string => {
    nodes.push({ opType: op, input, output: [output], name: output, attribute });
    return output;
  };
  const W = (name: string, dims: number[]): string => {
    inits.push(f32(name, dims, T(name)));
    return name;
  };
  inits.push(f32('E', [c.vocabSize, c.embedDim], T('E')));
  inits.push(f32('pe_table', [c.maxPositions, c.embedDim], timingTable(p)));
  inits.push(scalar('two', 2), scalar('one', 1), scalar('neg_big', 1e9), scalar('l2_floor', 1e-12));
  inits.push(i64('i0', [0], []), i64('i1', [1], []), i64('axes1', [1]), i64('axes2', [2]), i64('axes12', [1, 2]));

  // Embedding: 2 * E[id] + PE(position).
  const emb = add('Gather', ['E', 'input_ids'], 'tok_emb', [intAttr('axis', 0)]);
  const emb2 = add('Mul', [emb, 'two'], 'tok_emb2');
  const shape = add('Shape', ['input_ids'], 'ids_shape');
  const seqLen = add('Gather', [shape, 'i1'], 'seq_len', [intAttr('axis', 0)]);
  const pos = add('Range', ['i0', seqLen, 'i1'], 'positions');
  const pe = add('Gather', ['pe_table', pos], 'pe', [intAttr('axis', 0)]);
  let x = add('Add', [emb2, pe], 'x0');

  // Masks: key bias [B,1,1,T] = (mask - 1) * 1e9; pooling weights [B,T,1].
  const maskF = add('Cast', ['attention_mask'], 'mask_f', [intAttr('to', FLOAT)]);
  const maskM1 = add('Sub', [maskF, 'one'], 'mask_m1');
  const keyBias2 = add('Mul', [maskM1, 'neg_big'], 'key_bias2');
  const keyBias = add('Unsqueeze', [keyBias2, 'axes12'], 'key_bias');

  for (const L of [0, 1] as const) {
    const w = L === 0 ? c.embedDim : c.modelDim;
    const dh = w / c.heads;
    const n = (s: string): string => `L${L}.${s}`;
    inits.push(i64(n('heads_shape'), [0, 0, c.heads, dh]), i64(n('split'), [w, w, w]), i64(n('merge_shape'), [0, 0, w]));
    inits.push(f32(n('qScale'), [], T(n('qScale'))));
    const h = add('LayerNormalization', [x, W(n('ln1.g'), [w]), W(n('ln1.b'), [w])], n('ln1'), [intAttr('axis', -1), floatAttr('epsilon', c.lnEps)]);
    const qkv0 = add('MatMul', [h, W(n('qkv.W'), [w, 3 * w])], n('qkv0'));
    const qkv = add('Add', [qkv0, W(n('qkv.b'), [3 * w])], n('qkv'));
    nodes.push({ opType: 'Split', input: [qkv, n('split')], output: [n('q'), n('k'), n('v')], name: n('split_qkv'), attribute: [intAttr('axis', 2)] });
    const heads = (s: string): string => add('Reshape', [n(s), n('heads_shape')], n(`${s}_h`));
    const q = add('Transpose', [heads('q')], n('q_t'), [intsAttr('perm', [0, 2, 1, 3])]);
    const qs = add('Mul', [q, n('qScale')], n('q_s'));
    const kT = add('Transpose', [heads('k')], n('k_t'), [intsAttr('perm', [0, 2, 3, 1])]);
    const v = add('Transpose', [heads('v')], n('v_t'), [intsAttr('perm', [0, 2, 1, 3])]);
    const s0 = add('MatMul', [qs, kT], n('scores0'));
    const s1 = add('Add', [s0, keyBias], n('scores'));
    const pr = add('Softmax', [s1], n('probs'), [intAttr('axis', -1)]);
    const o = add('MatMul', [pr, v], n('ctx_h'));
    const ot = add('Transpose', [o], n('ctx_t'), [intsAttr('perm', [0, 2, 1, 3])]);
    const ctx = add('Reshape', [ot, n('merge_shape')], n('ctx'));
    const a0 = add('MatMul', [ctx, W(n('out.W'), [w, c.modelDim])], n('att0'));
    const att = add('Add', [a0, W(n('out.b'), [c.modelDim])], n('att'));
    let res = x;
    if (L === 0) {
      const r0 = add('MatMul', [x, W('L0.res.W', [w, c.modelDim])], 'L0.res0');
      res = add('Add', [r0, W('L0.res.b', [c.modelDim])], 'L0.res');
    }
    const mid = add('Add', [res, att], n('mid'));
    const h2 = add('LayerNormalization', [mid, W(n('ln2.g'), [c.modelDim]), W(n('ln2.b'), [c.modelDim])], n('ln2'), [intAttr('axis', -1), floatAttr('epsilon', c.lnEps)]);
    const f0 = add('MatMul', [h2, W(n('ff1.W'), [c.modelDim, c.ffnDim])], n('ff1_0'));
    const f1 = add('Add', [f0, W(n('ff1.b'), [c.ffnDim])], n('ff1_pre'));
    const f2 = add('Relu', [f1], n('ff1'));
    const g0 = add('MatMul', [f2, W(n('ff2.W'), [c.ffnDim, c.modelDim])], n('ff2_0'));
    const g1 = add('Add', [g0, W(n('ff2.b'), [c.modelDim])], n('ff2'));
    x = add('Add', [mid, g1], n('out'));
  }

  // Masked mean pooling, tanh layer, l2 normalisation.
  const m3 = add('Unsqueeze', [maskF, 'axes2'], 'mask3');
  const xm = add('Mul', [x, m3], 'x_masked');
  const sum = add('ReduceSum', [xm, 'axes1'], 'pool_sum', [intAttr('keepdims', 0)]);
  const len = add('ReduceSum', [maskF, 'axes1'], 'pool_len', [intAttr('keepdims', 1)]);
  const len1 = add('Max', [len, 'one'], 'pool_len1');
  const pooled = add('Div', [sum, len1], 'pooled');
  const t0 = add('MatMul', [pooled, W('tanh.W', [c.modelDim, c.modelDim])], 'tanh0');
  const t1 = add('Add', [t0, W('tanh.b', [c.modelDim])], 'tanh_pre');
  const y = add('Tanh', [t1], 'tanh');
  const ss = add('ReduceSumSquare', [y], 'ss', [intsAttr('axes', [1]), intAttr('keepdims', 1)]);
  const ssf = add('Max', [ss, 'l2_floor'], 'ss_floor');
  const norm = add('Sqrt', [ssf], 'norm');
  add('Div', [y, norm], USE_ONNX_EMBEDDING);

  if (head.kind === 'linear') {
    inits.push(f32('head.w', [c.modelDim, 1], T('head.w')), f32('head.b', [1], T('head.b')));
    const s0 = add('MatMul', [USE_ONNX_EMBEDDING, 'head.w'], 'score0');
    add('Add', [s0, 'head.b'], USE_ONNX_SCORE);
  } else {
    const H = head.hidden;
    if (head.W1.length !== c.modelDim * H || head.b1.length !== H || head.W2.length !== H || head.b2.length !== 1) {
      throw new Error(`exportUseLiteOnnx: MLP head shapes do not match ${c.modelDim}-${H}-1`);
    }
    inits.push(f32('head.W1', [c.modelDim, H], head.W1), f32('head.b1', [H], head.b1), f32('head.W2', [H, 1], head.W2), f32('head.b2', [1], head.b2));
    const h0 = add('MatMul', [USE_ONNX_EMBEDDING, 'head.W1'], 'head_h0');
    const h1 = add('Add', [h0, 'head.b1'], 'head_h1');
    const h2 = add('Relu', [h1], 'head_h');
    const s0 = add('MatMul', [h2, 'head.W2'], 'score0');
    add('Add', [s0, 'head.b2'], USE_ONNX_SCORE);
  }

  const vi = (name: string, elemType: number, dims: Array<string | number>): onnxProto.onnx.IValueInfoProto => ({
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: USE_ONNX_OPSET }],
    producerName: 'scpo-studio',
    producerVersion: '1',
    docString: 'SCPO USE-lite reward model: Universal Sentence Encoder lite (Apache-2.0) on prompt [SEP] response -> reward head',
    metadataProps: [{ key: 'scpo_use_lite_config', value: JSON.stringify(c) }, { key: 'scpo_head', value: head.kind }, ...Object.entries(metadata).map(([key, value]) => ({ key, value }))],
    graph: {
      name: 'scpo_use_lite_rm',
      node: nodes,
      initializer: inits,
      input: USE_ONNX_INPUTS.map((n) => vi(n, INT64, ['batch', 'seq'])),
      output: [vi(USE_ONNX_SCORE, FLOAT, ['batch', 1]), vi(USE_ONNX_EMBEDDING, FLOAT, ['batch', c.modelDim])],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
