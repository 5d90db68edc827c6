/**
 * Per-peer limits of /sotto/msg/1.0.0 (SPEC §11) between real libp2p nodes on 127.0.0.1, with the
 * envelope bucket on an injected clock (no sleeps): a peer flooding past its bucket gets UNAVAILABLE
 * `rate-limited` acks and none of those envelopes reaches the node's store, while another peer is
 * served; the per-peer stream cap resets streams beyond it; a refill lets the same peer through again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Stream } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';
import { toHex } from '../../../src/crypto/bytes.js';
import {
  AckStatus,
  ENVELOPE_BURST,
  ENVELOPE_REFILL_INTERVAL_MS,
  MAX_STREAMS_PER_PEER,
  MAX_UNACKED_ENVELOPES,
  PROTOCOL_ID,
  RATE_LIMITED_REASON,
  type StreamResetDetail,
} from '../../../src/protocols/message/index.js';
import { createNode, type MsgNode, makeEnvelope, waitFor, waitForClose } from './helpers.js';

/** The bucket under test: small, so the flood is short. */
const BURST = 6;
const REFILL_MS = 1000;
/** Envelopes the hostile peer sends on one stream: several buckets' worth. */
const FLOOD = 4 * BURST;
const STREAM_CAP = 3;

describe('/sotto/msg/1.0.0 per-peer limits (SPEC §11)', () => {
  let server: MsgNode;
  let mallory: MsgNode;
  let alice: MsgNode;
  let addr: Multiaddr;
  let clock = 1_000_000;
  /** The node's durable store, as far as this test is concerned: what onEnvelope was handed. */
  const store = new Map<string, string>();
  const resets: StreamResetDetail[] = [];
  /** When set, every onEnvelope call waits for it (keeps streams open for the stream-cap case). */
  let gate: Promise<void> | undefined;

  before(async () => {
    server = await createNode({
      rateLimit: { capacity: BURST, refillIntervalMs: REFILL_MS, now: () => clock },
      maxStreamsPerPeer: STREAM_CAP,
      onEnvelope: async (envelope, { remotePeer }) => {
        if (gate) await gate;
        store.set(toHex(envelope.id), remotePeer.toString());
        return AckStatus.STORED;
      },
    });
    server.services.message.addEventListener('reset', (evt) => {
      resets.push((evt as CustomEvent<StreamResetDetail>).detail);
    });
    mallory = await createNode({ onEnvelope: async () => AckStatus.REJECTED });
    alice = await createNode({ onEnvelope: async () => AckStatus.REJECTED });
    const first = server.getMultiaddrs()[0];
    assert.ok(first, 'server listens');
    addr = first;
  });

  after(async () => {
    await Promise.allSettled([alice?.stop(), mallory?.stop(), server?.stop()]);
  });

  it('the defaults: one stream of envelopes at once, 1000 a second sustained', () => {
    assert.equal(ENVELOPE_BURST, 1024);
    assert.equal(1000 / ENVELOPE_REFILL_INTERVAL_MS, 1000);
    assert.ok(MAX_STREAMS_PER_PEER >= 8, 'at least one connection’s worth of streams');
    assert.equal(RATE_LIMITED_REASON, 'rate-limited');
  });

  it('a flood past the bucket is answered UNAVAILABLE rate-limited and never stored; another peer is served', async () => {
    store.clear();
    const limitedBefore = server.services.message.stats.rateLimited;
    const stream = await mallory.services.message.open(addr);
    const ids: string[] = [];
    const acks: Array<{ status: string; reason: string }> = [];
    // pipelined within the window, as a sender may (SPEC §3)
    for (let i = 0; i < FLOOD; i += MAX_UNACKED_ENVELOPES) {
      const batch = Array.from({ length: Math.min(MAX_UNACKED_ENVELOPES, FLOOD - i) }, () => makeEnvelope());
      for (const e of batch) ids.push(toHex(e.id));
      const answered = await Promise.all(batch.map((e) => stream.send(e, { timeout: 5000 })));
      for (const a of answered) acks.push({ status: a.status, reason: a.reason });
    }
    await stream.close();
    const stored = acks.filter((a) => a.status === AckStatus.STORED).length;
    const limited = acks.filter((a) => a.status === AckStatus.UNAVAILABLE && a.reason === RATE_LIMITED_REASON);
    assert.equal(stored, BURST, 'the bucket’s worth is stored');
    assert.equal(limited.length, FLOOD - BURST, 'everything beyond it is rate-limited');
    assert.deepEqual(
      acks.slice(0, BURST).map((a) => a.status),
      Array(BURST).fill(AckStatus.STORED),
      'in arrival order: the first ones pass',
    );
    // the store holds exactly the envelopes that were acked STORED, none of the rate-limited ones
    assert.equal(store.size, BURST, 'no store write for a rate-limited envelope');
    for (const id of ids.slice(BURST)) assert.equal(store.has(id), false);
    assert.equal(server.services.message.stats.rateLimited - limitedBefore, FLOOD - BURST);

    // Alice has her own bucket: served while Mallory's is empty
    const ack = await alice.services.message.send(addr, makeEnvelope(), { timeout: 5000 });
    assert.equal(ack.status, AckStatus.STORED);
    assert.equal(store.size, BURST + 1);
    // rate limits are not protocol violations: no stream was reset
    assert.deepEqual(resets, []);
  });

  it('the bucket refills: after REFILL_MS the same peer gets one more through, then is limited again', async () => {
    clock += REFILL_MS;
    const stream = await mallory.services.message.open(addr);
    const first = await stream.send(makeEnvelope(), { timeout: 5000 });
    const second = await stream.send(makeEnvelope(), { timeout: 5000 });
    await stream.close();
    assert.equal(first.status, AckStatus.STORED);
    assert.deepEqual(
      { status: second.status, reason: second.reason },
      {
        status: AckStatus.UNAVAILABLE,
        reason: RATE_LIMITED_REASON,
      },
    );
    clock += BURST * REFILL_MS; // full again for the next case
  });

  it(`at most maxStreamsPerPeer (${STREAM_CAP} here) streams at once from one peer; the next is reset`, async () => {
    resets.length = 0;
    let open!: () => void;
    gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const held: Array<{ stream: Awaited<ReturnType<MsgNode['services']['message']['open']>>; ack: Promise<unknown> }> =
      [];
    const envelopesBefore = server.services.message.stats.envelopes;
    try {
      for (let i = 0; i < STREAM_CAP; i++) {
        const s = await mallory.services.message.open(addr);
        held.push({ stream: s, ack: s.send(makeEnvelope(), { timeout: 5000 }) });
      }
      await waitFor(
        () => server.services.message.stats.envelopes >= envelopesBefore + STREAM_CAP,
        5000,
        'envelopes held',
      );
      assert.equal(server.services.message.streamsFrom(mallory.peerId.toString()), STREAM_CAP);
      const extra: Stream = await mallory.dialProtocol(addr, PROTOCOL_ID);
      const closed = await waitForClose(extra, 5000);
      assert.ok(closed.error, 'the stream beyond the cap was reset');
      await waitFor(() => resets.length > 0, 5000, 'the reset event');
      assert.deepEqual(
        resets.map((r) => r.code),
        ['ERR_TOO_MANY_STREAMS'],
      );
    } finally {
      open();
      gate = undefined;
    }
    for (const h of held) assert.equal(((await h.ack) as { status: string }).status, AckStatus.STORED);
    await Promise.all(held.map((h) => h.stream.close()));
    // once they are done, the peer may open streams again
    const malloryId = mallory.peerId.toString();
    await waitFor(() => server.services.message.streamsFrom(malloryId) === 0, 5000, 'the held streams to be done');
    const again = await mallory.services.message.send(addr, makeEnvelope(), { timeout: 5000 });
    assert.equal(again.status, AckStatus.STORED);
  });
});
