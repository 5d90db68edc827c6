/**
 * Random bytes for values that are public once written and must only be unique and unguessable
 * beforehand: the store's at-rest nonces (store/at-rest.ts) and the node's message ids. They are
 * drawn from the CSPRNG RANDOM_POOL_BYTES at a time and handed out in order.
 *
 * Why: libsodium's `randombytes_buf` makes one getrandom(2) system call per call (≈ 2.5 µs alone,
 * 4.6 µs on the message path here), and the store seals about nine values per message round trip
 * (sender and recipient together). One call per 4 KiB serves about 170 nonces: 10 calls and 46.5 µs
 * per round trip became about one call and 14 µs (hrtime around each call, two nodes in one
 * process, 1,000 messages).
 *
 * Rules:
 * - Never for secrets (keys, seeds, KEM randomness): those come from the provider directly, so no
 *   secret ever sits in a buffer waiting to be used.
 * - Every byte is handed out once: the offset only moves forward, and a fresh block replaces a used
 *   one. Handed-out bytes are wiped from the pool.
 * - A request above MAX_POOLED_REQUEST goes to the source directly.
 */
import { InvalidArgumentError } from './errors.js';

/** Bytes drawn from the source at a time (one system call for about 170 24-byte nonces). */
export const RANDOM_POOL_BYTES = 4096;
/** Largest request served from the pool; a larger one is drawn from the source on its own. */
export const MAX_POOLED_REQUEST = 64;

/** `source`, served from blocks of `poolBytes` (for non-secret values only: see the module comment). */
export function pooledRandom(
  source: (length: number) => Uint8Array,
  poolBytes: number = RANDOM_POOL_BYTES,
): (length: number) => Uint8Array {
  if (!Number.isSafeInteger(poolBytes) || poolBytes < MAX_POOLED_REQUEST) {
    throw new InvalidArgumentError(`poolBytes must be an integer ≥ ${MAX_POOLED_REQUEST}`);
  }
  let pool: Uint8Array = new Uint8Array(0);
  let offset = 0;
  return (length) => {
    if (!Number.isSafeInteger(length) || length < 0)
      throw new InvalidArgumentError('length must be a non-negative integer');
    if (length > MAX_POOLED_REQUEST) return source(length);
    if (offset + length > pool.length) {
      const block = source(poolBytes);
      if (!(block instanceof Uint8Array) || block.length !== poolBytes) {
        throw new InvalidArgumentError('the random source returned the wrong number of bytes');
      }
      pool.fill(0);
      pool = block;
      offset = 0;
    }
    const out = pool.slice(offset, offset + length);
    pool.fill(0, offset, offset + length);
    offset += length;
    return out;
  };
}
