// First module the page evaluates (imported first by src/main.tsx): applies the production CSP and the saved theme
// before React, the worker or any fetch exist. The CSP lives here rather than as a static <meta> because a meta
// policy can only be tightened later, never relaxed: the opt-in hub mode needs a different policy per load.
import { cspFor, readNetworkFlag } from './csp.ts';

export const THEME_KEY = 'scpo-studio.theme';
export const PRESENT_KEY = 'scpo-studio.present';

if (import.meta.env.PROD) {
  const meta = document.createElement('meta');
  meta.httpEquiv = 'Content-Security-Policy';
  meta.content = cspFor(readNetworkFlag());
  document.head.prepend(meta);
}

try {
  const t = localStorage.getItem(THEME_KEY);
  if (t === 'light' || t === 'dark') document.documentElement.dataset.theme = t;
} catch {
  // Storage can be blocked (private modes); the system theme then applies.
}

try {
  // Presentation mode before the first paint too, so a projector never flashes the small layout.
  if (localStorage.getItem(PRESENT_KEY) === '1') document.documentElement.dataset.present = 'on';
} catch {
  // Not remembered: the normal layout applies.
}
