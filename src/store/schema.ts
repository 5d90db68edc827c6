/**
 * The schema version of the whole store, kept under `meta/schema`, and the migrations between
 * versions. On open:
 *
 * - empty store → stamp the current version;
 * - stored version = current → nothing to do;
 * - stored version < current → run the migrations `from = stored … current − 1` in order; all their
 *   writes and the new version go to the backend in ONE batch, so a crash or a throwing migration
 *   leaves the store exactly at the old version (MigrationFailedError);
 * - stored version > current → SchemaTooNewError, nothing written (an older binary must not touch
 *   data it does not understand);
 * - data without a version, or an unreadable version → StoreCorruptError.
 *
 * A migration works on plain value bytes (after the encryption hook, before the codec), because
 * it exists precisely to read layouts the current codec may no longer decode.
 */
import type { KvBackend, RangeOptions, RawOp } from './backend.js';
import type { ValueCodec } from './codec.js';
import type { StoreEngine } from './engine.js';
import { MigrationFailedError, MigrationMissingError, SchemaTooNewError, StoreCorruptError } from './errors.js';
import { AT_REST_MARKER_KEY, CONCERNS, type Concern, type KeyRange, SCHEMA_KEY } from './layout.js';

/** The schema version this code writes. Bump it together with a new entry in MIGRATIONS. */
export const SCHEMA_VERSION = 1;

/** Changes the store from schema version `from` to `from + 1`. */
export interface Migration {
  readonly from: number;
  /** One line for the changelog and for status output. */
  readonly description: string;
  run(ctx: MigrationContext): Promise<void> | void;
}

/** What a migration sees: plain value bytes; its writes are visible to later reads of the same run. */
export interface MigrationContext {
  /** The current value codec, to re-encode values in the current format. */
  readonly codec: ValueCodec;
  get(concern: Concern, key: string): Promise<Uint8Array | undefined>;
  /** Entries in key order within the range. */
  entries(concern: Concern, range?: KeyRange): Promise<Array<[string, Uint8Array]>>;
  put(concern: Concern, key: string, plain: Uint8Array): void;
  del(concern: Concern, key: string): void;
}

/** The migrations of sotto's store, in order. Empty: version 1 is the first layout. */
export const MIGRATIONS: readonly Migration[] = [];

export interface SchemaOptions {
  /** The version to bring the store to (default SCHEMA_VERSION). */
  version: number;
  /** The migrations available (default MIGRATIONS). */
  migrations: readonly Migration[];
}

export const DEFAULT_SCHEMA: SchemaOptions = { version: SCHEMA_VERSION, migrations: MIGRATIONS };

/** Checks and, if needed, migrates the store; returns the schema version it is now at. */
export async function applySchema(engine: StoreEngine, schema: SchemaOptions = DEFAULT_SCHEMA): Promise<number> {
  const raw = engine.raw;
  const at = { concern: 'meta' as const, key: SCHEMA_KEY };
  const stored = await raw.get('meta', SCHEMA_KEY);
  if (stored === undefined) {
    if (await hasData(raw)) {
      throw new StoreCorruptError('meta', SCHEMA_KEY, 'the store has data but no schema version');
    }
    await raw.batch(
      [
        {
          type: 'put',
          concern: 'meta',
          key: SCHEMA_KEY,
          value: await engine.codec.toDisk(at, 'schema', schema.version),
        },
      ],
      { sync: true },
    );
    return schema.version;
  }
  const version = await engine.codec.fromDisk(at, 'schema', stored);
  if (version > schema.version) throw new SchemaTooNewError(version, schema.version);
  if (version === schema.version) return version;

  const steps: Migration[] = [];
  for (let v = version; v < schema.version; v++) {
    const step = schema.migrations.find((m) => m.from === v);
    if (step === undefined) throw new MigrationMissingError(v);
    steps.push(step);
  }
  const ctx = new OverlayContext(engine);
  for (const step of steps) {
    try {
      await step.run(ctx);
    } catch (err) {
      throw new MigrationFailedError(step.from, { cause: err });
    }
  }
  ctx.put('meta', SCHEMA_KEY, engine.codec.codec.encode('schema', schema.version));
  await raw.batch(await ctx.ops(), { sync: true });
  return schema.version;
}

/** True when any concern holds a key (the at-rest marker is not data). */
export async function hasData(raw: KvBackend): Promise<boolean> {
  for (const concern of CONCERNS) {
    const keys = await raw.keys(concern, { limit: 2 });
    if (keys.some((key) => !(concern === 'meta' && key === AT_REST_MARKER_KEY))) return true;
  }
  return false;
}

/** Pending migration writes over the committed data. */
class OverlayContext implements MigrationContext {
  private readonly pending = new Map<string, { concern: Concern; key: string; plain: Uint8Array | null }>();

  constructor(private readonly engine: StoreEngine) {}

  get codec(): ValueCodec {
    return this.engine.codec.codec;
  }

  private async open(concern: Concern, key: string, sealed: Uint8Array): Promise<Uint8Array> {
    try {
      return await this.engine.codec.hook.open(sealed, { concern, key });
    } catch (err) {
      throw new StoreCorruptError(concern, key, 'the encryption hook could not open the value', { cause: err });
    }
  }

  async get(concern: Concern, key: string): Promise<Uint8Array | undefined> {
    const p = this.pending.get(`${concern}\0${key}`);
    if (p !== undefined) return p.plain ?? undefined;
    const sealed = await this.engine.raw.get(concern, key);
    return sealed === undefined ? undefined : this.open(concern, key, sealed);
  }

  async entries(concern: Concern, range: KeyRange = {}): Promise<Array<[string, Uint8Array]>> {
    const merged = new Map<string, Uint8Array>();
    const opts: RangeOptions = { ...range };
    for (const [key, sealed] of await this.engine.raw.entries(concern, opts)) {
      merged.set(key, await this.open(concern, key, sealed));
    }
    for (const p of this.pending.values()) {
      if (p.concern !== concern) continue;
      if ((range.gte !== undefined && p.key < range.gte) || (range.lt !== undefined && p.key >= range.lt)) continue;
      if (p.plain === null) merged.delete(p.key);
      else merged.set(p.key, p.plain);
    }
    return [...merged.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  put(concern: Concern, key: string, plain: Uint8Array): void {
    this.pending.set(`${concern}\0${key}`, { concern, key, plain: plain.slice() });
  }

  del(concern: Concern, key: string): void {
    this.pending.set(`${concern}\0${key}`, { concern, key, plain: null });
  }

  async ops(): Promise<RawOp[]> {
    const out: RawOp[] = [];
    for (const { concern, key, plain } of this.pending.values()) {
      if (plain === null) out.push({ type: 'del', concern, key });
      else out.push({ type: 'put', concern, key, value: await this.engine.codec.hook.seal(plain, { concern, key }) });
    }
    return out;
  }
}
