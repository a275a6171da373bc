// Page-side handle of the policy worker: starts runs and generations, forwards pause/resume/cancel, validates every
// message coming back and hands typed messages to one listener.
import { parseFromPolicyWorker, type FromPolicyWorker, type ToPolicyWorker } from '../../workers/policy-protocol.ts';

export class PolicyClient {
  private worker: Worker | null = null;
  private nextId = 1;
  private run = 0;

  constructor(private readonly listener: (m: FromPolicyWorker) => void) {}

  private ensure(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(new URL('../../workers/policy.worker.ts', import.meta.url), { type: 'module', name: 'scpo-policy' });
    w.onmessage = (ev: MessageEvent<unknown>) => {
      const msg = parseFromPolicyWorker(ev.data);
      if (!msg) {
        this.listener({ type: 'error', id: this.run, error: { kind: 'internal', message: 'malformed message from the policy worker' } });
        return;
      }
      this.listener(msg);
    };
    w.onerror = (ev) => {
      this.listener({ type: 'error', id: this.run, error: { kind: 'internal', message: `policy worker failed: ${ev.message}` } });
      this.worker = null;
    };
    this.worker = w;
    return w;
  }

  private post(m: ToPolicyWorker): void {
    this.ensure().postMessage(m);
  }

  start(m: Omit<Extract<ToPolicyWorker, { type: 'start' }>, 'id' | 'type'>): number {
    const id = this.nextId++;
    this.run = id;
    this.post({ type: 'start', id, ...m });
    return id;
  }

  generate(m: Omit<Extract<ToPolicyWorker, { type: 'generate' }>, 'id' | 'type'>): number {
    const id = this.nextId++;
    this.post({ type: 'generate', id, ...m });
    return id;
  }

  pause(): void {
    if (this.run) this.post({ type: 'pause', id: this.run });
  }
  resume(): void {
    if (this.run) this.post({ type: 'resume', id: this.run });
  }
  cancel(): void {
    if (this.run) this.post({ type: 'cancel', id: this.run });
  }
  dispose(): void {
    this.worker?.terminate();
    this.worker = null;
  }
}
