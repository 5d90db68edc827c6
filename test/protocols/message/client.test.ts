// The sender's typed errors against a peer that misbehaves on /sotto/msg/1.0.0, and the
// per-stream envelope limit; plus the latency figure quoted in the SPEC's notes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Stream } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';
import type { Multiaddr } from '@multiformats/multiaddr';
import {
  AckStatus,
  BadAckError,
  decodeAck,
  MAX_ENVELOPES_PER_STREAM,
  NoAckError,
  PROTOCOL_ID,
  StreamResetError,
  sendEnvelope,
  TooManyEnvelopesError,
} from '../../../src/protocols/message/index.js';
import { Ack as PbAck, Envelope as PbEnvelope } from '../../../src/protocols/message/pb/message.js';
import { createNode, type MsgNode, makeEnvelope, waitForClose } from './helpers.js';

describe('decodeAck', () => {
  const id = new Uint8Array(16).fill(9);
  it('accepts a well-formed ack for the right id', () => {
    const ack = decodeAck(PbAck.encode({ id, status: PbAck.Status.STORED, reason: '' }), id);
    assert.equal(ack.status, AckStatus.STORED);
  });
  it('never reads a missing status (proto3 zero value) as STORED', () => {
    assert.throws(() => decodeAck(PbAck.encode({ id }), id), BadAckError);
  });
  it('rejects an unknown status, another id, a reason that is not a short code', () => {
    const unknownStatus = Uint8Array.of(0x0a, 16, ...id, 0x10, 99);
    assert.throws(() => decodeAck(unknownStatus, id), BadAckError);
    assert.throws(
      () => decodeAck(PbAck.encode({ id: new Uint8Array(16), status: PbAck.Status.STORED }), id),
      BadAckError,
    );
    assert.throws(
      () => decodeAck(PbAck.encode({ id, status: PbAck.Status.REJECTED, reason: 'Hello Bob' }), id),
      BadAckError,
    );
  });
});

describe('sendEnvelope against a misbehaving peer', () => {
  let raw: MsgNode;
  let client: MsgNode;
  let addr: Multiaddr;
  let behave: (stream: Stream) => Promise<void> = async () => {};

  before(async () => {
    // a node whose /sotto/msg/1.0.0 handler is whatever the test says (no message service on it)
    raw = await createNode({ onEnvelope: async () => AckStatus.STORED });
    await raw.services.message.stop();
    await raw.handle(PROTOCOL_ID, (stream) => behave(stream));
    client = await createNode({ onEnvelope: async () => AckStatus.STORED });
    const first = raw.getMultiaddrs()[0];
    assert.ok(first);
    addr = first;
  });
  after(async () => {
    await Promise.allSettled([client?.stop(), raw?.stop()]);
  });

  async function readEnvelope(stream: Stream) {
    const lp = lpStream(stream);
    return { lp, envelope: PbEnvelope.decode(await lp.read()) };
  }

  it('reset by the remote → StreamResetError', async () => {
    behave = async (s) => {
      await readEnvelope(s);
      s.abort(new Error('nope'));
    };
    await assert.rejects(sendEnvelope(client, addr, makeEnvelope(), { timeout: 3000 }), StreamResetError);
  });

  it('closed without an ack → NoAckError', async () => {
    behave = async (s) => {
      await readEnvelope(s);
      await s.close();
    };
    await assert.rejects(sendEnvelope(client, addr, makeEnvelope(), { timeout: 3000 }), NoAckError);
  });

  it('an ack for another id, or without a status → BadAckError', async () => {
    behave = async (s) => {
      const { lp } = await readEnvelope(s);
      await lp.write(PbAck.encode({ id: new Uint8Array(16).fill(0xee), status: PbAck.Status.STORED }));
    };
    await assert.rejects(sendEnvelope(client, addr, makeEnvelope(), { timeout: 3000 }), BadAckError);
    behave = async (s) => {
      const { lp, envelope } = await readEnvelope(s);
      await lp.write(PbAck.encode({ id: envelope.id }));
    };
    await assert.rejects(sendEnvelope(client, addr, makeEnvelope(), { timeout: 3000 }), BadAckError);
  });

  it('an oversized ack frame → BadAckError', async () => {
    behave = async (s) => {
      const { lp } = await readEnvelope(s);
      await lp.write(new Uint8Array(4096));
    };
    await assert.rejects(sendEnvelope(client, addr, makeEnvelope(), { timeout: 3000 }), BadAckError);
  });
});

describe('per-stream limit and latency (two honest nodes)', () => {
  let server: MsgNode;
  let client: MsgNode;
  let addr: Multiaddr;
  let resets: string[] = [];

  before(async () => {
    server = await createNode({ onEnvelope: async () => AckStatus.STORED });
    server.services.message.addEventListener('reset', (evt) => {
      resets.push((evt as CustomEvent<{ code: string }>).detail.code);
    });
    client = await createNode({ onEnvelope: async () => AckStatus.STORED });
    const first = server.getMultiaddrs()[0];
    assert.ok(first);
    addr = first;
  });
  after(async () => {
    await Promise.allSettled([client?.stop(), server?.stop()]);
  });

  it(`MAX_ENVELOPES_PER_STREAM (${MAX_ENVELOPES_PER_STREAM}): the client refuses one more, the server resets one more`, async () => {
    resets = [];
    const stream = await client.services.message.open(addr);
    for (let i = 0; i < MAX_ENVELOPES_PER_STREAM; i++) await stream.send(makeEnvelope(), { timeout: 3000 });
    await assert.rejects(stream.send(makeEnvelope()), TooManyEnvelopesError);
    await stream.close();

    const rawStream = await client.dialProtocol(addr, PROTOCOL_ID);
    const lp = lpStream(rawStream);
    for (let i = 0; i <= MAX_ENVELOPES_PER_STREAM; i++) {
      const e = makeEnvelope();
      await lp.write(PbEnvelope.encode({ ...e, timestamp: BigInt(e.timestamp) } as PbEnvelope));
      if (i < MAX_ENVELOPES_PER_STREAM) await lp.read({ signal: AbortSignal.timeout(3000) });
    }
    const { error } = await waitForClose(rawStream, 3000);
    assert.ok(error, 'the extra envelope reset the stream');
    assert.deepEqual(resets, ['ERR_TOO_MANY_ENVELOPES']);
  });

  it('latency of one 1 KiB envelope → ack on loopback (median of 200)', async (t) => {
    const body = new Uint8Array(1024).fill(3);
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
    await client.dial(addr);
    for (let i = 0; i < 20; i++) await sendEnvelope(client, addr, makeEnvelope({ body })); // warm-up
    const perStream: number[] = [];
    for (let i = 0; i < 200; i++) {
      const start = performance.now();
      await sendEnvelope(client, addr, makeEnvelope({ body }));
      perStream.push(performance.now() - start);
    }
    const shared: number[] = [];
    const stream = await client.services.message.open(addr);
    for (let i = 0; i < 60; i++) {
      const start = performance.now();
      await stream.send(makeEnvelope({ body }));
      shared.push(performance.now() - start);
    }
    await stream.close();
    t.diagnostic(`median envelope→ack, new stream each: ${median(perStream).toFixed(3)} ms`);
    t.diagnostic(`median envelope→ack, one stream (60 of the 64 allowed): ${median(shared).toFixed(3)} ms`);
    assert.ok(median(perStream) < 50);
  });
});
