// The top bar: title, the compute backend badge (adapter or fallback reason), theme, educator mode, network opt-in.
import { useStudio, update } from '../store.ts';
import type { Theme } from '../actions.ts';
import { THEME_KEY } from '../boot.ts';
import { setAllowNetwork } from '../runner.ts';

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
    detail = resultBackend;
  } else {
    kind = 'pending';
    text = pref;
    detail = 'backend chosen when a run starts';
  }
  return (
    <div
      className={`badge badge-${kind}`}
      data-testid="backend-badge"
      data-backend={backend?.name ?? ''}
      title={kind === 'pending' ? 'The worker picks WebGPU when a usable adapter exists, else the cpu path, and says why here.' : detail}
      role="status"
      aria-live="polite"
    >
      <strong>{text}</strong>
      {detail ? <span className="badge-detail">{detail}</span> : null}
    </div>
  );
}

export function Header() {
  const theme = useStudio((s) => s.ui.theme);
  const allowNetwork = useStudio((s) => s.allowNetwork);
  const educator = useStudio((s) => s.ui.educator);
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
