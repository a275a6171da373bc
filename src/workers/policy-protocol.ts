// The typed message protocol between the page's policy panel and the policy worker: discriminated unions on
// `type`, errors as values, and validators so neither side trusts a received message by cast.
import type { PolicyPhase, PolicyReport, PolicySessionPartial } from '../pipeline/policy/session.ts';
import type { PpoMetrics } from '../pipeline/policy/ppo.ts';
import type { BestOfNPrompt } from '../pipeline/policy/bestofn.ts';
import type { Generation, SamplingOptions } from '../pipeline/policy/types.ts';

export type PolicyBackendPref = 'auto' | 'cpu' | 'webgpu';
/** 'bundled': public/models/scpo-mlp-policy; 'train': train the policy on the data's responses first. */
export type PolicySource = 'bundled' | 'train';

export type PolicyDataSpec = { kind: 'synthetic'; seed: number };

export type ToPolicyWorker =
  | { type: 'start'; id: number; config: PolicySessionPartial; data: PolicyDataSpec; backend: PolicyBackendPref; policy: PolicySource }
  /** One streamed generation from the base policy or (after a run) the PPO policy. */
  | { type: 'generate'; id: number; prompt: string; sampling: SamplingOptions; which: 'base' | 'ppo' }
  | { type: 'pause'; id: number }
  | { type: 'resume'; id: number }
  | { type: 'cancel'; id: number };

/** Progress of a run, batched and throttled by the worker (live texts are cumulative; only the latest is kept). */
export type PolicyUpdate =
  | { type: 'phase'; phase: PolicyPhase; label: string }
  | { type: 'policy-step'; step: number; total: number; loss: number }
  | { type: 'bestofn-prompt'; done: number; total: number; row: BestOfNPrompt }
  | { type: 'bestofn-live'; prompt: number; sample: number; text: string }
  | { type: 'ppo-step'; metrics: PpoMetrics; total: number }
  | { type: 'ppo-live'; step: number; prompt: string; text: string; done: boolean };

export type PolicyWorkerErrorKind = 'config' | 'data' | 'cancelled' | 'internal';

export type FromPolicyWorker =
  | { type: 'status'; id: number; message: string }
  | { type: 'backend'; id: number; name: 'cpu' | 'webgpu'; reason: string }
  | { type: 'updates'; id: number; updates: PolicyUpdate[] }
  | { type: 'token'; id: number; index: number; text: string; eos: boolean }
  | { type: 'generated'; id: number; generation: Generation }
  | { type: 'result'; id: number; report: PolicyReport }
  | { type: 'error'; id: number; error: { kind: PolicyWorkerErrorKind; message: string } };

const TO_TYPES = new Set(['start', 'generate', 'pause', 'resume', 'cancel']);
const FROM_TYPES = new Set(['status', 'backend', 'updates', 'token', 'generated', 'result', 'error']);
const UPDATE_TYPES = new Set(['phase', 'policy-step', 'bestofn-prompt', 'bestofn-live', 'ppo-step', 'ppo-live']);
const ERROR_KINDS = new Set(['config', 'data', 'cancelled', 'internal']);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

const isNum = (v: unknown): v is number => typeof v === 'number' && !Number.isNaN(v);

function isSampling(v: unknown): v is SamplingOptions {
  return isRecord(v) && isNum(v.temperature) && isNum(v.topK) && isNum(v.topP) && isNum(v.maxTokens) && isNum(v.seed);
}

function isMetrics(v: unknown): v is PpoMetrics {
  return isRecord(v) && isNum(v.step) && isNum(v.reward) && (v.rewardGlobal === null || isNum(v.rewardGlobal)) && isNum(v.kl) && isNum(v.entropy) && isNum(v.clipFrac);
}

function isBonRow(v: unknown): v is BestOfNPrompt {
  return isRecord(v) && typeof v.prompt === 'string' && Array.isArray(v.responses) && v.responses.every((r) => typeof r === 'string') && isRecord(v.scores) && isRecord(v.picks);
}

export function isPolicyUpdate(v: unknown): v is PolicyUpdate {
  if (!isRecord(v) || typeof v.type !== 'string' || !UPDATE_TYPES.has(v.type)) return false;
  switch (v.type) {
    case 'phase':
      return typeof v.phase === 'string' && typeof v.label === 'string';
    case 'policy-step':
      return isNum(v.step) && isNum(v.total) && typeof v.loss === 'number';
    case 'bestofn-prompt':
      return isNum(v.done) && isNum(v.total) && isBonRow(v.row);
    case 'bestofn-live':
      return isNum(v.prompt) && isNum(v.sample) && typeof v.text === 'string';
    case 'ppo-step':
      return isNum(v.total) && isMetrics(v.metrics);
    case 'ppo-live':
      return isNum(v.step) && typeof v.prompt === 'string' && typeof v.text === 'string' && typeof v.done === 'boolean';
  }
  return false;
}

/** Shape check of a message from the worker; null when malformed (the caller reports it). */
export function parseFromPolicyWorker(v: unknown): FromPolicyWorker | null {
  if (!isRecord(v) || typeof v.type !== 'string' || !FROM_TYPES.has(v.type) || !isNum(v.id)) return null;
  const id = v.id;
  switch (v.type) {
    case 'status':
      return typeof v.message === 'string' ? { type: 'status', id, message: v.message } : null;
    case 'backend':
      return (v.name === 'cpu' || v.name === 'webgpu') && typeof v.reason === 'string' ? { type: 'backend', id, name: v.name, reason: v.reason } : null;
    case 'updates': {
      if (!Array.isArray(v.updates)) return null;
      const updates: PolicyUpdate[] = [];
      for (const u of v.updates) {
        if (!isPolicyUpdate(u)) return null;
        updates.push(u);
      }
      return { type: 'updates', id, updates };
    }
    case 'token':
      return isNum(v.index) && typeof v.text === 'string' && typeof v.eos === 'boolean' ? { type: 'token', id, index: v.index, text: v.text, eos: v.eos } : null;
    case 'generated': {
      const g = v.generation;
      if (!isRecord(g) || typeof g.text !== 'string' || typeof g.prompt !== 'string' || !Array.isArray(g.tokens)) return null;
      return { type: 'generated', id, generation: g as unknown as Generation };
    }
    case 'result': {
      const r = v.report;
      if (!isRecord(r) || r.kind !== 'policy-report' || !isRecord(r.ppo) || !Array.isArray(r.ppo.metrics)) return null;
      return { type: 'result', id, report: r as unknown as PolicyReport };
    }
    case 'error': {
      const e = v.error;
      if (!isRecord(e) || typeof e.message !== 'string' || typeof e.kind !== 'string' || !ERROR_KINDS.has(e.kind)) return null;
      return { type: 'error', id, error: { kind: e.kind as PolicyWorkerErrorKind, message: e.message } };
    }
  }
  return null;
}

export function parseToPolicyWorker(v: unknown): ToPolicyWorker | null {
  if (!isRecord(v) || typeof v.type !== 'string' || !TO_TYPES.has(v.type) || !isNum(v.id)) return null;
  const id = v.id;
  switch (v.type) {
    case 'start': {
      const d = v.data;
      if (!isRecord(v.config) || !isRecord(d) || d.kind !== 'synthetic' || !isNum(d.seed)) return null;
      if (v.backend !== 'auto' && v.backend !== 'cpu' && v.backend !== 'webgpu') return null;
      if (v.policy !== 'bundled' && v.policy !== 'train') return null;
      // The config is validated by resolvePolicySession in the worker (ConfigError names the field).
      return { type: 'start', id, config: v.config as PolicySessionPartial, data: { kind: 'synthetic', seed: d.seed }, backend: v.backend, policy: v.policy };
    }
    case 'generate':
      if (typeof v.prompt !== 'string' || !isSampling(v.sampling) || (v.which !== 'base' && v.which !== 'ppo')) return null;
      return { type: 'generate', id, prompt: v.prompt, sampling: v.sampling, which: v.which };
    default:
      return { type: v.type as 'pause' | 'resume' | 'cancel', id };
  }
}
