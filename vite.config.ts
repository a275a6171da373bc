import { defaultClientConditions, defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { cspFor } from './src/ui/csp.ts';

// COOP/COEP make the page cross-origin isolated so onnxruntime-web can use wasm threads.
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

// One Content-Security-Policy, defined in src/ui/csp.ts. The page applies cspFor(allowNetwork) itself as a meta tag
// at startup (src/ui/boot.ts; no static meta from the build: a second meta policy would be intersected with it and the
// opt-in hub mode could never relax it). A meta policy does not reach Web Workers, where data and models are
// fetched: the served header covers them with the same policy in its network variant (the worker code contacts the
// hub only after the user turns on "Allow network"); on the page the header and the meta policy both apply.
export const SERVED_CSP = cspFor(true);

export default defineConfig({
  plugins: [react()],
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
