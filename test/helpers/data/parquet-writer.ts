// Test-only minimal Parquet writer (hyparquet-writer is not a dependency): one row group, PLAIN values, v1 data pages,
// OPTIONAL columns with definition levels, one level of struct nesting, UNCOMPRESSED or literal-only SNAPPY.
// Enough to produce files shaped like the HF parquet mirror of PRISM (nullable columns, a `location` struct).

export type LeafType = 'string' | 'int64' | 'int32' | 'double' | 'boolean';

export interface LeafColumn {
  name: string;
  type: LeafType;
}

export interface StructColumn {
  name: string;
  children: LeafColumn[];
}

export type Column = LeafColumn | StructColumn;

export interface WriteOptions {
  codec?: 'uncompressed' | 'snappy';
}

const TYPE_CODE: Record<LeafType, number> = { boolean: 0, int32: 1, int64: 2, double: 5, string: 6 };
const OPTIONAL = 1;
const REQUIRED = 0;
const CONVERTED_UTF8 = 0;
const ENC_PLAIN = 0;
const ENC_RLE = 3;

class Bytes {
  private chunks: number[] = [];
  get length(): number {
    return this.chunks.length;
  }
  byte(b: number): void {
    this.chunks.push(b & 0xff);
  }
  bytes(a: ArrayLike<number>): void {
    for (let i = 0; i < a.length; i++) this.chunks.push(a[i] & 0xff);
  }
  uvarint(n: bigint | number): void {
    let v = BigInt(n);
    while (v >= 0x80n) {
      this.byte(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.byte(Number(v));
  }
  zigzag(n: bigint | number): void {
    const v = BigInt(n);
    this.uvarint(v >= 0n ? v << 1n : ((-v) << 1n) - 1n);
  }
  u32le(n: number): void {
    for (let i = 0; i < 4; i++) this.byte((n >>> (8 * i)) & 0xff);
  }
  toUint8Array(): Uint8Array<ArrayBuffer> {
    return Uint8Array.from(this.chunks);
  }
}

/** Thrift compact protocol: only the pieces the Parquet footer and page headers need. */
class Thrift {
  readonly out = new Bytes();
  private last: number[] = [0];

  private header(id: number, type: number): void {
    const delta = id - this.last[this.last.length - 1];
    if (delta > 0 && delta <= 15) this.out.byte((delta << 4) | type);
    else {
      this.out.byte(type);
      this.out.zigzag(id);
    }
    this.last[this.last.length - 1] = id;
  }
  i32(id: number, v: number): void {
    this.header(id, 5);
    this.out.zigzag(v);
  }
  i64(id: number, v: number | bigint): void {
    this.header(id, 6);
    this.out.zigzag(v);
  }
  binary(id: number, s: string): void {
    this.header(id, 8);
    const b = new TextEncoder().encode(s);
    this.out.uvarint(b.length);
    this.out.bytes(b);
  }
  struct(id: number, body: () => void): void {
    this.header(id, 12);
    this.structBody(body);
  }
  private structBody(body: () => void): void {
    this.last.push(0);
    body();
    this.out.byte(0);
    this.last.pop();
  }
  private listHeader(id: number, size: number, elemType: number): void {
    this.header(id, 9);
    if (size < 15) this.out.byte((size << 4) | elemType);
    else {
      this.out.byte(0xf0 | elemType);
      this.out.uvarint(size);
    }
  }
  listStruct<T>(id: number, items: readonly T[], body: (item: T) => void): void {
    this.listHeader(id, items.length, 12);
    for (const item of items) this.structBody(() => body(item));
  }
  listI32(id: number, items: readonly number[]): void {
    this.listHeader(id, items.length, 5);
    for (const v of items) this.out.zigzag(v);
  }
  listString(id: number, items: readonly string[]): void {
    this.listHeader(id, items.length, 8);
    for (const s of items) {
      const b = new TextEncoder().encode(s);
      this.out.uvarint(b.length);
      this.out.bytes(b);
    }
  }
}

/** RLE/bit-packed hybrid, RLE runs only. */
function rleLevels(levels: readonly number[], maxLevel: number): Uint8Array<ArrayBuffer> {
  const bitWidth = Math.ceil(Math.log2(maxLevel + 1));
  const byteWidth = Math.ceil(bitWidth / 8);
  const b = new Bytes();
  let i = 0;
  while (i < levels.length) {
    let j = i;
    while (j < levels.length && levels[j] === levels[i]) j++;
    b.uvarint((j - i) << 1);
    for (let k = 0; k < byteWidth; k++) b.byte((levels[i] >> (8 * k)) & 0xff);
    i = j;
  }
  return b.toUint8Array();
}

function plainValues(type: LeafType, values: readonly unknown[]): Uint8Array<ArrayBuffer> {
  const b = new Bytes();
  if (type === 'boolean') {
    for (let i = 0; i < values.length; i += 8) {
      let byte = 0;
      for (let k = 0; k < 8 && i + k < values.length; k++) if (values[i + k]) byte |= 1 << k;
      b.byte(byte);
    }
    return b.toUint8Array();
  }
  for (const v of values) {
    if (type === 'string') {
      const s = new TextEncoder().encode(String(v));
      b.u32le(s.length);
      b.bytes(s);
    } else if (type === 'int32') {
      b.u32le(Number(v) | 0);
    } else if (type === 'int64') {
      const dv = new DataView(new ArrayBuffer(8));
      dv.setBigInt64(0, BigInt(v as number | bigint), true);
      b.bytes(new Uint8Array(dv.buffer));
    } else {
      const dv = new DataView(new ArrayBuffer(8));
      dv.setFloat64(0, Number(v), true);
      b.bytes(new Uint8Array(dv.buffer));
    }
  }
  return b.toUint8Array();
}

/** A valid snappy stream made of literals only: no compression, but exercises the reader's snappy path. */
function snappyLiteral(data: Uint8Array): Uint8Array<ArrayBuffer> {
  const b = new Bytes();
  b.uvarint(data.length);
  for (let i = 0; i < data.length; i += 65536) {
    const chunk = data.subarray(i, Math.min(data.length, i + 65536));
    const n = chunk.length - 1;
    if (n < 60) b.byte(n << 2);
    else if (n < 256) {
      b.byte(60 << 2);
      b.byte(n);
    } else {
      b.byte(61 << 2);
      b.byte(n & 0xff);
      b.byte(n >> 8);
    }
    b.bytes(chunk);
  }
  return b.toUint8Array();
}

interface Leaf {
  path: string[];
  type: LeafType;
  maxDef: number;
  /** Value (or undefined for null) and definition level per row. */
  get(row: Record<string, unknown>): { value: unknown; def: number };
}

function leaves(columns: readonly Column[]): Leaf[] {
  const out: Leaf[] = [];
  for (const col of columns) {
    if ('children' in col) {
      for (const child of col.children) {
        out.push({
          path: [col.name, child.name],
          type: child.type,
          maxDef: 2,
          get: (row) => {
            const parent = row[col.name];
            if (parent === null || parent === undefined || typeof parent !== 'object') return { value: undefined, def: 0 };
            const v = (parent as Record<string, unknown>)[child.name];
            return v === null || v === undefined ? { value: undefined, def: 1 } : { value: v, def: 2 };
          },
        });
      }
    } else {
      out.push({
        path: [col.name],
        type: col.type,
        maxDef: 1,
        get: (row) => {
          const v = row[col.name];
          return v === null || v === undefined ? { value: undefined, def: 0 } : { value: v, def: 1 };
        },
      });
    }
  }
  return out;
}

/** Writes rows as one Parquet file (one row group, one page per column), every column OPTIONAL like HF exports. */
export function writeParquet(columns: readonly Column[], rows: readonly Record<string, unknown>[], opts: WriteOptions = {}): Uint8Array<ArrayBuffer> {
  const codec = opts.codec === 'snappy' ? 1 : 0;
  const file = new Bytes();
  file.bytes(new TextEncoder().encode('PAR1'));
  const chunks: { leaf: Leaf; offset: number; size: number; rawSize: number }[] = [];
  for (const leaf of leaves(columns)) {
    const defs: number[] = [];
    const values: unknown[] = [];
    for (const row of rows) {
      const { value, def } = leaf.get(row);
      defs.push(def);
      if (def === leaf.maxDef) values.push(value);
    }
    const levels = rleLevels(defs, leaf.maxDef);
    const body = new Bytes();
    body.u32le(levels.length);
    body.bytes(levels);
    body.bytes(plainValues(leaf.type, values));
    const raw = body.toUint8Array();
    const page = codec === 1 ? snappyLiteral(raw) : raw;
    const header = new Thrift();
    header.i32(1, 0); // DATA_PAGE
    header.i32(2, raw.length);
    header.i32(3, page.length);
    header.struct(5, () => {
      header.i32(1, rows.length);
      header.i32(2, ENC_PLAIN);
      header.i32(3, ENC_RLE);
      header.i32(4, ENC_RLE);
    });
    header.out.byte(0);
    const headerBytes = header.out.toUint8Array();
    const offset = file.length;
    file.bytes(headerBytes);
    file.bytes(page);
    chunks.push({ leaf, offset, size: headerBytes.length + page.length, rawSize: headerBytes.length + raw.length });
  }

  const meta = new Thrift();
  meta.i32(1, 1);
  const schema: { name: string; type?: LeafType; children?: number; repetition: number }[] = [
    { name: 'schema', children: columns.length, repetition: REQUIRED },
  ];
  for (const col of columns) {
    if ('children' in col) {
      schema.push({ name: col.name, children: col.children.length, repetition: OPTIONAL });
      for (const c of col.children) schema.push({ name: c.name, type: c.type, repetition: OPTIONAL });
    } else schema.push({ name: col.name, type: col.type, repetition: OPTIONAL });
  }
  meta.listStruct(2, schema, (el) => {
    if (el.type !== undefined) meta.i32(1, TYPE_CODE[el.type]);
    // The root element carries no repetition type in files written by parquet-mr / arrow.
    if (el !== schema[0]) meta.i32(3, el.repetition);
    meta.binary(4, el.name);
    if (el.children !== undefined) meta.i32(5, el.children);
    if (el.type === 'string') meta.i32(6, CONVERTED_UTF8);
  });
  meta.i64(3, rows.length);
  meta.listStruct(4, [0], () => {
    meta.listStruct(1, chunks, (ch) => {
      meta.i64(2, ch.offset);
      meta.struct(3, () => {
        meta.i32(1, TYPE_CODE[ch.leaf.type]);
        meta.listI32(2, [ENC_PLAIN, ENC_RLE]);
        meta.listString(3, ch.leaf.path);
        meta.i32(4, codec);
        meta.i64(5, rows.length);
        meta.i64(6, ch.rawSize);
        meta.i64(7, ch.size);
        meta.i64(9, ch.offset);
      });
    });
    meta.i64(2, chunks.reduce((n, c) => n + c.rawSize, 0));
    meta.i64(3, rows.length);
  });
  meta.binary(6, 'scpo-studio test writer');
  meta.out.byte(0);
  const footer = meta.out.toUint8Array();
  file.bytes(footer);
  file.u32le(footer.length);
  file.bytes(new TextEncoder().encode('PAR1'));
  return file.toUint8Array();
}
