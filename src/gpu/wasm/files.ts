// Where the compiled kernels live: scripts/build-wasm.ts writes them under public/ (gitignored build output, made
// at npm install), vite copies public/ into the app, and the loader reads them from disk (Node) or fetches them.

/** Sub-folder of public/ (and of the served app) that holds the kernels. */
export const WASM_SUBDIR = 'wasm';

/** One module per memory kind: a module's imported memory must match shared-ness exactly. */
export const WASM_FILES = {
  /** Plain imported memory: one thread, works everywhere (no SharedArrayBuffer needed). */
  single: 'scpo-kernels.wasm',
  /** Shared imported memory: the same kernels run from several threads on one memory. */
  shared: 'scpo-kernels-shared.wasm',
} as const;

export type WasmVariant = keyof typeof WASM_FILES;

/** Pages of 64 KiB: the shared module's declared maximum (2 GiB keeps every byte pointer a positive int32). */
export const SHARED_MAX_PAGES = 32768;

/** Must equal abi() in assembly/kernels.ts; checked when a module is loaded. */
export const KERNEL_ABI = 5;
