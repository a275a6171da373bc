// The production Content-Security-Policy, applied at runtime by src/ui/boot.ts before anything else loads:
// only 'self' by default; the hub origins are added only when the user turned on "allow network".
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
