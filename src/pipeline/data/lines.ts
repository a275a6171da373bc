// Streaming line reader over a Blob: the real PRISM utterances.jsonl is 68 MB, so it is never held as one string.
import type { InputFile } from '../types.ts';

export interface TextLine {
  /** 1-based physical line number, blank lines included, so messages match an editor. */
  line: number;
  text: string;
}

/**
 * Yields the non-blank lines of a UTF-8 file. Handles a BOM, CRLF and a last line without a newline.
 * Uses getReader() rather than async iteration of the stream, which some browsers still lack.
 */
export async function* readLines(file: InputFile): AsyncIterable<TextLine> {
  const reader = file.blob.stream().getReader();
  // Stream mode keeps multi-byte characters split across chunks intact; the decoder drops the BOM itself.
  const decoder = new TextDecoder('utf-8');
  let pending: string[] = [];
  let lineNo = 0;
  let first = true;

  function* emit(raw: string): Generator<TextLine> {
    lineNo++;
    let text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (first) {
      // Belt and braces: a BOM that reached us (e.g. a doubled one) must not break JSON.parse of line 1.
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      first = false;
    }
    if (text.trim() !== '') yield { line: lineNo, text };
  }

  function* feed(chunk: string): Generator<TextLine> {
    let start = 0;
    let nl = chunk.indexOf('\n', start);
    while (nl !== -1) {
      const part = chunk.slice(start, nl);
      // Joining pieces only at a newline keeps a very long line O(n) instead of O(n^2).
      const raw = pending.length > 0 ? pending.join('') + part : part;
      pending = [];
      yield* emit(raw);
      start = nl + 1;
      nl = chunk.indexOf('\n', start);
    }
    if (start < chunk.length) pending.push(chunk.slice(start));
  }

  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        finished = true;
        break;
      }
      yield* feed(decoder.decode(value, { stream: true }));
    }
    yield* feed(decoder.decode());
    if (pending.length > 0) {
      const raw = pending.join('');
      pending = [];
      yield* emit(raw);
    }
  } finally {
    // An early break by the consumer must stop the read and not leave the file locked.
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
