/**
 * Signed/KEM prekey rotation (src/node/prekey-rotation.ts) on the memory store and on LevelDB:
 * creation, the rotation period, the grace period of retired prekeys, stores written before
 * rotation existed, handshakes against an old bundle, atomicity and idempotency.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type CryptoEnv,
  createEnv,
  generateIdentity,
  generateKemPrekey,
  generateOneTimePrekey,
  generateSignedPrekey,
  type IdentityKeyPair,
  initiateSession,
  type KemPrekey,
  type PrekeyBundle,
  PrekeyNotFoundError,
  peekMessage,
  respondToSession,
  type SignedPrekey,
  toHex,
  verifyBundle,
} from '../../src/crypto/index.js';
import { MAX_PREKEY_ID } from '../../src/crypto/keys.js';
import { PrekeyIdsExhaustedError } from '../../src/node/errors.js';
import {
  ensureCurrentPrekeys,
  FIRST_PREKEY_ID,
  KEM_PREKEY_ROTATION_MS,
  nextRotationAt,
  RETIRED_PREKEY_GRACE_MS,
  SIGNED_PREKEY_ROTATION_MS,
} from '../../src/node/prekey-rotation.js';
import {
  binaryCodec,
  CONCERNS,
  type Concern,
  createMemoryStore,
  type EncryptionHook,
  FORMAT_VERSION,
  InvalidStoreArgumentError,
  KIND_TAGS,
  LevelBackend,
  MemoryBackend,
  openStore,
  type PrekeyRotationRecord,
  prekeyKey,
  prekeyRotationKey,
  SCHEMA_VERSION,
  type SottoStore,
  StoreCorruptError,
  type StoreOptions,
} from '../../src/store/index.js';

const DAY = 24 * 60 * 60 * 1000;
const T0 = 1_700_000_000_000;
const CONTEXT = { initiator: 'peer-alice', responder: 'peer-bob' };
const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);

const env: CryptoEnv = createEnv();
const bob: IdentityKeyPair = generateIdentity(env);
const alice: IdentityKeyPair = generateIdentity(env);

/** Opens the same data again and again, and reads/writes raw backend bytes while no store is open. */
interface Harness {
  open(options?: StoreOptions): Promise<SottoStore>;
  rawPut(concern: Concern, key: string, value: Uint8Array): Promise<void>;
  /** Every raw entry of every concern, as one comparable string. */
  snapshot(): Promise<string>;
}

let root: string;
let dirs = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'sotto-rotation-test-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const HARNESSES: Record<string, () => Harness> = {
  memory: () => {
    const backend = new MemoryBackend();
    return {
      open: (options) => createMemoryStore({ ...options, backend }),
      rawPut: (concern, key, value) => backend.batch([{ type: 'put', concern, key, value }]),
      snapshot: () => snapshotOf(backend),
    };
  },
  leveldb: () => {
    const path = join(root, `db-${dirs++}`);
    const withBackend = async <T>(fn: (b: LevelBackend) => Promise<T>): Promise<T> => {
      const b = await LevelBackend.open(path);
      try {
        return await fn(b);
      } finally {
        await b.close();
      }
    };
    return {
      open: (options) => openStore({ ...options, path }),
      rawPut: (concern, key, value) => withBackend((b) => b.batch([{ type: 'put', concern, key, value }])),
      snapshot: () => withBackend(snapshotOf),
    };
  },
};

async function snapshotOf(backend: MemoryBackend | LevelBackend): Promise<string> {
  const parts: string[] = [];
  for (const c of CONCERNS) for (const [k, v] of await backend.entries(c)) parts.push(`${c}|${k}|${toHex(v)}`);
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

function bundleOf(signed: SignedPrekey, kem: KemPrekey): PrekeyBundle {
  return {
    identity: { signingKey: bob.signingKey, dhKey: bob.dhKey },
    signedPrekey: { id: signed.id, publicKey: signed.publicKey, signature: signed.signature },
    kemPrekey: { id: kem.id, publicKey: kem.publicKey, signature: kem.signature },
  };
}

/** Bob answers Alice's first message with exactly the prekeys it names, loaded from the store. */
async function respond(store: SottoStore, first: Uint8Array): Promise<string> {
  const peeked = peekMessage(first);
  assert.equal(peeked.type, 'prekey');
  if (peeked.type !== 'prekey') throw new Error('unreachable');
  const prekeys = await store.prekeys.loadLookup({
    signedPrekeyId: peeked.signedPrekeyId,
    kemPrekeyId: peeked.kemPrekeyId,
  });
  return str(respondToSession(env, { identity: bob, prekeys, message: first, context: CONTEXT }).plaintext);
}

/** Writes what the node wrote before rotation existed: identity, signed 1, KEM 1, one-time prekeys. */
async function writeOldLayout(store: SottoStore): Promise<{ signed: SignedPrekey; kem: KemPrekey }> {
  const signed = generateSignedPrekey(env, bob, 1);
  const kem = generateKemPrekey(env, bob, 1);
  const batch = store.batch();
  batch.identity.put(bob);
  batch.prekeys.put('signed', signed);
  batch.prekeys.put('kem', kem);
  for (const id of [1, 2, 3]) batch.prekeys.put('one-time', generateOneTimePrekey(env, id));
  batch.prekeys.markClaimed(2, T0 - DAY);
  await batch.commit();
  return { signed, kem };
}

/** The one-time prekeys (with their keys) and claim markers, to show rotation never touches them. */
async function oneTimeState(store: SottoStore): Promise<string> {
  const parts: string[] = [];
  for (const id of await store.prekeys.ids('one-time')) {
    const key = await store.prekeys.get('one-time', id);
    parts.push(`${id}:${toHex(key!.publicKey)}:${toHex(key!.privateKey)}:${await store.prekeys.isClaimed(id)}`);
  }
  return parts.join(',');
}

describe('prekey rotation: constants', () => {
  it('rotate weekly, keep retired prekeys 30 days, start at the id the node always used', () => {
    assert.equal(SIGNED_PREKEY_ROTATION_MS, 7 * DAY);
    assert.equal(KEM_PREKEY_ROTATION_MS, SIGNED_PREKEY_ROTATION_MS);
    assert.equal(RETIRED_PREKEY_GRACE_MS, 30 * DAY);
    assert.ok(RETIRED_PREKEY_GRACE_MS > SIGNED_PREKEY_ROTATION_MS);
    assert.ok(SIGNED_PREKEY_ROTATION_MS < 2 ** 31 - 1, 'a timer for the next rotation fits setTimeout');
    assert.equal(FIRST_PREKEY_ID, 1);
  });

  it('nextRotationAt: the earliest rotation or deletion; due at once without a record or a known age', () => {
    const record = (currentId: number, prekeys: PrekeyRotationRecord['prekeys']): PrekeyRotationRecord => ({
      currentId,
      highestId: 9,
      prekeys,
    });
    const signed = record(3, [
      { id: 2, createdAt: T0 - 10 * DAY, retiredAt: T0 - 29 * DAY },
      { id: 3, createdAt: T0 },
    ]);
    const kem = record(4, [{ id: 4, createdAt: T0 - DAY }]);
    // The retired signed prekey 2 reaches its grace one day after T0; KEM 4 rotates at T0 + 6 days.
    assert.equal(nextRotationAt({ signed, kem }), T0 - 29 * DAY + RETIRED_PREKEY_GRACE_MS);
    assert.equal(nextRotationAt({ signed: record(3, [{ id: 3, createdAt: T0 }]), kem }), T0 + 6 * DAY);
    assert.equal(nextRotationAt({ signed, kem: undefined }), 0);
    assert.equal(nextRotationAt({ signed, kem: record(4, [{ id: 4 }]) }), 0);
  });
});

for (const [name, makeHarness] of Object.entries(HARNESSES)) {
  describe(`prekey rotation on ${name}`, () => {
    it('a fresh store gets signed and KEM prekey 1, current, signed by the identity; a repeat changes nothing', async () => {
      const h = makeHarness();
      await withStore(h, async (s) => {
        const r = await ensureCurrentPrekeys(s, env, bob, T0);
        assert.equal(r.rotated, true);
        assert.equal(r.changed, true);
        assert.equal(r.signed.id, 1);
        assert.equal(r.kem.id, 1);
        verifyBundle(env.provider, bundleOf(r.signed, r.kem));
        assert.deepEqual(await s.prekeys.current('signed'), r.signed);
        assert.deepEqual(await s.prekeys.current('kem'), r.kem);
        const expected: PrekeyRotationRecord = { currentId: 1, highestId: 1, prekeys: [{ id: 1, createdAt: T0 }] };
        assert.deepEqual(await s.prekeys.rotation('signed'), expected);
        assert.deepEqual(await s.prekeys.rotation('kem'), expected);
        assert.deepEqual(r.deleted, { signed: [], kem: [] });
        assert.equal(r.nextCheckAt, T0 + SIGNED_PREKEY_ROTATION_MS);
      });
      const snapshot = await h.snapshot();
      await withStore(h, async (s) => {
        const again = await ensureCurrentPrekeys(s, env, bob, T0);
        assert.equal(again.rotated, false);
        assert.equal(again.changed, false);
        assert.deepEqual(again.signed, (await s.prekeys.get('signed', 1))!);
        assert.deepEqual(again.kem, (await s.prekeys.get('kem', 1))!);
        // Just before the period ends: still nothing to do.
        const early = await ensureCurrentPrekeys(s, env, bob, T0 + SIGNED_PREKEY_ROTATION_MS - 1);
        assert.equal(early.rotated, false);
        assert.equal(early.changed, false);
        assert.equal(early.signed.id, 1);
      });
      assert.equal(await h.snapshot(), snapshot, 'byte-for-byte unchanged');
    });

    it('after the period new ids are current and the old keys stay loadable; after the grace they are deleted', async () => {
      const h = makeHarness();
      const T1 = T0 + SIGNED_PREKEY_ROTATION_MS;
      await withStore(h, async (s) => {
        const first = await ensureCurrentPrekeys(s, env, bob, T0);
        const b = s.batch();
        for (const id of [7, 8]) b.prekeys.put('one-time', generateOneTimePrekey(env, id));
        b.prekeys.markClaimed(8, T0);
        await b.commit();
        const oneTime = await oneTimeState(s);
        assert.equal(oneTime.split(',').length, 2);

        const r = await ensureCurrentPrekeys(s, env, bob, T1);
        assert.equal(r.rotated, true);
        assert.equal(r.signed.id, 2);
        assert.equal(r.kem.id, 2);
        assert.notDeepEqual(r.signed.publicKey, first.signed.publicKey);
        verifyBundle(env.provider, bundleOf(r.signed, r.kem));
        assert.deepEqual((await s.prekeys.current('signed'))?.id, 2);
        assert.deepEqual((await s.prekeys.current('kem'))?.id, 2);
        assert.deepEqual(await s.prekeys.rotation('signed'), {
          currentId: 2,
          highestId: 2,
          prekeys: [
            { id: 1, createdAt: T0, retiredAt: T1 },
            { id: 2, createdAt: T1 },
          ],
        });
        const old = await s.prekeys.loadLookup({ signedPrekeyId: 1, kemPrekeyId: 1 });
        assert.deepEqual(old.signedPrekey(1), first.signed);
        assert.deepEqual(old.kemPrekey(1), first.kem);
        assert.equal(await oneTimeState(s), oneTime, 'one-time prekeys and claims untouched');
        assert.deepEqual(await s.prekeys.ids('one-time'), [7, 8]);
        assert.equal(r.nextCheckAt, T1 + SIGNED_PREKEY_ROTATION_MS);
      });

      // Thirty days after id 1 was retired less a millisecond: id 2 rotates to 3, id 1 is still kept.
      const T2 = T1 + RETIRED_PREKEY_GRACE_MS - 1;
      await withStore(h, async (s) => {
        const r = await ensureCurrentPrekeys(s, env, bob, T2);
        assert.equal(r.signed.id, 3);
        assert.deepEqual(r.deleted, { signed: [], kem: [] });
        assert.deepEqual(await s.prekeys.ids('signed'), [1, 2, 3]);
        assert.deepEqual(await s.prekeys.ids('kem'), [1, 2, 3]);
        assert.equal(r.nextCheckAt, T1 + RETIRED_PREKEY_GRACE_MS, 'next: deleting id 1');
      });
      // At the end of its grace id 1 goes; 2 (retired at T2) and the current 3 stay.
      const T3 = T1 + RETIRED_PREKEY_GRACE_MS;
      await withStore(h, async (s) => {
        const r = await ensureCurrentPrekeys(s, env, bob, T3);
        assert.equal(r.rotated, false);
        assert.equal(r.changed, true);
        assert.deepEqual(r.deleted, { signed: [1], kem: [1] });
        assert.deepEqual(await s.prekeys.ids('signed'), [2, 3]);
        assert.deepEqual(await s.prekeys.ids('kem'), [2, 3]);
        const gone = await s.prekeys.loadLookup({ signedPrekeyId: 1, kemPrekeyId: 1 });
        assert.equal(gone.signedPrekey(1), undefined);
        assert.equal(gone.kemPrekey(1), undefined);
        assert.equal((await s.prekeys.rotation('signed'))?.currentId, 3);
        assert.deepEqual(await s.prekeys.ids('one-time'), [7, 8]);
      });
    });

    it('a long pause: the stale current prekey is retired now, not deleted; its grace starts at retirement', async () => {
      const h = makeHarness();
      const late = T0 + 100 * DAY;
      await withStore(h, async (s) => {
        const first = await ensureCurrentPrekeys(s, env, bob, T0);
        const r = await ensureCurrentPrekeys(s, env, bob, late);
        assert.equal(r.signed.id, 2);
        assert.deepEqual(r.deleted, { signed: [], kem: [] });
        assert.deepEqual((await s.prekeys.get('signed', 1))?.publicKey, first.signed.publicKey);
        assert.deepEqual((await s.prekeys.rotation('kem'))?.prekeys[0], { id: 1, createdAt: T0, retiredAt: late });
      });
    });

    it('an id that was ever stored is never handed out again, even after its key is gone', async () => {
      const h = makeHarness();
      await withStore(h, async (s) => {
        await ensureCurrentPrekeys(s, env, bob, T0);
        await ensureCurrentPrekeys(s, env, bob, T0 + 7 * DAY);
        await ensureCurrentPrekeys(s, env, bob, T0 + 14 * DAY); // current 3
        // Someone deletes the current prekeys behind the module's back: the next ids are 4, not 3.
        assert.equal(await s.prekeys.remove('signed', 3), true);
        assert.equal(await s.prekeys.remove('kem', 3), true);
        const r = await ensureCurrentPrekeys(s, env, bob, T0 + 14 * DAY + 1);
        assert.equal(r.rotated, true);
        assert.equal(r.signed.id, 4);
        assert.equal(r.kem.id, 4);
        const record = await s.prekeys.rotation('signed');
        assert.deepEqual(
          record?.prekeys.map((e) => e.id),
          [1, 2, 4],
        );
        assert.equal(record?.highestId, 4);
        assert.equal(record?.prekeys.find((e) => e.id === 2)?.retiredAt, T0 + 14 * DAY, 'kept its retirement');
      });
    });

    it('a store written before rotation existed (id 1, no metadata) opens and rotates', async () => {
      const h = makeHarness();
      const old = await withStore(h, writeOldLayout);
      const oneTime = await withStore(h, oneTimeState);
      assert.match(oneTime, /^1:.*:false,2:.*:true,3:.*:false$/);
      const now = T0 + DAY;
      await withStore(h, async (s) => {
        assert.equal(s.schemaVersion, SCHEMA_VERSION);
        assert.equal(await s.prekeys.rotation('signed'), undefined);
        assert.deepEqual(await s.prekeys.current('signed'), old.signed, 'id 1 reads as current');
        assert.deepEqual(await s.prekeys.current('kem'), old.kem);
        assert.equal(nextRotationAt({ signed: undefined, kem: undefined }), 0, 'due at once');

        const r = await ensureCurrentPrekeys(s, env, bob, now);
        assert.equal(r.rotated, true);
        assert.equal(r.signed.id, 2);
        assert.equal(r.kem.id, 2);
        // Age unknown: no createdAt; retired now, so its grace runs from today.
        assert.deepEqual(await s.prekeys.rotation('signed'), {
          currentId: 2,
          highestId: 2,
          prekeys: [
            { id: 1, retiredAt: now },
            { id: 2, createdAt: now },
          ],
        });
        const lookup = await s.prekeys.loadLookup({ signedPrekeyId: 1, kemPrekeyId: 1 });
        assert.deepEqual(lookup.signedPrekey(1), old.signed);
        assert.deepEqual(lookup.kemPrekey(1), old.kem);
        assert.equal(await oneTimeState(s), oneTime);
      });
      await withStore(h, async (s) => {
        assert.equal((await s.prekeys.current('signed'))?.id, 2, 'the rotation survived a reopen');
        const r = await ensureCurrentPrekeys(s, env, bob, now + RETIRED_PREKEY_GRACE_MS);
        assert.deepEqual(r.deleted, { signed: [1], kem: [1] });
        assert.equal(r.signed.id, 3, 'id 2 also reached its rotation');
        assert.deepEqual(await s.prekeys.ids('signed'), [2, 3]);
        assert.deepEqual(await s.prekeys.ids('one-time'), [1, 2, 3]);
        assert.equal(await s.prekeys.isClaimed(2), true);
      });
    });

    it('a handshake built against the old bundle still works inside the grace period, not after', async () => {
      const h = makeHarness();
      const T1 = T0 + SIGNED_PREKEY_ROTATION_MS;
      // Alice fetched Bob's bundle (prekeys 1) before the rotation; her handshakes are answered later.
      const { inGrace, afterGrace, oldBundle } = await withStore(h, async (s) => {
        const first = await ensureCurrentPrekeys(s, env, bob, T0);
        const oldBundle = bundleOf(first.signed, first.kem);
        const msg = (t: string) =>
          initiateSession(env, { identity: alice, bundle: oldBundle, context: CONTEXT }).encrypt(text(t));
        return { inGrace: msg('sent before the rotation'), afterGrace: msg('far too late'), oldBundle };
      });
      await withStore(h, async (s) => {
        const r = await ensureCurrentPrekeys(s, env, bob, T1);
        assert.equal(r.signed.id, 2);
        assert.equal(await respond(s, inGrace), 'sent before the rotation');
        // A new handshake uses the new bundle.
        const fresh = initiateSession(env, { identity: alice, bundle: bundleOf(r.signed, r.kem), context: CONTEXT });
        const newFirst = fresh.encrypt(text('hello again'));
        const peeked = peekMessage(newFirst);
        assert.ok(peeked.type === 'prekey' && peeked.signedPrekeyId === 2 && peeked.kemPrekeyId === 2);
        assert.equal(await respond(s, newFirst), 'hello again');
        assert.equal(oldBundle.signedPrekey.id, 1);
      });
      await withStore(h, async (s) => {
        await ensureCurrentPrekeys(s, env, bob, T1 + RETIRED_PREKEY_GRACE_MS);
        const err = await expectRejects(respond(s, afterGrace), PrekeyNotFoundError);
        assert.equal(err.kind, 'signed');
        assert.equal(err.id, 1);
      });
    });

    it('a corrupt rotation record is a StoreCorruptError naming concern and key; nothing changes', async () => {
      const h = makeHarness();
      await withStore(h, (s) => ensureCurrentPrekeys(s, env, bob, T0));
      const cases: Array<[string, Uint8Array]> = [
        // Well framed, but the current id is not among the prekeys.
        [
          prekeyRotationKey('kem'),
          Uint8Array.of(FORMAT_VERSION, KIND_TAGS['prekey-rotation'], 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 0),
        ],
        // Truncated.
        [prekeyRotationKey('signed'), Uint8Array.of(FORMAT_VERSION, KIND_TAGS['prekey-rotation'], 0, 0, 0)],
        // A value of another kind under the key.
        [prekeyRotationKey('signed'), binaryCodec.encode('seen', 5)],
      ];
      for (const [key, bytes] of cases) {
        await h.rawPut('prekeys', key, bytes);
        const before = await h.snapshot();
        await withStore(h, async (s) => {
          // Due for rotation: the call would write, were the record readable.
          const err = await expectRejects(
            ensureCurrentPrekeys(s, env, bob, T0 + SIGNED_PREKEY_ROTATION_MS),
            StoreCorruptError,
          );
          assert.equal(err.code, 'STORE_CORRUPT');
          assert.equal(err.concern, 'prekeys');
          assert.equal(err.key, key);
        });
        assert.equal(await h.snapshot(), before, `nothing changed after the corrupt ${key}`);
      }
      // A corrupt current prekey is reported the same way.
      const h2 = makeHarness();
      await withStore(h2, (s) => ensureCurrentPrekeys(s, env, bob, T0));
      const key = prekeyKey('signed', 1);
      await h2.rawPut('prekeys', key, Uint8Array.of(FORMAT_VERSION, KIND_TAGS['signed-prekey'], 0));
      const before = await h2.snapshot();
      await withStore(h2, async (s) => {
        const err = await expectRejects(ensureCurrentPrekeys(s, env, bob, T0 + 1), StoreCorruptError);
        assert.equal(err.key, key);
      });
      assert.equal(await h2.snapshot(), before);
    });

    it('a failing write leaves the store unchanged; the next call does the whole rotation', async () => {
      const h = makeHarness();
      await withStore(h, (s) => ensureCurrentPrekeys(s, env, bob, T0));
      const before = await h.snapshot();
      const T1 = T0 + SIGNED_PREKEY_ROTATION_MS;
      // The hook refuses only the last value of the batch (the KEM rotation record).
      const refuseKemRecord: EncryptionHook = {
        seal: (plain, at) => {
          if (at.concern === 'prekeys' && at.key === prekeyRotationKey('kem')) throw new Error('disk full');
          return plain;
        },
        open: (sealed) => sealed,
      };
      await withStore(
        h,
        async (s) => {
          await assert.rejects(ensureCurrentPrekeys(s, env, bob, T1), /disk full/);
          assert.equal((await s.prekeys.current('signed'))?.id, 1);
        },
        { hook: refuseKemRecord },
      );
      assert.equal(await h.snapshot(), before, 'byte-for-byte unchanged');
      await withStore(h, async (s) => {
        const r = await ensureCurrentPrekeys(s, env, bob, T1);
        assert.equal(r.signed.id, 2);
        assert.equal(r.kem.id, 2);
      });
    });

    it('no unused id left: PrekeyIdsExhaustedError and nothing changes', async () => {
      const h = makeHarness();
      await withStore(h, async (s) => {
        const b = s.batch();
        b.prekeys.put('signed', generateSignedPrekey(env, bob, MAX_PREKEY_ID));
        b.prekeys.put('kem', generateKemPrekey(env, bob, 1));
        b.prekeys.setRotation('signed', {
          currentId: MAX_PREKEY_ID,
          highestId: MAX_PREKEY_ID,
          prekeys: [{ id: MAX_PREKEY_ID, createdAt: T0 }],
        });
        b.prekeys.setRotation('kem', { currentId: 1, highestId: 1, prekeys: [{ id: 1, createdAt: T0 }] });
        await b.commit();
        assert.equal((await ensureCurrentPrekeys(s, env, bob, T0 + 1)).signed.id, MAX_PREKEY_ID, 'not due yet');
      });
      const before = await h.snapshot();
      await withStore(h, async (s) => {
        const err = await expectRejects(
          ensureCurrentPrekeys(s, env, bob, T0 + SIGNED_PREKEY_ROTATION_MS),
          PrekeyIdsExhaustedError,
        );
        assert.equal(err.code, 'PREKEY_IDS_EXHAUSTED');
        assert.equal(err.kind, 'signed');
      });
      assert.equal(await h.snapshot(), before);
    });
  });
}

describe('prekey rotation: calls and arguments', () => {
  it('concurrent calls on one store run one after another: one rotation, the same keys', async () => {
    const store = await createMemoryStore();
    const [a, b] = await Promise.all([
      ensureCurrentPrekeys(store, env, bob, T0),
      ensureCurrentPrekeys(store, env, bob, T0),
    ]);
    assert.equal(a.rotated, true);
    assert.equal(b.rotated, false);
    assert.deepEqual(b.signed, a.signed);
    assert.deepEqual(b.kem, a.kem);
    assert.deepEqual(await store.prekeys.ids('signed'), [1]);
    // A failed call does not block the ones after it.
    await expectRejects(ensureCurrentPrekeys(store, env, bob, -1), InvalidStoreArgumentError);
    await expectRejects(ensureCurrentPrekeys(store, env, bob, 1.5), InvalidStoreArgumentError);
    assert.equal((await ensureCurrentPrekeys(store, env, bob, T0 + SIGNED_PREKEY_ROTATION_MS)).signed.id, 2);
    await store.close();
  });

  it('stray prekeys the record does not know are adopted as retired now and deleted after the grace', async () => {
    const store = await createMemoryStore();
    await ensureCurrentPrekeys(store, env, bob, T0);
    // E.g. an older binary that recreated a fixed id: a key outside the record.
    await store.prekeys.put('kem', generateKemPrekey(env, bob, 9));
    const r = await ensureCurrentPrekeys(store, env, bob, T0 + 1);
    assert.equal(r.rotated, false);
    assert.equal(r.changed, true);
    assert.equal(r.kem.id, 1, 'the record still decides which is current');
    const record = await store.prekeys.rotation('kem');
    assert.deepEqual(record?.prekeys, [
      { id: 1, createdAt: T0 },
      { id: 9, retiredAt: T0 + 1 },
    ]);
    assert.equal(record?.highestId, 9);
    const later = await ensureCurrentPrekeys(store, env, bob, T0 + 1 + RETIRED_PREKEY_GRACE_MS);
    assert.deepEqual(later.deleted.kem, [9]);
    assert.equal(later.kem.id, 10, 'the next id is above the stray one');
    await store.close();
  });
});
