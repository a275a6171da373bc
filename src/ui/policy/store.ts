// The policy panel's zustand store (its own slice, apart from the studio's store) and its commands.
import { create } from 'zustand';
import type { PolicyForm, PolicyState } from './state.ts';
import { applyMessage, initialPolicyState, sessionConfig, startRun } from './state.ts';
import { PolicyClient } from './client.ts';

export const usePolicyStore = create<PolicyState>(() => initialPolicyState());

let client: PolicyClient | null = null;
function getClient(): PolicyClient {
  client ??= new PolicyClient((m) => usePolicyStore.setState((s) => applyMessage(s, m)));
  return client;
}

export const policyActions = {
  setForm(patch: Partial<PolicyForm>) {
    usePolicyStore.setState((s) => ({ form: { ...s.form, ...patch } }));
  },
  start() {
    const f = usePolicyStore.getState().form;
    const id = getClient().start({ config: sessionConfig(f), data: { kind: 'synthetic', seed: f.dataSeed }, backend: f.backend, policy: f.policy });
    usePolicyStore.setState((s) => startRun(s, id));
  },
  pause() {
    getClient().pause();
    usePolicyStore.setState({ status: 'paused' });
  },
  resume() {
    getClient().resume();
    usePolicyStore.setState({ status: 'running' });
  },
  cancel() {
    getClient().cancel();
  },
  generate(prompt: string, which: 'base' | 'ppo') {
    const f = usePolicyStore.getState().form;
    const id = getClient().generate({ prompt, sampling: f.sampling, which });
    usePolicyStore.setState({ gen: { id, text: '', done: false, which, ms: null } });
  },
  selectBon(i: number) {
    usePolicyStore.setState({ bonSelected: i });
  },
  dispose() {
    client?.dispose();
    client = null;
  },
};
