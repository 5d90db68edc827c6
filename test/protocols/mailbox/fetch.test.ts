// /sotto/mailbox/1.0.0 between real libp2p nodes on 127.0.0.1: fetch and delete-on-ack in batches,
// oldest first; leaving without an ack deletes nothing; the signature is bound to the stream, the
// mailbox and the client peer (forged / replayed / other peer → UNAUTHORIZED, nothing deleted); an
// identity that is not served; a third party's Ack; corrupt entries; the per-stream cap; storage
// failures; and the per-peer rate limit.
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import type { Libp2p } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';
import {
  FETCH_BURST,
  FETCH_REFILL_INTERVAL_MS,
  type FetchOptions,
  fetchMailbox,
  type InvalidEntry,
  MAX_BATCH_BYTES,
  MAX_BATCH_ENVELOPES,
  MAX_UPLOAD_PREKEYS,
  RateLimitedError,
  type StreamResetDetail,
  UnauthorizedError,
  UnavailableError,
  UnknownIdentityError,
} from '../../../src/protocols/mailbox/index.js';
import { type Envelope, encodeEnvelope, type WireEnvelope } from '../../../src/protocols/message/index.js';
import { plainEnvelope } from '../message/helpers.js';
import {
  createMailboxNode,
  createPlainNode,
  equal,
  hex,
  type MailboxNode,
  MemoryMailboxStorage,
  makeEnvelope,
  makeIdentity,
  nextSession,
  okEntries,
  rawSession,
  type TestIdentity,
  u8,
  waitFor,
} from './helpers.js';

const T = 5000;

describe('/sotto/mailbox/1.0.0 between libp2p nodes on 127.0.0.1', () => {
  let server: MailboxNode;
  let client: Libp2p;
  let addr: Multiaddr;
  let clock = 0;
  const storage = new MemoryMailboxStorage();
  const resets: StreamResetDetail[] = [];
  const alice = makeIdentity();
  const bob = makeIdentity();
  const mallory = makeIdentity();
  const carol = makeIdentity(); // not served

  before(async () => {
    for (const who of [alice, bob, mallory]) storage.serve(who.key);
    server = await createMailboxNode({ storage, rateLimit: { now: () => clock } });
    server.services.mailbox.addEventListener('reset', (evt) => {
      resets.push((evt as CustomEvent<StreamResetDetail>).detail);
    });
    client = await createPlainNode();
    const first = server.getMultiaddrs()[0];
    assert.ok(first, 'server listens');
    addr = first;
  });

  after(async () => {
    await Promise.allSettled([client?.stop(), server?.stop()]);
  });

  beforeEach(() => {
    clock += 1e9; // every test starts with a full bucket; time moves only when a test moves it
    storage.clear();
  });

  afterEach(async () => {
    // no session of one test may end inside the next one
    const stats = server.services.mailbox.stats;
    await waitFor(() => stats.ended === stats.streams, T, 'every mailbox stream to end');
  });

  /** fetchMailbox as `who` from `client`, collecting every onBatch call. */
  async function fetch(who: TestIdentity, overrides: Partial<FetchOptions> = {}, from: Libp2p = client) {
    const batches: WireEnvelope[][] = [];
    const result = await fetchMailbox(from, addr, {
      identity: who.key,
      sign: who.sign,
      localPeer: from.peerId,
      onBatch: async (envelopes) => {
        batches.push(envelopes);
      },
      timeout: T,
      ...overrides,
    });
    return { ...result, got: batches };
  }

  function deposit(who: TestIdentity, n: number, bodyBytes?: number): Envelope[] {
    return Array.from({ length: n }, () => storage.deposit(makeEnvelope(who.key, bodyBytes)));
  }

  it('an empty mailbox: no batch, fetched 0, remaining 0', async () => {
    const ended = nextSession(server);
    const r = await fetch(alice);
    assert.deepEqual(
      { fetched: r.fetched, batches: r.batches, invalid: r.invalid, remaining: r.remaining },
      { fetched: 0, batches: 0, invalid: 0, remaining: 0 },
    );
    assert.equal(r.got.length, 0, 'onBatch never called');
    const detail = await ended;
    assert.equal(detail.outcome, 'OK');
    assert.equal(detail.batches, 0);
  });

  it('one-time prekeys ride on the Auth: stored for the identity only after the signature verifies', async () => {
    const upload = Array.from({ length: MAX_UPLOAD_PREKEYS }, (_, i) => ({
      id: 100 + i,
      publicKey: new Uint8Array(32).fill(i + 1),
    }));
    const r = await fetch(alice, { upload });
    assert.equal(r.prekeys, MAX_UPLOAD_PREKEYS, 'the mailbox reports what it holds');
    assert.equal(storage.prekeys.get(hex(alice.key))?.get(105)?.[0], 6);
    // again: ids it holds are kept, the cap holds, the count is reported without an upload
    const again = await fetch(alice, { upload });
    assert.equal(again.prekeys, MAX_UPLOAD_PREKEYS);
    assert.equal((await fetch(alice)).prekeys, MAX_UPLOAD_PREKEYS);
    // a forged signature uploads nothing
    await assert.rejects(
      fetch(bob, { upload, sign: () => new Uint8Array(64).fill(7) }),
      (err: Error) => err.name === 'UnauthorizedError',
    );
    assert.equal(storage.prekeys.get(hex(bob.key)), undefined);
    // more than MAX_UPLOAD_PREKEYS never leaves the client
    await assert.rejects(
      fetch(alice, { upload: [...upload, { id: 1, publicKey: new Uint8Array(32) }] }),
      (err: Error) => err.name === 'TooManyPrekeysError',
    );
  });

  it('one envelope: fetched, validated, acked and deleted', async () => {
    const [sent] = deposit(alice, 1);
    assert.ok(sent);
    const ended = nextSession(server);
    const r = await fetch(alice);
    assert.equal(r.fetched, 1);
    assert.equal(r.batches, 1);
    const got = plainEnvelope(r.got[0]?.[0]);
    assert.ok(equal(got.id, sent.id) && equal(got.body, sent.body) && equal(got.recipient, alice.key));
    assert.equal(got.timestamp, sent.timestamp);
    assert.deepEqual(storage.ids(alice.key), [], 'deleted after the ack');
    assert.equal((await ended).deleted, 1);
  });

  it('150 envelopes: three batches (64, 64, 22), oldest first, all acked and deleted', async () => {
    const sent = deposit(alice, 150);
    const stats = server.services.mailbox.stats;
    const deletedBefore = stats.deleted;
    const r = await fetch(alice);
    assert.equal(r.fetched, 150);
    assert.equal(r.batches, 3);
    assert.equal(r.remaining, 0);
    assert.deepEqual(
      r.got.map((b) => b.length),
      [MAX_BATCH_ENVELOPES, MAX_BATCH_ENVELOPES, 150 - 2 * MAX_BATCH_ENVELOPES],
    );
    assert.deepEqual(
      r.got.flat().map((e) => hex(e.id)),
      sent.map((e) => hex(e.id)),
      'oldest first, none twice',
    );
    assert.deepEqual(storage.ids(alice.key), []);
    assert.equal(stats.deleted - deletedBefore, 150);
  });

  it(`a batch holds at most MAX_BATCH_BYTES (${MAX_BATCH_BYTES}) of envelopes`, async () => {
    deposit(alice, 20, 60_000); // ≈ 60 KiB each: 17 fit in 1 MiB
    const r = await fetch(alice);
    assert.equal(r.fetched, 20);
    assert.deepEqual(
      r.got.map((b) => b.length),
      [17, 3],
    );
    assert.deepEqual(storage.ids(alice.key), []);
  });

  it('a client that stops after the first batch without acking leaves everything stored', async () => {
    const sent = deposit(alice, 150);
    const deletedBefore = server.services.mailbox.stats.deleted;
    const ended = nextSession(server);
    const stop = new Error('disk full');
    let calls = 0;
    await assert.rejects(
      fetch(alice, {
        onBatch: async () => {
          calls++;
          throw stop;
        },
      }),
      (err) => err === stop,
    );
    assert.equal(calls, 1);
    const detail = await ended;
    assert.equal(detail.outcome, 'ERR_HANDLER_STOPPED', 'the mailbox saw the stream go while it waited for the Ack');
    assert.equal(detail.deleted, 0);
    assert.equal(server.services.mailbox.stats.deleted, deletedBefore);
    assert.deepEqual(
      storage.ids(alice.key),
      sent.map((e) => hex(e.id)),
      'everything still stored, in order',
    );
    // and the next fetch gets all of them
    assert.equal((await fetch(alice)).fetched, 150);
  });

  it('a client that leaves cleanly after a batch (FIN, no ack) deletes nothing', async () => {
    const sent = deposit(alice, 3);
    const ended = nextSession(server);
    const raw = await rawSession(client, addr);
    assert.equal(okEntries(await raw.authenticate(alice, server.peerId, client.peerId)).length, 3);
    await raw.stream.close();
    const detail = await ended;
    assert.equal(detail.outcome, 'closed');
    assert.deepEqual(
      storage.ids(alice.key),
      sent.map((e) => hex(e.id)),
    );
  });

  it('a forged signature (another key) → UNAUTHORIZED, storage never asked, nothing deleted', async () => {
    const sent = deposit(alice, 2);
    const stats = server.services.mailbox.stats;
    const before = { ...storage.calls, authorized: stats.authorized };
    await assert.rejects(fetch(alice, { sign: mallory.sign }), UnauthorizedError);
    assert.deepEqual({ ...storage.calls, authorized: stats.authorized }, before, 'no storage call for a bad signature');
    assert.deepEqual(
      storage.ids(alice.key),
      sent.map((e) => hex(e.id)),
    );
    assert.ok((stats.statuses.UNAUTHORIZED ?? 0) >= 1);
  });

  it('a replayed Auth (signature of an earlier stream, new nonce) → UNAUTHORIZED', async () => {
    const sent = deposit(alice, 2);
    let captured: Uint8Array | undefined;
    const stop = new Error('stop after capturing');
    await assert.rejects(
      fetch(alice, {
        sign: (m) => {
          captured = alice.sign(m);
          return captured;
        },
        onBatch: async () => {
          throw stop;
        },
      }),
      (err) => err === stop,
    );
    assert.ok(captured, 'a genuine signature was captured');
    const replay = captured;
    await assert.rejects(fetch(alice, { sign: () => replay }), UnauthorizedError);
    assert.deepEqual(
      storage.ids(alice.key),
      sent.map((e) => hex(e.id)),
    );
  });

  it('a signature naming another client peer → UNAUTHORIZED', async () => {
    const sent = deposit(alice, 1);
    const other = await createPlainNode();
    try {
      // the client signs for `other` but connects as `client`: the mailbox checks the Noise peer
      await assert.rejects(fetch(alice, { localPeer: other.peerId }), UnauthorizedError);
    } finally {
      await other.stop();
    }
    assert.deepEqual(
      storage.ids(alice.key),
      sent.map((e) => hex(e.id)),
    );
  });

  it('a signature for one mailbox is refused by another, even with the same nonce', async () => {
    const nonce = new Uint8Array(32).fill(0x42); // both mailboxes deliberately reuse one nonce
    const storeA = new MemoryMailboxStorage();
    const storeB = new MemoryMailboxStorage();
    for (const s of [storeA, storeB]) {
      s.serve(alice.key);
      s.deposit(makeEnvelope(alice.key));
    }
    const a = await createMailboxNode({ storage: storeA, randomBytes: () => nonce });
    const b = await createMailboxNode({ storage: storeB, randomBytes: () => nonce });
    try {
      const addrA = a.getMultiaddrs()[0];
      const addrB = b.getMultiaddrs()[0];
      assert.ok(addrA && addrB);
      let atA: Uint8Array | undefined;
      const stop = new Error('stop');
      const common = { identity: alice.key, localPeer: client.peerId, timeout: T };
      await assert.rejects(
        fetchMailbox(client, addrA, {
          ...common,
          sign: (m) => {
            atA = alice.sign(m);
            return atA;
          },
          onBatch: async () => {
            throw stop;
          },
        }),
        (err) => err === stop,
      );
      assert.ok(atA);
      const replay = atA;
      await assert.rejects(
        fetchMailbox(client, addrB, { ...common, sign: () => replay, onBatch: async () => {} }),
        UnauthorizedError,
      );
      assert.equal(storeB.ids(alice.key).length, 1);
      // with its own signature the same client is served by B
      const r = await fetchMailbox(client, addrB, { ...common, sign: alice.sign, onBatch: async () => {} });
      assert.equal(r.fetched, 1);
    } finally {
      await Promise.allSettled([a.stop(), b.stop()]);
    }
  });

  it('an identity the mailbox does not serve → UNKNOWN_IDENTITY (only after a valid signature)', async () => {
    const before = storage.calls.list;
    await assert.rejects(fetch(carol), UnknownIdentityError);
    assert.equal(storage.calls.list, before, 'nothing listed');
    // without a valid signature the answer does not say whether it is served
    await assert.rejects(fetch(carol, { sign: mallory.sign }), UnauthorizedError);
  });

  it("a third party, authenticated for itself, acking the victim's ids deletes nothing of the victim's", async () => {
    const victim = deposit(alice, 3);
    const own = deposit(mallory, 1);
    const stats = server.services.mailbox.stats;
    const ignoredBefore = stats.ignoredIds;
    const ended = nextSession(server);
    const raw = await rawSession(client, addr);
    const first = okEntries(await raw.authenticate(mallory, server.peerId, client.peerId));
    assert.deepEqual(
      first.map((e) => hex(e.id)),
      own.map((e) => hex(e.id)),
    );
    await raw.send({ ack: { ids: victim.map((e) => u8(e.id)) } });
    const second = okEntries(await raw.read());
    assert.deepEqual(
      second.map((e) => hex(e.id)),
      own.map((e) => hex(e.id)),
      'its own entry comes again (not acked)',
    );
    await raw.stream.close();
    await ended;
    assert.deepEqual(
      storage.ids(alice.key),
      victim.map((e) => hex(e.id)),
      "the victim's mail is untouched",
    );
    assert.deepEqual(
      storage.ids(mallory.key),
      own.map((e) => hex(e.id)),
    );
    assert.equal(stats.ignoredIds - ignoredBefore, 3);
  });

  it('an Ack only deletes entries of the batch it answers, each once', async () => {
    const sent = deposit(alice, 3);
    const raw = await rawSession(client, addr);
    const first = okEntries(await raw.authenticate(alice, server.peerId, client.peerId));
    assert.equal(first.length, 3);
    // acks the first entry twice and the second once, plus an unknown id
    const [a, b] = first;
    assert.ok(a && b);
    await raw.send({ ack: { ids: [u8(a.id), u8(a.id), u8(b.id), u8(new Uint8Array(16).fill(9))] } });
    const next = okEntries(await raw.read());
    assert.deepEqual(
      next.map((e) => hex(e.id)),
      [hex(sent[2]?.id ?? new Uint8Array())],
    );
    await raw.stream.close();
    await waitFor(() => storage.ids(alice.key).length === 1, T, 'two deleted');
  });

  it('corrupt entries are skipped, reported and still acked (deleted)', async () => {
    const good1 = storage.deposit(makeEnvelope(alice.key));
    const garbageId = new Uint8Array(16).fill(0xc0);
    storage.put(alice.key, { id: garbageId, envelope: new Uint8Array(40).fill(0xff) });
    const forBob = storage.deposit(makeEnvelope(bob.key)); // valid, bob's, and also filed in alice's box
    storage.put(alice.key, { id: forBob.id, envelope: encodeEnvelope(forBob) });
    const mismatch = makeEnvelope(alice.key); // stored under an id that is not its own
    const mismatchId = new Uint8Array(16).fill(0xd0);
    storage.put(alice.key, { id: mismatchId, envelope: encodeEnvelope(mismatch) });
    const emptyId = new Uint8Array(16).fill(0xe0);
    storage.put(alice.key, { id: emptyId, envelope: new Uint8Array(0) });
    const good2 = storage.deposit(makeEnvelope(alice.key));

    const reported: InvalidEntry[] = [];
    const r = await fetch(alice, { onInvalid: (entry) => reported.push(entry) });
    assert.equal(r.fetched, 2);
    assert.equal(r.invalid, 4);
    assert.deepEqual(
      r.got.flat().map((e) => hex(e.id)),
      [hex(good1.id), hex(good2.id)],
    );
    assert.deepEqual(
      reported.map((e) => hex(e.id)),
      [hex(garbageId), hex(forBob.id), hex(mismatchId), hex(emptyId)],
    );
    for (const entry of reported) assert.ok(entry.error instanceof Error);
    assert.deepEqual(storage.ids(alice.key), [], 'all deleted, the corrupt ones too');
    assert.equal(storage.ids(bob.key).length, 1, "bob's own copy is untouched");
  });

  it('the per-stream cap ends a session with remaining > 0; the next session fetches the rest', async () => {
    const capped = new MemoryMailboxStorage();
    capped.serve(alice.key);
    const sent = Array.from({ length: 150 }, () => capped.deposit(makeEnvelope(alice.key)));
    const node = await createMailboxNode({ storage: capped, maxBatchesPerStream: 2 });
    try {
      const target = node.getMultiaddrs()[0];
      assert.ok(target);
      const got: WireEnvelope[] = [];
      const options = {
        identity: alice.key,
        sign: alice.sign,
        localPeer: client.peerId,
        onBatch: async (envelopes: WireEnvelope[]) => {
          got.push(...envelopes);
        },
      };
      const first = await fetchMailbox(client, target, options);
      assert.deepEqual(
        { fetched: first.fetched, batches: first.batches, remaining: first.remaining },
        { fetched: 128, batches: 2, remaining: 22 },
      );
      const second = await fetchMailbox(client, target, options);
      assert.deepEqual(
        { fetched: second.fetched, batches: second.batches, remaining: second.remaining },
        { fetched: 22, batches: 1, remaining: 0 },
      );
      assert.deepEqual(
        got.map((e) => hex(e.id)),
        sent.map((e) => hex(e.id)),
      );
      assert.deepEqual(capped.ids(alice.key), []);
    } finally {
      await node.stop();
    }
  });

  it('storage failures → UNAVAILABLE: nothing is lost, what was acked and deleted stays deleted', async () => {
    const sent = deposit(alice, 100);
    storage.failNext = 'serves';
    await assert.rejects(fetch(alice), UnavailableError);
    assert.equal(storage.ids(alice.key).length, 100);
    // the first batch is acked but deleting it fails: all of it stays stored
    storage.failNext = 'remove';
    await assert.rejects(fetch(alice), UnavailableError);
    assert.equal(storage.ids(alice.key).length, 100);
    // the first batch is acked and deleted, then listing the second fails
    await assert.rejects(
      fetch(alice, {
        onBatch: async () => {
          storage.failNext = 'list';
        },
      }),
      UnavailableError,
    );
    assert.deepEqual(
      storage.ids(alice.key),
      sent.slice(MAX_BATCH_ENVELOPES).map((e) => hex(e.id)),
    );
    assert.equal((await fetch(alice)).fetched, 100 - MAX_BATCH_ENVELOPES);
  });

  it(`rate limit: FETCH_BURST (${FETCH_BURST}) sessions, then RATE_LIMITED; another peer is still served`, async () => {
    deposit(bob, 2);
    for (let i = 0; i < FETCH_BURST; i++) assert.equal((await fetch(alice)).fetched, 0);
    const listBefore = storage.calls.list;
    await assert.rejects(
      fetch(alice),
      (err) => err instanceof RateLimitedError && err.retryAfterMs === FETCH_REFILL_INTERVAL_MS,
    );
    // the limit is per peer, not per identity: bob's fetch from the same peer is refused too
    await assert.rejects(fetch(bob), RateLimitedError);
    assert.equal(storage.calls.list, listBefore, 'a refused session never reaches storage');
    assert.equal(storage.ids(bob.key).length, 2);

    const other = await createPlainNode();
    try {
      const r = await fetch(bob, {}, other);
      assert.equal(r.fetched, 2, 'honest traffic from another peer is served');
    } finally {
      await other.stop();
    }
    // one refill interval later, exactly one more session for the limited peer
    clock += FETCH_REFILL_INTERVAL_MS;
    assert.equal((await fetch(alice)).fetched, 0);
    await assert.rejects(fetch(alice), RateLimitedError);
  });

  it('the only resets in this suite: the two sessions whose client gave up in onBatch', () => {
    // an honest client that finishes never causes a reset; one that resets mid-session is seen as
    // "stream closed" (the mailbox was waiting for its Ack)
    assert.deepEqual(
      resets.map((r) => r.code),
      ['ERR_HANDLER_STOPPED', 'ERR_HANDLER_STOPPED'],
    );
  });
});
