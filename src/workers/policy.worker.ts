// The policy worker: loads the synthetic data, the bundled RM and the bundled policy, runs the shared policy
// session (country RM -> best-of-N -> PPO) off the main thread with pause/cancel, streams throttled updates, and
// serves single streamed generations from the base or PPO policy.
import { cpuBackend } from '../gpu/cpu/trainer.ts';
import { loadSynthetic } from '../pipeline/data/index.ts';
import { selectPolicyTrainerFactory } from '../pipeline/policy/backends.ts';
import type { MlpLmParams } from '../pipeline/policy/lm.ts';
import { MlpLmPolicy } from '../pipeline/policy/mlp-policy.ts';
import { loadPolicy } from '../pipeline/policy/onnx.ts';
import { resolveSampling } from '../pipeline/policy/types.ts';
import type { PolicyVocab } from '../pipeline/policy/vocab.ts';
import { runPolicySession, type PolicyEvent } from '../pipeline/policy/session.ts';
import { fetchReader, loadBagRM, type LoadedBagRM } from '../pipeline/rm/files.ts';
import { CancelledError } from '../pipeline/train/loop.ts';
import { ConfigError, DataError } from '../pipeline/types.ts';
import { parseToPolicyWorker, type FromPolicyWorker, type PolicyUpdate, type PolicyWorkerErrorKind, type ToPolicyWorker } from './policy-protocol.ts';
import { batcher } from './batcher.ts';
import { RunSlot } from './run-slot.ts';

declare const self: {
  location: Location;
  postMessage(msg: unknown): void;
  onmessage: ((ev: MessageEvent<unknown>) => void) | null;
};

const BASE = new URL(import.meta.env.BASE_URL, self.location.origin).href;
const RM_URL = new URL('models/scpo-glove-rm/', BASE).href;
const POLICY_URL = new URL('models/scpo-mlp-policy/', BASE).href;

function post(msg: FromPolicyWorker): void {
  self.postMessage(msg);
}

const slot = new RunSlot();
let rmCache: Promise<LoadedBagRM> | null = null;
let bundled: Promise<{ params: MlpLmParams; vocab: PolicyVocab }> | null = null;
/** The policies of the last run (for 'generate'). */
let policies: { base: { params: MlpLmParams; vocab: PolicyVocab } | null; ppo: MlpLmParams | null } = { base: null, ppo: null };

function errorOf(e: unknown): { kind: PolicyWorkerErrorKind; message: string } {
  if (e instanceof CancelledError) return { kind: 'cancelled', message: 'run cancelled' };
  if (e instanceof ConfigError) return { kind: 'config', message: e.message };
  if (e instanceof DataError) return { kind: 'data', message: e.message };
  return { kind: 'internal', message: e instanceof Error ? e.message : String(e) };
}

/** Batches updates, keeps only the newest live text of each kind, posts at most every 100 ms. */
function updateSink(id: number) {
  const live = (u: PolicyUpdate) => u.type === 'ppo-live' || u.type === 'bestofn-live';
  const { push, flush } = batcher<PolicyUpdate>(
    (updates) => post({ type: 'updates', id, updates }),
    100,
    (queued, u) => live(u) && queued.type === u.type,
  );
  let bonText = '';
  let bonKey = '';
  const onEvent = (e: PolicyEvent) => {
    switch (e.type) {
      case 'bestofn-token': {
        const key = `${e.prompt}/${e.sample}`;
        if (key !== bonKey) {
          bonKey = key;
          bonText = '';
        }
        bonText += e.token.text;
        push({ type: 'bestofn-live', prompt: e.prompt, sample: e.sample, text: bonText });
        break;
      }
      case 'ppo-token':
        push({ type: 'ppo-live', step: e.step, prompt: e.prompt, text: e.text, done: e.done });
        break;
      case 'policy-step':
        if (e.step % 10 === 0 || e.step === e.total) push(e);
        break;
      default:
        push(e);
    }
  };
  return { onEvent, flush };
}

async function start(msg: Extract<ToPolicyWorker, { type: 'start' }>): Promise<void> {
  const { control, end } = slot.begin(msg.id);
  const sink = updateSink(msg.id);
  try {
    post({ type: 'status', id: msg.id, message: 'loading the synthetic data and the bundled models' });
    const data = await loadSynthetic(msg.data.seed, undefined, { seed: msg.config.seed ?? 0 });
    rmCache ??= loadBagRM(fetchReader(RM_URL));
    const model = await rmCache.catch((e: unknown) => {
      rmCache = null;
      throw new ConfigError(`bundled reward model: ${(e as Error).message}`);
    });
    let policy: { params: MlpLmParams; vocab: PolicyVocab } | undefined;
    if (msg.policy === 'bundled') {
      bundled ??= loadPolicy(fetchReader(POLICY_URL));
      policy = await bundled.catch((e: unknown) => {
        bundled = null;
        throw new ConfigError(`bundled policy: ${(e as Error).message} (choose "train" to train one here)`);
      });
    }
    const sel = await selectPolicyTrainerFactory(msg.backend, undefined, (reason) => post({ type: 'backend', id: msg.id, name: 'cpu', reason }));
    post({ type: 'backend', id: msg.id, name: sel.name, reason: sel.reason });
    const out = await runPolicySession({
      data,
      model,
      backend: cpuBackend,
      config: msg.config,
      policy,
      createTrainer: sel.factory,
      onEvent: sink.onEvent,
      control,
    });
    policies = { base: out.basePolicy, ppo: out.ppoParams };
    sink.flush();
    post({ type: 'result', id: msg.id, report: out.report });
  } catch (e) {
    sink.flush();
    post({ type: 'error', id: msg.id, error: errorOf(e) });
  } finally {
    end();
  }
}

async function generate(msg: Extract<ToPolicyWorker, { type: 'generate' }>): Promise<void> {
  try {
    let base = policies.base;
    if (!base) {
      bundled ??= loadPolicy(fetchReader(POLICY_URL));
      base = await bundled;
    }
    const params = msg.which === 'ppo' && policies.ppo ? policies.ppo : base.params;
    const policy = new MlpLmPolicy(params, base.vocab, msg.which);
    const g = await policy.generate(msg.prompt, resolveSampling(msg.sampling), (t) => post({ type: 'token', id: msg.id, index: t.index, text: t.text, eos: t.eos }));
    post({ type: 'generated', id: msg.id, generation: g });
  } catch (e) {
    post({ type: 'error', id: msg.id, error: errorOf(e) });
  }
}

self.onmessage = (ev: MessageEvent<unknown>) => {
  const msg = parseToPolicyWorker(ev.data);
  if (!msg) return;
  switch (msg.type) {
    case 'start':
      void start(msg);
      return;
    case 'generate':
      void generate(msg);
      return;
  }
  slot.control(msg.type, msg.id);
};
