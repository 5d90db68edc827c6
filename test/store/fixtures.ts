/** Deterministic values of every kind for the store tests. */
import { createHash } from 'node:crypto';
import {
  type CryptoEnv,
  createEnv,
  deterministicRng,
  generateIdentity,
  generateKemPrekey,
  generateOneTimePrekey,
  generateSignedPrekey,
  type IdentityKeyPair,
  type KemPrekey,
  manualClock,
  nodeProvider,
  type OneTimePrekey,
  type SignedPrekey,
  toHex,
} from '../../src/crypto/index.js';
import type { ContactRecord, DirectoryEntry, MessageRecord, OutboxEntry } from '../../src/store/index.js';

export function testEnv(seed: number): CryptoEnv {
  const s = new Uint8Array(createHash('sha256').update(`sotto-store-test:${seed}`).digest());
  return createEnv({ provider: nodeProvider, rng: deterministicRng(s), clock: manualClock(1_700_000_000_000) });
}

/** A deterministic lowercase hex string of `bytes` bytes. */
export function hexOf(label: string, bytes = 32): string {
  return createHash('sha256')
    .update(label)
    .digest('hex')
    .slice(0, bytes * 2);
}

export interface KeyFixtures {
  env: CryptoEnv;
  alice: IdentityKeyPair;
  bob: IdentityKeyPair;
  signed: SignedPrekey;
  kem: KemPrekey;
  oneTime: OneTimePrekey[];
}

let keys: KeyFixtures | undefined;

/** Alice, Bob, and Bob's prekeys (signed 1, KEM 2, one-time 100..102). Built once. */
export function keyFixtures(): KeyFixtures {
  if (keys === undefined) {
    const env = testEnv(1);
    const alice = generateIdentity(env);
    const bob = generateIdentity(env);
    keys = {
      env,
      alice,
      bob,
      signed: generateSignedPrekey(env, bob, 1),
      kem: generateKemPrekey(env, bob, 2),
      oneTime: [100, 101, 102].map((id) => generateOneTimePrekey(env, id)),
    };
  }
  return keys;
}

export const ALICE = hexOf('alice');
export const BOB = hexOf('bob');
export const CAROL = hexOf('carol');

export function contact(identityKey: string, overrides: Partial<ContactRecord> = {}): ContactRecord {
  return {
    identityKey,
    name: 'Zoë « ☃ »',
    address: `sotto1${identityKey.slice(0, 20)}`,
    verified: false,
    addedAt: 1_700_000_000_000,
    previousKeys: [],
    ...overrides,
  };
}

export function message(
  contactId: string,
  n: number,
  timestamp: number,
  overrides: Partial<MessageRecord> = {},
): MessageRecord {
  return {
    id: hexOf(`msg:${contactId}:${n}`, 16),
    contact: contactId,
    direction: n % 2 === 0 ? 'out' : 'in',
    timestamp,
    body: `message ${n} — ünïcödé 🐙`,
    state: n % 2 === 0 ? 'sent' : 'received',
    ...overrides,
  };
}

export function outboxEntry(n: number, overrides: Partial<OutboxEntry> = {}): OutboxEntry {
  return {
    id: hexOf(`out:${n}`, 16),
    recipient: BOB,
    ciphertext: Uint8Array.from({ length: 40 + n }, (_, i) => (i * 7 + n) & 0xff),
    state: 'queued',
    attempts: 0,
    nextAttemptAt: 1_700_000_000_000 + n * 1000,
    createdAt: 1_700_000_000_000 - n,
    ...overrides,
  };
}

export function directoryEntry(identity: string, fetchedAt = 1_700_000_000_500): DirectoryEntry {
  return { identity, record: Uint8Array.from({ length: 64 }, (_, i) => i), fetchedAt };
}

export { toHex };
