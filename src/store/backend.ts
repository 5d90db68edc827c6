/**
 * The ordered key-value backend under the store: sublevels of ASCII keys and byte values, range
 * reads and an atomic multi-sublevel batch. Two implementations: `MemoryBackend` (here) and the
 * LevelDB one (level-backend.ts). The concern stores (stores.ts) are written once against this
 * interface, so the memory and LevelDB stores share codec, validation, batch and corruption
 * behaviour, and differ only in where the bytes live.
 */
import type { Concern, KeyRange } from './layout.js';

export interface RangeOptions extends KeyRange {
  /** Largest key first. */
  reverse?: boolean;
  limit?: number;
}

export interface WriteOptions {
  /** Flush to stable storage before resolving (fsync). */
  sync?: boolean;
}

export type RawOp =
  | { type: 'put'; concern: Concern; key: string; value: Uint8Array }
  | { type: 'del'; concern: Concern; key: string };

export interface KvBackend {
  get(concern: Concern, key: string): Promise<Uint8Array | undefined>;
  /** Entries in key order (or reversed), within the range, at most `limit`. */
  entries(concern: Concern, range?: RangeOptions): Promise<Array<[string, Uint8Array]>>;
  keys(concern: Concern, range?: RangeOptions): Promise<string[]>;
  /**
   * Applies every op or none. With `sync` the batch is on stable storage when the promise resolves
   * (LevelDB: the log is fsync'd); without it, it survives the process dying but not the OS.
   */
  batch(ops: readonly RawOp[], options?: WriteOptions): Promise<void>;
  close(): Promise<void>;
}

/** Sorted keys with binary search; one per sublevel. */
class SortedMap {
  readonly keys: string[] = [];
  readonly values = new Map<string, Uint8Array>();

  /** Index of the first key >= k. */
  lowerBound(k: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.keys[mid] as string) < k) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  put(k: string, v: Uint8Array): void {
    if (!this.values.has(k)) this.keys.splice(this.lowerBound(k), 0, k);
    this.values.set(k, v);
  }
  del(k: string): void {
    if (!this.values.delete(k)) return;
    this.keys.splice(this.lowerBound(k), 1);
  }
  range(r: RangeOptions): string[] {
    const start = r.gte === undefined ? 0 : this.lowerBound(r.gte);
    const end = r.lt === undefined ? this.keys.length : this.lowerBound(r.lt);
    const out = this.keys.slice(start, Math.max(start, end));
    if (r.reverse) out.reverse();
    return r.limit === undefined ? out : out.slice(0, Math.max(0, r.limit));
  }
}

/**
 * In-memory backend. It outlives the stores opened on it (`createMemoryStore({ backend })`), so a
 * test can "close and reopen" a memory store the way it would a directory. Values are copied in
 * and out, so callers never share buffers with it.
 */
export class MemoryBackend implements KvBackend {
  private readonly maps = new Map<Concern, SortedMap>();

  private map(concern: Concern): SortedMap {
    let m = this.maps.get(concern);
    if (m === undefined) {
      m = new SortedMap();
      this.maps.set(concern, m);
    }
    return m;
  }

  async get(concern: Concern, key: string): Promise<Uint8Array | undefined> {
    return this.map(concern).values.get(key)?.slice();
  }

  async entries(concern: Concern, range: RangeOptions = {}): Promise<Array<[string, Uint8Array]>> {
    const m = this.map(concern);
    return m.range(range).map((k) => [k, (m.values.get(k) as Uint8Array).slice()]);
  }

  async keys(concern: Concern, range: RangeOptions = {}): Promise<string[]> {
    return this.map(concern).range(range);
  }

  /** All-or-nothing: every op is checked before any is applied, and applying cannot fail. */
  /** Batches written with `sync` (the memory backend has nothing to flush; tests check the intent). */
  syncedBatches = 0;

  async batch(ops: readonly RawOp[], options: WriteOptions = {}): Promise<void> {
    for (const op of ops) {
      if (typeof op.key !== 'string') throw new TypeError('batch op key must be a string');
      if (op.type === 'put' && !(op.value instanceof Uint8Array)) throw new TypeError('batch op value must be bytes');
    }
    for (const op of ops) {
      if (op.type === 'put') this.map(op.concern).put(op.key, op.value.slice());
      else this.map(op.concern).del(op.key);
    }
    if (options.sync === true) this.syncedBatches++;
  }

  /** The data stays: a memory backend is closed by dropping it. */
  async close(): Promise<void> {}
}
