// Benchmark (not a test): USE-lite scoring with onnxruntime-web's webgpu EP in headless Chromium (the Node build of
// onnxruntime-web has no webgpu backend). Same joint inputs as bench/use-lite-score.ts (every 10th synthetic item),
// on the first --n of them (SwiftShader, the only adapter here, is a CPU emulation: slow). Also runs the wasm EP in
// the same page on the same texts, for the ratio. Adds its rows to bench/results/use-lite-webgpu.{json,md}.
//   tsx bench/use-lite-webgpu.ts [--n 30] [--batch 8]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS } from '../playwright.config.ts';
import { loadSynthetic } from '../src/pipeline/data/index.ts';
import { dirReader } from '../src/pipeline/rm/files.node.ts';
import { loadUseLite } from '../src/pipeline/rm/use-lite/files.ts';
import { encodeUseItems, jointIds, jointLength } from '../src/pipeline/rm/use-lite/tokenizer.ts';
import { USE_LITE_MODEL_DIR } from '../src/pipeline/use-lite-cli.node.ts';
import { startServer } from './server.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({ options: { n: { type: 'string', default: '30' }, batch: { type: 'string', default: '8' }, out: { type: 'string', default: 'bench/results' } } });
const N = Number(args.n);
const BATCH = Number(args.batch);
const log = (m: string) => console.log(`[use-lite-webgpu] ${m}`);

const model = await loadUseLite(dirReader(USE_LITE_MODEL_DIR));
const data = await loadSynthetic(0);
const all = encodeUseItems(model.tokenizer, data.items, 128);
const seqs = Array.from({ length: N }, (_, i) => {
  const s = new Int32Array(jointLength(all, i * 10, 128));
  jointIds(all, i * 10, 128, s);
  return Array.from(s);
});
const tokens = seqs.reduce((a, s) => a + s.length, 0);

const { server, url } = await startServer([
  { prefix: '/ortdist/', dir: join(ROOT, 'node_modules/onnxruntime-web/dist') },
  { prefix: '/', dir: join(ROOT, 'public') },
]);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
const rows: Record<string, unknown>[] = [];
try {
  const page = await browser.newPage();
  // tsx (esbuild keepNames) wraps functions in __name(...): define it in the page for page.evaluate's function.
  await page.addInitScript({ content: 'globalThis.__name = (f) => f;' });
  await page.goto(`${url}/models/scpo-use-lite-rm/config.json`);
  for (const ep of ['webgpu', 'wasm']) {
    const r = await page.evaluate(
      async ({ ep, seqs, batch }) => {
        const ort = (await import('/ortdist/ort.webgpu.min.mjs' as string)) as typeof import('onnxruntime-web');
        ort.env.wasm.wasmPaths = '/ortdist/';
        const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<{ info?: { vendor?: string; architecture?: string } } | null> } }).gpu;
        const adapter = gpu ? await gpu.requestAdapter() : null;
        const bytes = new Uint8Array(await (await fetch('/models/scpo-use-lite-rm/onnx/model.onnx')).arrayBuffer());
        const session = await ort.InferenceSession.create(bytes, { executionProviders: [ep], logSeverityLevel: 3 });
        const run = async (part: number[][]) => {
          const T = Math.max(...part.map((s) => s.length));
          const ids = new BigInt64Array(part.length * T).fill(1n);
          const mask = new BigInt64Array(part.length * T);
          part.forEach((s, b) => s.forEach((id, t) => ((ids[b * T + t] = BigInt(id)), (mask[b * T + t] = 1n))));
          const out = await session.run({ input_ids: new ort.Tensor('int64', ids, [part.length, T]), attention_mask: new ort.Tensor('int64', mask, [part.length, T]) });
          return (out.embedding.location === 'cpu' ? out.embedding.data : await out.embedding.getData()) as Float32Array;
        };
        await run(seqs.slice(0, 2)); // warm-up: shader compiles
        const sorted = [...seqs].sort((a, b) => a.length - b.length);
        const t0 = performance.now();
        let first: Float32Array | null = null;
        for (let s = 0; s < sorted.length; s += batch) {
          const e = await run(sorted.slice(s, s + batch));
          first ??= e;
        }
        const ms = performance.now() - t0;
        await session.release();
        return { ms, adapter: adapter ? `${adapter.info?.vendor ?? '?'}/${adapter.info?.architecture ?? '?'}` : 'none', crossOriginIsolated, firstValues: Array.from(first!.subarray(0, 4)) };
      },
      { ep, seqs, batch: BATCH },
    );
    const row = { engine: `ort-${ep}-chromium`, texts: N, tokens, wallS: r.ms / 1000, textsPerS: N / (r.ms / 1000), adapter: r.adapter, crossOriginIsolated: r.crossOriginIsolated };
    rows.push(row);
    log(`${row.engine}: ${row.textsPerS.toFixed(2)} texts/s (${row.wallS.toFixed(1)} s for ${N} texts; adapter ${r.adapter})`);
  }
} finally {
  await browser.close();
  server.close();
}
const md = [
  `# USE-lite scoring in Chromium: onnxruntime-web webgpu EP vs wasm EP (${new Date().toISOString()})`,
  '',
  `${N} joint RM inputs (${tokens} tokens), batches of ${BATCH}, headless Chromium with --enable-unsafe-webgpu.`,
  '',
  '| engine | texts | wall s | texts/s | adapter |',
  '|---|---:|---:|---:|---|',
  ...rows.map((r) => `| ${r.engine} | ${r.texts} | ${(r.wallS as number).toFixed(1)} | ${(r.textsPerS as number).toFixed(2)} | ${r.adapter} |`),
  '',
].join('\n');
console.log('\n' + md);
mkdirSync(args.out!, { recursive: true });
writeFileSync(join(args.out!, 'use-lite-webgpu.json'), JSON.stringify({ n: N, batch: BATCH, tokens, rows }, null, 1) + '\n');
writeFileSync(join(args.out!, 'use-lite-webgpu.md'), md);
process.exit(0);
