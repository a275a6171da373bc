// The policy panel's state and its pure actions (no React, no DOM): config edits and worker messages fold into a
// new state, so the panel's logic is unit-testable and the components stay thin.
import type { BestOfNPrompt } from '../../pipeline/policy/bestofn.ts';
import type { PpoMetrics } from '../../pipeline/policy/ppo.ts';
import { DEFAULT_POLICY_SESSION, type PolicyReport, type PolicySessionPartial } from '../../pipeline/policy/session.ts';
import type { SamplingOptions } from '../../pipeline/policy/types.ts';
import type { FromPolicyWorker, PolicyBackendPref, PolicySource } from '../../workers/policy-protocol.ts';
import { hackingSignals } from '../../pipeline/policy/signals.ts';

export type RunStatus = 'idle' | 'running' | 'paused' | 'done' | 'error' | 'cancelled';

export interface PolicyForm {
  country: string;
  dataSeed: number;
  seed: number;
  backend: PolicyBackendPref;
  policy: PolicySource;
  ppoSteps: number;
  batchPrompts: number;
  klCoef: number;
  lr: number;
  bonN: number;
  bonPrompts: number;
  sampling: SamplingOptions;
}

export interface PolicyState {
  form: PolicyForm;
  status: RunStatus;
  runId: number;
  message: string;
  phase: string;
  backend: { name: string; reason: string } | null;
  policyLoss: { step: number; loss: number }[];
  policyTotal: number;
  metrics: PpoMetrics[];
  ppoTotal: number;
  bonRows: BestOfNPrompt[];
  bonTotal: number;
  bonLive: { prompt: number; sample: number; text: string } | null;
  ppoLive: { step: number; prompt: string; text: string; done: boolean } | null;
  report: PolicyReport | null;
  error: string;
  /** The playground's streamed generation. */
  gen: { id: number; text: string; done: boolean; which: 'base' | 'ppo'; ms: number | null };
  /** Which best-of-N prompt the side-by-side view shows. */
  bonSelected: number;
  /** The last finished PPO run per country (and target RM), so countries can be compared side by side. */
  finished: PpoRunSummary[];
}

export const DEFAULT_FORM: PolicyForm = {
  country: DEFAULT_POLICY_SESSION.country,
  dataSeed: 0,
  seed: 0,
  backend: 'auto',
  policy: 'bundled',
  ppoSteps: 30,
  batchPrompts: DEFAULT_POLICY_SESSION.ppo.batchPrompts,
  klCoef: 0.1,
  lr: 5e-4,
  bonN: DEFAULT_POLICY_SESSION.bestOfN.n,
  bonPrompts: 12,
  sampling: { ...DEFAULT_POLICY_SESSION.bestOfN.sampling },
};

export interface PpoRunSummary {
  country: string;
  against: 'country' | 'global';
  steps: number;
  rewardGain: number;
  globalChange: number;
  finalKl: number;
  /** Best-of-N: share of prompts where this country's RM picks another response than the global RM, after PPO. */
  disagreementAfter: number | null;
  towardCountry: { before: number; after: number } | null;
  /** The reward-hacking checks that tripped (signals.ts). */
  warnings: string[];
}

/** One row of the side-by-side table from a finished run's report. */
export function summarizeRun(r: PolicyReport): PpoRunSummary {
  const p = r.ppo;
  const after = r.bestOfN.after;
  return {
    country: p.country,
    against: p.against,
    steps: p.metrics.length,
    rewardGain: p.rewardGain,
    globalChange: p.globalChange,
    finalKl: p.finalKl,
    disagreementAfter: after ? (after.disagreement[p.country] ?? null) : null,
    towardCountry: p.planted ? { before: p.planted.towardCountryBefore, after: p.planted.towardCountryAfter } : null,
    warnings: hackingSignals(r)
      .filter((x) => x.warn)
      .map((x) => x.label),
  };
}

/** Replaces the row of the same (country, target RM) and keeps the table in country order. */
export function addFinished(rows: readonly PpoRunSummary[], row: PpoRunSummary): PpoRunSummary[] {
  return [...rows.filter((x) => x.country !== row.country || x.against !== row.against), row].sort(
    (a, b) => a.country.localeCompare(b.country) || a.against.localeCompare(b.against),
  );
}

export function initialPolicyState(form: PolicyForm = DEFAULT_FORM): PolicyState {
  return {
    form,
    status: 'idle',
    runId: 0,
    message: '',
    phase: '',
    backend: null,
    policyLoss: [],
    policyTotal: 0,
    metrics: [],
    ppoTotal: 0,
    bonRows: [],
    bonTotal: 0,
    bonLive: null,
    ppoLive: null,
    report: null,
    error: '',
    gen: { id: 0, text: '', done: true, which: 'base', ms: null },
    bonSelected: 0,
    finished: [],
  };
}

/** The session config the form describes (validated again in the worker). */
export function sessionConfig(f: PolicyForm): PolicySessionPartial {
  return {
    country: f.country,
    seed: f.seed,
    bestOfN: { n: f.bonN, prompts: f.bonPrompts, sampling: { ...f.sampling, seed: f.seed } },
    ppo: { steps: f.ppoSteps, batchPrompts: f.batchPrompts, klCoef: f.klCoef, lr: f.lr, maxTokens: f.sampling.maxTokens, seed: f.seed },
  };
}

export function startRun(s: PolicyState, runId: number): PolicyState {
  return { ...initialPolicyState(s.form), gen: s.gen, finished: s.finished, status: 'running', runId, message: 'starting' };
}

/** Folds one (validated) worker message into the state; messages of other runs are ignored. */
export function applyMessage(s: PolicyState, m: FromPolicyWorker): PolicyState {
  if (m.id === s.gen.id && (m.type === 'token' || m.type === 'generated' || (m.type === 'error' && s.gen.id !== s.runId))) {
    if (m.type === 'token') return { ...s, gen: { ...s.gen, text: s.gen.text + m.text } };
    if (m.type === 'generated') return { ...s, gen: { ...s.gen, text: m.generation.text, done: true, ms: m.generation.ms } };
    return { ...s, gen: { ...s.gen, done: true }, error: m.error.message };
  }
  if (m.id !== s.runId) return s;
  switch (m.type) {
    case 'status':
      return { ...s, message: m.message };
    case 'backend':
      return { ...s, backend: { name: m.name, reason: m.reason } };
    case 'result':
      return {
        ...s,
        status: 'done',
        report: m.report,
        metrics: m.report.ppo.metrics,
        message: 'done',
        ppoLive: s.ppoLive && { ...s.ppoLive, done: true },
        finished: addFinished(s.finished, summarizeRun(m.report)),
      };
    case 'error':
      return { ...s, status: m.error.kind === 'cancelled' ? 'cancelled' : 'error', error: m.error.kind === 'cancelled' ? '' : m.error.message, message: m.error.kind === 'cancelled' ? 'cancelled' : 'failed' };
    case 'updates': {
      let n = { ...s };
      for (const u of m.updates) {
        switch (u.type) {
          case 'phase':
            n = { ...n, phase: u.phase, message: u.label };
            break;
          case 'policy-step':
            n = { ...n, policyLoss: [...n.policyLoss, { step: u.step, loss: u.loss }], policyTotal: u.total };
            break;
          case 'bestofn-prompt':
            // The 'after PPO' pass starts over at done = 1.
            n = { ...n, bonRows: u.done === 1 ? [u.row] : [...n.bonRows, u.row], bonTotal: u.total };
            break;
          case 'bestofn-live':
            n = { ...n, bonLive: { prompt: u.prompt, sample: u.sample, text: u.text } };
            break;
          case 'ppo-step':
            n = { ...n, metrics: [...n.metrics, u.metrics], ppoTotal: u.total };
            break;
          case 'ppo-live':
            n = { ...n, ppoLive: { step: u.step, prompt: u.prompt, text: u.text, done: u.done } };
            break;
        }
      }
      return n;
    }
    default:
      return s;
  }
}

/** Chart rows of the PPO metrics. */
export function metricRows(ms: readonly PpoMetrics[]) {
  return ms.map((m) => ({ step: m.step, reward: m.reward, global: m.rewardGlobal, kl: m.kl, entropy: m.entropy, clip: 100 * m.clipFrac }));
}
