// Test-only helpers (Node): fixture files as InputFiles, Blobs with controlled chunking or failing streams.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { InputFile } from '../../../src/pipeline/types.ts';

export const FIXTURES = fileURLToPath(new URL('../../fixtures/data/', import.meta.url));

export function fixturePath(rel: string): string {
  return FIXTURES + rel;
}

export function fixtureBytes(rel: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(readFileSync(fixturePath(rel)));
}

export function fixtureText(rel: string): string {
  return readFileSync(fixturePath(rel), 'utf8');
}

/** A fixture as the loaders see it; `name` defaults to the file's base name. */
export function fixtureFile(rel: string, name = rel.split('/').pop() ?? rel): InputFile {
  return { name, blob: new Blob([fixtureBytes(rel)]) };
}

export function textFile(name: string, text: string | Uint8Array<ArrayBuffer>): InputFile {
  return { name, blob: new Blob([text]) };
}

/** A Blob whose stream yields exactly the given chunks, to test decoding across chunk boundaries. */
export class ChunkedBlob extends Blob {
  constructor(private readonly parts: Uint8Array<ArrayBuffer>[]) {
    super(parts);
  }
  override stream(): ReadableStream<Uint8Array<ArrayBuffer>> {
    const parts = this.parts;
    return new ReadableStream<Uint8Array<ArrayBuffer>>({
      start(controller) {
        for (const p of parts) controller.enqueue(new Uint8Array(p));
        controller.close();
      },
    });
  }
}

/** A Blob that fails mid-read, like a file deleted or revoked while loading. */
export class FailingBlob extends Blob {
  constructor(private readonly head: string) {
    super([head]);
  }
  override stream(): ReadableStream<Uint8Array<ArrayBuffer>> {
    const head = new TextEncoder().encode(this.head);
    let sent = false;
    return new ReadableStream<Uint8Array<ArrayBuffer>>({
      pull(controller) {
        if (!sent) {
          sent = true;
          controller.enqueue(head);
        } else controller.error(new TypeError('simulated read failure'));
      },
    });
  }
  override text(): Promise<string> {
    return Promise.reject(new TypeError('simulated read failure'));
  }
}
