// Run progress: phases, the live fraction of a phase, ETA; and the config panel's country list.
import type { ExperimentConfig, Phase } from '../../pipeline/experiment.ts';

export const PHASES: readonly Phase[] = ['load', 'score', 'filter', 'train', 'efficiency', 'evaluate'];

export interface PhaseProgress {
  done: number;
  total: number;
  label: string;
  startedAt: number;
  endedAt: number | null;
}

/** Fraction of one phase done, counting the live step of the (country, method) run in progress. */
export function phaseFraction(p: PhaseProgress, stepFraction: number): number {
  if (p.endedAt !== null) return 1;
  if (p.total <= 0) return 0;
  return Math.min(1, (p.done + Math.min(1, Math.max(0, stepFraction))) / p.total);
}

/** Remaining seconds by linear extrapolation of the phase so far; null until there is something to go on. */
export function etaSeconds(fraction: number, startedAt: number, now: number): number | null {
  if (fraction <= 0.01 || fraction >= 1) return null;
  const elapsed = (now - startedAt) / 1000;
  return (elapsed / fraction) * (1 - fraction);
}

export function formatEta(s: number | null): string {
  if (s === null || !Number.isFinite(s)) return '';
  if (s < 60) return `~${Math.max(1, Math.round(s))} s left`;
  const m = Math.floor(s / 60);
  return `~${m} min ${Math.round(s - m * 60)} s left`;
}


/** Countries for the config panel: the data summary's, else the defaults' (before any data is loaded). */
export function availableCountries(summary: { countries: Record<string, { pairs: number }> } | null, config: ExperimentConfig): string[] {
  if (!summary) return [...new Set([...config.countries, ...config.majority])].sort();
  return Object.keys(summary.countries)
    .filter((c) => summary.countries[c].pairs > 0)
    .sort();
}
