// Node only: data-parallel peers of the USE-lite cpu trainer as worker threads, each with its own one-thread wasm
// MatOps and a PeerState (data-parallel.ts). Workers get tsx's ESM hooks from a small bootstrap, as the session
// workers of ../../parallel.node.ts do (Node 20's `--import tsx` registers them on the main thread only).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { createWasmMatOps } from '../../../gpu/wasm/matops.ts';
import { PeerState, servePeerMessage, type FromPeer, type GradPeer, type PeerReply, type PeerRequest, type ToPeer } from './data-parallel.ts';

const KIND = 'use-lite-grad-peer';
const require_ = createRequire(import.meta.url);

/** Starts `count` peers (worker threads); rejects, stopping those already started, if one fails to start. */
export async function startUseLitePeers(count: number, timeoutMs = 60000): Promise<GradPeer[]> {
  const peers: GradPeer[] = [];
  try {
    for (let i = 0; i < count; i++) peers.push(await startPeer(i + 1, timeoutMs));
  } catch (e) {
    for (const p of peers) p.dispose();
    throw e;
  }
  return peers;
}

function startPeer(n: number, timeoutMs: number): Promise<GradPeer> {
  const api = pathToFileURL(join(dirname(require_.resolve('tsx/package.json')), 'dist/esm/api/index.mjs')).href;
  const code = `const { register } = await import(${JSON.stringify(api)});\nregister();\nawait import(${JSON.stringify(import.meta.url)});\n`;
  const w = new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`), { workerData: { kind: KIND }, execArgv: [] });
  const name = `worker ${n}`;
  const pending = new Map<number, { resolve: (r: PeerReply) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let dead: Error | null = null;
  const fail = (e: Error): void => {
    dead ??= e;
    for (const p of pending.values()) p.reject(dead);
    pending.clear();
  };
  return new Promise<GradPeer>((resolve, reject) => {
    const timer = setTimeout(() => {
      void w.terminate();
      reject(new Error(`use-lite data-parallel ${name} did not start within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    w.on('message', (m: FromPeer) => {
      if (m.type === 'ready') {
        clearTimeout(timer);
        w.unref(); // an idle peer never keeps the process alive; one with a request in flight is ref'd
        resolve(peer);
      } else if (m.type === 'fatal') {
        clearTimeout(timer);
        reject(new Error(`use-lite data-parallel ${name}: ${m.message}`));
        fail(new Error(`use-lite data-parallel ${name}: ${m.message}`));
      } else {
        const p = pending.get(m.id);
        pending.delete(m.id);
        if (pending.size === 0) w.unref();
        p?.resolve(m.reply);
      }
    });
    w.on('error', (e) => {
      clearTimeout(timer);
      const err = new Error(`use-lite data-parallel ${name} failed: ${e.message}`);
      reject(err);
      fail(err);
    });
    w.on('exit', (code) => {
      clearTimeout(timer);
      const err = new Error(`use-lite data-parallel ${name} exited (code ${code})`);
      reject(err);
      fail(err);
    });
    const peer: GradPeer = {
      name,
      request(req: PeerRequest): Promise<PeerReply> {
        if (dead) return Promise.reject(dead);
        const id = nextId++;
        return new Promise<PeerReply>((res, rej) => {
          pending.set(id, { resolve: res, reject: rej });
          w.ref();
          w.postMessage({ id, req } satisfies ToPeer);
        });
      },
      release(key: string) {
        if (!dead) w.postMessage({ release: key } satisfies ToPeer);
      },
      dispose() {
        dead ??= new Error(`use-lite data-parallel ${name} was disposed`);
        void w.terminate();
      },
    };
  });
}

async function peerMain(): Promise<void> {
  const port = parentPort!;
  let state: PeerState;
  try {
    state = new PeerState(await createWasmMatOps({ threads: 1 }));
  } catch (e) {
    port.postMessage({ type: 'fatal', message: (e as Error).message } satisfies FromPeer);
    return;
  }
  port.on('message', (m: ToPeer) => {
    const out = servePeerMessage(state, m);
    if (out) port.postMessage(out.msg, out.transfer);
  });
  port.postMessage({ type: 'ready' } satisfies FromPeer);
}

if (!isMainThread && (workerData as { kind?: string } | undefined)?.kind === KIND) void peerMain();
