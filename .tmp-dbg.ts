import { build } from 'vite';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS } from './playwright.config.ts';
import { startServer } from './bench/server.ts';
await build({ configFile: false, root: 'bench/page', base: '/', publicDir: false, logLevel: 'error', build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', minify: false }, worker: { format: 'es' } });
const { server, url } = await startServer([{ prefix: '/tfjs/', dir: 'node_modules/@tensorflow/tfjs-backend-wasm/dist' }, { prefix: '/', dir: 'bench/page/dist' }, { prefix: '/', dir: 'public' }]);
const b = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
const p = await b.newPage();
p.on('console', (m) => console.log('CONSOLE', m.text().slice(0, 300)));
p.on('pageerror', (e) => console.log('PAGEERR', e.message));
await p.goto(url + '/index.html');
await p.waitForFunction(() => document.getElementById('state')?.textContent === 'ready');
for (const [fn, args] of [['checkTfjsForward', ['webgpu']], ['checkTfjsForward', ['wasm']]] as const)
  console.log(JSON.stringify(await p.evaluate(([f, a]) => (window as any).__bench[f](...a).catch((e: Error) => e.stack), [fn, args] as const)));
await b.close(); server.close();
