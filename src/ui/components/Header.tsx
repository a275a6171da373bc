// The top bar: title, the compute backend badge (details in a popover), tour, presentation mode, theme, network opt-in.
import { useStudio, update } from '../store.ts';
import type { Theme } from '../actions.ts';
import { THEME_KEY } from '../boot.ts';
import { setAllowNetwork } from '../runner.ts';
import { setPresent } from './common.tsx';

const NEXT_THEME: Record<Theme, Theme> = { system: 'light', light: 'dark', dark: 'system' };

export function setTheme(theme: Theme): void {
  update((s) => ({ ui: { ...s.ui, theme } }));
  try {
    if (theme === 'system') localStorage.removeItem(THEME_KEY);
    else localStorage.setItem(THEME_KEY, theme);
  } catch {
    // Not persisted; the choice still applies to this page.
  }
  if (theme === 'system') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
}

/**
 * The compute backend as a short label (CPU, WEBGPU, ...); the adapter and the reason for the choice are one click
 * (or hover) away in a popover, so a long fallback reason never squeezes the header.
 */
export function BackendBadge() {
  const backend = useStudio((s) => s.backend);
  const pref = useStudio((s) => s.backendPref);
  const resultBackend = useStudio((s) => s.result?.backend ?? null);
  let text: string;
  let detail: string;
  let kind: string;
  if (backend) {
    kind = backend.name;
    text = backend.name;
    detail = [backend.info, backend.reason].filter(Boolean).join(' — ');
  } else if (resultBackend) {
    kind = 'saved';
    text = 'saved run';
    detail = `The shown results were computed on ${resultBackend}.`;
  } else {
    kind = 'pending';
    text = pref;
    detail = 'The worker picks WebGPU when a usable adapter exists, else the cpu path, and says why here.';
  }
  return (
    <div className={`badge badge-${kind}`} data-testid="backend-badge" data-backend={backend?.name ?? ''} role="status" aria-live="polite">
      <button type="button" className="badge-button" popoverTarget="backend-detail" title={detail} data-testid="backend-badge-button">
        <strong>{text}</strong>
        <span className="sr-only"> compute backend, show details</span> <span aria-hidden="true">▾</span>
      </button>
      <div id="backend-detail" className="badge-popover" popover="auto" data-testid="backend-detail">
        <strong>Compute backend: {text}</strong>
        <p>{detail}</p>
      </div>
    </div>
  );
}

export function Header() {
  const theme = useStudio((s) => s.ui.theme);
  const allowNetwork = useStudio((s) => s.allowNetwork);
  const educator = useStudio((s) => s.ui.educator);
  const present = useStudio((s) => s.ui.present);
  return (
    <header className="app-header">
      <div className="brand">
        <span className="logo" aria-hidden="true">
          ◆
        </span>
        <h1>SCPO Studio</h1>
        <span className="subtitle">steerable cultural preference optimization of reward models</span>
      </div>
      <BackendBadge />
      <div className="header-actions">
        <button
          type="button"
          data-testid="educator-toggle"
          aria-pressed={educator !== null}
          onClick={() => update((s) => ({ ui: { ...s.ui, educator: s.ui.educator === null ? 0 : null } }))}
        >
          {educator === null ? 'Guided tour' : 'End tour'}
        </button>
        <button
          type="button"
          data-testid="present-toggle"
          aria-pressed={present}
          title="Presentation mode: large type for a projector, the bias story first, fewer controls (remembered)"
          onClick={() => setPresent(!present)}
        >
          {present ? 'Exit presentation' : 'Present'}
        </button>
        <button
          type="button"
          data-testid="theme-toggle"
          aria-label={`Theme: ${theme}. Switch to ${NEXT_THEME[theme]}`}
          title={`Theme: ${theme}`}
          onClick={() => setTheme(NEXT_THEME[theme])}
        >
          {theme === 'dark' ? '☾ Dark' : theme === 'light' ? '☀ Light' : '◐ System'}
        </button>
        <label className="net-toggle" title="Off: the page may only talk to this server (enforced by its CSP). Changing it reloads the page.">
          <input type="checkbox" data-testid="allow-network" checked={allowNetwork} onChange={(e) => setAllowNetwork(e.target.checked)} />
          Allow network
        </label>
      </div>
    </header>
  );
}
