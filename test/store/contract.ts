/**
 * The store contract: one suite, run against every implementation through a Harness (memory and
 * LevelDB). A harness opens the same underlying data on every `open()` (after the previous store
 * was closed), and can read and write raw backend bytes, as corruption on disk would.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  generateSignedPrekey,
  initiateSession,
  peekMessage,
  respondToSession,
  Session,
  toHex,
} from '../../src/crypto/index.js';
import { MAX_NEXT_PREKEY_ID } from '../../src/store/codec.js';
import {
  BatchAlreadyUsedError,
  CONCERNS,
  type Concern,
  type EncryptionHook,
  FORMAT_VERSION,
  InvalidStoreArgumentError,
  KIND_TAGS,
  type Migration,
  MigrationFailedError,
  MigrationMissingError,
  messageIndexKey,
  NEXT_ONE_TIME_PREKEY_ID_KEY,
  type PrekeyRotationRecord,
  prekeyRotationKey,
  SCHEMA_VERSION,
  SchemaTooNewError,
  type SottoStore,
  StoreClosedError,
  StoreCorruptError,
  type StoreOptions,
  sessionKey,
  type ValueLocation,
} from '../../src/store/index.js';
import { ALICE, BOB, CAROL, contact, directoryEntry, hexOf, keyFixtures, message, outboxEntry } from './fixtures.js';

export interface Harness {
  /** Opens the harness's data (the previous store must be closed). */
  open(options?: StoreOptions): Promise<SottoStore>;
  /** Writes raw bytes straight to the backend (no store open). */
  rawPut(concern: Concern, key: string, value: Uint8Array): Promise<void>;
  /** Every raw entry of a concern (no store open). */
  rawEntries(concern: Concern): Promise<Array<[string, Uint8Array]>>;
}

/** A fresh, empty harness per call. */
export type HarnessFactory = () => Promise<Harness>;

const CONTEXT = { initiator: 'peer-alice', responder: 'peer-bob' };
const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);

async function rawSnapshot(h: Harness): Promise<string> {
  const parts: string[] = [];
  for (const c of CONCERNS) for (const [k, v] of await h.rawEntries(c)) parts.push(`${c}|${k}|${toHex(v)}`);
  return parts.join('\n');
}

async function withStore<T>(h: Harness, fn: (s: SottoStore) => Promise<T>, options?: StoreOptions): Promise<T> {
  const store = await h.open(options);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** Writes at least one value of every kind. */
async function fillEveryConcern(store: SottoStore): Promise<void> {
  const k = keyFixtures();
  await store.identity.put(k.bob);
  await store.prekeys.put('signed', k.signed);
  await store.prekeys.put('kem', k.kem);
  await store.prekeys.put('one-time', k.oneTime[0]!);
  await store.sessions.put(ALICE, { snapshot: Uint8Array.of(1, 2, 3), baseKey: hexOf('base-a') });
  await store.contacts.put(contact(ALICE, { keyChangedAt: 1_700_000_000_999, previousKeys: [CAROL], verified: true }));
  await store.messages.put(message(ALICE, 1, 1000));
  await store.outbox.put(outboxEntry(1));
  await store.dedupe.mark(ALICE, hexOf('seen', 16), 5);
  await store.directory.put(directoryEntry(ALICE));
  await store.directory.noteSequence(ALICE, 7);
  const b = store.batch();
  b.prekeys.setRotation('signed', SIGNED_ROTATION);
  b.requests.put({ identity: CAROL, address: 'sotto1carol', firstAt: 1, lastAt: 2, held: 1, nextSeq: 1 });
  b.requests.putMessage({
    identity: CAROL,
    seq: 0,
    id: hexOf('held', 16),
    timestamp: 3,
    receivedAt: 4,
    body: 'hi',
    viaMailbox: false,
  });
  b.blocked.put({ identity: BOB, address: 'sotto1bob', blockedAt: 5 });
  await b.commit();
}

/** The rotation record fillEveryConcern writes for its signed prekey (id 1). */
const SIGNED_ROTATION: PrekeyRotationRecord = {
  currentId: 1,
  highestId: 1,
  prekeys: [{ id: 1, createdAt: 1_700_000_000_000 }],
};

async function expectRejects<E extends Error>(p: Promise<unknown>, type: new (...args: never[]) => E): Promise<E> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  assert.ok(
    caught instanceof type,
    `expected ${type.name}, got ${caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught)}`,
  );
  return caught as E;
}

export function storeContract(name: string, factory: HarnessFactory): void {
  describe(`store contract: ${name}`, () => {
    it('identity: put, get, named identities, list, remove', async () => {
      const h = await factory();
      const { alice, bob } = keyFixtures();
      await withStore(h, async (s) => {
        assert.equal(await s.identity.get(), undefined);
        await s.identity.put(bob);
        await s.identity.put(alice, 'work');
        const got = await s.identity.get();
        assert.ok(got);
        for (const f of ['signingKey', 'signingSeed', 'dhKey', 'dhPrivateKey', 'dhSignature'] as const) {
          assert.deepEqual(got[f], bob[f], f);
        }
        assert.deepEqual((await s.identity.get('work'))?.signingKey, alice.signingKey);
        assert.deepEqual(await s.identity.list(), ['default', 'work']);
        await s.identity.remove('work');
        assert.deepEqual(await s.identity.list(), ['default']);
        await expectRejects(s.identity.get('Not Valid!'), InvalidStoreArgumentError);
      });
    });

    it('prekeys: put, get, count, ids, remove one-time, loadLookup', async () => {
      const h = await factory();
      const k = keyFixtures();
      await withStore(h, async (s) => {
        await s.prekeys.put('signed', k.signed);
        await s.prekeys.put('kem', k.kem);
        for (const o of [...k.oneTime].reverse()) await s.prekeys.put('one-time', o);
        assert.deepEqual(await s.prekeys.get('signed', 1), k.signed);
        assert.deepEqual(await s.prekeys.get('kem', 2), k.kem);
        assert.deepEqual(await s.prekeys.get('one-time', 101), k.oneTime[1]);
        assert.equal(await s.prekeys.get('signed', 2), undefined);
        assert.equal(await s.prekeys.count('one-time'), 3);
        assert.deepEqual(await s.prekeys.ids('one-time'), [100, 101, 102]);
        assert.equal(await s.prekeys.remove('one-time', 101), true);
        assert.equal(await s.prekeys.remove('one-time', 101), false);
        assert.deepEqual(await s.prekeys.ids('one-time'), [100, 102]);
        assert.equal(await s.prekeys.count('signed'), 1);

        const some = await s.prekeys.loadLookup({ signedPrekeyId: 1, kemPrekeyId: 2, oneTimePrekeyId: 102 });
        assert.deepEqual(some.signedPrekey(1), k.signed);
        assert.deepEqual(some.kemPrekey(2), k.kem);
        assert.deepEqual(some.oneTimePrekey(102), k.oneTime[2]);
        assert.equal(some.oneTimePrekey(100), undefined, 'only the named one-time prekey is loaded');
        const all = await s.prekeys.loadLookup();
        assert.deepEqual(all.oneTimePrekey(100), k.oneTime[0]);
        assert.equal(all.oneTimePrekey(101), undefined);
        await expectRejects(s.prekeys.get('signed', -1), InvalidStoreArgumentError);
      });
    });

    it('prekeys: rotation records name the current signed/KEM prekey; without one the newest id is current', async () => {
      const h = await factory();
      const k = keyFixtures();
      const signed5 = generateSignedPrekey(k.env, k.bob, 5);
      const record: PrekeyRotationRecord = {
        currentId: 1,
        highestId: 7,
        prekeys: [
          { id: 1, createdAt: 20 },
          { id: 5, createdAt: 10, retiredAt: 20 },
        ],
      };
      await withStore(h, async (s) => {
        assert.equal(await s.prekeys.rotation('signed'), undefined);
        assert.equal(await s.prekeys.current('signed'), undefined);
        // The layout written before rotation existed: one prekey per kind, no record.
        await s.prekeys.put('signed', k.signed);
        await s.prekeys.put('kem', k.kem);
        assert.deepEqual(await s.prekeys.current('signed'), k.signed);
        assert.deepEqual(await s.prekeys.current('kem'), k.kem);
        // Without a record the newest stored id is current; with one, the record decides.
        await s.prekeys.put('signed', signed5);
        assert.deepEqual(await s.prekeys.current('signed'), signed5);
        const b = s.batch();
        b.prekeys.setRotation('signed', record);
        await b.commit();
        assert.deepEqual(await s.prekeys.rotation('signed'), record);
        assert.deepEqual(await s.prekeys.current('signed'), k.signed);
        assert.equal(await s.prekeys.rotation('kem'), undefined);
        // The record is not a prekey: counts and id listings do not see it.
        assert.deepEqual(await s.prekeys.ids('signed'), [1, 5]);
        assert.equal(await s.prekeys.count('signed'), 2);
        assert.equal((await s.prekeys.loadLookup()).signedPrekey(5)?.id, 5);
        // A record that breaks its invariants fails the batch; nothing of it is written.
        const bad = s.batch();
        bad.prekeys.remove('signed', 5);
        assert.throws(
          () => bad.prekeys.setRotation('kem', { currentId: 3, highestId: 3, prekeys: [] }),
          InvalidStoreArgumentError,
        );
        await expectRejects(bad.commit(), InvalidStoreArgumentError);
        assert.deepEqual(await s.prekeys.ids('signed'), [1, 5]);
        assert.equal(await s.prekeys.rotation('kem'), undefined);
      });
      await withStore(h, async (s) => {
        assert.deepEqual(await s.prekeys.rotation('signed'), record, 'survives a reopen');
        const b = s.batch();
        b.prekeys.removeRotation('signed');
        await b.commit();
        assert.equal(await s.prekeys.rotation('signed'), undefined);
        assert.deepEqual(await s.prekeys.current('signed'), signed5);
      });
      // A corrupt record is a StoreCorruptError naming concern and key.
      const key = prekeyRotationKey('kem');
      await h.rawPut('prekeys', key, Uint8Array.of(FORMAT_VERSION, KIND_TAGS['prekey-rotation'], 0, 0));
      await withStore(h, async (s) => {
        for (const read of [() => s.prekeys.rotation('kem'), () => s.prekeys.current('kem')]) {
          const err = await expectRejects(read(), StoreCorruptError);
          assert.equal(err.concern, 'prekeys');
          assert.equal(err.key, key);
        }
        assert.deepEqual(await s.prekeys.current('signed'), signed5, 'the other kind still reads');
      });
    });

    it('prekeys: the next one-time prekey id counter is absent until set, written atomically with the keys, bounded', async () => {
      const h = await factory();
      const k = keyFixtures();
      const key103 = { ...k.oneTime[0]!, id: 103 };
      await withStore(h, async (s) => {
        assert.equal(await s.prekeys.nextOneTimeId(), undefined, 'a new store has no counter');
        const b = s.batch();
        for (const o of k.oneTime) b.prekeys.put('one-time', o);
        b.prekeys.setNextOneTimeId(103);
        await b.commit();
        assert.equal(await s.prekeys.nextOneTimeId(), 103);
        assert.deepEqual(await s.prekeys.ids('one-time'), [100, 101, 102], 'the keys came with it');
        // The counter is not a prekey: counts and id listings do not see it.
        assert.equal(await s.prekeys.count('one-time'), 3);
        assert.equal((await s.prekeys.loadLookup()).oneTimePrekey(103), undefined);
        // A batch that fails to encode writes neither the keys nor the counter.
        const bad = s.batch();
        bad.prekeys.put('one-time', key103);
        bad.prekeys.setNextOneTimeId(104);
        assert.throws(() => bad.prekeys.put('one-time', { ...key103, id: -1 }), InvalidStoreArgumentError);
        await expectRejects(bad.commit(), InvalidStoreArgumentError);
        assert.equal(await s.prekeys.nextOneTimeId(), 103);
        assert.deepEqual(await s.prekeys.ids('one-time'), [100, 101, 102]);
        // At most one past the largest u32 id (every id allocated); anything else is refused.
        for (const v of [-1, 1.5, Number.NaN, MAX_NEXT_PREKEY_ID + 1]) {
          assert.throws(() => s.batch().prekeys.setNextOneTimeId(v), InvalidStoreArgumentError, String(v));
        }
        assert.equal(await s.prekeys.nextOneTimeId(), 103);
      });
      // One backend batch: when sealing the counter fails at commit, the key of its batch is not written either.
      const snapshot = await rawSnapshot(h);
      const refuseCounter: EncryptionHook = {
        seal: (plain, at) => {
          if (at.concern === 'prekeys' && at.key === NEXT_ONE_TIME_PREKEY_ID_KEY) throw new Error('hook refuses');
          return plain;
        },
        open: (sealed) => sealed,
      };
      await withStore(
        h,
        async (s) => {
          const b = s.batch();
          b.prekeys.put('one-time', key103);
          b.prekeys.setNextOneTimeId(104);
          await assert.rejects(b.commit(), /hook refuses/);
        },
        { hook: refuseCounter },
      );
      assert.equal(await rawSnapshot(h), snapshot, 'the disk is byte-for-byte unchanged');
      await withStore(h, async (s) => {
        assert.equal(await s.prekeys.nextOneTimeId(), 103, 'survives a reopen');
        const top = s.batch();
        top.prekeys.setNextOneTimeId(MAX_NEXT_PREKEY_ID);
        await top.commit();
        assert.equal(await s.prekeys.nextOneTimeId(), MAX_NEXT_PREKEY_ID, 'every id allocated');
      });
      // A stored counter past the bound is a StoreCorruptError naming concern and key.
      const over = Uint8Array.of(FORMAT_VERSION, KIND_TAGS['prekey-counter'], 0, 0, 0, 1, 0, 0, 0, 1);
      await h.rawPut('prekeys', NEXT_ONE_TIME_PREKEY_ID_KEY, over);
      await withStore(h, async (s) => {
        const err = await expectRejects(s.prekeys.nextOneTimeId(), StoreCorruptError);
        assert.equal(err.concern, 'prekeys');
        assert.equal(err.key, NEXT_ONE_TIME_PREKEY_ID_KEY);
        assert.deepEqual(await s.prekeys.ids('one-time'), [100, 101, 102], 'the keys still read');
      });
    });

    it('a PQXDH handshake runs on the store, survives a reopen, and routes a repeated handshake', async () => {
      const h = await factory();
      const k = keyFixtures();
      const aliceHex = toHex(k.alice.signingKey);
      let first: Uint8Array;
      let aliceSession: Session;
      await withStore(h, async (s) => {
        await s.identity.put(k.bob);
        await s.prekeys.put('signed', k.signed);
        await s.prekeys.put('kem', k.kem);
        await s.prekeys.put('one-time', k.oneTime[0]!);
        const bundle = {
          identity: { signingKey: k.bob.signingKey, dhKey: k.bob.dhKey },
          signedPrekey: { id: k.signed.id, publicKey: k.signed.publicKey, signature: k.signed.signature },
          kemPrekey: { id: k.kem.id, publicKey: k.kem.publicKey, signature: k.kem.signature },
          oneTimePrekey: { id: k.oneTime[0]!.id, publicKey: k.oneTime[0]!.publicKey },
        };
        aliceSession = initiateSession(k.env, { identity: k.alice, bundle, context: CONTEXT });
        first = aliceSession.encrypt(text('hello bob'));

        const identity = await s.identity.get();
        assert.ok(identity);
        const res = respondToSession(k.env, {
          identity,
          prekeys: await s.prekeys.loadLookup(),
          message: first,
          context: CONTEXT,
        });
        assert.equal(str(res.plaintext), 'hello bob');
        const id = hexOf('first', 16);
        const batch = s.batch();
        batch.sessions.put(aliceHex, { snapshot: res.session.snapshot(), baseKey: toHex(res.session.baseKey) });
        if (res.usedOneTimePrekeyId !== undefined) batch.prekeys.remove('one-time', res.usedOneTimePrekeyId);
        batch.messages.put({
          id,
          contact: aliceHex,
          direction: 'in',
          timestamp: 10,
          body: 'hello bob',
          state: 'received',
        });
        batch.dedupe.mark(aliceHex, id, 10);
        await batch.commit();
        assert.equal(await s.prekeys.count('one-time'), 0);
      });
      await withStore(h, async (s) => {
        const record = await s.sessions.get(aliceHex);
        assert.ok(record);
        assert.equal(await s.sessions.findByBaseKey(record.baseKey), aliceHex);
        const bobSession = Session.restore(k.env, record.snapshot);
        assert.equal(str(bobSession.decrypt(aliceSession.encrypt(text('second')))), 'second');
        // A repeated handshake routes by its base key to the session it created, which knows it
        // as its own (a duplicate), not as a stranger's.
        const peeked = peekMessage(first);
        assert.equal(peeked.type, 'prekey');
        if (peeked.type === 'prekey') assert.equal(await s.sessions.findByBaseKey(toHex(peeked.baseKey)), aliceHex);
        assert.throws(() => Session.restore(k.env, record.snapshot).decrypt(first), { code: 'DUPLICATE_MESSAGE' });
        assert.ok(await s.dedupe.has(aliceHex, hexOf('first', 16)));
        assert.equal((await s.messages.list(aliceHex)).length, 1);
      });
    });

    it('sessions: put, get, list, remove, base-key index follows the current session', async () => {
      const h = await factory();
      await withStore(h, async (s) => {
        const a1 = { snapshot: Uint8Array.of(1), baseKey: hexOf('base-1') };
        const a2 = { snapshot: Uint8Array.of(2, 2), baseKey: hexOf('base-2') };
        assert.equal(await s.sessions.get(ALICE), undefined);
        await s.sessions.put(ALICE, a1);
        await s.sessions.put(BOB, { snapshot: new Uint8Array(0), baseKey: hexOf('base-b') });
        assert.deepEqual(await s.sessions.get(ALICE), a1);
        assert.equal(await s.sessions.findByBaseKey(a1.baseKey), ALICE);
        await s.sessions.put(ALICE, a2);
        assert.deepEqual(await s.sessions.get(ALICE), a2);
        assert.equal(await s.sessions.findByBaseKey(a2.baseKey), ALICE);
        assert.equal(await s.sessions.findByBaseKey(a1.baseKey), undefined, 'replaced session');
        assert.equal(await s.sessions.findByBaseKey(hexOf('unknown')), undefined);
        assert.deepEqual(await s.sessions.list(), [ALICE, BOB].sort());
        await s.sessions.remove(ALICE);
        assert.equal(await s.sessions.get(ALICE), undefined);
        assert.equal(await s.sessions.findByBaseKey(a2.baseKey), undefined);
        assert.deepEqual(await s.sessions.list(), [BOB]);
        await expectRejects(s.sessions.get('ABCD'), InvalidStoreArgumentError);
      });
    });

    it('contacts: put, get, list, remove, optional fields', async () => {
      const h = await factory();
      await withStore(h, async (s) => {
        const a = contact(ALICE);
        const b = contact(BOB, { verified: true, keyChangedAt: 42, previousKeys: [CAROL, ALICE], name: '' });
        await s.contacts.put(b);
        await s.contacts.put(a);
        assert.deepEqual(await s.contacts.get(ALICE), a);
        assert.equal('keyChangedAt' in (await s.contacts.get(ALICE))!, false);
        assert.deepEqual(await s.contacts.get(BOB), b);
        assert.deepEqual(
          (await s.contacts.list()).map((c) => c.identityKey),
          [ALICE, BOB].sort(),
        );
        await s.contacts.remove(BOB);
        assert.equal(await s.contacts.get(BOB), undefined);
      });
    });

    it('messages: newest first by (time, id), paged with a cursor, per conversation', async () => {
      const h = await factory();
      await withStore(h, async (s) => {
        const all = [];
        // Timestamps repeat (three messages per ms) and straddle a hex digit boundary (0xff → 0x100).
        for (let n = 0; n < 30; n++) all.push(message(ALICE, n, 250 + Math.floor(n / 3)));
        for (const m of [...all].reverse()) await s.messages.put(m);
        await s.messages.put(message(BOB, 0, 1));
        const expected = [...all].sort((x, y) => y.timestamp - x.timestamp || (y.id < x.id ? -1 : 1)).map((m) => m.id);

        const seen: string[] = [];
        let before: { timestamp: number; id: string } | undefined;
        for (;;) {
          const page = await s.messages.list(ALICE, { before, limit: 7 });
          if (page.length === 0) break;
          assert.ok(page.length <= 7);
          seen.push(...page.map((m) => m.id));
          const last = page[page.length - 1]!;
          before = { timestamp: last.timestamp, id: last.id };
        }
        assert.deepEqual(seen, expected);
        assert.deepEqual(
          (await s.messages.list(ALICE)).map((m) => m.id),
          expected,
          'default limit covers 30',
        );
        assert.deepEqual(
          (await s.messages.list(BOB)).map((m) => m.body),
          [message(BOB, 0, 1).body],
        );

        const m5 = all[5]!;
        assert.deepEqual(await s.messages.get(ALICE, m5.id), m5);
        assert.equal(await s.messages.setState(ALICE, m5.id, 'delivered'), true);
        assert.equal((await s.messages.get(ALICE, m5.id))?.state, 'delivered');
        assert.equal(await s.messages.setState(ALICE, hexOf('nope', 16), 'read'), false);
        assert.equal(await s.messages.remove(ALICE, m5.id), true);
        assert.equal(await s.messages.remove(ALICE, m5.id), false);
        assert.equal(await s.messages.get(ALICE, m5.id), undefined);
        assert.equal((await s.messages.list(ALICE, { limit: 100 })).length, 29);
        await expectRejects(s.messages.list(ALICE, { limit: 0 }), InvalidStoreArgumentError);
        await expectRejects(s.messages.put(message(ALICE, 99, -1)), InvalidStoreArgumentError);
      });
    });

    it('outbox: put, get, list, due, reschedule, remove', async () => {
      const h = await factory();
      await withStore(h, async (s) => {
        const e = [0, 1, 2, 3].map((n) => outboxEntry(n));
        for (const x of e) await s.outbox.put(x);
        await s.outbox.put({ ...e[3]!, state: 'failed' });
        assert.deepEqual(await s.outbox.get(e[1]!.id), e[1]);
        assert.deepEqual(
          (await s.outbox.list()).map((x) => x.id),
          [e[3]!.id, e[2]!.id, e[1]!.id, e[0]!.id],
          'oldest createdAt first',
        );
        const now = e[2]!.nextAttemptAt;
        assert.deepEqual(
          (await s.outbox.due(now)).map((x) => x.id),
          [e[0]!.id, e[1]!.id, e[2]!.id],
        );
        assert.deepEqual(
          (await s.outbox.due(now, 1)).map((x) => x.id),
          [e[0]!.id],
        );
        await s.outbox.put({ ...e[0]!, attempts: 1, state: 'sending', nextAttemptAt: now + 60_000 });
        assert.deepEqual(
          (await s.outbox.due(now)).map((x) => x.id),
          [e[1]!.id, e[2]!.id],
        );
        assert.equal((await s.outbox.get(e[0]!.id))?.attempts, 1);
        await s.outbox.remove(e[1]!.id);
        assert.equal(await s.outbox.get(e[1]!.id), undefined);
        assert.equal((await s.outbox.list()).length, 3);
      });
    });

    it('dedupe: mark, has, per sender, prune', async () => {
      const h = await factory();
      await withStore(h, async (s) => {
        const id1 = hexOf('m1', 16);
        const id2 = hexOf('m2', 16);
        assert.equal(await s.dedupe.has(ALICE, id1), false);
        await s.dedupe.mark(ALICE, id1, 100);
        await s.dedupe.mark(ALICE, id2, 200);
        await s.dedupe.mark(BOB, id1, 300);
        assert.equal(await s.dedupe.has(ALICE, id1), true);
        assert.equal(await s.dedupe.has(CAROL, id1), false, 'scoped per sender');
        assert.equal(await s.dedupe.prune(250), 2);
        assert.equal(await s.dedupe.has(ALICE, id1), false);
        assert.equal(await s.dedupe.has(BOB, id1), true);
      });
    });

    it('directory: records and the highest sequence (rollback protection)', async () => {
      const h = await factory();
      await withStore(h, async (s) => {
        const entry = directoryEntry(ALICE);
        await s.directory.put(entry);
        assert.deepEqual(await s.directory.get(ALICE), entry);
        assert.equal(await s.directory.highestSequence(ALICE), undefined);
        assert.equal(await s.directory.noteSequence(ALICE, 5), true);
        assert.equal(await s.directory.noteSequence(ALICE, 5), true, 'same record again');
        assert.equal(await s.directory.noteSequence(ALICE, 9), true);
        assert.equal(await s.directory.noteSequence(ALICE, 8), false, 'rollback');
        assert.equal(await s.directory.highestSequence(ALICE), 9);
        await s.directory.remove(ALICE);
        assert.equal(await s.directory.get(ALICE), undefined);
        assert.equal(await s.directory.highestSequence(ALICE), 9, 'survives removal of the record');
        assert.equal(await s.directory.highestSequence(BOB), undefined);
      });
    });

    it('batch: commits several concerns together, once', async () => {
      const h = await factory();
      await withStore(h, async (s) => {
        const m = message(ALICE, 1, 500);
        const b = s.batch();
        b.sessions.put(ALICE, { snapshot: Uint8Array.of(9), baseKey: hexOf('bk') });
        b.messages.put(m);
        b.dedupe.mark(ALICE, m.id, 500);
        b.outbox.put(outboxEntry(3));
        assert.equal(b.size, 6, 'session + base-key index, message + id index, dedupe, outbox');
        assert.equal(await s.sessions.get(ALICE), undefined, 'nothing before commit');
        await b.commit();
        assert.ok(await s.sessions.get(ALICE));
        assert.deepEqual(await s.messages.get(ALICE, m.id), m);
        assert.ok(await s.dedupe.has(ALICE, m.id));
        assert.ok(await s.outbox.get(outboxEntry(3).id));
        await expectRejects(b.commit(), BatchAlreadyUsedError);
        assert.throws(() => b.dedupe.mark(ALICE, m.id, 1), BatchAlreadyUsedError);
      });
    });

    it('batch: sessions.put with index: false and messages.update write no index entry', async () => {
      const h = await factory();
      await withStore(h, async (s) => {
        const b = s.batch();
        b.sessions.put(ALICE, { snapshot: Uint8Array.of(1), baseKey: hexOf('bk-1') }, { index: false });
        assert.equal(b.size, 1, 'the session only');
        await b.commit();
        assert.deepEqual((await s.sessions.get(ALICE))?.snapshot, Uint8Array.of(1));
        assert.equal(await s.sessions.findByBaseKey(hexOf('bk-1')), undefined, 'no index entry written');
        // the default still writes it; a later index-less put keeps it
        await s.sessions.put(ALICE, { snapshot: Uint8Array.of(2), baseKey: hexOf('bk-1') });
        const c = s.batch();
        c.sessions.put(ALICE, { snapshot: Uint8Array.of(3), baseKey: hexOf('bk-1') }, { index: false });
        await c.commit();
        assert.deepEqual((await s.sessions.get(ALICE))?.snapshot, Uint8Array.of(3));
        assert.equal(await s.sessions.findByBaseKey(hexOf('bk-1')), ALICE);

        const m = message(ALICE, 7, 700);
        await s.messages.put(m);
        const d = s.batch();
        d.messages.update({ ...m, state: 'delivered' });
        assert.equal(d.size, 1, 'the message only, not its id index');
        await d.commit();
        assert.equal((await s.messages.get(ALICE, m.id))?.state, 'delivered', 'found through the unchanged index');
        assert.deepEqual(
          (await s.messages.list(ALICE)).map((x) => [x.id, x.state]),
          [[m.id, 'delivered']],
          'rewritten in place, not added',
        );
      });
    });

    it('batch: an op that fails to encode fails the whole batch; nothing is written', async () => {
      const h = await factory();
      await withStore(h, async (s) => {
        const before = await s.messages.list(ALICE);
        const b = s.batch();
        b.sessions.put(ALICE, { snapshot: Uint8Array.of(9), baseKey: hexOf('bk') });
        b.dedupe.mark(ALICE, hexOf('x', 16), 1);
        assert.throws(
          () => b.messages.put({ ...message(ALICE, 1, 5), state: 'bogus' as never }),
          InvalidStoreArgumentError,
        );
        b.outbox.put(outboxEntry(1)); // later ops are accepted but never written
        await expectRejects(b.commit(), InvalidStoreArgumentError);
        assert.equal(await s.sessions.get(ALICE), undefined);
        assert.equal(await s.sessions.findByBaseKey(hexOf('bk')), undefined);
        assert.equal(await s.dedupe.has(ALICE, hexOf('x', 16)), false);
        assert.equal(await s.outbox.get(outboxEntry(1).id), undefined);
        assert.deepEqual(await s.messages.list(ALICE), before);
      });
      // A failing encryption hook at commit: same outcome.
      const failOnMessages: EncryptionHook = {
        seal: (plain, at) => {
          if (at.concern === 'messages') throw new Error('hook refuses');
          return plain;
        },
        open: (sealed) => sealed,
      };
      const snapshot = await rawSnapshot(h);
      await withStore(
        h,
        async (s) => {
          const b = s.batch();
          b.sessions.put(BOB, { snapshot: Uint8Array.of(1), baseKey: hexOf('bk2') });
          b.messages.put(message(BOB, 2, 7));
          b.dedupe.mark(BOB, message(BOB, 2, 7).id, 7);
          await assert.rejects(b.commit(), /hook refuses/);
        },
        { hook: failOnMessages },
      );
      assert.equal(await rawSnapshot(h), snapshot, 'the disk is byte-for-byte unchanged');
    });

    it('reopen: every concern is intact; a closed store refuses work', async () => {
      const h = await factory();
      const store = await h.open();
      await fillEveryConcern(store);
      await store.close();
      await store.close(); // idempotent
      await expectRejects(store.sessions.get(ALICE), StoreClosedError);
      assert.throws(() => store.batch(), StoreClosedError);
      const k = keyFixtures();
      await withStore(h, async (s) => {
        assert.deepEqual((await s.identity.get())?.signingSeed, k.bob.signingSeed);
        assert.deepEqual(await s.prekeys.get('kem', 2), k.kem);
        assert.deepEqual(await s.prekeys.get('one-time', 100), k.oneTime[0]);
        assert.deepEqual((await s.sessions.get(ALICE))?.snapshot, Uint8Array.of(1, 2, 3));
        assert.deepEqual((await s.contacts.get(ALICE))?.previousKeys, [CAROL]);
        assert.deepEqual(await s.messages.list(ALICE), [message(ALICE, 1, 1000)]);
        assert.deepEqual(await s.outbox.get(outboxEntry(1).id), outboxEntry(1));
        assert.ok(await s.dedupe.has(ALICE, hexOf('seen', 16)));
        assert.deepEqual(await s.directory.get(ALICE), directoryEntry(ALICE));
        assert.equal(await s.directory.highestSequence(ALICE), 7);
        assert.deepEqual(await s.prekeys.rotation('signed'), SIGNED_ROTATION);
        assert.equal(s.schemaVersion, SCHEMA_VERSION);
      });
    });

    it('schema: stamped on create; a migration runs once, atomically with the new version', async () => {
      const h = await factory();
      await withStore(h, async (s) => {
        assert.equal(s.schemaVersion, SCHEMA_VERSION);
        await s.contacts.put(contact(ALICE, { name: 'alice' }));
        await s.contacts.put(contact(BOB, { name: 'bob' }));
      });
      let runs = 0;
      const upperNames: Migration = {
        from: SCHEMA_VERSION,
        description: 'contact names in capitals',
        async run(ctx) {
          runs++;
          for (const [key, plain] of await ctx.entries('contacts')) {
            const c = ctx.codec.decode('contact', plain);
            ctx.put('contacts', key, ctx.codec.encode('contact', { ...c, name: c.name.toUpperCase() }));
          }
          // Its own writes are visible to later reads of the run.
          const again = await ctx.get('contacts', ALICE);
          assert.equal(ctx.codec.decode('contact', again!).name, 'ALICE');
        },
      };
      const v2 = { version: SCHEMA_VERSION + 1, migrations: [upperNames] };
      await withStore(
        h,
        async (s) => {
          assert.equal(s.schemaVersion, SCHEMA_VERSION + 1);
          assert.deepEqual(
            (await s.contacts.list()).map((c) => c.name),
            ['ALICE', 'BOB'],
          );
        },
        { schema: v2 },
      );
      await withStore(h, async (s) => assert.equal(s.schemaVersion, SCHEMA_VERSION + 1), { schema: v2 });
      assert.equal(runs, 1);

      // A failing or missing migration changes nothing.
      const before = await rawSnapshot(h);
      const failing: Migration = {
        from: SCHEMA_VERSION + 1,
        description: 'fails half way',
        run(ctx) {
          ctx.del('contacts', ALICE);
          throw new Error('boom');
        },
      };
      await expectRejects(
        h.open({ schema: { version: SCHEMA_VERSION + 2, migrations: [failing] } }),
        MigrationFailedError,
      );
      await expectRejects(
        h.open({ schema: { version: SCHEMA_VERSION + 3, migrations: [upperNames] } }),
        MigrationMissingError,
      );
      assert.equal(await rawSnapshot(h), before);
    });

    it('schema: a newer schema than the code knows is refused and nothing changes', async () => {
      const h = await factory();
      // A fresh store is stamped with whatever version its code knows: here a "future" one.
      await withStore(h, async (s) => fillEveryConcern(s), { schema: { version: SCHEMA_VERSION + 5, migrations: [] } });
      const before = await rawSnapshot(h);
      const err = await expectRejects(h.open(), SchemaTooNewError);
      assert.equal(err.code, 'SCHEMA_TOO_NEW');
      assert.equal(err.stored, SCHEMA_VERSION + 5);
      assert.equal(err.supported, SCHEMA_VERSION);
      assert.equal(await rawSnapshot(h), before);
      // The refused open released the database: it opens again.
      await withStore(h, async (s) => assert.equal(s.schemaVersion, SCHEMA_VERSION + 5), {
        schema: { version: SCHEMA_VERSION + 5, migrations: [] },
      });
    });

    it('corruption: a bad value is a StoreCorruptError naming concern and key; nothing else changes', async () => {
      const h = await factory();
      await withStore(h, async (s) => fillEveryConcern(s));
      const sKey = sessionKey(ALICE);
      const good = (await h.rawEntries('sessions')).find(([k]) => k === sKey)![1];
      const msgIndex = messageIndexKey(ALICE, message(ALICE, 1, 1000).id);
      const cases: Array<[Concern, string, Uint8Array, (s: SottoStore) => Promise<unknown>]> = [
        ['sessions', sKey, Uint8Array.of(99, ...good.subarray(1)), (s) => s.sessions.get(ALICE)],
        ['sessions', sKey, good.subarray(0, good.length - 3), (s) => s.sessions.get(ALICE)],
        [
          'sessions',
          sKey,
          Uint8Array.of(FORMAT_VERSION, KIND_TAGS.contact, ...good.subarray(2)),
          (s) => s.sessions.get(ALICE),
        ],
        ['sessions', sKey, Uint8Array.of(...good, 0), (s) => s.sessions.get(ALICE)],
        ['messages', msgIndex, Uint8Array.of(FORMAT_VERSION), (s) => s.messages.get(ALICE, message(ALICE, 1, 1000).id)],
        [
          'identity',
          'default',
          Uint8Array.of(FORMAT_VERSION, KIND_TAGS.identity, 0, 0, 0, 1, 7),
          (s) => s.identity.get(),
        ],
        ['contacts', BOB, new Uint8Array(0), (s) => s.contacts.list()],
      ];
      for (const [concern, key, bytes, read] of cases) {
        await h.rawPut(concern, key, bytes);
        const before = await rawSnapshot(h);
        await withStore(h, async (s) => {
          const err = await expectRejects(read(s), StoreCorruptError);
          assert.equal(err.code, 'STORE_CORRUPT');
          assert.equal(err.concern, concern);
          assert.equal(err.key, key);
          // The rest of the store still works.
          assert.ok(await s.dedupe.has(ALICE, hexOf('seen', 16)));
        });
        assert.equal(await rawSnapshot(h), before, `reading ${concern}/${key} changed nothing`);
      }
      // A corrupt schema version refuses the open.
      await h.rawPut('meta', 'schema', Uint8Array.of(FORMAT_VERSION, KIND_TAGS.schema, 1));
      const err = await expectRejects(h.open(), StoreCorruptError);
      assert.equal(err.concern, 'meta');
    });

    it('codec hook: every value written passes through seal, every value read through open', async () => {
      const h = await factory();
      const sealed: ValueLocation[] = [];
      const opened: ValueLocation[] = [];
      const MAGIC = [0xe5, 0x70];
      const xorHook: EncryptionHook = {
        seal: (plain, at) => {
          sealed.push(at);
          return Uint8Array.of(...MAGIC, ...plain.map((b) => b ^ 0x5a));
        },
        open: async (bytes, at) => {
          opened.push(at);
          if (bytes[0] !== MAGIC[0] || bytes[1] !== MAGIC[1]) throw new Error('not sealed');
          return bytes.subarray(2).map((b) => b ^ 0x5a);
        },
      };
      await withStore(h, async (s) => fillEveryConcern(s), { hook: xorHook });
      let values = 0;
      for (const c of CONCERNS) {
        for (const [key, value] of await h.rawEntries(c)) {
          values++;
          assert.deepEqual([...value.subarray(0, 2)], MAGIC, `${c}/${key} is sealed`);
          assert.ok(
            sealed.some((at) => at.concern === c && at.key === key),
            `seal saw ${c}/${key}`,
          );
        }
      }
      assert.ok(values >= 15, `every kind written (${values} values)`);
      await withStore(
        h,
        async (s) => {
          assert.equal(s.schemaVersion, SCHEMA_VERSION);
          assert.deepEqual(await s.messages.list(ALICE), [message(ALICE, 1, 1000)]);
          assert.ok(opened.some((at) => at.concern === 'meta' && at.key === 'schema'));
          assert.ok(opened.some((at) => at.concern === 'messages'));
        },
        { hook: xorHook },
      );
      // Without the hook the values do not decode: the schema check already fails.
      await expectRejects(h.open(), StoreCorruptError);
    });

    it('requests and blocked: a request with held messages in arrival order, removed with its messages; block list put/list/remove; bad ids refused', async () => {
      const h = await factory();
      const held = (identity: string, seq: number, text: string) => ({
        identity,
        seq,
        id: hexOf(`held-${identity}-${seq}`, 16),
        timestamp: 1000 - seq, // the sender's clock may disagree with arrival order
        receivedAt: 2000 + seq,
        body: text,
        viaMailbox: seq === 1,
      });
      await withStore(h, async (s) => {
        assert.deepEqual(await s.requests.list(), []);
        assert.equal(await s.requests.count(), 0);
        const b = s.batch();
        b.requests.put({ identity: ALICE, address: 'sotto1a', firstAt: 1, lastAt: 3, held: 3, nextSeq: 3 });
        for (const seq of [2, 0, 1]) b.requests.putMessage(held(ALICE, seq, `m${seq}`));
        b.requests.put({ identity: BOB, address: 'sotto1b', firstAt: 4, lastAt: 4, held: 1, nextSeq: 1 });
        b.requests.putMessage(held(BOB, 0, 'bob'));
        b.blocked.put({ identity: CAROL, address: 'sotto1c', blockedAt: 9 });
        await b.commit();
      });
      await withStore(h, async (s) => {
        assert.equal(await s.requests.count(), 2);
        assert.deepEqual(
          (await s.requests.list()).map((r) => r.identity),
          [ALICE, BOB].sort(),
        );
        assert.deepEqual(
          (await s.requests.messages(ALICE)).map((m) => m.body),
          ['m0', 'm1', 'm2'],
          'arrival order, not the sender clock',
        );
        assert.equal((await s.requests.messages(ALICE))[1]?.viaMailbox, true);
        const r = s.batch();
        r.requests.remove(ALICE, [0, 1, 2]);
        r.blocked.remove(CAROL);
        await r.commit();
        assert.equal(await s.requests.get(ALICE), undefined);
        assert.deepEqual(await s.requests.messages(ALICE), []);
        assert.deepEqual(
          (await s.requests.messages(BOB)).map((m) => m.body),
          ['bob'],
          'the other request stays',
        );
        assert.deepEqual(await s.blocked.list(), []);
        await expectRejects(s.requests.get('nope'), InvalidStoreArgumentError);
        await expectRejects(s.blocked.get('ABC'), InvalidStoreArgumentError);
        assert.throws(() => s.batch().requests.putMessage(held(ALICE, -1, 'x')), InvalidStoreArgumentError);
      });
    });

    it('mailbox: deposit with quotas and dedupe, list oldest first within limits, remove only own ids, expire, usage', async () => {
      const h = await factory();
      const quota = { maxEnvelopesPerIdentity: 3, maxBytesPerIdentity: 250, maxTotalBytes: 400 };
      const entry = (identity: string, n: number, at: number, size = 100) => ({
        identity,
        id: hexOf(`mb-${identity}-${n}`, 16),
        envelope: new Uint8Array(size).fill(n),
        storedAt: at,
      });
      await withStore(h, async (s) => {
        assert.equal(await s.mailbox.deposit(entry(BOB, 2, 2000), quota), 'stored');
        assert.equal(await s.mailbox.deposit(entry(BOB, 1, 1000), quota), 'stored');
        assert.equal(await s.mailbox.deposit(entry(BOB, 1, 5000), quota), 'duplicate', 'same id again');
        assert.equal(await s.mailbox.deposit(entry(BOB, 3, 3000, 60), quota), 'over-quota', 'bytes per identity');
        assert.equal(await s.mailbox.deposit(entry(BOB, 3, 3000, 50), quota), 'stored');
        assert.equal(await s.mailbox.deposit(entry(BOB, 4, 4000, 1), quota), 'over-quota', 'count per identity');
        assert.equal(await s.mailbox.deposit(entry(CAROL, 1, 1500, 100), quota), 'stored');
        assert.equal(await s.mailbox.deposit(entry(CAROL, 2, 1600, 51), quota), 'full', 'total bytes');
        assert.deepEqual(await s.mailbox.usage(BOB), { count: 3, bytes: 250 });
        assert.deepEqual(await s.mailbox.usage(), { count: 4, bytes: 350 });
        await expectRejects(
          Promise.resolve().then(() => s.mailbox.deposit({ ...entry(BOB, 9, 1), id: 'nope' }, quota)),
          InvalidStoreArgumentError,
        );

        const all = await s.mailbox.list(BOB, 10, 10_000);
        assert.deepEqual(
          all.map((e) => e.storedAt),
          [1000, 2000, 3000],
          'oldest first',
        );
        assert.deepEqual(all[0]?.envelope, new Uint8Array(100).fill(1));
        assert.equal((await s.mailbox.list(BOB, 2, 10_000)).length, 2, 'limit');
        assert.equal((await s.mailbox.list(BOB, 10, 150)).length, 1, 'byte limit');
        assert.equal((await s.mailbox.list(BOB, 10, 1)).length, 1, 'always one when any');
        assert.equal((await s.mailbox.list(ALICE, 10, 10_000)).length, 0);

        // Carol's ids do nothing to Bob's mailbox and vice versa
        assert.equal(await s.mailbox.remove(CAROL, [entry(BOB, 1, 0).id, entry(BOB, 2, 0).id]), 0);
        assert.equal((await s.mailbox.list(BOB, 10, 10_000)).length, 3);
        assert.equal(await s.mailbox.remove(BOB, [entry(BOB, 1, 0).id, entry(BOB, 1, 0).id, hexOf('x', 16)]), 1);
        assert.deepEqual(await s.mailbox.usage(BOB), { count: 2, bytes: 150 });
        assert.deepEqual(await s.mailbox.usage(), { count: 3, bytes: 250 });
      });
      await withStore(h, async (s) => {
        assert.deepEqual(
          (await s.mailbox.list(BOB, 10, 10_000)).map((e) => e.storedAt),
          [2000, 3000],
          'kept across a reopen',
        );
        assert.equal(await s.mailbox.expire(2500), 2, 'Bob 2000 and Carol 1500');
        assert.deepEqual(await s.mailbox.usage(BOB), { count: 1, bytes: 50 });
        assert.deepEqual(await s.mailbox.usage(CAROL), { count: 0, bytes: 0 });
        assert.deepEqual(await s.mailbox.usage(), { count: 1, bytes: 50 });
        // freed space is usable again
        assert.equal(await s.mailbox.deposit(entry(CAROL, 2, 6000, 51), quota), 'stored');

        // uploaded one-time prekeys: capped, an id held is kept, taken lowest id first, per identity
        const pk = (id: number) => ({ id, publicKey: new Uint8Array(32).fill(id) });
        assert.equal(await s.mailbox.putPrekeys(BOB, [pk(5), pk(3), pk(9)], 2), 2);
        assert.equal(await s.mailbox.putPrekeys(BOB, [pk(3), pk(4)], 2), 2, 'at the cap');
        assert.equal(await s.mailbox.prekeyCount(BOB), 2);
        assert.equal(await s.mailbox.prekeyCount(CAROL), 0);
        assert.deepEqual(await s.mailbox.takePrekey(BOB), pk(3));
        assert.deepEqual(await s.mailbox.takePrekey(BOB), pk(5));
        assert.equal(await s.mailbox.takePrekey(BOB), undefined);
        assert.equal(await s.mailbox.takePrekey(CAROL), undefined);
      });
    });
  });
}
