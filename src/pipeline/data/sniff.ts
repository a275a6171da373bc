// Recognises files that are not UTF-8 text before they are parsed line by line: a UTF-16 export (Excel, PowerShell)
// or a binary file would otherwise fail on every row with an unhelpful "not valid JSON" / "column missing" message.
import type { InputFile } from '../types.ts';

const SAMPLE = 8192;

/**
 * Why `file` is not UTF-8 text ("looks like UTF-16 (little-endian) ..."), or null when it is (or may be) text.
 * Reads only the first 8 KiB. NUL bytes never occur in JSONL or CSV text, so they decide: mostly on one byte parity
 * means UTF-16 without a byte-order mark, anywhere else means binary. Without NULs, a sample whose bytes are mostly
 * not valid UTF-8 is called binary too (a stray Latin-1 character is not).
 */
export async function notUtf8Text(file: InputFile): Promise<string | null> {
  const b = new Uint8Array(await file.blob.slice(0, SAMPLE).arrayBuffer());
  if (b.length >= 2 && b[0] === 0xff && b[1] === 0xfe) return 'looks like UTF-16 (little-endian byte-order mark FF FE), not UTF-8: save it as UTF-8';
  if (b.length >= 2 && b[0] === 0xfe && b[1] === 0xff) return 'looks like UTF-16 (big-endian byte-order mark FE FF), not UTF-8: save it as UTF-8';
  let even = 0;
  let odd = 0;
  for (let i = 0; i < b.length; i++) if (b[i] === 0) (i % 2 === 0 ? even++ : odd++);
  const nul = even + odd;
  if (nul > 0) {
    const half = Math.floor(b.length / 2);
    if (half > 0 && Math.max(even, odd) >= 0.3 * half && Math.min(even, odd) <= 0.05 * half) {
      return `looks like UTF-16 (${odd > even ? 'little' : 'big'}-endian, no byte-order mark), not UTF-8: save it as UTF-8`;
    }
    return `looks like a binary file, not UTF-8 text (${nul} NUL bytes in the first ${b.length} bytes)`;
  }
  // Cut a multi-byte character split at the sample's end off before judging.
  let end = b.length;
  if (b.length === SAMPLE) for (let k = 0; k < 3 && end > 0 && (b[end - 1] & 0xc0) === 0x80; k++) end--;
  if (end > 0 && b.length === SAMPLE && b[end - 1] >= 0xc0) end--;
  const text = new TextDecoder('utf-8').decode(b.subarray(0, end));
  let bad = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0xfffd || (c < 0x20 && c !== 9 && c !== 10 && c !== 13)) bad++;
  }
  if (text.length > 0 && bad / text.length > 0.1) {
    return `looks like a binary file, not UTF-8 text (${Math.round((100 * bad) / text.length)}% of the first ${b.length} bytes are not text)`;
  }
  return null;
}
