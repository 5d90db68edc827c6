/**
 * The contract between the crypto benchmark harness (scripts/bench/crypto.ts) and each
 * implementation under test. Everything may be sync or async: libsignal's API is async (its store
 * callbacks are), olm and sotto are sync. The harness only awaits values that are promises, so a
 * sync target pays no microtask per call.
 */

export type Awaitable<T> = T | Promise<T>;

/** A target's wire message, opaque to the harness (bytes, an object carrying a type tag, ...). */
export type Ciphertext = unknown;

export interface BenchTarget {
  /** Stable key for JSON output, e.g. 'libsignal', 'olm', 'sotto-node'. */
  readonly id: string;
  /** Row label, e.g. 'libsignal-client 0.103.0'. */
  readonly name: string;
  /** Library version as read from its package.json. */
  readonly version: string;
  /** Whether the handshake includes a post-quantum KEM. */
  readonly pq: boolean;
  /** What the timed steps include, printed under the tables. */
  readonly notes: readonly string[];
  /** Load modules / WASM. A rejection marks the target unavailable; the other targets still run. */
  init?(): Promise<void>;
  /**
   * Untimed setup of one handshake: fresh long-term identities for both parties, the responder's
   * published prekeys (signed prekey, KEM prekey, one-time prekey) and the bundle the initiator
   * would fetch.
   */
  setupHandshake(): Awaitable<Handshake>;
}

/** One handshake, in three separately timed steps. Call them in order, once each. */
export interface Handshake {
  /** Initiator processes the responder's bundle: signature checks, DHs, KEM encapsulation. */
  initiate(): Awaitable<void>;
  /** Initiator encrypts the first message (a prekey message). */
  encryptFirst(plaintext: Uint8Array): Awaitable<Ciphertext>;
  /** Responder processes the prekey message (DHs, KEM decapsulation) and decrypts it. */
  respond(ciphertext: Ciphertext): Awaitable<Uint8Array>;
  /** The two sessions after `respond`. The initiator has not yet received anything. */
  pair(): Pair;
  /** Frees resources if the handshake is abandoned before `pair()` (olm's WASM heap). */
  dispose?(): void;
}

/** An established pair of sessions: A is the initiator, B the responder. */
export interface Pair {
  encryptAtoB(plaintext: Uint8Array): Awaitable<Ciphertext>;
  decryptAtB(ciphertext: Ciphertext): Awaitable<Uint8Array>;
  encryptBtoA(plaintext: Uint8Array): Awaitable<Ciphertext>;
  decryptAtA(ciphertext: Ciphertext): Awaitable<Uint8Array>;
  /** Serialized session size in bytes (libsignal: SessionRecord.serialize(); olm: pickle; sotto: snapshot()). */
  sessionSizeA(): Awaitable<number>;
  sessionSizeB(): Awaitable<number>;
  /** Wire size of a message in bytes, or NaN when it cannot be determined. */
  ciphertextSize(ciphertext: Ciphertext): number;
  /** Frees resources (olm's WASM heap). */
  dispose?(): void;
}

export function isPromise<T>(value: Awaitable<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/** Applies `f` to a value that may or may not be a promise, without adding a microtask when it is not. */
export function mapAwaitable<T, U>(value: Awaitable<T>, f: (v: T) => U): Awaitable<U> {
  return isPromise(value) ? value.then(f) : f(value);
}
