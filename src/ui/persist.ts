// IndexedDB persistence: the last finished run (result, summary, pairs) and the run in progress, so a reload
// restores the results and can offer to re-run an interrupted run. Files (user datasets, model folders)
// are stored as Blobs, which IndexedDB clones natively.
import type { CompletedRuns, ExperimentConfig, RunResult } from '../pipeline/experiment.ts';
import type { BackendPref, DataSpec, ModelSpec } from '../workers/protocol.ts';
import type { RunBundle } from './export.ts';

const DB = 'scpo-studio';
const STORE = 'kv';
const VERSION = 1;

export interface PendingRun {
  config: ExperimentConfig;
  data: DataSpec;
  model: ModelSpec;
  backend: BackendPref;
  startedAt: number;
  /** Last known overall progress (0-1) and phase label, for the "interrupted" notice. */
  progress: number;
  label: string;
  /** The main runs that finished before the interruption, saved as they arrive: a reload shows them and can resume. */
  runs?: RunResult[];
  margins?: CompletedRuns['margins'];
}

let dbp: Promise<IDBDatabase> | null = null;

function open(): Promise<IDBDatabase> {
  if (dbp) return dbp;
  dbp = new Promise((resolve, reject) => {
    if (typeof indexedDB === 'undefined') {
      reject(new Error('IndexedDB is not available'));
      return;
    }
    const req = indexedDB.open(DB, VERSION);
    req.onupgradeneeded = () => {
      if (!req.result.objectStoreNames.contains(STORE)) req.result.createObjectStore(STORE);
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB open failed'));
  });
  dbp.catch(() => {
    dbp = null;
  });
  return dbp;
}

async function tx<T>(mode: IDBTransactionMode, body: (s: IDBObjectStore) => IDBRequest): Promise<T> {
  const db = await open();
  return new Promise<T>((resolve, reject) => {
    const t = db.transaction(STORE, mode);
    const req = body(t.objectStore(STORE));
    t.oncomplete = () => resolve(req.result as T);
    t.onerror = () => reject(t.error ?? req.error ?? new Error('IndexedDB request failed'));
    t.onabort = () => reject(t.error ?? new Error('IndexedDB transaction aborted'));
  });
}

export const idbGet = <T>(key: string): Promise<T | undefined> => tx<T | undefined>('readonly', (s) => s.get(key));
export const idbPut = (key: string, value: unknown): Promise<unknown> => tx('readwrite', (s) => s.put(value, key));
export const idbDelete = (key: string): Promise<unknown> => tx('readwrite', (s) => s.delete(key));

export const LAST_KEY = 'last-run';
export const PENDING_KEY = 'pending-run';

export const saveLast = (b: RunBundle) => idbPut(LAST_KEY, b);
export const loadLast = () => idbGet<RunBundle>(LAST_KEY);
export const savePending = (p: PendingRun) => idbPut(PENDING_KEY, p);
export const loadPending = () => idbGet<PendingRun>(PENDING_KEY);
export const clearPending = () => idbDelete(PENDING_KEY);
