/**
 * Stored message keys of skipped messages (Double Ratchet §3.2 MKSKIPPED), bounded by
 * MAX_SKIPPED_KEYS and SKIPPED_KEY_MAX_AGE_MS. Entries are kept in insertion order, which is
 * age order, so eviction and expiry drop from the front.
 */
import { toHex } from '../bytes.js';
import { MAX_SKIPPED_KEYS, SKIPPED_KEY_MAX_AGE_MS } from '../constants.js';

export interface SkippedKey {
  /** The sender's ratchet public key of the chain. */
  readonly dh: Uint8Array;
  readonly n: number;
  /** Message-key seed (the chain's HMAC output for this message). */
  readonly seed: Uint8Array;
  /** When it was stored, by the session's clock (ms). */
  readonly storedAt: number;
}

const keyOf = (dh: Uint8Array, n: number): string => `${toHex(dh)}:${n}`;

export class SkippedKeys {
  private readonly entries: Map<string, SkippedKey>;

  constructor(entries: Iterable<SkippedKey> = []) {
    this.entries = new Map();
    for (const e of entries) this.entries.set(keyOf(e.dh, e.n), e);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Live entry for (dh, n), ignoring expired ones. */
  find(dh: Uint8Array, n: number, now: number): SkippedKey | undefined {
    const e = this.entries.get(keyOf(dh, n));
    if (e === undefined || isExpired(e, now)) return undefined;
    return e;
  }

  /** In age order (oldest first): the order snapshots store them in. */
  list(): SkippedKey[] {
    return [...this.entries.values()];
  }

  /**
   * Applies a successful decrypt: removes the used key, adds newly skipped ones, drops expired
   * entries, then evicts the oldest beyond the cap. Returns how many were evicted by the cap.
   */
  commit(used: { dh: Uint8Array; n: number } | undefined, added: SkippedKey[], now: number): number {
    if (used) {
      const k = keyOf(used.dh, used.n);
      this.entries.get(k)?.seed.fill(0);
      this.entries.delete(k);
    }
    for (const e of added) this.entries.set(keyOf(e.dh, e.n), e);
    // Entries are in insertion order, which is age order: expired ones are at the front. (If the
    // clock ever went backwards, a later expired entry is still ignored by `find` and goes next time.)
    for (const [k, e] of this.entries) {
      if (!isExpired(e, now)) break;
      e.seed.fill(0);
      this.entries.delete(k);
    }
    let evicted = 0;
    for (const [k, e] of this.entries) {
      if (this.entries.size <= MAX_SKIPPED_KEYS) break;
      e.seed.fill(0);
      this.entries.delete(k);
      evicted++;
    }
    return evicted;
  }
}

function isExpired(e: SkippedKey, now: number): boolean {
  return now - e.storedAt > SKIPPED_KEY_MAX_AGE_MS;
}
