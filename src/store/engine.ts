/**
 * The engine under every concern store: the backend, the value codec with its encryption hook,
 * and the open/closed state. It reads typed values (decoding through the codec, so a corrupt value
 * is a StoreCorruptError naming concern and key) and writes prepared raw ops.
 */
import type { KvBackend, RangeOptions, RawOp } from './backend.js';
import type { StoreCodec, ValueKind, ValueTypes } from './codec.js';
import { StoreClosedError } from './errors.js';
import type { Concern } from './layout.js';

export class StoreEngine {
  private closed = false;

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

  async write(ops: readonly RawOp[]): Promise<void> {
    this.checkOpen();
    await this.backend.batch(ops);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.backend.close();
  }
}
