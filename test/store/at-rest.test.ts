/**
 * Encryption at rest, the hook: the sealed formats against independent computations (format 2
 * with @noble/ciphers' XChaCha20-Poly1305, format 1 with node:crypto), both providers, binding to
 * concern + key + format, tampering, other keys, a fresh nonce per write, key hygiene; every value
 * kind through a store; the raw backend never holds plaintext.
 */
import assert from 'node:assert/strict';
import { createCipheriv, hkdfSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { nobleProvider, nodeProvider, toHex } from '../../src/crypto/index.js';
import {
  AtRestHook,
  CONCERNS,
  type Concern,
  createMemoryStore,
  dataKeyId,
  MemoryBackend,
  SEALED_FORMAT,
  SEALED_FORMAT_V1,
  SEALED_OVERHEAD,
  SealedValueError,
  StoreCorruptError,
  VALUE_NONCE_BYTES,
} from '../../src/store/index.js';
import { ALICE, BOB, contact, directoryEntry, keyFixtures, message, outboxEntry } from './fixtures.js';
import { contains } from './helpers-at-rest.js';

const DATA_KEY = Uint8Array.from({ length: 32 }, (_, i) => i);
const NONCE = Uint8Array.from({ length: VALUE_NONCE_BYTES }, (_, i) => 0xa0 + i);
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** at-rest.ts's associated data: format byte, u8 length + concern, u16 length + key. */
function referenceAd(format: number, concern: string, storeKey: string): Buffer {
  return Buffer.concat([
    Buffer.from([format, concern.length]),
    Buffer.from(concern, 'ascii'),
    Buffer.from([storeKey.length >> 8, storeKey.length & 0xff]),
    Buffer.from(storeKey, 'ascii'),
  ]);
}

/** A format-2 value as at-rest.ts documents it, computed with @noble/ciphers directly. */
function referenceSeal(key: Uint8Array, nonce: Uint8Array, plain: Uint8Array, concern: string, storeKey: string) {
  const ct = xchacha20poly1305(key, nonce, referenceAd(0x82, concern, storeKey)).encrypt(plain);
  return new Uint8Array(Buffer.concat([Buffer.from([0x82]), Buffer.from(nonce), Buffer.from(ct)]));
}

/** A format-1 value (what sotto wrote before format 2), computed with node:crypto directly. */
function referenceSealV1(key: Uint8Array, salt: Uint8Array, plain: Uint8Array, concern: string, storeKey: string) {
  const okm = Buffer.from(hkdfSync('sha256', key, salt, 'sotto/store/value/v1', 44));
  const ad = referenceAd(0x81, concern, storeKey);
  const cipher = createCipheriv('aes-256-gcm', okm.subarray(0, 32), okm.subarray(32));
  cipher.setAAD(ad);
  const ct = Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  return new Uint8Array(Buffer.concat([Buffer.from([0x81]), Buffer.from(salt), ct]));
}

describe('AtRestHook: the sealed format', () => {
  it('format 2 matches an independent computation with @noble/ciphers, with both providers', () => {
    const plain = text('a value to seal');
    const at = { concern: 'contacts' as const, key: ALICE };
    const expected = referenceSeal(DATA_KEY, NONCE, plain, 'contacts', ALICE);
    for (const provider of [nodeProvider, nobleProvider]) {
      const hook = new AtRestHook(provider, DATA_KEY, { rng: () => NONCE.slice() });
      const sealed = hook.seal(plain, at);
      assert.equal(toHex(sealed), toHex(expected), provider.name);
      assert.deepEqual(hook.open(sealed, at), plain, provider.name);
    }
    assert.equal(expected.length, plain.length + SEALED_OVERHEAD);
    assert.equal(expected[0], SEALED_FORMAT);
    assert.equal(SEALED_FORMAT, 0x82);
  });

  it('format 1 values (AES-256-GCM under an HKDF key, node:crypto) still open with both providers, and only where they were', () => {
    const plain = text('written by an older sotto');
    const at = { concern: 'messages' as const, key: ALICE };
    const v1 = referenceSealV1(DATA_KEY, NONCE, plain, 'messages', ALICE);
    assert.equal(v1[0], SEALED_FORMAT_V1);
    assert.equal(v1.length, plain.length + SEALED_OVERHEAD);
    for (const provider of [nodeProvider, nobleProvider]) {
      const hook = new AtRestHook(provider, DATA_KEY);
      assert.deepEqual(hook.open(v1, at), plain, provider.name);
      assert.throws(() => hook.open(v1, { concern: 'messages', key: BOB }), SealedValueError);
      // the same bytes relabelled as the other format do not open, in either direction
      const relabelled = v1.slice();
      relabelled[0] = SEALED_FORMAT;
      assert.throws(() => hook.open(relabelled, at), SealedValueError, `${provider.name}: v1 bytes as v2`);
      const v2 = hook.seal(plain, at);
      v2[0] = SEALED_FORMAT_V1;
      assert.throws(() => hook.open(v2, at), SealedValueError, `${provider.name}: v2 bytes as v1`);
    }
  });

  it('a fresh nonce per write: the same value sealed twice differs, and both open', () => {
    const hook = new AtRestHook(nodeProvider, DATA_KEY);
    const at = { concern: 'messages' as const, key: 'x' };
    const plain = text('same plaintext');
    const a = hook.seal(plain, at);
    const b = hook.seal(plain, at);
    assert.notEqual(toHex(a), toHex(b));
    assert.notEqual(toHex(a.subarray(1, 1 + VALUE_NONCE_BYTES)), toHex(b.subarray(1, 1 + VALUE_NONCE_BYTES)));
    assert.deepEqual(hook.open(a, at), plain);
    assert.deepEqual(hook.open(b, at), plain);
    assert.equal(contains(a, 'same plaintext'), false);
  });

  it('a value opens only at its own concern and key', () => {
    const hook = new AtRestHook(nodeProvider, DATA_KEY);
    const sealed = hook.seal(text('bound'), { concern: 'contacts', key: ALICE });
    for (const at of [
      { concern: 'contacts' as const, key: BOB }, // another key, same concern
      { concern: 'sessions' as const, key: ALICE }, // same key, another concern
      { concern: 'contacts' as const, key: `${ALICE}x` },
    ]) {
      assert.throws(() => hook.open(sealed, at), SealedValueError, `${at.concern}/${at.key}`);
    }
  });

  it('any changed byte, a truncation or another data key fails to open', () => {
    const hook = new AtRestHook(nodeProvider, DATA_KEY);
    const at = { concern: 'identity' as const, key: 'default' };
    const sealed = hook.seal(text('tamper with me, please'), at);
    for (let i = 0; i < sealed.length; i++) {
      const bad = sealed.slice();
      bad[i] = (bad[i] as number) ^ 0x01;
      assert.throws(() => hook.open(bad, at), SealedValueError, `byte ${i}`);
    }
    assert.throws(() => hook.open(sealed.subarray(0, sealed.length - 1), at), SealedValueError);
    assert.throws(() => hook.open(sealed.subarray(0, SEALED_OVERHEAD - 1), at), SealedValueError);
    const other = new AtRestHook(nodeProvider, new Uint8Array(32).fill(7));
    assert.throws(() => other.open(sealed, at), SealedValueError);
  });

  it('keeps its key out of inspect and JSON, and wipes it on dispose', () => {
    const key = Uint8Array.from({ length: 32 }, (_, i) => 0xf0 ^ i);
    const hook = new AtRestHook(nodeProvider, key);
    const shown = `${inspect(hook, { depth: 5, showHidden: true })} ${JSON.stringify(hook)}`;
    assert.equal(shown.includes(toHex(key)), false);
    assert.equal(shown.includes(Buffer.from(key).toString('base64')), false);
    assert.equal(shown.includes(`${key[0]}, ${key[1]}, ${key[2]}`), false, 'no decimal dump of the key');
    key.fill(0); // the hook keeps its own copy
    const at = { concern: 'meta' as const, key: 'k' };
    const sealed = hook.seal(text('v'), at);
    assert.deepEqual(hook.open(sealed, at), text('v'));
    hook.dispose();
    assert.throws(() => hook.seal(text('v'), at));
    assert.throws(() => hook.open(sealed, at));
  });

  it('the key id is a one-way function of the data key, the same with both providers', () => {
    const id = dataKeyId(nodeProvider, DATA_KEY);
    assert.match(id, /^[0-9a-f]{32}$/);
    assert.equal(dataKeyId(nobleProvider, DATA_KEY), id);
    assert.equal(
      id,
      Buffer.from(hkdfSync('sha256', DATA_KEY, new Uint8Array(0), 'sotto/store/key-id/v1', 16)).toString('hex'),
    );
    assert.notEqual(dataKeyId(nodeProvider, new Uint8Array(32)), id);
  });
});

describe('AtRestHook in a store', () => {
  /** A store filled with one value of (nearly) every kind, secrets included. */
  async function fill(backend: MemoryBackend, hook: AtRestHook) {
    const { alice, signed, kem, oneTime } = keyFixtures();
    const store = await createMemoryStore({ backend, hook });
    const batch = store.batch();
    batch.identity.put(alice);
    batch.prekeys.put('signed', signed);
    batch.prekeys.put('kem', kem);
    batch.prekeys.put('one-time', oneTime[0]!);
    batch.contacts.put(contact(BOB, { name: 'Mallory Secretname' }));
    batch.messages.put(message(BOB, 1, 1_700_000_000_123, { body: 'the eagle lands at midnight' }));
    batch.sessions.put(BOB, { snapshot: text('SESSION-SNAPSHOT-BYTES'), baseKey: ALICE });
    batch.outbox.put(outboxEntry(3));
    batch.dedupe.mark(BOB, message(BOB, 1, 1).id, 5);
    batch.directory.put(directoryEntry(BOB));
    await batch.commit();
    return store;
  }

  it('every value round-trips; the raw backend holds no plaintext; every value is sealed', async () => {
    const backend = new MemoryBackend();
    const { alice, signed, kem, oneTime } = keyFixtures();
    const store = await fill(backend, new AtRestHook(nodeProvider, DATA_KEY));
    await store.close();

    const reopened = await createMemoryStore({ backend, hook: new AtRestHook(nodeProvider, DATA_KEY) });
    assert.deepEqual((await reopened.identity.get())?.signingSeed, alice.signingSeed);
    assert.deepEqual(await reopened.prekeys.get('signed', signed.id), signed);
    assert.deepEqual(await reopened.prekeys.get('kem', kem.id), kem);
    assert.deepEqual(await reopened.prekeys.get('one-time', oneTime[0]!.id), oneTime[0]);
    assert.equal((await reopened.contacts.get(BOB))?.name, 'Mallory Secretname');
    assert.equal((await reopened.messages.list(BOB))[0]?.body, 'the eagle lands at midnight');
    assert.deepEqual((await reopened.sessions.get(BOB))?.snapshot, text('SESSION-SNAPSHOT-BYTES'));
    assert.deepEqual(await reopened.outbox.get(outboxEntry(3).id), outboxEntry(3));
    assert.equal(await reopened.dedupe.has(BOB, message(BOB, 1, 1).id), true);
    assert.deepEqual(await reopened.directory.get(BOB), directoryEntry(BOB));
    await reopened.close();

    const secrets: Array<[string, Uint8Array | string]> = [
      ['signing seed', alice.signingSeed],
      ['identity DH private key', alice.dhPrivateKey],
      ['signed prekey private key', signed.privateKey],
      ['KEM secret key (a slice)', kem.secretKey.subarray(100, 164)],
      ['one-time prekey private key', oneTime[0]!.privateKey],
      ['contact name', 'Mallory Secretname'],
      ['message body', 'the eagle lands at midnight'],
      ['session snapshot', 'SESSION-SNAPSHOT-BYTES'],
    ];
    let values = 0;
    for (const concern of CONCERNS) {
      for (const [key, value] of await backend.entries(concern)) {
        values++;
        assert.equal(value[0], SEALED_FORMAT, `${concern}/${key} is sealed`);
        for (const [what, secret] of secrets)
          assert.equal(contains(value, secret), false, `${what} in ${concern}/${key}`);
      }
    }
    assert.ok(values >= 12, `${values} values`);
  });

  it('a value moved to another key, or changed on disk, is a StoreCorruptError naming where, caused by SealedValueError', async () => {
    const backend = new MemoryBackend();
    const store = await createMemoryStore({ backend, hook: new AtRestHook(nodeProvider, DATA_KEY) });
    await store.contacts.put(contact(ALICE, { name: 'Alice' }));
    await store.contacts.put(contact(BOB, { name: 'Bob' }));
    await store.close();
    const sealedAlice = (await backend.get('contacts', ALICE)) as Uint8Array;
    // Move Alice's record over Bob's: the bytes are authentic, but not at this key.
    await backend.batch([{ type: 'put', concern: 'contacts', key: BOB, value: sealedAlice }]);
    // Flip one ciphertext bit of Alice's own record.
    const flipped = sealedAlice.slice();
    flipped[flipped.length - 20] = (flipped[flipped.length - 20] as number) ^ 0x80;
    const moved: Array<[Concern, string, Uint8Array]> = [
      ['contacts', BOB, sealedAlice],
      ['contacts', ALICE, flipped],
    ];
    const reopened = await createMemoryStore({ backend, hook: new AtRestHook(nodeProvider, DATA_KEY) });
    for (const [concern, key, value] of moved) {
      await backend.batch([{ type: 'put', concern, key, value }]);
      await assert.rejects(
        reopened.contacts.get(key),
        (err: unknown) =>
          err instanceof StoreCorruptError &&
          err.concern === concern &&
          err.key === key &&
          err.cause instanceof SealedValueError,
      );
    }
    await reopened.close();
  });

  it('a store sealed under one data key does not open under another (the schema check fails first)', async () => {
    const backend = new MemoryBackend();
    await (await createMemoryStore({ backend, hook: new AtRestHook(nodeProvider, DATA_KEY) })).close();
    await assert.rejects(
      createMemoryStore({ backend, hook: new AtRestHook(nodeProvider, new Uint8Array(32).fill(9)) }),
      (err: unknown) => err instanceof StoreCorruptError && err.concern === 'meta' && err.key === 'schema',
    );
  });

  it('closing the store wipes the hook: a closed store cannot be used to decrypt', async () => {
    const hook = new AtRestHook(nodeProvider, DATA_KEY);
    const store = await createMemoryStore({ hook });
    const sealed = hook.seal(text('x'), { concern: 'meta', key: 'y' });
    await store.close();
    assert.throws(() => hook.open(sealed, { concern: 'meta', key: 'y' }));
  });
});
