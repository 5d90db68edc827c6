/**
 * The LevelDB backend (level 10 / classic-level): one sublevel per concern, utf8 keys, byte values,
 * and one chained batch on the root database, each key in its sublevel's `!concern!` form, for
 * atomic writes across sublevels (the same bytes as sublevel operations).
 */
import { Level } from 'level';
import type { KvBackend, RangeOptions, RawOp, WriteOptions } from './backend.js';
import { StoreOpenError, StoreWriteError } from './errors.js';
import { CONCERNS, type Concern } from './layout.js';

type Db = Level<string, Uint8Array>;
type Sub = ReturnType<typeof makeSub>;
const makeSub = (db: Db, name: string) => db.sublevel<string, Uint8Array>(name, ENCODINGS);
const ENCODINGS = { keyEncoding: 'utf8', valueEncoding: 'view' } as const;

const toBytes = (v: Uint8Array): Uint8Array =>
  new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));

export class LevelBackend implements KvBackend {
  private readonly subs: Map<Concern, Sub>;
  /** Each concern's key prefix in the root keyspace (`!concern!`, abstract-level's sublevel form). */
  private readonly prefixes: Map<Concern, string>;

  private constructor(private readonly db: Db) {
    this.subs = new Map(CONCERNS.map((c) => [c, makeSub(db, c)]));
    this.prefixes = new Map(CONCERNS.map((c) => [c, rootPrefix(this.sub(c))]));
  }

  /** Opens (creating if missing) the database in `path`. Throws StoreOpenError, e.g. when it is locked. */
  static async open(path: string): Promise<LevelBackend> {
    const db = new Level<string, Uint8Array>(path, ENCODINGS);
    try {
      await db.open();
    } catch (err) {
      throw new StoreOpenError('could not open the store database', { cause: err });
    }
    const backend = new LevelBackend(db);
    // sublevels open asynchronously after their parent; `getSync` needs them open
    await Promise.all([...backend.subs.values()].map((sub) => sub.open()));
    return backend;
  }

  private sub(concern: Concern): Sub {
    return this.subs.get(concern) as Sub;
  }

  /**
   * A point read, done synchronously on LevelDB (`getSync`): on the message path every read is a
   * small value in the block cache or the memtable (≈ 3 µs here), where the asynchronous `get` pays a
   * thread-pool round trip (≈ 20–40 µs). Range reads stay asynchronous.
   */
  async get(concern: Concern, key: string): Promise<Uint8Array | undefined> {
    const v = this.sub(concern).getSync(key);
    return v === undefined ? undefined : toBytes(v);
  }

  async entries(concern: Concern, range: RangeOptions = {}): Promise<Array<[string, Uint8Array]>> {
    const rows = await this.sub(concern).iterator(levelRange(range)).all();
    return rows.map(([k, v]) => [k, toBytes(v)]);
  }

  async keys(concern: Concern, range: RangeOptions = {}): Promise<string[]> {
    return this.sub(concern).keys(levelRange(range)).all();
  }

  async batch(ops: readonly RawOp[], options: WriteOptions = {}): Promise<void> {
    if (ops.length === 0) return;
    try {
      // A chained batch on the root database with each key already in its sublevel's `!concern!`
      // form: the same bytes as sublevel operations, without abstract-level's per-operation
      // sublevel and encoding normalisation of an array batch (the largest single cost on the
      // send path in the node benchmark's CPU profile).
      const batch = this.db.batch();
      for (const op of ops) {
        const key = (this.prefixes.get(op.concern) as string) + op.key;
        if (op.type === 'put') batch.put(key, op.value);
        else batch.del(key);
      }
      await batch.write({ sync: options.sync === true });
    } catch (err) {
      throw new StoreWriteError({ cause: err });
    }
  }

  /**
   * Compacts the whole database, so values that were overwritten (the plain values an encryption
   * at rest replaced) no longer sit in older log and table files. Every key is `!<sublevel>!…`, so
   * ['!', '"') covers them all.
   */
  async compactAll(): Promise<void> {
    // `level` is classic-level on Node; its type declarations leave compactRange out
    const db = this.db as unknown as { compactRange?: (start: string, end: string) => Promise<void> };
    if (typeof db.compactRange !== 'function') throw new TypeError('this LevelDB binding cannot compact');
    await db.compactRange('!', '"');
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

/** A sublevel's key prefix as abstract-level writes it (`!name!`), read from the sublevel itself. */
function rootPrefix(sub: Sub): string {
  const prefix = (sub as unknown as { prefix?: unknown }).prefix;
  if (typeof prefix !== 'string') throw new TypeError('this abstract-level has no string sublevel prefix');
  return prefix;
}

function levelRange(r: RangeOptions): { gte?: string; lt?: string; reverse?: boolean; limit?: number } {
  const out: { gte?: string; lt?: string; reverse?: boolean; limit?: number } = {};
  if (r.gte !== undefined) out.gte = r.gte;
  if (r.lt !== undefined) out.lt = r.lt;
  if (r.reverse) out.reverse = true;
  if (r.limit !== undefined) out.limit = r.limit;
  return out;
}
