// Messages between a scoring client (experiment worker or page) and the scoring worker (onnxruntime-web):
// discriminated unions on `type`, errors as values, validators instead of casts. Buffers travel as transfers.
import type { EncodedItems } from '../pipeline/rm/types.ts';
import type { OrtEp, OrtModelKind, OrtPreference } from './ort-scorer.ts';

export type ToScoring =
  /**
   * Creates the session; `model` is the ONNX file (transferred) or its absolute URL (fetched by the scoring worker, so
   * its session can start before the sender has the file). Answered by 'ready' or 'error'.
   */
  | {
      type: 'init';
      id: number;
      model: ArrayBuffer | { url: string };
      prefer: OrtPreference;
      /** URL prefix of onnxruntime-web's wasm files (e.g. "/ort/"). */
      wasmPaths: string;
      numThreads?: number;
      batchItems?: number;
      /** The model's input layout (default: the bag RM). */
      modelKind?: OrtModelKind;
    }
  /** Scores every item of `items` in order (its typed arrays' buffers are transferred). Answered by 'scores' or 'error'. */
  | { type: 'score'; id: number; items: EncodedItems }
  /** USE-lite: the 512-d embeddings of every item of `items` (buffers transferred). Answered by 'embeddings' or 'error'. */
  | { type: 'embed'; id: number; items: EncodedItems }
  | { type: 'release'; id: number };

export type FromScoring =
  | { type: 'ready'; id: number; ep: OrtEp; reason: string; initMs: number; adapter?: string }
  | { type: 'scores'; id: number; scores: Float32Array; ms: number }
  | { type: 'embeddings'; id: number; embeddings: Float32Array; ms: number }
  | { type: 'released'; id: number }
  | { type: 'error'; id: number; message: string };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

const EPS = new Set(['webgpu', 'wasm']);
const PREFS = new Set(['auto', 'webgpu', 'wasm']);

/** Structural check of EncodedItems, including offsets that stay inside their id arrays. */
export function isEncodedItems(v: unknown): v is EncodedItems {
  if (!isRecord(v)) return false;
  const { count, promptOffsets: po, promptIds: pi, responseOffsets: ro, responseIds: ri } = v;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) return false;
  if (!(po instanceof Int32Array) || !(pi instanceof Int32Array) || !(ro instanceof Int32Array) || !(ri instanceof Int32Array)) return false;
  if (po.length !== count + 1 || ro.length !== count + 1) return false;
  if (po[0] !== 0 || ro[0] !== 0 || po[count] !== pi.length || ro[count] !== ri.length) return false;
  for (let i = 0; i < count; i++) if (po[i + 1] < po[i] || ro[i + 1] < ro[i]) return false;
  return true;
}

export function parseToScoring(v: unknown): ToScoring | null {
  if (!isRecord(v) || typeof v.id !== 'number') return null;
  switch (v.type) {
    case 'init': {
      const m = v.model;
      if (!(m instanceof ArrayBuffer) && !(isRecord(m) && typeof m.url === 'string')) return null;
      if (typeof v.prefer !== 'string' || !PREFS.has(v.prefer) || typeof v.wasmPaths !== 'string') return null;
      const opt = (x: unknown): number | undefined => (typeof x === 'number' && Number.isInteger(x) && x > 0 ? x : undefined);
      const mk = v.modelKind as Record<string, unknown> | undefined;
      let modelKind: OrtModelKind | undefined;
      if (mk !== undefined) {
        if (isRecord(mk) && mk.kind === 'bag') modelKind = { kind: 'bag' };
        else if (isRecord(mk) && mk.kind === 'use-lite' && opt(mk.maxLen) !== undefined) modelKind = { kind: 'use-lite', maxLen: mk.maxLen as number };
        else return null;
      }
      return {
        type: 'init',
        id: v.id,
        model: m instanceof ArrayBuffer ? m : { url: m.url as string },
        prefer: v.prefer as OrtPreference,
        wasmPaths: v.wasmPaths,
        numThreads: opt(v.numThreads),
        batchItems: opt(v.batchItems),
        ...(modelKind ? { modelKind } : {}),
      };
    }
    case 'score':
      return isEncodedItems(v.items) ? { type: 'score', id: v.id, items: v.items } : null;
    case 'embed':
      return isEncodedItems(v.items) ? { type: 'embed', id: v.id, items: v.items } : null;
    case 'release':
      return { type: 'release', id: v.id };
  }
  return null;
}

export function parseFromScoring(v: unknown): FromScoring | null {
  if (!isRecord(v) || typeof v.id !== 'number') return null;
  switch (v.type) {
    case 'ready':
      if (typeof v.ep !== 'string' || !EPS.has(v.ep) || typeof v.reason !== 'string' || typeof v.initMs !== 'number') return null;
      return {
        type: 'ready',
        id: v.id,
        ep: v.ep as OrtEp,
        reason: v.reason,
        initMs: v.initMs,
        adapter: typeof v.adapter === 'string' ? v.adapter : undefined,
      };
    case 'scores':
      return v.scores instanceof Float32Array && typeof v.ms === 'number' ? { type: 'scores', id: v.id, scores: v.scores, ms: v.ms } : null;
    case 'embeddings':
      return v.embeddings instanceof Float32Array && typeof v.ms === 'number' ? { type: 'embeddings', id: v.id, embeddings: v.embeddings, ms: v.ms } : null;
    case 'released':
      return { type: 'released', id: v.id };
    case 'error':
      return typeof v.message === 'string' ? { type: 'error', id: v.id, message: v.message } : null;
  }
  return null;
}

/** The buffers of an EncodedItems, for a transfer list (each buffer once). */
export function encodedBuffers(items: EncodedItems): ArrayBuffer[] {
  const set = new Set<ArrayBuffer>();
  for (const a of [items.promptOffsets, items.promptIds, items.responseOffsets, items.responseIds]) set.add(a.buffer as ArrayBuffer);
  return [...set];
}
