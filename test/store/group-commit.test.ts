/**
 * Group commit (src/store/engine.ts): batches reach the backend in the order `commit()` was called
 * even when an earlier one takes longer to seal; batches ready while a write is in flight share the
 * next backend batch; each StoreBatch stays all-or-nothing; after a failed backend write the store
 * is fail-stop (everything queued and everything later is refused, nothing more is written).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createMemoryStore,
  type EncryptionHook,
  MemoryBackend,
  type RawOp,
  StoreWriteError,
  type WriteOptions,
} from '../../src/store/index.js';
import { ALICE, BOB, outboxEntry } from './fixtures.js';

/** A memory backend that records every batch and can hold or fail the next one. */
class RecordingBackend extends MemoryBackend {
  readonly batches: RawOp[][] = [];
  /** The `sync` flag each recorded batch was written with. */
  readonly syncs: boolean[] = [];
  hold: Promise<void> | undefined;
  failNext = false;
  /** Resolves when the next backend batch starts (before it waits for `hold`). */
  started: Promise<void> = Promise.resolve();
  private onStart: () => void = () => {};

  /** Arms `started` for the next batch. */
  armStart(): void {
    this.started = new Promise<void>((resolve) => {
      this.onStart = resolve;
    });
  }

  override async batch(ops: readonly RawOp[], options: WriteOptions = {}): Promise<void> {
    this.onStart();
    if (this.hold) await this.hold;
    if (this.failNext) {
      this.failNext = false;
      throw new Error('disk full');
    }
    this.batches.push([...ops]);
    this.syncs.push(options.sync === true);
    await super.batch(ops, options);
  }
}

function outboxIds(batch: RawOp[]): string[] {
  return batch.filter((op) => op.concern === 'outbox').map((op) => op.key);
}

describe('store group commit', () => {
  it('writes batches in commit() order even when the first one seals last', async () => {
    const backend = new RecordingBackend();
    let releaseSeal!: () => void;
    const slowSeal = new Promise<void>((r) => {
      releaseSeal = r;
    });
    let first = false; // armed once the store is open (opening writes the schema)
    let sealing!: () => void;
    const sealStarted = new Promise<void>((resolve) => {
      sealing = resolve;
    });
    const hook: EncryptionHook = {
      seal: async (plain) => {
        if (first) {
          first = false;
          sealing();
          await slowSeal; // the first value sealed waits until the second batch is ready
        }
        return plain;
      },
      open: (sealed) => sealed,
    };
    const store = await createMemoryStore({ backend, hook });
    backend.batches.length = 0;
    first = true;
    const a = store.batch();
    a.outbox.put(outboxEntry(1, { recipient: ALICE }));
    const b = store.batch();
    b.outbox.put(outboxEntry(2, { recipient: BOB }));
    const order: string[] = [];
    const pa = a.commit().then(() => order.push('a'));
    const pb = b.commit().then(() => order.push('b'));
    await sealStarted;
    await new Promise((r) => setImmediate(r)); // b's (synchronous) sealing is done by now
    assert.equal(backend.batches.length, 0, 'b waits for a: nothing written while a seals');
    releaseSeal();
    await Promise.all([pa, pb]);
    assert.deepEqual(order, ['a', 'b']);
    const written = backend.batches.flatMap(outboxIds);
    assert.deepEqual(written, [outboxEntry(1).id, outboxEntry(2).id]);
    await store.close();
  });

  it('batches ready while a write is in flight share the next backend batch', async () => {
    const backend = new RecordingBackend();
    const store = await createMemoryStore({ backend });
    backend.batches.length = 0;
    let release!: () => void;
    backend.hold = new Promise<void>((r) => {
      release = r;
    });
    backend.armStart();
    const commits: Promise<void>[] = [];
    for (let i = 1; i <= 10; i++) {
      const batch = store.batch();
      batch.outbox.put(outboxEntry(i));
      commits.push(batch.commit());
    }
    await backend.started; // the first batch is being written
    await new Promise((r) => setImmediate(r)); // the other nine are sealed and queued
    backend.hold = undefined;
    release();
    await Promise.all(commits);
    assert.equal(backend.batches.length, 2, 'the first alone, the nine queued behind it together');
    assert.equal(outboxIds(backend.batches[0] ?? []).length, 1);
    assert.equal(outboxIds(backend.batches[1] ?? []).length, 9);
    assert.equal((await store.outbox.list()).length, 10);
    await store.close();
  });

  it('fail-stop: a failed write rejects it and everything queued behind it; later writes are refused; nothing of them is stored', async () => {
    const backend = new RecordingBackend();
    const store = await createMemoryStore({ backend });
    const kept = store.batch();
    kept.outbox.put(outboxEntry(1));
    await kept.commit();

    let release!: () => void;
    backend.hold = new Promise<void>((r) => {
      release = r;
    });
    backend.failNext = true;
    backend.armStart();
    const failing = store.batch();
    failing.outbox.put(outboxEntry(2));
    const pFailing = failing.commit();
    await backend.started; // the failing write is in flight
    const queued = store.batch();
    queued.outbox.put(outboxEntry(3));
    const pQueued = queued.commit();
    backend.hold = undefined;
    release();
    await assert.rejects(pFailing, StoreWriteError);
    await assert.rejects(pQueued, StoreWriteError);

    const later = store.batch();
    later.outbox.put(outboxEntry(4));
    await assert.rejects(later.commit(), StoreWriteError);
    await assert.rejects(store.outbox.put(outboxEntry(5)), StoreWriteError);
    assert.deepEqual(
      (await store.outbox.list()).map((e) => e.id),
      [outboxEntry(1).id],
    );
    await store.close();

    // reopening the same data works again, with only what was durable
    const reopened = await createMemoryStore({ backend });
    assert.deepEqual(
      (await reopened.outbox.list()).map((e) => e.id),
      [outboxEntry(1).id],
    );
    await reopened.outbox.put(outboxEntry(6));
    assert.equal((await reopened.outbox.list()).length, 2);
    await reopened.close();
  });

  it('a batch whose sealing fails writes nothing and does not block the batches behind it', async () => {
    const backend = new RecordingBackend();
    let failSeal = false;
    const hook: EncryptionHook = {
      seal: (plain) => {
        if (failSeal) {
          failSeal = false;
          throw new Error('hook failed');
        }
        return plain;
      },
      open: (sealed) => sealed,
    };
    const store = await createMemoryStore({ backend, hook });
    failSeal = true;
    const bad = store.batch();
    bad.outbox.put(outboxEntry(1));
    const good = store.batch();
    good.outbox.put(outboxEntry(2));
    const [badResult, goodResult] = await Promise.allSettled([bad.commit(), good.commit()]);
    assert.equal(badResult.status, 'rejected');
    assert.equal(goodResult.status, 'fulfilled');
    assert.deepEqual(
      (await store.outbox.list()).map((e) => e.id),
      [outboxEntry(2).id],
    );
    await store.close();
  });

  it('a synchronous hook seals within commit(): the backend batch starts before commit() returns', async () => {
    const backend = new RecordingBackend();
    const store = await createMemoryStore({ backend });
    const batch = store.batch();
    batch.outbox.put(outboxEntry(1));
    batch.outbox.put(outboxEntry(2));
    let startedInCommit = false;
    const origBatch = backend.batch.bind(backend);
    backend.batch = (ops, options) => {
      startedInCommit = true;
      return origBatch(ops, options);
    };
    const committed = batch.commit();
    assert.equal(startedInCommit, true, 'the ops reached the backend synchronously, in commit()');
    await committed;
    assert.deepEqual(
      (await store.outbox.list()).map((e) => e.id).sort(),
      [outboxEntry(1).id, outboxEntry(2).id].sort(),
    );
    await store.close();
  });

  it('a hook that turns asynchronous midway: every value sealed, in order; a rejected seal writes nothing of its batch', async () => {
    const backend = new RecordingBackend();
    let calls = 0;
    let rejectAt = -1;
    const hook: EncryptionHook = {
      // plain, sync, async, sync, …: the batch's values go through both of commit()'s paths
      seal: (plain) => {
        const n = calls++;
        if (n === rejectAt) return Promise.reject(new Error('hook failed later'));
        return n % 2 === 1 ? Promise.resolve(plain) : plain;
      },
      open: (sealed) => sealed,
    };
    const store = await createMemoryStore({ backend, hook });
    backend.batches.length = 0;
    calls = 0;
    const ok = store.batch();
    for (let i = 1; i <= 4; i++) ok.outbox.put(outboxEntry(i));
    await ok.commit();
    assert.equal(calls, 4);
    assert.deepEqual(
      backend.batches.flatMap(outboxIds),
      [1, 2, 3, 4].map((i) => outboxEntry(i).id),
    );
    calls = 0;
    rejectAt = 2; // the third value: after the batch went asynchronous
    const bad = store.batch();
    for (let i = 5; i <= 8; i++) bad.outbox.put(outboxEntry(i));
    await assert.rejects(bad.commit(), /hook failed later/);
    rejectAt = -1;
    const after = store.batch();
    after.outbox.put(outboxEntry(9));
    await after.commit();
    assert.deepEqual(
      (await store.outbox.list()).map((e) => e.id).sort(),
      [1, 2, 3, 4, 9].map((i) => outboxEntry(i).id).sort(),
      'nothing of the failed batch, and the store goes on',
    );
    await store.close();
  });

  it("a commit is fsync'd unless it says durable: false; a group is fsync'd when any member needs it", async () => {
    const backend = new RecordingBackend();
    const store = await createMemoryStore({ backend });
    assert.deepEqual(backend.syncs, [true], 'opening writes the schema durably');
    backend.syncs.length = 0;
    backend.batches.length = 0;

    const durable = store.batch();
    durable.outbox.put(outboxEntry(1));
    await durable.commit();
    const relaxed = store.batch();
    relaxed.outbox.put(outboxEntry(2));
    await relaxed.commit({ durable: false });
    await store.outbox.put(outboxEntry(3)); // single writes through the concern stores are durable
    assert.deepEqual(backend.syncs, [true, false, true]);

    // a relaxed and a durable batch queued behind one in flight share one fsync'd backend batch
    let release!: () => void;
    backend.hold = new Promise<void>((r) => {
      release = r;
    });
    backend.armStart();
    const first = store.batch();
    first.outbox.put(outboxEntry(4));
    const commits = [first.commit({ durable: false })];
    await backend.started;
    const a = store.batch();
    a.outbox.put(outboxEntry(5));
    commits.push(a.commit({ durable: false }));
    const b = store.batch();
    b.outbox.put(outboxEntry(6));
    commits.push(b.commit());
    await new Promise((r) => setImmediate(r));
    backend.hold = undefined;
    release();
    await Promise.all(commits);
    assert.deepEqual(backend.syncs.slice(3), [false, true]);
    assert.deepEqual(outboxIds(backend.batches.at(-1) ?? []).length, 2);
    assert.equal(backend.syncedBatches, 4, 'schema + 3 synced batches reached the memory backend with sync');
    await store.close();
  });
});
