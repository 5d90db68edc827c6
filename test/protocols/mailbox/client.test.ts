// fetchMailbox against a mailbox that misbehaves on /sotto/mailbox/1.0.0 (a raw handler the test
// writes): the signed bytes are exactly SPEC §4's for this stream; every deviation is a typed error
// (SPEC §9); a malformed batch is never acked; a mailbox that never answers hits the read timeout.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Connection, Libp2p, Stream } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';
import {
  BadResponseError,
  type ClientMessage,
  decodeClientFrame,
  encodeServerFrame,
  FetchTimeoutError,
  fetchAuthMessage,
  fetchMailbox,
  InvalidFieldLengthError,
  MAX_BATCHES_PER_STREAM,
  MAX_SERVER_FRAME_BYTES,
  MailboxStatus,
  NoResponseError,
  PROTOCOL_ID,
  RateLimitedError,
  StreamResetError,
  UnauthorizedError,
  UnavailableError,
  UnknownIdentityError,
} from '../../../src/protocols/mailbox/index.js';
import { ServerFrame as PbServerFrame } from '../../../src/protocols/mailbox/pb/mailbox.js';
import { encodeEnvelope } from '../../../src/protocols/message/index.js';
import { createPlainNode, env, equal, makeEnvelope, makeIdentity, u8, varint, waitForClose } from './helpers.js';

const alice = makeIdentity();
const T = 3000;

/** The mailbox's side of one stream, driven by hand. */
interface Peer {
  stream: Stream;
  connection: Connection;
  read(): Promise<ClientMessage>;
  write(frame: Uint8Array): Promise<void>;
  /** Reads Hello, writes a Challenge, reads Auth; returns the Auth signature and the nonce. */
  handshake(): Promise<{ signature: Uint8Array; nonce: Uint8Array }>;
}

const batch = (entries: Array<{ id: Uint8Array; envelope: Uint8Array }>, remaining = 0): Uint8Array =>
  encodeServerFrame({ type: 'batch', batch: { status: MailboxStatus.OK, entries, remaining } });

const entry = (): { id: Uint8Array; envelope: Uint8Array } => {
  const e = makeEnvelope(alice.key);
  return { id: e.id, envelope: encodeEnvelope(e) };
};

describe('fetchMailbox against a misbehaving mailbox', () => {
  let raw: Libp2p;
  let client: Libp2p;
  let addr: Multiaddr;
  let behave: (peer: Peer) => Promise<void> = async () => {};
  let streams = 0;

  before(async () => {
    raw = await createPlainNode();
    await raw.handle(
      PROTOCOL_ID,
      (stream, connection) => {
        streams++;
        const lp = lpStream(stream);
        const peer: Peer = {
          stream,
          connection,
          read: async () => decodeClientFrame(await lp.read({ signal: AbortSignal.timeout(T) })),
          write: (frame) => lp.write(frame),
          async handshake() {
            const hello = await peer.read();
            assert.equal(hello.type, 'hello');
            const nonce = env.rng(32);
            await peer.write(encodeServerFrame({ type: 'challenge', nonce }));
            const auth = await peer.read();
            assert.ok(auth.type === 'auth');
            return { signature: auth.signature, nonce };
          },
        };
        behave(peer).catch(() => stream.abort(new Error('test handler failed')));
      },
      { maxInboundStreams: 64 },
    );
    client = await createPlainNode();
    const first = raw.getMultiaddrs()[0];
    assert.ok(first);
    addr = first;
  });

  after(async () => {
    await Promise.allSettled([client?.stop(), raw?.stop()]);
  });

  const fetch = (overrides: { timeout?: number; signal?: AbortSignal } = {}) =>
    fetchMailbox(client, addr, {
      identity: alice.key,
      sign: alice.sign,
      localPeer: client.peerId,
      onBatch: async () => {},
      timeout: T,
      ...overrides,
    });

  it('the client signs exactly the SPEC §4 bytes for this stream, this mailbox and its own peer id', async () => {
    let verified = false;
    behave = async (peer) => {
      const { signature, nonce } = await peer.handshake();
      const signed = fetchAuthMessage({
        mailboxPeer: raw.peerId.toMultihash().bytes,
        clientPeer: peer.connection.remotePeer.toMultihash().bytes,
        nonce,
        identity: alice.key,
      });
      verified = env.provider.ed25519Verify(alice.key, signed, signature);
      await peer.write(batch([]));
      await peer.stream.close();
    };
    const r = await fetch();
    assert.ok(verified, 'the signature verifies over the bytes the mailbox builds');
    assert.deepEqual(r, { fetched: 0, batches: 0, invalid: 0, remaining: 0, prekeys: 0 });
  });

  it('acks every entry of a batch (the invalid ones too) and only after onBatch resolved', async () => {
    const entries = [entry(), { id: new Uint8Array(16).fill(7), envelope: new Uint8Array(5).fill(0xff) }, entry()];
    let acked: Uint8Array[] = [];
    let stored = false;
    behave = async (peer) => {
      await peer.handshake();
      await peer.write(batch(entries, 0));
      const ack = await peer.read();
      assert.ok(ack.type === 'ack');
      assert.ok(stored, 'the ack came after onBatch resolved');
      acked = ack.ids;
      await peer.write(batch([]));
      await peer.stream.close();
    };
    const r = await fetchMailbox(client, addr, {
      identity: alice.key,
      sign: alice.sign,
      localPeer: client.peerId,
      onBatch: async (envelopes) => {
        assert.equal(envelopes.length, 2);
        stored = true;
      },
    });
    assert.deepEqual(
      { fetched: r.fetched, invalid: r.invalid, batches: r.batches },
      { fetched: 2, invalid: 1, batches: 1 },
    );
    assert.equal(acked.length, 3);
    for (const [i, e] of entries.entries()) assert.ok(equal(acked[i] ?? new Uint8Array(), e.id));
  });

  it('statuses → typed errors: RATE_LIMITED (instead of the Challenge, with its hint), UNAUTHORIZED, UNKNOWN_IDENTITY, UNAVAILABLE', async () => {
    behave = async (peer) => {
      await peer.read();
      await peer.write(
        encodeServerFrame({ type: 'batch', batch: { status: MailboxStatus.RATE_LIMITED, retryAfterMs: 1234 } }),
      );
      await peer.stream.close();
    };
    await assert.rejects(fetch(), (err) => err instanceof RateLimitedError && err.retryAfterMs === 1234);
    for (const [status, type] of [
      [MailboxStatus.UNAUTHORIZED, UnauthorizedError],
      [MailboxStatus.UNKNOWN_IDENTITY, UnknownIdentityError],
      [MailboxStatus.UNAVAILABLE, UnavailableError],
    ] as const) {
      behave = async (peer) => {
        await peer.handshake();
        await peer.write(encodeServerFrame({ type: 'batch', batch: { status } }));
        await peer.stream.close();
      };
      await assert.rejects(fetch(), type);
    }
  });

  it('a malformed batch (15-byte entry id) → BadResponseError, nothing acked, stream reset', async () => {
    let next: Promise<string> | undefined;
    let held: Stream | undefined;
    behave = async (peer) => {
      await peer.handshake();
      held = peer.stream;
      // watch for an Ack before the batch goes out, so the outcome is known whenever the client fails
      next = peer.read().then(
        (m) => `got ${m.type}`,
        () => 'stream ended',
      );
      await peer.write(
        PbServerFrame.encode({
          batch: {
            status: MailboxStatus.OK,
            entries: [{ id: u8(new Uint8Array(15)), envelope: u8(entry().envelope) }],
            remaining: 0,
            retryAfterMs: 0,
            prekeys: 0,
          },
        }),
      );
    };
    await assert.rejects(fetch(), BadResponseError);
    assert.ok(next && held);
    assert.equal(await next, 'stream ended', 'nothing was acked');
    assert.ok((await waitForClose(held, T)).error, 'the client reset the stream');
  });

  it('protocol deviations → BadResponseError', async () => {
    const cases: Array<(peer: Peer) => Promise<void>> = [
      async (peer) => {
        await peer.read();
        await peer.write(batch([entry()])); // an OK batch before the challenge
      },
      async (peer) => {
        await peer.read();
        await peer.write(PbServerFrame.encode({ challenge: { nonce: u8(new Uint8Array(31)) } }));
      },
      async (peer) => {
        await peer.handshake();
        await peer.write(encodeServerFrame({ type: 'challenge', nonce: new Uint8Array(32) })); // a second one
      },
      async (peer) => {
        await peer.handshake();
        await peer.write(Uint8Array.of(0x12, 0x00)); // a batch without a status
      },
      async (peer) => {
        await peer.handshake();
        await peer.write(new Uint8Array(0)); // no member
      },
    ];
    for (const [i, c] of cases.entries()) {
      behave = c;
      await assert.rejects(fetch(), BadResponseError, `case ${i}`);
    }
  });

  it('a frame prefix above MAX_SERVER_FRAME_BYTES → BadResponseError at once', async () => {
    behave = async (peer) => {
      await peer.read();
      peer.stream.send(varint(MAX_SERVER_FRAME_BYTES + 1));
    };
    const start = performance.now();
    await assert.rejects(fetch({ timeout: T }), BadResponseError);
    assert.ok(performance.now() - start < T / 2, 'not at the timeout');
  });

  it(`more than MAX_BATCHES_PER_STREAM (${MAX_BATCHES_PER_STREAM}) non-empty batches → BadResponseError`, async () => {
    let acks = 0;
    behave = async (peer) => {
      await peer.handshake();
      for (let i = 0; i <= MAX_BATCHES_PER_STREAM; i++) {
        await peer.write(batch([entry()], 1));
        if (i === MAX_BATCHES_PER_STREAM) break;
        assert.equal((await peer.read()).type, 'ack');
        acks++;
      }
    };
    await assert.rejects(fetch(), BadResponseError);
    assert.equal(acks, MAX_BATCHES_PER_STREAM, 'the 65th batch is not acked');
  });

  it('closed without a batch → NoResponseError; reset → StreamResetError', async () => {
    behave = async (peer) => {
      await peer.handshake();
      await peer.stream.close();
    };
    await assert.rejects(fetch(), NoResponseError);
    behave = async (peer) => {
      await peer.handshake();
      peer.stream.abort(new Error('go away'));
    };
    await assert.rejects(fetch(), StreamResetError);
  });

  it('a mailbox that never answers → FetchTimeoutError at the read timeout, stream reset', async () => {
    let held: Stream | undefined;
    behave = async (peer) => {
      held = peer.stream; // reads nothing, writes nothing
    };
    await client.dial(addr); // connected first: the timeout under test is the frame's, not the dial's
    const timeout = 200;
    const start = performance.now();
    await assert.rejects(fetch({ timeout }), FetchTimeoutError);
    const elapsed = performance.now() - start;
    assert.ok(elapsed >= timeout * 0.9 && elapsed < timeout + 1500, `gave up after ${elapsed.toFixed(0)} ms`);
    assert.ok(held, 'the mailbox saw the stream');
    const { error } = await waitForClose(held, T);
    assert.ok(error, 'the client reset the stream');
  });

  it('a mailbox that answers the Challenge, then nothing → FetchTimeoutError', async () => {
    behave = async (peer) => {
      await peer.handshake();
    };
    await assert.rejects(fetch({ timeout: 200 }), FetchTimeoutError);
  });

  it("the caller's abort is rethrown as is", async () => {
    const controller = new AbortController();
    const reason = new Error('caller gave up');
    behave = async (peer) => {
      await peer.read(); // the Hello arrived: the caller gives up while waiting for the Challenge
      controller.abort(reason);
    };
    await assert.rejects(fetch({ signal: controller.signal }), (err) => err === reason);
  });

  it('bad arguments fail before dialling', async () => {
    const before = streams;
    await assert.rejects(
      fetchMailbox(client, addr, {
        identity: new Uint8Array(31),
        sign: alice.sign,
        localPeer: client.peerId,
        onBatch: async () => {},
      }),
      InvalidFieldLengthError,
    );
    const noPeerId = multiaddr(addr.toString().replace(/\/p2p\/.*$/, ''));
    await assert.rejects(
      fetchMailbox(client, noPeerId, {
        identity: alice.key,
        sign: alice.sign,
        localPeer: client.peerId,
        onBatch: async () => {},
      }),
      TypeError,
      'the signed bytes need the mailbox peer id',
    );
    assert.equal(streams, before, 'nothing was dialled');
  });
});
