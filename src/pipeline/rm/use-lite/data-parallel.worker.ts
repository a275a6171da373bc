// Browser: a data-parallel peer of the USE-lite cpu trainer as a module Web Worker (data-parallel.ts: the protocol
// and PeerState; data-parallel.browser.ts starts these). Messages are plain postMessage (no SharedArrayBuffer), so
// this works on pages that are not cross-origin isolated too. The first message says where the wasm kernels are.
import { createWasmMatOps } from '../../../gpu/wasm/matops.ts';
import { PeerState, servePeerMessage, type FromPeer, type ToPeer } from './data-parallel.ts';

declare const self: {
  postMessage(msg: unknown, transfer?: Transferable[]): void;
  onmessage: ((ev: MessageEvent<unknown>) => void) | null;
};

let state: PeerState | null = null;

self.onmessage = (ev: MessageEvent<unknown>) => {
  const m = ev.data as ToPeer | { init: { wasmBaseUrl: string } };
  if ('init' in m) {
    createWasmMatOps({ threads: 1, baseUrl: m.init.wasmBaseUrl }).then(
      (ops) => {
        state = new PeerState(ops);
        self.postMessage({ type: 'ready' } satisfies FromPeer);
      },
      (e: unknown) => self.postMessage({ type: 'fatal', message: e instanceof Error ? e.message : String(e) } satisfies FromPeer),
    );
    return;
  }
  // The trainer sends requests only after 'ready': state is set.
  const out = servePeerMessage(state!, m);
  if (out) self.postMessage(out.msg, out.transfer);
};
