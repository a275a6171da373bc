// Writing an exported job folder to disk (Node: the CLI's --export-job and the tests).
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { JobFiles } from './build.ts';

export async function writeJob(dir: string, files: JobFiles): Promise<void> {
  for (const [path, bytes] of Object.entries(files)) {
    const p = join(dir, path);
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, bytes);
  }
}
