/**
 * The engine under every concern store: the backend, the value codec with its encryption hook,
 * and the open/closed state. It reads typed values (decoding through the codec, so a corrupt value
 * is a StoreCorruptError naming concern and key) and writes prepared raw ops.
 *
 * Writes are group-committed: batches go to the backend in the order their places were reserved
 * (`reserve()`, synchronously, before any await), and every batch that is ready while an earlier
 * write is in flight joins the next backend batch. Each StoreBatch is still all-or-nothing (it is
 * wholly inside one backend batch), and a batch is on stable storage (fsync'd, once per group) when
 * its promise resolves, unless it was written with `durable: false`.
 *
 * Fail-stop: after a backend write fails, the failing group, everything queued behind it and every
 * later write are rejected with StoreWriteError until the store is reopened (LevelDB behaves the same
 * after an I/O error). A caller that advanced state in memory for a queued write (the node's live
 * ratchet sessions) can therefore never see a later write persist state derived from a lost one.
 */
import type { KvBackend, RangeOptions, RawOp } from './backend.js';
import type { StoreCodec, ValueKind, ValueTypes } from './codec.js';
import { StoreClosedError, StoreWriteError } from './errors.js';
import type { Concern } from './layout.js';

interface WriteSlot {
  ops: readonly RawOp[] | undefined;
  sync: boolean;
  resolve: () => void;
  reject: (err: unknown) => void;
  done: Promise<void>;
}

/** A place in the write order: fill it with the batch's ops, or cancel it (writes nothing). */
export interface WriteReservation {
  /** `durable: false` for a write whose loss in an OS crash is harmless (see StoreBatch.commit). */
  fill(ops: readonly RawOp[], options?: { durable?: boolean }): Promise<void>;
  cancel(): void;
}

export class StoreEngine {
  private closed = false;
  private readonly queue: WriteSlot[] = [];
  private flushing = false;
  private failure: StoreWriteError | undefined;
  /** Backend batches written (a group counts once): for tests and figures. */
  groups = 0;

  constructor(
    private readonly backend: KvBackend,
    readonly codec: StoreCodec,
  ) {}

  get isClosed(): boolean {
    return this.closed;
  }

  checkOpen(): void {
    if (this.closed) throw new StoreClosedError();
  }

  async get<K extends ValueKind>(concern: Concern, key: string, kind: K): Promise<ValueTypes[K] | undefined> {
    this.checkOpen();
    const bytes = await this.backend.get(concern, key);
    return bytes === undefined ? undefined : this.codec.fromDisk({ concern, key }, kind, bytes);
  }

  async entries<K extends ValueKind>(
    concern: Concern,
    kind: K,
    range: RangeOptions = {},
  ): Promise<Array<{ key: string; value: ValueTypes[K] }>> {
    this.checkOpen();
    const rows = await this.backend.entries(concern, range);
    const out: Array<{ key: string; value: ValueTypes[K] }> = [];
    for (const [key, bytes] of rows) out.push({ key, value: await this.codec.fromDisk({ concern, key }, kind, bytes) });
    return out;
  }

  async keys(concern: Concern, range: RangeOptions = {}): Promise<string[]> {
    this.checkOpen();
    return this.backend.keys(concern, range);
  }

  /** Raw access for schema checks and migrations (values are sealed bytes). */
  get raw(): KvBackend {
    this.checkOpen();
    return this.backend;
  }

  async write(ops: readonly RawOp[], options: { durable?: boolean } = {}): Promise<void> {
    return this.reserve().fill(ops, options);
  }

  /** Takes the next place in the write order, synchronously. Throws once the store has failed. */
  reserve(): WriteReservation {
    this.checkOpen();
    if (this.failure) throw this.failure;
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    done.catch(() => undefined); // observed through fill(); a cancelled or failed slot is not unhandled
    const slot: WriteSlot = { ops: undefined, sync: false, resolve, reject, done };
    this.queue.push(slot);
    return {
      fill: (ops, options = {}) => {
        if (slot.ops === undefined) {
          slot.ops = ops;
          slot.sync = options.durable !== false;
        }
        this.pump();
        return slot.done;
      },
      cancel: () => {
        if (slot.ops === undefined) slot.ops = [];
        this.pump();
      },
    };
  }

  /** Writes the longest ready prefix of the queue as one backend batch, unless one is in flight. */
  private pump(): void {
    if (this.flushing) return;
    let n = 0;
    while (n < this.queue.length && (this.queue[n] as WriteSlot).ops !== undefined) n++;
    if (n === 0) return;
    const group = this.queue.splice(0, n);
    const ops = group.flatMap((slot) => slot.ops as readonly RawOp[]);
    if (ops.length === 0) {
      for (const slot of group) slot.resolve();
      this.pump();
      return;
    }
    this.flushing = true;
    this.groups++;
    // one fsync covers the whole group: durable if any member asked for it
    this.backend.batch(ops, { sync: group.some((slot) => slot.sync) }).then(
      () => {
        this.flushing = false;
        for (const slot of group) slot.resolve();
        this.pump();
      },
      (err: unknown) => {
        this.flushing = false;
        this.failure = err instanceof StoreWriteError ? err : new StoreWriteError({ cause: err });
        for (const slot of group) slot.reject(this.failure);
        for (const slot of this.queue.splice(0)) slot.reject(this.failure);
      },
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // let queued writes finish (or fail) before the backend goes away
    await Promise.allSettled(this.queue.map((slot) => slot.done));
    try {
      await this.backend.close();
    } finally {
      this.codec.hook.dispose?.();
    }
  }
}
