// vitest globalSetup: brings the wasm kernels (public/wasm/, a gitignored build output) up to date before any test
// loads them, so a checkout whose kernel sources changed since its last npm install tests the current kernels
// instead of failing on (or, worse, running) a stale build. ~0.1 s when current (a hash of the source), a few
// seconds when it has to compile.
import { buildWasm } from '../scripts/build-wasm.ts';

export default async function setup(): Promise<void> {
  await buildWasm({ log: () => undefined });
}
