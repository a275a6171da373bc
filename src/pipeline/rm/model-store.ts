// Trained country RMs kept for export, stored compactly: the MLP in full and only the embedding rows that differ
// from the base (global) RM, since lazy Adam touches only the rows a run's batches contain (a 30k x 100 table is
// 12 MB; 35 full copies would be 420 MB in a worker).
import { cloneParams, validateParams } from './bag.ts';
import type { BagRMParams } from './types.ts';

/** One stored model in its compact form (what put() keeps); structured-cloneable, e.g. from a shard worker. */
export interface StoredModel {
  rows: Int32Array;
  values: Float32Array;
  W1: Float32Array;
  b1: Float32Array;
  W2: Float32Array;
  b2: Float32Array;
}

const key = (country: string, method: string): string => `${country}\u0000${method}`;

export class ModelStore {
  private models = new Map<string, StoredModel>();

  constructor(readonly base: BagRMParams) {
    validateParams(base, 'ModelStore base');
  }

  /** Keeps a copy of `params` (same config as the base) under (country, method), replacing any earlier one. */
  put(country: string, method: string, params: BagRMParams): void {
    validateParams(params, `model ${country} · ${method}`);
    const { vocabSize: V, dim: D, hidden: H } = this.base.config;
    const c = params.config;
    if (c.vocabSize !== V || c.dim !== D || c.hidden !== H) {
      throw new Error(`model ${country} · ${method}: shape ${c.vocabSize}x${c.dim}x${c.hidden} differs from the base RM ${V}x${D}x${H}`);
    }
    // Bitwise comparison (so -0/+0 and NaN payloads count as changes too).
    const a = new Uint32Array(params.E.buffer, params.E.byteOffset, params.E.length);
    const b = new Uint32Array(this.base.E.buffer, this.base.E.byteOffset, this.base.E.length);
    const rows: number[] = [];
    for (let r = 0; r < V; r++) {
      const o = r * D;
      for (let d = 0; d < D; d++) {
        if (a[o + d] !== b[o + d]) {
          rows.push(r);
          break;
        }
      }
    }
    const values = new Float32Array(rows.length * D);
    rows.forEach((r, i) => values.set(params.E.subarray(r * D, (r + 1) * D), i * D));
    this.models.set(key(country, method), {
      rows: Int32Array.from(rows),
      values,
      W1: params.W1.slice(),
      b1: params.b1.slice(),
      W2: params.W2.slice(),
      b2: params.b2.slice(),
    });
  }

  has(country: string, method: string): boolean {
    return this.models.has(key(country, method));
  }

  /** A full copy of the stored params, or null. */
  get(country: string, method: string): BagRMParams | null {
    const m = this.models.get(key(country, method));
    if (!m) return null;
    const D = this.base.config.dim;
    const E = this.base.E.slice();
    for (let i = 0; i < m.rows.length; i++) E.set(m.values.subarray(i * D, (i + 1) * D), m.rows[i] * D);
    return { config: { ...this.base.config }, E, W1: m.W1.slice(), b1: m.b1.slice(), W2: m.W2.slice(), b2: m.b2.slice() };
  }

  /** The base RM itself (e.g. the 'start' method, which trains nothing). */
  baseCopy(): BagRMParams {
    return cloneParams(this.base);
  }

  keys(): { country: string; method: string }[] {
    return [...this.models.keys()].map((k) => {
      const [country, method] = k.split('\u0000');
      return { country, method };
    });
  }

  /** The compact stored form of (country, method), e.g. to send to another worker's store; null if absent. */
  entry(country: string, method: string): StoredModel | null {
    return this.models.get(key(country, method)) ?? null;
  }

  /** Adds a compact model made by another store on the same base (see entry()). */
  putEntry(country: string, method: string, m: StoredModel): void {
    const { vocabSize: V, dim: D, hidden: H } = this.base.config;
    if (m.rows.some((r) => r < 0 || r >= V) || m.values.length !== m.rows.length * D || m.W1.length !== this.base.W1.length || m.b1.length !== H) {
      throw new Error(`model ${country} · ${method}: stored form does not fit the base RM`);
    }
    this.models.set(key(country, method), m);
  }

  /** Bytes held by the stored models (the base is not counted). */
  bytes(): number {
    let n = 0;
    for (const m of this.models.values()) n += m.rows.byteLength + m.values.byteLength + m.W1.byteLength + m.b1.byteLength + m.W2.byteLength + m.b2.byteLength;
    return n;
  }

  clear(): void {
    this.models.clear();
  }
}
