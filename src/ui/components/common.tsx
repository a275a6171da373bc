// Small shared pieces of the studio's UI: method colours and labels, the resolved theme, a validated number field.
import { useEffect, useId, useState } from 'react';
import type { Method } from '../../pipeline/types.ts';
import { PRESENT_KEY } from '../boot.ts';
import { update, useStudio } from '../store.ts';

// Explicit colours (not CSS variables) so exported SVG/PNG charts look the same outside the page.
export const METHOD_COLORS: Record<Method, string> = {
  start: '#8a8f98',
  full_ft: '#3b82f6',
  filter_only: '#d97706',
  weight_only: '#10b981',
  scpo: '#e11d48',
  inverse: '#8b5cf6',
};

export function useResolvedTheme(): 'light' | 'dark' {
  const theme = useStudio((s) => s.ui.theme);
  const [systemDark, setSystemDark] = useState(() => window.matchMedia?.('(prefers-color-scheme: dark)').matches ?? false);
  useEffect(() => {
    const mq = window.matchMedia?.('(prefers-color-scheme: dark)');
    if (!mq) return;
    const on = () => setSystemDark(mq.matches);
    mq.addEventListener('change', on);
    return () => mq.removeEventListener('change', on);
  }, []);
  return theme === 'system' ? (systemDark ? 'dark' : 'light') : theme;
}

/** The width below which the studio stacks its panels (phones, narrow windows); styles.css uses the same. */
export const NARROW_QUERY = '(max-width: 760px)';

/** True while `query` matches (e.g. NARROW_QUERY), following window resizes. */
export function useMedia(query: string): boolean {
  const [on, setOn] = useState(() => window.matchMedia?.(query).matches ?? false);
  useEffect(() => {
    const mq = window.matchMedia?.(query);
    if (!mq) return;
    const f = () => setOn(mq.matches);
    f();
    mq.addEventListener('change', f);
    return () => mq.removeEventListener('change', f);
  }, [query]);
  return on;
}

/** Presentation mode on or off: the store, the root's data-present (styles.css) and the remembered choice. */
export function setPresent(on: boolean): void {
  update((s) => ({ ui: { ...s.ui, present: on } }));
  if (on) document.documentElement.dataset.present = 'on';
  else delete document.documentElement.dataset.present;
  try {
    if (on) localStorage.setItem(PRESENT_KEY, '1');
    else localStorage.removeItem(PRESENT_KEY);
  } catch {
    // Not remembered; it still applies to this page.
  }
}

/**
 * Type sizes of the charts (SVG text is sized here, not by CSS): presentation mode makes axis ticks and legends
 * 16 px or more so they read on a projector at 1920 px.
 */
export function useChartSizes() {
  const present = useStudio((s) => s.ui.present);
  return present
    ? { tick: 17, legend: 17, tooltip: 17, height: 300, yWidth: 64, label: 16 }
    : { tick: 11, legend: 12, tooltip: 12, height: 196, yWidth: 48, label: 11 };
}

export function chartTheme(t: 'light' | 'dark') {
  return t === 'dark'
    ? { bg: '#151a21', fg: '#d7dde6', grid: '#2b333f', muted: '#8b95a5', accent: '#f472b6' }
    : { bg: '#ffffff', fg: '#1f2933', grid: '#e3e7ee', muted: '#5b6675', accent: '#be185d' };
}

interface NumberFieldProps {
  label: string;
  value: number;
  onCommit: (v: number) => void;
  min: number;
  max: number;
  step?: number;
  integer?: boolean;
  testid?: string;
  hint?: string;
  disabled?: boolean;
}

/** A number input that keeps what the user types and commits only valid values; invalid input is marked, not lost. */
export function NumberField({ label, value, onCommit, min, max, step, integer, testid, hint, disabled }: NumberFieldProps) {
  const id = useId();
  const [text, setText] = useState(String(value));
  const [err, setErr] = useState<string | null>(null);
  useEffect(() => {
    // Follow outside changes (URL hash, import) unless the field holds the same number already.
    setText((t) => (Number(t) === value && t.trim() !== '' ? t : String(value)));
    setErr(null);
  }, [value]);
  const commit = (t: string) => {
    setText(t);
    const v = Number(t);
    if (t.trim() === '' || !Number.isFinite(v)) return setErr('enter a number');
    if (integer && !Number.isInteger(v)) return setErr('enter a whole number');
    if (v < min || v > max) return setErr(`between ${min} and ${max}`);
    setErr(null);
    if (v !== value) onCommit(v);
  };
  return (
    <div className="field">
      <label htmlFor={id}>
        {label}
        {hint ? <span className="hint"> {hint}</span> : null}
      </label>
      <input
        id={id}
        type="number"
        inputMode="decimal"
        value={text}
        min={min}
        max={max}
        step={step ?? (integer ? 1 : 'any')}
        aria-invalid={err ? true : undefined}
        aria-describedby={err ? `${id}-err` : undefined}
        data-testid={testid}
        disabled={disabled}
        onChange={(e) => commit(e.target.value)}
      />
      {err ? (
        <span className="field-error" id={`${id}-err`} role="alert">
          {err}
        </span>
      ) : null}
    </div>
  );
}

