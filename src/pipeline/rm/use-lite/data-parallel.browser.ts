// Browser: data-parallel peers of the USE-lite cpu trainer as module Web Workers (data-parallel.worker.ts), each with
// its own one-thread wasm MatOps; the same protocol as the Node peers (data-parallel.node.ts).
import type { FromPeer, GradPeer, PeerReply, PeerRequest, ToPeer } from './data-parallel.ts';

/** Starts `count` peers loading the kernels from `wasmBaseUrl`; rejects, stopping those started, if one fails. */
export async function startBrowserUseLitePeers(count: number, wasmBaseUrl: string, timeoutMs = 60000): Promise<GradPeer[]> {
  const peers: GradPeer[] = [];
  try {
    for (let i = 0; i < count; i++) peers.push(await startPeer(i + 1, wasmBaseUrl, timeoutMs));
  } catch (e) {
    for (const p of peers) p.dispose();
    throw e;
  }
  return peers;
}

function startPeer(n: number, wasmBaseUrl: string, timeoutMs: number): Promise<GradPeer> {
  const name = `web worker ${n}`;
  const w = new Worker(new URL('./data-parallel.worker.ts', import.meta.url), { type: 'module', name: `scpo-use-lite-peer-${n}` });
  const pending = new Map<number, { resolve: (r: PeerReply) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let dead: Error | null = null;
  const fail = (e: Error): void => {
    dead ??= e;
    for (const p of pending.values()) p.reject(dead);
    pending.clear();
    w.terminate();
  };
  return new Promise<GradPeer>((resolve, reject) => {
    const timer = setTimeout(() => {
      const e = new Error(`use-lite data-parallel ${name} did not start within ${timeoutMs / 1000} s`);
      reject(e);
      fail(e);
    }, timeoutMs);
    const peer: GradPeer = {
      name,
      request(req: PeerRequest): Promise<PeerReply> {
        if (dead) return Promise.reject(dead);
        const id = nextId++;
        return new Promise<PeerReply>((res, rej) => {
          pending.set(id, { resolve: res, reject: rej });
          w.postMessage({ id, req } satisfies ToPeer);
        });
      },
      release(key: string) {
        if (!dead) w.postMessage({ release: key } satisfies ToPeer);
      },
      dispose() {
        fail(new Error(`use-lite data-parallel ${name} was disposed`));
      },
    };
    w.onmessage = (ev: MessageEvent<FromPeer>) => {
      const m = ev.data;
      if (m.type === 'ready') {
        clearTimeout(timer);
        resolve(peer);
      } else if (m.type === 'fatal') {
        clearTimeout(timer);
        const e = new Error(`use-lite data-parallel ${name}: ${m.message}`);
        reject(e);
        fail(e);
      } else {
        const p = pending.get(m.id);
        pending.delete(m.id);
        p?.resolve(m.reply);
      }
    };
    w.onerror = (ev: ErrorEvent) => {
      clearTimeout(timer);
      const e = new Error(`use-lite data-parallel ${name} failed: ${ev.message || 'worker error'}`);
      reject(e);
      fail(e);
    };
    w.postMessage({ init: { wasmBaseUrl } });
  });
}
