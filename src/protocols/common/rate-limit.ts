/**
 * The per-peer token bucket every sotto protocol uses for its rate limits (message SPEC §11,
 * prekeys SPEC §6, mailbox SPEC §7, and the node's own limits): a bucket per key (the requester's
 * peer id string), refilled continuously, with a bounded number of tracked keys (least recently
 * used forgotten first). The clock is injected so that tests never sleep.
 */

/**
 * Keys a limiter tracks unless told otherwise: beyond this the least recently used bucket is
 * forgotten (rule: bounded memory under many peer ids; a forgotten peer comes back with a full bucket).
 */
export const DEFAULT_MAX_TRACKED_KEYS = 10_000;

export interface TokenBucketInit {
  /** Tokens a new or fully rested key holds (the burst). */
  capacity: number;
  /** Milliseconds to regain one token (the sustained rate is 1000 / refillIntervalMs per second). */
  refillIntervalMs: number;
  /** Keys tracked at most; default DEFAULT_MAX_TRACKED_KEYS. */
  maxKeys?: number;
  /** Milliseconds clock (monotonic preferred); default `performance.now`. */
  now?: () => number;
}

/** The outcome of `take`: allowed, or refused with the ms until one token is back. */
export type TakeResult = { ok: true } | { ok: false; retryAfterMs: number };

interface Bucket {
  tokens: number;
  at: number;
}

export class TokenBucketLimiter {
  readonly capacity: number;
  readonly refillIntervalMs: number;
  readonly maxKeys: number;
  private readonly now: () => number;
  /** Insertion order = recency order: a used key is moved to the end. */
  private readonly buckets = new Map<string, Bucket>();

  constructor(init: TokenBucketInit) {
    this.capacity = init.capacity;
    this.refillIntervalMs = init.refillIntervalMs;
    this.maxKeys = init.maxKeys ?? DEFAULT_MAX_TRACKED_KEYS;
    this.now = init.now ?? (() => performance.now());
    if (!(this.capacity >= 1) || !(this.refillIntervalMs > 0) || !(this.maxKeys >= 1)) {
      throw new RangeError('token bucket needs capacity ≥ 1, refillIntervalMs > 0, maxKeys ≥ 1');
    }
  }

  /** Takes one token for `key` if it has one. */
  take(key: string): TakeResult {
    const now = this.now();
    const bucket = this.refill(key, now);
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    if (this.buckets.size > this.maxKeys) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterMs: Math.ceil((1 - bucket.tokens) * this.refillIntervalMs) };
  }

  /** Tokens `key` holds now (for metrics and tests). */
  tokens(key: string): number {
    return this.buckets.has(key) ? this.refill(key, this.now()).tokens : this.capacity;
  }

  /** Keys currently tracked. */
  get size(): number {
    return this.buckets.size;
  }

  private refill(key: string, now: number): Bucket {
    const bucket = this.buckets.get(key);
    if (bucket == null) return { tokens: this.capacity, at: now };
    const elapsed = Math.max(0, now - bucket.at); // a clock that goes back never mints tokens
    bucket.tokens = Math.min(this.capacity, bucket.tokens + elapsed / this.refillIntervalMs);
    bucket.at = Math.max(bucket.at, now);
    return bucket;
  }
}
