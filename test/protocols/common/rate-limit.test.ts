// The per-peer token bucket every sotto protocol uses (src/protocols/common/rate-limit.ts), with an
// injected clock: no sleeps.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_MAX_TRACKED_KEYS, TokenBucketLimiter } from '../../../src/protocols/common/rate-limit.js';
import { CLAIM_BURST, CLAIM_REFILL_INTERVAL_MS } from '../../../src/protocols/prekeys/index.js';

describe('TokenBucketLimiter', () => {
  it(`a burst of capacity (the claim limit: ${CLAIM_BURST}), then one per refillIntervalMs`, () => {
    let now = 1000;
    const l = new TokenBucketLimiter({
      capacity: CLAIM_BURST,
      refillIntervalMs: CLAIM_REFILL_INTERVAL_MS,
      now: () => now,
    });
    assert.equal(l.maxKeys, DEFAULT_MAX_TRACKED_KEYS);
    for (let i = 0; i < CLAIM_BURST; i++) assert.deepEqual(l.take('a'), { ok: true });
    assert.deepEqual(l.take('a'), { ok: false, retryAfterMs: CLAIM_REFILL_INTERVAL_MS });
    now += CLAIM_REFILL_INTERVAL_MS / 2;
    assert.deepEqual(l.take('a'), { ok: false, retryAfterMs: CLAIM_REFILL_INTERVAL_MS / 2 });
    now += CLAIM_REFILL_INTERVAL_MS / 2;
    assert.deepEqual(l.take('a'), { ok: true });
    assert.equal(l.take('a').ok, false);
    assert.deepEqual(l.take('b'), { ok: true }, 'keys are independent');
  });

  it('refills to capacity and no further; refused takes cost nothing', () => {
    let now = 0;
    const l = new TokenBucketLimiter({ capacity: 3, refillIntervalMs: 100, now: () => now });
    for (let i = 0; i < 3; i++) assert.ok(l.take('a').ok);
    for (let i = 0; i < 50; i++) assert.equal(l.take('a').ok, false);
    now += 100;
    assert.ok(l.take('a').ok, 'hammering while empty did not push the refill back');
    now += 1e9;
    assert.equal(l.tokens('a'), 3);
    for (let i = 0; i < 3; i++) assert.ok(l.take('a').ok);
    assert.equal(l.take('a').ok, false);
  });

  it('a clock that goes backwards mints no tokens', () => {
    let now = 10_000;
    const l = new TokenBucketLimiter({ capacity: 1, refillIntervalMs: 100, now: () => now });
    assert.ok(l.take('a').ok);
    now = 0;
    assert.equal(l.take('a').ok, false);
    now = 10_050;
    assert.equal(l.take('a').ok, false);
    now = 10_100;
    assert.ok(l.take('a').ok);
  });

  it('tracks at most maxKeys, forgetting the least recently used', () => {
    const l = new TokenBucketLimiter({ capacity: 1, refillIntervalMs: 1e9, maxKeys: 3, now: () => 0 });
    for (const k of ['a', 'b', 'c']) assert.ok(l.take(k).ok);
    assert.equal(l.take('a').ok, false); // a is now the most recent
    assert.ok(l.take('d').ok); // evicts b
    assert.equal(l.size, 3);
    assert.equal(l.take('a').ok, false, 'a kept its empty bucket');
    assert.equal(l.take('c').ok, false, 'c kept its empty bucket');
  });

  it('rejects nonsense settings', () => {
    assert.throws(() => new TokenBucketLimiter({ capacity: 0, refillIntervalMs: 1 }), RangeError);
    assert.throws(() => new TokenBucketLimiter({ capacity: 1, refillIntervalMs: 0 }), RangeError);
    assert.throws(() => new TokenBucketLimiter({ capacity: 1, refillIntervalMs: 1, maxKeys: 0 }), RangeError);
  });
});
