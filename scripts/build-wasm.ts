// Compiles the AssemblyScript kernels (src/gpu/wasm/assembly/kernels.ts) into public/wasm/ with the assemblyscript
// compiler from node_modules: one module on a plain memory (single thread) and one on a shared memory (threads).
// Run by scripts/build-models.ts (so by npm install / npm start) and by `npm run build:wasm`. Idempotent: the
// folder's .build.json holds a fingerprint of the source, compiler version and flags; a match skips the build.
// Reproducible: the same inputs give the same bytes (two --force builds into other folders matched the checkout's
// sha256, 2026-11-30).
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SHARED_MAX_PAGES, WASM_FILES, WASM_SUBDIR } from '../src/gpu/wasm/files.ts';
import type { WasmVariant } from '../src/gpu/wasm/files.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const KERNELS_SOURCE = join(ROOT, 'src/gpu/wasm/assembly/kernels.ts');
const MANIFEST = '.build.json';
const BUILD_VERSION = 1;

// -O3 with --noAssert: the JS side validates every shape before calling in. --runtime stub and no exported runtime:
// the kernels never allocate; memory is laid out by src/gpu/wasm/matops.ts.
const COMMON = ['--enable', 'simd', '-O3', '--noAssert', '--runtime', 'stub', '--importMemory', '--noExportMemory', '--initialMemory', '1'];
export const ASC_FLAGS: Record<WasmVariant, string[]> = {
  single: COMMON,
  shared: [...COMMON, '--enable', 'threads', '--sharedMemory', '--maximumMemory', String(SHARED_MAX_PAGES)],
};

export interface BuildWasmOptions {
  publicDir?: string;
  force?: boolean;
  log?: (msg: string) => void;
}

async function ascVersion(): Promise<string> {
  const pkg = join(ROOT, 'node_modules/assemblyscript/package.json');
  return (JSON.parse(await readFile(pkg, 'utf8')) as { version: string }).version;
}

/** Builds public/wasm/*.wasm unless up to date; returns the folder. */
export async function buildWasm(opts: BuildWasmOptions = {}): Promise<string> {
  const t0 = performance.now();
  const log = opts.log ?? ((m: string) => console.log(`[build-wasm] ${m}`));
  const dir = join(opts.publicDir ?? join(ROOT, 'public'), WASM_SUBDIR);
  const source = await readFile(KERNELS_SOURCE, 'utf8');
  const version = await ascVersion();
  const fingerprint = createHash('sha256')
    .update(JSON.stringify({ v: BUILD_VERSION, version, flags: ASC_FLAGS }))
    .update(source)
    .digest('hex');
  if (!opts.force && (await upToDate(dir, fingerprint))) {
    log(`kernels up to date in ${dir}`);
    return dir;
  }
  await mkdir(dir, { recursive: true });
  await rm(join(dir, MANIFEST), { force: true });
  const asc = (await import('assemblyscript/asc')).default;
  const sizes: Record<string, number> = {};
  for (const variant of Object.keys(WASM_FILES) as WasmVariant[]) {
    const out = join(dir, WASM_FILES[variant]);
    const stderr: string[] = [];
    const res = await asc.main([KERNELS_SOURCE, '--outFile', out, ...ASC_FLAGS[variant]], {
      stderr: { write: (s: string | Uint8Array) => void stderr.push(String(s)) } as never,
      stdout: { write: () => undefined } as never,
    });
    if (res.error) {
      throw new Error(`build-wasm: asc failed on ${KERNELS_SOURCE} (${variant}): ${res.error.message}\n${stderr.join('')}`);
    }
    sizes[WASM_FILES[variant]] = (await stat(out)).size;
  }
  await writeFile(join(dir, MANIFEST), JSON.stringify({ fingerprint, files: sizes, asc: version }, null, 1) + '\n');
  log(
    `assemblyscript ${version}: ${Object.entries(sizes).map(([f, s]) => `${f} ${(s / 1024).toFixed(1)} KiB`).join(', ')} ` +
      `in ${((performance.now() - t0) / 1000).toFixed(1)} s -> ${dir}`,
  );
  return dir;
}

async function upToDate(dir: string, fingerprint: string): Promise<boolean> {
  try {
    const m = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')) as { fingerprint: string; files: Record<string, number> };
    if (m.fingerprint !== fingerprint) return false;
    for (const [f, size] of Object.entries(m.files)) if ((await stat(join(dir, f))).size !== size) return false;
    return Object.keys(m.files).length === Object.keys(WASM_FILES).length;
  } catch {
    return false;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const args = process.argv.slice(2);
  const pi = args.indexOf('--public');
  buildWasm({ force: args.includes('--force'), publicDir: pi >= 0 ? args[pi + 1] : undefined }).catch((e: unknown) => {
    console.error(`[build-wasm] ${(e as Error).message}`);
    process.exit(1);
  });
}
