import { defaultClientConditions, defineConfig } from 'vite';
import type { Plugin } from 'vite';
import react from '@vitejs/plugin-react';

// COOP/COEP make the page cross-origin isolated so onnxruntime-web can use wasm threads.
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

// Offline by default: the production page may only talk to its own origin. (Not in dev: HMR needs inline code.)
// 'wasm-unsafe-eval' lets onnxruntime-web compile its wasm; blob: workers are used by ORT's proxy.
export const CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self' blob:",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self' blob: data:",
  "object-src 'none'",
  "base-uri 'self'",
].join('; ');

// A CSP meta tag does not reach Web Workers, and the workers are where data and models are fetched. The served
// header covers them: only this origin, plus the Hugging Face hub, which the worker code contacts only after the user
// turns on "Allow network". On the page the header and the stricter meta policy both apply, so the page stays 'self'.
const HUB_HOSTS = 'https://huggingface.co https://*.huggingface.co https://*.hf.co';
export const SERVED_CSP = CSP.replace("connect-src 'self' blob: data:", `connect-src 'self' blob: data: ${HUB_HOSTS}`);

function cspPlugin(): Plugin {
  return {
    name: 'scpo-csp',
    apply: 'build',
    transformIndexHtml(html) {
      return html.replace('<head>', `<head>\n    <meta http-equiv="Content-Security-Policy" content="${CSP}" />`);
    },
  };
}

export default defineConfig({
  plugins: [react(), cspPlugin()],
  worker: { format: 'es' },
  server: { headers: isolation, host: '127.0.0.1' },
  preview: { headers: { ...isolation, 'Content-Security-Policy': SERVED_CSP }, host: '127.0.0.1' },
  build: { target: 'es2022', chunkSizeWarningLimit: 8192 },
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  // onnxruntime-web's build that loads ort-wasm-simd-threaded.*.{mjs,wasm} from env.wasm.wasmPaths (public/ort/, see
  // scripts/build-models.ts) instead of the default one, which makes vite emit a second copy of the 27 MB .wasm into
  // assets/ (for each ORT copy: the app's and transformers.js's). Every ORT user must set wasmPaths (no CDN anyway).
  resolve: { conditions: ['onnxruntime-web-use-extern-wasm', ...defaultClientConditions] },
});
