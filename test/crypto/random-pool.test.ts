/**
 * The pooled random source for public values (src/crypto/random-pool.ts): bytes come from the
 * source in order and each only once, a block is drawn only when the last one is used up, large
 * requests bypass the pool, handed-out bytes are wiped from it, and bad sources or lengths are refused.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError, nodeProvider, toHex } from '../../src/crypto/index.js';
import { MAX_POOLED_REQUEST, pooledRandom, RANDOM_POOL_BYTES } from '../../src/crypto/random-pool.js';

/** A source that counts up from 1 (mod 256) across calls, and records what it was asked for. */
function countingSource(): { source: (n: number) => Uint8Array; calls: number[]; blocks: Uint8Array[] } {
  let next = 1;
  const calls: number[] = [];
  const blocks: Uint8Array[] = [];
  const source = (n: number): Uint8Array => {
    calls.push(n);
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = next++ & 0xff;
    blocks.push(out);
    return out;
  };
  return { source, calls, blocks };
}

describe('pooledRandom', () => {
  it('hands out one block in order, then draws the next only when the request does not fit', () => {
    const { source, calls } = countingSource();
    const rng = pooledRandom(source, 64);
    assert.deepEqual(
      [...rng(24)],
      Array.from({ length: 24 }, (_, i) => i + 1),
    );
    assert.deepEqual(
      [...rng(24)],
      Array.from({ length: 24 }, (_, i) => i + 25),
    );
    assert.deepEqual(calls, [64], 'one block so far');
    // 16 bytes are left in the block: a 24-byte request takes a fresh one (bytes 65…88)
    assert.deepEqual(
      [...rng(24)],
      Array.from({ length: 24 }, (_, i) => i + 65),
    );
    assert.deepEqual(calls, [64, 64]);
    assert.deepEqual([...rng(0)], []);
  });

  it('never hands out a byte twice', () => {
    // a source whose 4-byte words are all distinct: each stamped with its block and position
    let block = 0;
    const stamped = (n: number): Uint8Array => {
      const out = new Uint8Array(n);
      const view = new DataView(out.buffer);
      for (let i = 0; i + 4 <= n; i += 4) view.setUint32(i, block * n + i);
      block++;
      return out;
    };
    const rng = pooledRandom(stamped, 256);
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const nonce = rng(24);
      assert.equal(nonce.length, 24);
      const id = toHex(nonce);
      assert.ok(!seen.has(id), `value ${i} repeated`);
      seen.add(id);
    }
  });

  it('sends a request above MAX_POOLED_REQUEST straight to the source', () => {
    const { source, calls } = countingSource();
    const rng = pooledRandom(source);
    assert.equal(rng(MAX_POOLED_REQUEST + 1).length, MAX_POOLED_REQUEST + 1);
    assert.deepEqual(calls, [MAX_POOLED_REQUEST + 1]);
    assert.equal(rng(MAX_POOLED_REQUEST).length, MAX_POOLED_REQUEST);
    assert.deepEqual(calls, [MAX_POOLED_REQUEST + 1, RANDOM_POOL_BYTES]);
  });

  it('wipes what it hands out, and a used-up block', () => {
    const { source, blocks } = countingSource();
    const rng = pooledRandom(source, 64);
    const first = rng(24);
    const block = blocks[0] as Uint8Array;
    assert.notDeepEqual([...first], new Array(24).fill(0));
    assert.deepEqual([...block.subarray(0, 24)], new Array(24).fill(0), 'handed-out bytes are gone from the pool');
    assert.notDeepEqual([...block.subarray(24)], new Array(40).fill(0), 'the rest is still there');
    rng(24);
    rng(24); // takes a new block
    assert.deepEqual([...block], new Array(64).fill(0), 'the old block is wiped');
  });

  it('refuses a source that returns the wrong length, and bad lengths', () => {
    const rng = pooledRandom(() => new Uint8Array(10), 64);
    assert.throws(() => rng(8), InvalidArgumentError);
    const ok = pooledRandom(countingSource().source, 64);
    for (const bad of [-1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1])
      assert.throws(() => ok(bad), InvalidArgumentError);
    assert.throws(() => pooledRandom(countingSource().source, MAX_POOLED_REQUEST - 1), InvalidArgumentError);
  });

  it('on the node provider: 20,000 nonces, all distinct', () => {
    const rng = pooledRandom((n) => nodeProvider.randomBytes(n));
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) seen.add(toHex(rng(24)));
    assert.equal(seen.size, 20_000);
  });
});
