// The zustand store of the studio and the read-only test handle `window.__studio`.
import { create } from 'zustand';
import type { StudioState } from './actions.ts';
import { initialState } from './actions.ts';
import { macroByMethod } from './derive.ts';
import { macroBars, pairedSentences } from './derive/seeds.ts';

export const useStudio = create<StudioState>()(() => initialState());

/** Applies a pure action: `update(s => action(s, ...))`. */
export function update(fn: (s: StudioState) => Partial<StudioState>): void {
  useStudio.setState((s) => fn(s));
}

/**
 * A JSON-safe snapshot for Playwright (page.evaluate returns it by value): the small parts of the state whole,
 * the big arrays as lengths, plus derived macro averages so tests need not re-implement them.
 */
export function snapshot(s: StudioState = useStudio.getState()) {
  const countries = s.run.config?.countries ?? s.config.countries;
  return {
    status: s.run.status,
    message: s.run.message,
    phase: s.run.phase,
    phases: s.run.phases,
    startedAt: s.run.startedAt,
    endedAt: s.run.endedAt,
    error: s.run.error,
    config: s.config,
    runConfig: s.run.config,
    backendPref: s.backendPref,
    backend: s.backend,
    data: s.data.kind === 'synthetic' ? s.data : { kind: s.data.kind },
    model: s.model.kind === 'use-lite' ? { kind: s.model.kind, tune: s.model.tune, seqLen: s.model.seqLen } : { kind: s.model.kind },
    dataStatus: s.dataStatus,
    dataError: s.dataError,
    summary: s.summary,
    items: s.items?.length ?? 0,
    pairs: s.pairs?.length ?? 0,
    hashNotice: s.hashNotice,
    allowNetwork: s.allowNetwork,
    live: {
      pointCount: s.live.pointCount,
      firstPointAt: s.live.firstPointAt,
      runs: s.live.runs.length,
      efficiency: Object.keys(s.live.efficiency),
      scored: s.live.rPlus?.length ?? 0,
      /** Main runs reused from an interrupted run (not trained by this page's worker). */
      resumed: s.live.resumed.length,
    },
    macro: {
      full: macroByMethod(s.live.runs, countries, 'full'),
      edited: macroByMethod(s.live.runs, countries, 'edited'),
    },
    result: s.result
      ? { source: s.result.source, backend: s.result.backend, reports: s.result.reports, timings: s.result.timings, runs: s.result.runs.length }
      : null,
    resultOrigin: s.resultOrigin,
    seeds: s.seeds ? { seeds: s.seeds.seeds, bars: macroBars(s.seeds, 'full'), paired: pairedSentences(s.seeds, 'full') } : null,
    interrupted: s.interrupted
      ? { startedAt: s.interrupted.startedAt, progress: s.interrupted.progress, label: s.interrupted.label, runs: s.interrupted.runs?.length ?? 0 }
      : null,
    ui: s.ui,
    notices: s.notices.map((n) => ({ level: n.level, text: n.text })),
  };
}

export type StudioSnapshot = ReturnType<typeof snapshot>;

declare global {
  interface Window {
    __studio?: { getState: () => StudioSnapshot };
  }
}

export function installTestHandle(): void {
  // A getter of copies: tests can read everything and change nothing.
  Object.defineProperty(window, '__studio', {
    value: Object.freeze({ getState: () => JSON.parse(JSON.stringify(snapshot())) as StudioSnapshot }),
    writable: false,
    configurable: false,
  });
}
