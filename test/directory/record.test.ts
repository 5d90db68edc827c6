import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createEnv,
  deterministicRng,
  generateIdentity,
  generateKemPrekey,
  generateSignedPrekey,
  initiateSession,
  MemoryPrekeyStore,
  nodeProvider,
  respondToSession,
} from '../../src/crypto/index.js';
import { DirectoryError } from '../../src/directory/errors.js';
import {
  bundleFromRecord,
  checkNotRolledBack,
  createIdentityRecord,
  decodeIdentityRecord,
  encodeIdentityRecord,
  MAX_RECORD_BYTES,
  recordKey,
  selectIdentityRecord,
  validateRecordBytes,
} from '../../src/directory/record.js';
import { createDeviceBinding, verifyDeviceBinding } from '../../src/identity/device-binding.js';
import { BadDeviceBindingError } from '../../src/identity/errors.js';

const NOW = Date.UTC(2026, 10, 26, 12);
const HOUR = 60 * 60 * 1000;
const env = createEnv({ rng: deterministicRng(new Uint8Array(32).fill(9)), clock: () => NOW });
const p = env.provider;
const bob = generateIdentity(env);
const spk = generateSignedPrekey(env, bob, 1);
const kem = generateKemPrekey(env, bob, 2);
const peerId = new Uint8Array(38).fill(0x24);

function record(sequence: number, overrides: Partial<Parameters<typeof createIdentityRecord>[2]> = {}) {
  return createIdentityRecord(env, bob, {
    signedPrekey: { id: spk.id, publicKey: spk.publicKey, signature: spk.signature },
    kemPrekey: { id: kem.id, publicKey: kem.publicKey, signature: kem.signature },
    devices: [createDeviceBinding(p, bob, peerId, NOW)],
    mailboxes: [],
    sequence,
    expiresAt: NOW + 24 * HOUR,
    ...overrides,
  });
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DirectoryError, `expected DirectoryError, got ${String(err)}`);
    return err.code;
  }
  assert.fail('accepted');
}

const key = recordKey(bob.signingKey);

describe('identity records', () => {
  it('encode → decode → validate round trip; usable as a PQXDH bundle', () => {
    const bytes = encodeIdentityRecord(record(1));
    assert.ok(bytes.length < MAX_RECORD_BYTES);
    assert.deepEqual(encodeIdentityRecord(decodeIdentityRecord(bytes)), bytes);
    const r = validateRecordBytes(p, key, bytes, NOW);
    const alice = generateIdentity(env);
    const store = new MemoryPrekeyStore();
    store.addSignedPrekey(spk);
    store.addKemPrekey(kem);
    const ctx = { initiator: 'a', responder: 'b' };
    const a = initiateSession(env, { identity: alice, bundle: bundleFromRecord(r), context: ctx });
    const got = respondToSession(env, {
      identity: bob,
      prekeys: store,
      message: a.encrypt(Uint8Array.of(7)),
      context: ctx,
    });
    assert.deepEqual(got.plaintext, Uint8Array.of(7));
  });

  it('every bit flip of a record is rejected (signature, structure or key checks)', () => {
    const bytes = encodeIdentityRecord(record(1));
    let rejected = 0;
    // Every bit of everything except the 1184-byte KEM key, where one bit per byte is flipped.
    const kemStart = 1 + 32 + 32 + 64 + 4 + 32 + 64 + 4;
    for (let bit = 0; bit < bytes.length * 8; bit++) {
      const byte = bit >> 3;
      if (byte >= kemStart && byte < kemStart + 1184 && (bit & 7) !== 0) continue;
      const m = bytes.slice();
      m[byte] = (m[byte] as number) ^ (1 << (bit & 7));
      assert.ok(code(() => validateRecordBytes(p, key, m, NOW)).length > 0);
      rejected++;
    }
    console.log(`# record mutants rejected: ${rejected}`);
  });

  it('reject: wrong DHT key, expired, too far in the future, oversized, truncated, unknown version', () => {
    const bytes = encodeIdentityRecord(record(1));
    const other = generateIdentity(env);
    assert.equal(
      code(() => validateRecordBytes(p, recordKey(other.signingKey), bytes, NOW)),
      'RECORD_KEY_MISMATCH',
    );
    assert.equal(
      code(() => validateRecordBytes(p, key, bytes, NOW + 48 * HOUR)),
      'RECORD_EXPIRED',
    );
    const far = encodeIdentityRecord(record(1, { expiresAt: NOW + 30 * 24 * HOUR }));
    assert.equal(
      code(() => validateRecordBytes(p, key, far, NOW)),
      'MALFORMED_RECORD',
    );
    assert.equal(
      code(() => validateRecordBytes(p, key, new Uint8Array(MAX_RECORD_BYTES + 1), NOW)),
      'RECORD_TOO_LARGE',
    );
    assert.equal(
      code(() => validateRecordBytes(p, key, bytes.subarray(0, bytes.length - 1), NOW)),
      'MALFORMED_RECORD',
    );
    const v2 = bytes.slice();
    v2[0] = 2;
    assert.equal(
      code(() => validateRecordBytes(p, key, v2, NOW)),
      'UNSUPPORTED_RECORD_VERSION',
    );
  });

  it('reject a record re-signed by another identity over this identity’s keys (swapped keys)', () => {
    const mallory = generateIdentity(env);
    const forged = createIdentityRecord(env, mallory, {
      signedPrekey: { id: spk.id, publicKey: spk.publicKey, signature: spk.signature },
      kemPrekey: { id: kem.id, publicKey: kem.publicKey, signature: kem.signature },
      devices: [],
      mailboxes: [],
      sequence: 9,
      expiresAt: NOW + HOUR,
    });
    // Under Mallory's own key: Bob's prekey signatures do not verify for her.
    const bytes = encodeIdentityRecord(forged);
    assert.equal(
      code(() => validateRecordBytes(p, recordKey(mallory.signingKey), bytes, NOW)),
      'BAD_RECORD_SIGNATURE',
    );
    // Under Bob's key: the key names another identity.
    assert.equal(
      code(() => validateRecordBytes(p, key, bytes, NOW)),
      'RECORD_KEY_MISMATCH',
    );
  });

  it('selector keeps the highest valid sequence; invalid records never win', () => {
    const r1 = encodeIdentityRecord(record(1));
    const r5 = encodeIdentityRecord(record(5));
    const r3 = encodeIdentityRecord(record(3));
    const bad = r5.slice();
    bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 1;
    const expired = encodeIdentityRecord(record(9, { expiresAt: NOW - 2 * HOUR }));
    assert.equal(selectIdentityRecord(p, key, [r1, r5, r3], NOW), 1);
    assert.equal(selectIdentityRecord(p, key, [r3, bad, expired, r1], NOW), 0);
    assert.equal(selectIdentityRecord(p, key, [bad, r1], NOW), 1);
  });

  it('rollback protection refuses an older sequence than the highest seen', () => {
    const r = decodeIdentityRecord(encodeIdentityRecord(record(3)));
    assert.equal(checkNotRolledBack(r, undefined), r);
    assert.equal(checkNotRolledBack(r, 3), r);
    assert.equal(
      code(() => checkNotRolledBack(r, 4)),
      'RECORD_ROLLBACK',
    );
  });

  it('device bindings verify for their identity and peer id only', () => {
    const b = createDeviceBinding(nodeProvider, bob, peerId, NOW);
    verifyDeviceBinding(nodeProvider, bob.signingKey, b);
    const other = generateIdentity(env);
    assert.throws(() => verifyDeviceBinding(nodeProvider, other.signingKey, b), BadDeviceBindingError);
    const moved = { ...b, peerId: new Uint8Array(38).fill(0x25) };
    assert.throws(() => verifyDeviceBinding(nodeProvider, bob.signingKey, moved), BadDeviceBindingError);
  });
});
