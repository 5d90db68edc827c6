/**
 * An honest sender meets the receiver's per-peer envelope limit (protocols/message/SPEC.md §11):
 * Alice sends a backlog larger than Bob's bucket; the envelopes beyond it are answered UNAVAILABLE
 * `rate-limited`, stay in Alice's outbox (state `queued`), and her outbox retries deliver every one
 * of them, each exactly once, as the bucket refills. Bob's bucket is made small and put on a test
 * clock (no sleeps): the default (ENVELOPE_BURST = 1024) is larger than a test should send.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createNode, type SottoNode } from '../../src/index.js';
import { TokenBucketLimiter } from '../../src/protocols/common/rate-limit.js';
import type { MessageHandler } from '../../src/protocols/message/index.js';

/** Bob's bucket in this test. */
const BURST = 4;
const REFILL_MS = 1000;
/** Alice's backlog: more than three buckets. */
const BACKLOG = 3 * BURST + 2;
/** Retry rounds allowed (each refills one bucket): enough with room to spare, but bounded. */
const MAX_ROUNDS = 4 * Math.ceil(BACKLOG / BURST);

const dirs: string[] = [];
let alice: SottoNode;
let bob: SottoNode;
let clock = 0;

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sotto-msg-limit-'));
  dirs.push(dir);
  return dir;
}

before(async () => {
  bob = createNode({ dataDir: await dataDir(), net: { listen: ['/ip4/127.0.0.1/tcp/0'] } });
  await bob.start();
  const ma = bob.multiaddrs().find((m) => m.includes('/tcp/') && !m.includes('/ws')) as string;
  const bobAddr = ma.includes('/p2p/') ? ma : `${ma}/p2p/${bob.peerId}`;
  alice = createNode({ dataDir: await dataDir(), net: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [bobAddr] } });
  await alice.start();
  await bob.publishRecord();
  assert.equal((await alice.send(bob.address, 'hello')).state, 'delivered', 'session set up');
  // Bob's message handler gets a small bucket on the test's clock (the handler is private to the node)
  const handler = (bob as unknown as { handler: MessageHandler }).handler;
  Object.defineProperty(handler, 'limiter', {
    value: new TokenBucketLimiter({ capacity: BURST, refillIntervalMs: REFILL_MS, now: () => clock }),
  });
});

after(async () => {
  await Promise.allSettled([alice?.stop(), bob?.stop()]);
  await Promise.allSettled(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('an honest backlog larger than the receiver’s bucket', () => {
  it('is kept in the outbox when rate-limited and delivered by retries, each message once', async () => {
    const received: string[] = [];
    bob.on('message', (m) => received.push(m.text));
    const texts = Array.from({ length: BACKLOG }, (_, i) => `backlog ${i}`);
    // all at once, pipelined on Alice's stream to Bob
    const results = await Promise.all(texts.map((t) => alice.send(bob.address, t)));
    const delivered = results.filter((r) => r.state === 'delivered').length;
    assert.equal(delivered, BURST, 'one bucket’s worth got through');
    assert.equal(results.filter((r) => r.state === 'queued').length, BACKLOG - BURST, 'the rest was rate-limited');
    assert.equal((await alice.status()).outbox, BACKLOG - BURST, 'and stays in Alice’s outbox');
    assert.equal(received.length, BURST, 'Bob stored only what he acked');
    const handler = (bob as unknown as { handler: MessageHandler }).handler;
    assert.ok(handler.stats.rateLimited >= BACKLOG - BURST);

    let rounds = 0;
    while ((await alice.status()).outbox > 0) {
      assert.ok(rounds < MAX_ROUNDS, `delivered within ${MAX_ROUNDS} retry rounds`);
      rounds++;
      clock += BURST * REFILL_MS; // a full bucket again
      await alice.retryOutbox({ force: true });
    }
    assert.ok(rounds >= Math.ceil((BACKLOG - BURST) / BURST), 'it took several refills');
    assert.deepEqual([...received].sort(), [...texts].sort(), 'every message arrived exactly once');
    for (const r of results) {
      const [m] = (await alice.conversation(bob.address, { limit: 200 })).filter((x) => x.id === r.id);
      assert.equal(m?.state, 'delivered', `message ${r.id} is delivered`);
    }
  });
});
