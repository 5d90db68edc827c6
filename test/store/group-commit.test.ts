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
} from '../../src/store/index.js';
import { ALICE, BOB, outboxEntry } from './fixtures.js';

/** A memory backend that records every batch and can hold or fail the next one. */
class RecordingBackend extends MemoryBackend {
  readonly batches: RawOp[][] = [];
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

  override async batch(ops: readonly RawOp[]): Promise<void> {
    this.onStart();
    if (this.hold) await this.hold;
    if (this.failNext) {
      this.failNext = false;
      throw new Error('disk full');
    }
    this.batches.push([...ops]);
    await super.batch(ops);
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
});
