// The wasm-SIMD MatOps in Chromium: fetched from /wasm/ like the app does, 2 threads (Blob-URL helper workers on a
// shared memory) inside a module Web Worker of a cross-origin-isolated page, and the clean 1-thread fallbacks: on
// the page's main thread (may not block in Atomics.wait) and without COOP/COEP (no SharedArrayBuffer). A missing
// .wasm gives the loader's message. The probe (fixtures/wasm/probe.ts) is bundled here with vite's build API and
// served by a small server of its own, so the app bundle needs no test entry. ~5 s.
import { expect, test } from '@playwright/test';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { WASM_FILES } from '../src/gpu/wasm/files.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

async function bundleProbe(): Promise<string> {
  const out = await build({
    configFile: false,
    logLevel: 'silent',
    build: {
      write: false,
      minify: false,
      target: 'es2022',
      lib: { entry: join(ROOT, 'e2e/fixtures/wasm/probe.ts'), formats: ['es'], fileName: 'probe' },
    },
  });
  const outputs = Array.isArray(out) ? out : [out];
  for (const o of outputs) {
    if (!('output' in o)) continue;
    for (const chunk of o.output) if (chunk.type === 'chunk' && chunk.isEntry) return chunk.code;
  }
  throw new Error('vite build of the probe gave no entry chunk');
}

let server: Server;
let origin = '';

test.beforeAll(async () => {
  const probe = await bundleProbe();
  const wasmDir = join(ROOT, 'public/wasm');
  server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    // /iso/* is cross-origin isolated (like the studio's server); /plain/* is not.
    const headers: Record<string, string> = path.startsWith('/iso/') || path.startsWith('/wasm/') || path === '/probe.js'
      ? { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp', 'Cross-Origin-Resource-Policy': 'same-origin' }
      : {};
    if (path.endsWith('/index.html')) {
      res.writeHead(200, { ...headers, 'Content-Type': 'text/html' });
      res.end('<!doctype html><title>wasm probe</title><script type="module" src="/probe.js"></script>');
    } else if (path === '/probe.js') {
      res.writeHead(200, { ...headers, 'Content-Type': 'text/javascript' });
      res.end(probe);
    } else if (path.startsWith('/wasm/') && Object.values(WASM_FILES).includes(path.slice(6) as never)) {
      res.writeHead(200, { ...headers, 'Content-Type': 'application/wasm' });
      res.end(await readFile(join(wasmDir, path.slice(6))));
    } else {
      res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' });
      res.end('not found');
    }
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const a = server.address();
  origin = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
});

test.afterAll(async () => {
  await new Promise((ok) => server?.close(ok));
});

test('wasm MatOps: 2 threads in a Web Worker when isolated, 1 thread with a reason elsewhere, clear missing-file error', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${origin}/iso/index.html`);
  await page.waitForFunction(() => window.__wasmProbe !== undefined);
  expect(await page.evaluate(() => window.crossOriginIsolated)).toBe(true);

  const worker = await page.evaluate(() => window.__wasmProbe!.inWorker(2));
  expect(worker).toMatchObject({ name: 'wasm-2t', threads: 2, fallback: null, identical: true });
  expect(worker.maxErr).toBeLessThan(1e-5);

  const main = await page.evaluate(() => window.__wasmProbe!.here(2));
  expect(main).toMatchObject({ threads: 1, identical: true });
  expect(main.fallback).toMatch(/using 1 thread instead of 2: .*Atomics\.wait.*Web Worker/);
  expect(main.maxErr).toBeLessThan(1e-5);

  const missing = await page.evaluate(() => window.__wasmProbe!.here(1, '/nowhere/'));
  expect(missing.error).toMatch(/fetching http:\/\/127\.0\.0\.1:\d+\/nowhere\/scpo-kernels\.wasm gave HTTP 404; build it with `npm run build:wasm`/);

  await page.goto(`${origin}/plain/index.html`);
  await page.waitForFunction(() => window.__wasmProbe !== undefined);
  expect(await page.evaluate(() => window.crossOriginIsolated)).toBe(false);
  const plain = await page.evaluate(() => window.__wasmProbe!.inWorker(2));
  expect(plain).toMatchObject({ threads: 1, identical: true });
  expect(plain.fallback).toMatch(/SharedArrayBuffer is unavailable|not cross-origin isolated/);
  expect(errors).toEqual([]);
});
