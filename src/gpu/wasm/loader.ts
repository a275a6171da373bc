// Loads the compiled kernels (public/wasm/*.wasm, built by scripts/build-wasm.ts at npm install) in Node (read from
// disk), in the page and in Web Workers (fetched from the app's own origin under BASE_URL/wasm/). No bundler magic:
// the same file works under tsx, vitest, vite dev and the production build. A missing or wrong file fails with an
// error that names the file and the command that builds it.
import { KERNEL_ABI, WASM_FILES, WASM_SUBDIR } from './files.ts';
import type { WasmVariant } from './files.ts';

/** Where the kernels come from. Default: `<repo>/public/wasm/` in Node, `<BASE_URL>wasm/` in a browser. */
export interface WasmSource {
  /** The module bytes (or a compiled module) for each variant you will use; skips reading/fetching. */
  bytes?: Partial<Record<WasmVariant, BufferSource | WebAssembly.Module>>;
  /** Node: a folder holding the .wasm files. */
  dir?: string;
  /** Browser (or Node with fetch): a URL ending in '/' (relative to the page or worker) that serves the .wasm files. */
  baseUrl?: string;
}

export class WasmKernelsError extends Error {
  override name = 'WasmKernelsError';
}

const BUILD_HINT = 'build it with `npm run build:wasm` (npm install and npm start run it)';

export function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string' && typeof (globalThis as { window?: unknown }).window === 'undefined';
}

/** A Node built-in module without a static import, so this file also bundles for the browser. */
export async function nodeBuiltin<T>(name: string): Promise<T> {
  const p = (globalThis as { process?: { getBuiltinModule?: (n: string) => unknown } }).process;
  const m = p?.getBuiltinModule?.(name);
  if (m) return m as T;
  return (await import(/* @vite-ignore */ name)) as T;
}

// A variable, not `import.meta.url` inline: vite rewrites `new URL(literal, import.meta.url)` into an asset import.
const HERE = import.meta.url;

function defaultNodeDir(): URL {
  return new URL('../../../public/wasm/', HERE);
}

function defaultBaseUrl(): string {
  const env = (import.meta as { env?: { BASE_URL?: string } }).env;
  const base = env?.BASE_URL ?? '/';
  const loc = (globalThis as { location?: { href: string } }).location;
  return new URL(`${base}${WASM_SUBDIR}/`, loc?.href ?? 'http://localhost/').href;
}

/** Reads or fetches the bytes of one variant and compiles them; errors name the file and how to build it. */
export async function loadKernelModule(variant: WasmVariant, src: WasmSource = {}): Promise<WebAssembly.Module> {
  const given = src.bytes?.[variant];
  if (given instanceof WebAssembly.Module) return given;
  const file = WASM_FILES[variant];
  let bytes: BufferSource;
  let where: string;
  if (given) {
    bytes = given;
    where = `the ${variant} kernel bytes passed in`;
  } else if (isNode() && !src.baseUrl) {
    const fs = await nodeBuiltin<typeof import('node:fs/promises')>('node:fs/promises');
    const url = src.dir ? null : new URL(file, defaultNodeDir());
    const path = src.dir ? `${src.dir.replace(/\/+$/, '')}/${file}` : decodeURIComponent(url!.pathname);
    where = path;
    try {
      bytes = await fs.readFile(url ?? path);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'ENOENT') throw new WasmKernelsError(`wasm kernels: ${path} is missing; ${BUILD_HINT}`);
      throw new WasmKernelsError(`wasm kernels: cannot read ${path} (${(e as Error).message}); ${BUILD_HINT}`);
    }
  } else {
    const loc = (globalThis as { location?: { href: string } }).location?.href;
    const url = new URL(file, src.baseUrl ? new URL(src.baseUrl, loc) : defaultBaseUrl()).href;
    where = url;
    let res: Response;
    try {
      res = await fetch(url);
    } catch (e) {
      throw new WasmKernelsError(`wasm kernels: fetching ${url} failed (${(e as Error).message})`);
    }
    if (!res.ok) throw new WasmKernelsError(`wasm kernels: fetching ${url} gave HTTP ${res.status}; ${BUILD_HINT} before vite build`);
    bytes = await res.arrayBuffer();
  }
  const view = ArrayBuffer.isView(bytes) ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : new Uint8Array(bytes);
  // "\0asm": a server that answers a missing file with index.html gives 200 and HTML.
  if (view.length < 8 || view[0] !== 0 || view[1] !== 0x61 || view[2] !== 0x73 || view[3] !== 0x6d) {
    const head = new TextDecoder().decode(view.subarray(0, 16)).replace(/\s+/g, ' ');
    throw new WasmKernelsError(`wasm kernels: ${where} is not a WebAssembly module (starts with "${head}"); ${BUILD_HINT}`);
  }
  let module: WebAssembly.Module;
  try {
    module = await WebAssembly.compile(view);
  } catch (e) {
    throw new WasmKernelsError(`wasm kernels: ${where} does not compile (${(e as Error).message}); rebuild with \`npm run build:wasm -- --force\``);
  }
  // A build older than the sources would misread its arguments silently: check the calling convention first.
  let abi: number | undefined;
  try {
    const memory = new WebAssembly.Memory(variant === 'shared' ? { initial: 1, maximum: 1, shared: true } : { initial: 1 });
    const inst = await WebAssembly.instantiate(module, { env: { memory } });
    abi = (inst.exports as { abi?: () => number }).abi?.();
  } catch (e) {
    throw new WasmKernelsError(`wasm kernels: ${where} does not instantiate (${(e as Error).message}); rebuild with \`npm run build:wasm -- --force\``);
  }
  if (abi !== KERNEL_ABI) {
    throw new WasmKernelsError(`wasm kernels: ${where} is a stale build (calling convention ${abi ?? 'unknown'}, expected ${KERNEL_ABI}); rebuild with \`npm run build:wasm\``);
  }
  return module;
}
