/** Shared helpers for the crypto tests: deterministic environments, an established pair, text. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  type Clock,
  type CryptoEnv,
  type CryptoProvider,
  createEnv,
  deterministicRng,
  generateIdentity,
  generatePrekeys,
  type IdentityKeyPair,
  initiateSession,
  type MemoryPrekeyStore,
  manualClock,
  nodeProvider,
  type PrekeyBundle,
  respondToSession,
  type Session,
  SottoCryptoError,
  type SottoCryptoErrorCode,
} from '../../src/crypto/index.js';

/** The transport context both sides bind into the associated data. */
export const CONTEXT = Object.freeze({ initiator: 'peer-alice', responder: 'peer-bob' });

/** A 32-byte RNG seed derived from a number (SHA-256 of its decimal form). */
export function seedFrom(n: number): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`sotto-test-seed:${n}`).digest());
}

/** A deterministic env: ChaCha20 RNG seeded from `seed`, a manual clock (default 1.7e12 ms). */
export function testEnv(seed: number, provider: CryptoProvider = nodeProvider, clock?: Clock): CryptoEnv {
  return createEnv({ provider, rng: deterministicRng(seedFrom(seed)), clock: clock ?? manualClock(1_700_000_000_000) });
}

export const text = (s: string): Uint8Array => new TextEncoder().encode(s);
export const str = (b: Uint8Array): string => new TextDecoder().decode(b);

export interface Parties {
  alice: IdentityKeyPair;
  bob: IdentityKeyPair;
  bundle: PrekeyBundle;
  store: MemoryPrekeyStore;
}

/** Alice's and Bob's identities and Bob's published bundle (with one-time prekey 100). */
export function makeParties(env: CryptoEnv): Parties {
  const alice = generateIdentity(env);
  const bob = generateIdentity(env);
  const { bundle, store } = generatePrekeys(env, bob, { signedPrekeyId: 1, kemPrekeyId: 2, oneTimePrekeyIds: [100] });
  return { alice, bob, bundle, store };
}

export interface Pair extends Parties {
  aliceSession: Session;
  bobSession: Session;
  /** The handshake (prekey) message that created Bob's session, and its plaintext. */
  first: Uint8Array;
  firstPlaintext: Uint8Array;
}

/** Alice initiates, Bob responds to her first message and removes the one-time prekey it used. */
export function establishedPair(env: CryptoEnv, bobEnv: CryptoEnv = env): Pair {
  const parties = makeParties(env);
  const aliceSession = initiateSession(env, { identity: parties.alice, bundle: parties.bundle, context: CONTEXT });
  const firstPlaintext = text('hello bob, this is the first message');
  const first = aliceSession.encrypt(firstPlaintext);
  const res = respondToSession(bobEnv, {
    identity: parties.bob,
    prekeys: parties.store,
    message: first,
    context: CONTEXT,
  });
  assert.deepEqual(res.plaintext, firstPlaintext);
  if (res.usedOneTimePrekeyId !== undefined) parties.store.removeOneTimePrekey(res.usedOneTimePrekeyId);
  return { ...parties, aliceSession, bobSession: res.session, first, firstPlaintext };
}

/**
 * Runs `fn`, which must throw a SottoCryptoError (optionally with one of `codes`); returns it.
 * Every error goes to `sink` when given (the secrets-in-errors check reads them).
 */
export function expectCryptoError(
  fn: () => unknown,
  codes?: readonly SottoCryptoErrorCode[],
  sink?: unknown[],
): SottoCryptoError {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  if (thrown === undefined)
    assert.fail(`expected a SottoCryptoError${codes ? ` (${codes.join('|')})` : ''}, got success`);
  sink?.push(thrown);
  if (!(thrown instanceof SottoCryptoError)) throw thrown;
  if (codes !== undefined) {
    assert.ok(codes.includes(thrown.code), `expected ${codes.join('|')}, got ${thrown.code}: ${thrown.message}`);
  }
  return thrown;
}

/** The error of `fn` if it throws a SottoCryptoError, `undefined` if it succeeds; rethrows anything else. */
export function cryptoErrorOf(fn: () => unknown): SottoCryptoError | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (err instanceof SottoCryptoError) return err;
    throw err;
  }
}
