/**
 * The environment every engine function takes: the provider, the RNG and the clock. Nothing in
 * the protocol code reaches for `Date.now()` or a global RNG, so a test can make any transcript
 * deterministic by passing `deterministicRng(seed)` and a fixed clock.
 */
import { chacha20 } from '@noble/ciphers/chacha.js';
import { checkBytes } from './bytes.js';
import { InvalidArgumentError } from './errors.js';
import type { CryptoProvider } from './provider.js';
import { nodeProvider } from './provider-node.js';

/** Returns `length` random bytes. */
export type Rng = (length: number) => Uint8Array;
/** Milliseconds since the Unix epoch. */
export type Clock = () => number;

export interface CryptoEnv {
  readonly provider: CryptoProvider;
  readonly rng: Rng;
  readonly now: Clock;
  /**
   * True when `rng` was supplied by the caller. Then every random value, including ML-KEM
   * encapsulation randomness, comes from it; otherwise the provider may draw KEM randomness from
   * its own CSPRNG (which lets it use a faster implementation without a derandomized API).
   */
  readonly rngInjected: boolean;
}

export interface CryptoEnvOptions {
  /** Default: `nodeProvider`. */
  provider?: CryptoProvider;
  /** Default: the provider's platform CSPRNG. */
  rng?: Rng;
  /** Default: `Date.now`. */
  clock?: Clock;
}

export function createEnv(options: CryptoEnvOptions = {}): CryptoEnv {
  const provider = options.provider ?? nodeProvider;
  const rng = options.rng ?? ((n: number) => provider.randomBytes(n));
  const now = options.clock ?? Date.now;
  return { provider, rng, now, rngInjected: options.rng !== undefined };
}

/**
 * A deterministic byte stream (ChaCha20 keystream under a 32-byte seed) for tests, golden
 * transcripts and benchmarks that must repeat. Never use it for real keys.
 */
export function deterministicRng(seed: Uint8Array): Rng {
  checkBytes('RNG seed', seed, 32);
  const key = seed.slice();
  let counter = 0;
  return (length: number) => {
    if (!Number.isInteger(length) || length < 0) throw new InvalidArgumentError('invalid RNG length');
    const nonce = new Uint8Array(12);
    new DataView(nonce.buffer).setUint32(8, counter);
    counter += 1;
    return chacha20(key, nonce, new Uint8Array(length));
  };
}

/** A clock that returns a settable time; for tests. */
export function manualClock(start = 0): Clock & { set(ms: number): void; advance(ms: number): void } {
  let t = start;
  const clock = (() => t) as Clock & { set(ms: number): void; advance(ms: number): void };
  clock.set = (ms: number) => {
    t = ms;
  };
  clock.advance = (ms: number) => {
    t += ms;
  };
  return clock;
}
