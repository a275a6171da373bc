// The training weights file (model.safetensors): the HF safetensors format, so PyTorch and `safetensors` read it
// too. Layout: u64 little-endian header length N, N bytes of JSON {name: {dtype: "F32", shape, data_offsets:
// [begin, end]}, __metadata__: {string: string}}, then the raw little-endian f32 data. We write tensors in the
// spec's storage order (tensorSpecs), 8-byte-aligned header (padded with spaces, as the format allows).
import { checkParams, tensorSpecs, type UseLiteConfig, type UseLiteParams } from './spec.ts';

export const WEIGHTS_FILE = 'model.safetensors';

export function writeSafetensors(tensors: { name: string; shape: readonly number[]; data: Float32Array }[], metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let off = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [off, off + t.data.byteLength] };
    off += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  while ((8 + new TextEncoder().encode(json).length) % 8 !== 0) json += ' ';
  const hj = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + hj.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(hj.length), true);
  out.set(hj, 8);
  let p = 8 + hj.length;
  for (const t of tensors) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), p);
    p += t.data.byteLength;
  }
  return out;
}

export interface SafetensorsContent {
  metadata: Record<string, string>;
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
}

export function readSafetensors(bytes: Uint8Array, where = WEIGHTS_FILE): SafetensorsContent {
  if (bytes.length < 8) throw new Error(`${where}: too short for a safetensors file`);
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (n <= 0 || 8 + n > bytes.length) throw new Error(`${where}: header length ${n} does not fit the ${bytes.length}-byte file`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${where}: header is not JSON (${(e as Error).message})`);
  }
  const base = 8 + n;
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const t = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (t.dtype !== 'F32') throw new Error(`${where}: tensor ${name} has dtype ${String(t.dtype)}, only F32 is supported`);
    const [b, e] = Array.isArray(t.data_offsets) ? (t.data_offsets as number[]) : [NaN, NaN];
    if (!(b >= 0 && e >= b && base + e <= bytes.length)) throw new Error(`${where}: tensor ${name} has bad data_offsets`);
    const data = new Float32Array((e - b) / 4);
    new Uint8Array(data.buffer).set(bytes.subarray(base + b, base + e));
    tensors.set(name, { shape: (t.shape as number[]) ?? [], data });
  }
  return { metadata: (header.__metadata__ as Record<string, string>) ?? {}, tensors };
}

/** All spec tensors of a params object, in spec order. */
export function paramsToSafetensors(p: UseLiteParams, metadata: Record<string, string> = {}): Uint8Array {
  checkParams(p);
  return writeSafetensors(
    tensorSpecs(p.config).map((t) => ({ name: t.name, shape: t.shape, data: p.tensors[t.name] })),
    metadata,
  );
}

export function paramsFromSafetensors(bytes: Uint8Array, config: UseLiteConfig, where = WEIGHTS_FILE): UseLiteParams {
  const { tensors } = readSafetensors(bytes, where);
  const out: Record<string, Float32Array> = {};
  for (const t of tensorSpecs(config)) {
    const got = tensors.get(t.name);
    if (!got) throw new Error(`${where}: tensor ${t.name} is missing`);
    if (got.shape.join('x') !== t.shape.join('x')) throw new Error(`${where}: tensor ${t.name} has shape [${got.shape}], expected [${t.shape}]`);
    out[t.name] = got.data;
  }
  const p = { config: { ...config }, tensors: out };
  checkParams(p);
  return p;
}
