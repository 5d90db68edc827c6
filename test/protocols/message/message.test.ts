import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Stream } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';
import {
  AckStatus,
  AckTimeoutError,
  type Envelope,
  type EnvelopeDecision,
  MAX_FRAME_BYTES,
  MAX_UNACKED_ENVELOPES,
  PROTOCOL_ID,
  type StreamResetDetail,
  sendEnvelope,
  type WireEnvelope,
} from '../../../src/protocols/message/index.js';
import { Envelope as PbEnvelope } from '../../../src/protocols/message/pb/message.js';
import {
  createNode,
  frame,
  type MsgNode,
  makeEnvelope,
  plainEnvelope,
  varint,
  waitFor,
  waitForClose,
} from './helpers.js';

function pbEnvelope(e: Envelope): Uint8Array {
  // bypasses our validation on purpose: the raw codec lets a hostile peer send anything
  return PbEnvelope.encode({ ...e, timestamp: BigInt(e.timestamp) } as PbEnvelope);
}

const READ_TIMEOUT = 1500; // short, for the slow-loris case only

describe('/sotto/msg/1.0.0 between two libp2p nodes on 127.0.0.1', () => {
  let server: MsgNode;
  let client: MsgNode;
  let addr: Multiaddr;
  const seen: WireEnvelope[] = [];
  const decisions: EnvelopeDecision[] = [];
  const resets: StreamResetDetail[] = [];
  /** When set, every onEnvelope call waits for it (to see how many are in flight at once). */
  let gate: Promise<void> | undefined;

  before(async () => {
    server = await createNode({
      readTimeout: READ_TIMEOUT,
      onEnvelope: async (envelope) => {
        seen.push(envelope);
        const decision = decisions.shift() ?? AckStatus.STORED;
        if (gate) await gate;
        return decision;
      },
    });
    server.services.message.addEventListener('reset', (evt) => {
      resets.push((evt as CustomEvent<StreamResetDetail>).detail);
    });
    client = await createNode({ onEnvelope: async () => AckStatus.REJECTED });
    const first = server.getMultiaddrs()[0];
    assert.ok(first, 'server listens');
    addr = first;
  });

  after(async () => {
    await Promise.allSettled([client?.stop(), server?.stop()]);
  });

  it('round trip: 3 envelopes on one stream, 3 acks with the statuses the callback chose', async () => {
    seen.length = 0;
    decisions.push(AckStatus.STORED, AckStatus.DUPLICATE, {
      status: AckStatus.UNKNOWN_RECIPIENT,
      reason: 'not-hosted',
    });
    const sent = [makeEnvelope(), makeEnvelope(), makeEnvelope({ body: new Uint8Array(65_536).fill(7) })];
    const stream = await client.services.message.open(addr);
    const acks = [];
    for (const e of sent) acks.push(await stream.send(e, { timeout: 5000 }));
    await stream.close();
    assert.deepEqual(
      acks.map((a) => a.status),
      [AckStatus.STORED, AckStatus.DUPLICATE, AckStatus.UNKNOWN_RECIPIENT],
    );
    assert.equal(acks[2]?.reason, 'not-hosted');
    for (const [i, a] of acks.entries()) assert.deepEqual(new Uint8Array(a.id), sent[i]?.id);
    assert.equal(seen.length, 3);
    seen.forEach((wire, i) => {
      const got = plainEnvelope(wire);
      const want = sent[i];
      assert.ok(want);
      assert.deepEqual(new Uint8Array(got.id), want.id);
      assert.deepEqual(new Uint8Array(got.sender), want.sender);
      assert.deepEqual(new Uint8Array(got.recipient), want.recipient);
      assert.equal(got.timestamp, want.timestamp);
      assert.deepEqual(new Uint8Array(got.body), want.body);
    });
    await waitFor(() => server.services.message.stats.acks >= 3, 2000, 'server ack counter');
    assert.equal(resets.length, 0, 'a clean close is not a reset');
  });

  it(`pipelining: ${MAX_UNACKED_ENVELOPES} envelopes in flight on one stream, decided as they arrive, acked in order`, async () => {
    seen.length = 0;
    let open!: () => void;
    gate = new Promise<void>((r) => {
      open = r;
    });
    decisions.push(AckStatus.STORED, AckStatus.DUPLICATE);
    const sent = Array.from({ length: MAX_UNACKED_ENVELOPES + 2 }, () => makeEnvelope());
    const stream = await client.services.message.open(addr);
    const pending = sent.map((e) => stream.send(e, { timeout: 5000 }));
    // the receiver has all MAX_UNACKED_ENVELOPES before it answered any; the rest wait for a slot
    await waitFor(() => seen.length >= MAX_UNACKED_ENVELOPES, 3000, 'envelopes decided concurrently');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(seen.length, MAX_UNACKED_ENVELOPES, 'the sender never has more than the window unacknowledged');
    gate = undefined;
    open();
    const acks = await Promise.all(pending);
    await stream.close();
    assert.deepEqual(
      acks.map((a) => new Uint8Array(a.id)),
      sent.map((e) => e.id),
    );
    assert.deepEqual(
      acks.slice(0, 3).map((a) => a.status),
      [AckStatus.STORED, AckStatus.DUPLICATE, AckStatus.STORED],
    );
    assert.deepEqual(
      seen.map((e) => new Uint8Array(e.id)),
      sent.map((e) => e.id),
    );
    assert.equal(stream.sent, sent.length);
  });

  it('round trip: one envelope per stream with sendEnvelope(libp2p, multiaddr, …)', async () => {
    seen.length = 0;
    decisions.push(AckStatus.DUPLICATE);
    const e = makeEnvelope();
    const ack = await sendEnvelope(client, addr, e, { timeout: 5000 });
    assert.equal(ack.status, AckStatus.DUPLICATE);
    assert.deepEqual(new Uint8Array(plainEnvelope(seen[0]).body), e.body);
  });

  describe('hostile input on a raw stream: reset, callback never called, node keeps serving', () => {
    async function hostile(
      write: (stream: Stream) => Promise<void> | void,
      code: string,
      within: number,
    ): Promise<number> {
      seen.length = 0;
      const before = resets.length;
      const stream = await client.dialProtocol(addr, PROTOCOL_ID);
      await write(stream);
      const { error, elapsed } = await waitForClose(stream, within);
      assert.ok(error, 'the stream was reset, not closed cleanly');
      await waitFor(() => resets.length > before, 2000, `server reset event ${code}`);
      assert.equal(resets[before]?.code, code);
      assert.equal(seen.length, 0, 'onEnvelope was never called');
      // the node still serves an honest envelope
      const ack = await sendEnvelope(client, addr, makeEnvelope(), { timeout: 5000 });
      assert.equal(ack.status, AckStatus.STORED);
      assert.equal(seen.length, 1);
      return elapsed;
    }

    it('garbage protobuf', async () => {
      // 0xff… is an invalid tag/varint sequence
      await hostile((s) => void s.send(frame(new Uint8Array(40).fill(0xff))), 'ERR_MALFORMED_FRAME', 2000);
    });

    it('a truncated frame, then close', async () => {
      await hostile(
        async (s) => {
          s.send(frame(pbEnvelope(makeEnvelope())).subarray(0, 30));
          await s.close();
        },
        'ERR_TRUNCATED_FRAME',
        2000,
      );
    });

    it('a truncated length prefix, then close', async () => {
      await hostile(
        async (s) => {
          s.send(Uint8Array.of(0x80)); // varint continuation bit, no end
          await s.close();
        },
        'ERR_TRUNCATED_FRAME',
        2000,
      );
    });

    it('a length prefix above MAX_FRAME_BYTES is reset promptly, without the body', async () => {
      const elapsed = await hostile(
        (s) => void s.send(varint(MAX_FRAME_BYTES + 1)),
        'ERR_FRAME_TOO_LARGE',
        READ_TIMEOUT / 2,
      );
      assert.ok(elapsed < READ_TIMEOUT / 2, `reset after ${elapsed.toFixed(0)} ms, well before the read timeout`);
    });

    it('a 4 GiB length prefix (over-long varint) is reset promptly', async () => {
      await hostile((s) => void s.send(varint(2 ** 32)), 'ERR_FRAME_TOO_LARGE', READ_TIMEOUT / 2);
    });

    it('an unterminated length prefix is reset promptly, not at the read timeout', async () => {
      await hostile((s) => void s.send(new Uint8Array(4).fill(0x80)), 'ERR_FRAME_TOO_LARGE', READ_TIMEOUT / 2);
    });

    for (const [field, value] of [
      ['id', new Uint8Array(15)],
      ['id', new Uint8Array(17)],
      ['sender', new Uint8Array(31)],
      ['sender', new Uint8Array(0)],
      ['recipient', new Uint8Array(33)],
    ] as const) {
      it(`wrong-size ${field} (${value.byteLength} bytes)`, async () => {
        const bad = pbEnvelope(makeEnvelope({ [field]: value }));
        await hostile((s) => void s.send(frame(bad)), 'ERR_INVALID_FIELD_LENGTH', 2000);
      });
    }

    it('empty body', async () => {
      const bad = pbEnvelope(makeEnvelope({ body: new Uint8Array(0) }));
      await hostile((s) => void s.send(frame(bad)), 'ERR_EMPTY_BODY', 2000);
    });

    it('body above MAX_BODY_BYTES inside a frame under MAX_FRAME_BYTES', async () => {
      const bad = pbEnvelope(makeEnvelope({ body: new Uint8Array(65_537) }));
      assert.ok(bad.byteLength <= MAX_FRAME_BYTES);
      await hostile((s) => void s.send(frame(bad)), 'ERR_BODY_TOO_LARGE', 2000);
    });

    it('zero timestamp', async () => {
      const bad = pbEnvelope(makeEnvelope({ timestamp: 0 }));
      await hostile((s) => void s.send(frame(bad)), 'ERR_INVALID_TIMESTAMP', 2000);
    });

    it('slow-loris: a frame that never completes is reset by the read timeout', async () => {
      const elapsed = await hostile(
        (s) => void s.send(frame(pbEnvelope(makeEnvelope())).subarray(0, 20)),
        'ERR_READ_TIMEOUT',
        READ_TIMEOUT * 3,
      );
      assert.ok(elapsed >= READ_TIMEOUT * 0.9, `reset after ${elapsed.toFixed(0)} ms`);
    });

    it('an idle stream (nothing sent) is reset by the read timeout', async () => {
      await hostile(() => {}, 'ERR_READ_TIMEOUT', READ_TIMEOUT * 3);
    });
  });
});

describe('/sotto/msg/1.0.0 client timeout', () => {
  it('a remote that never acks → AckTimeoutError within the timeout', async () => {
    let called = 0;
    const silent = await createNode({
      onEnvelope: () => {
        called++;
        return new Promise<never>(() => {}); // never answers
      },
    });
    const client = await createNode({ onEnvelope: async () => AckStatus.REJECTED });
    try {
      const target = silent.getMultiaddrs()[0];
      assert.ok(target);
      await client.dial(target); // connect first: the timeout under test is the ack's, not the dial's
      const timeout = 300;
      const start = performance.now();
      await assert.rejects(sendEnvelope(client, target, makeEnvelope(), { timeout }), AckTimeoutError);
      const elapsed = performance.now() - start;
      assert.ok(elapsed >= timeout * 0.9 && elapsed < timeout + 1000, `timed out after ${elapsed.toFixed(0)} ms`);
      assert.ok(called >= 1, 'the envelope reached the silent handler');
    } finally {
      await Promise.allSettled([client.stop(), silent.stop()]);
    }
  });
});
