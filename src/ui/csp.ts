// The one Content-Security-Policy of the studio. The page applies cspFor(allowNetwork) at runtime (src/ui/boot.ts,
// before anything else loads: only 'self' unless the user turned on "allow network"); the server sends cspFor(true) as a
// header (vite.config.ts), which also governs the workers. e2e/platform.spec.ts checks both are applied.
export const NETWORK_FLAG_KEY = 'scpo-studio.allowNetwork';

/** Hosts the Hugging Face hub serves models and datasets from (API, resolve redirects, LFS/xet CDNs). */
export const HUB_ORIGINS = ['https://huggingface.co', 'https://*.huggingface.co', 'https://*.hf.co'];

export function cspFor(allowNetwork: boolean): string {
  const connect = ["'self'", 'blob:', 'data:', ...(allowNetwork ? HUB_ORIGINS : [])];
  return [
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "worker-src 'self' blob:",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    `connect-src ${connect.join(' ')}`,
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'none'",
  ].join('; ');
}

export function readNetworkFlag(): boolean {
  try {
    return localStorage.getItem(NETWORK_FLAG_KEY) === '1';
  } catch {
    return false;
  }
}
