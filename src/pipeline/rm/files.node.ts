// Node-only file access for HF-layout model folders: an fs ReadFile and a folder writer.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ReadFile } from './files.ts';

export function dirReader(dir: string): ReadFile {
  return async (path) => {
    const buf = await readFile(join(dir, path));
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  };
}

/** Writes path -> bytes under `dir`, creating sub-folders (onnx/). */
export async function writeModelDir(dir: string, files: Record<string, Uint8Array>): Promise<void> {
  for (const [path, bytes] of Object.entries(files)) {
    const full = join(dir, path);
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, bytes);
  }
}
