// Hostile clients against a /sotto/mailbox/1.0.0 mailbox on 127.0.0.1: every violation of SPEC §9
// resets the stream with its typed code (counted in stats, one 'reset' event), deletes nothing, and
// the mailbox keeps serving honest clients.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Libp2p } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';
import {
  fetchMailbox,
  MAX_ACK_IDS,
  MAX_CLIENT_FRAME_BYTES,
  MAX_UPLOAD_PREKEYS,
  type StreamResetDetail,
} from '../../../src/protocols/mailbox/index.js';
import type { Envelope } from '../../../src/protocols/message/index.js';
import {
  createMailboxNode,
  createPlainNode,
  frame,
  hex,
  type MailboxNode,
  MemoryMailboxStorage,
  makeEnvelope,
  makeIdentity,
  okEntries,
  type RawSession,
  rawSession,
  u8,
  varint,
  waitFor,
  waitForClose,
} from './helpers.js';

const READ_TIMEOUT = 600; // short: the idle-stream and missing-Ack cases wait for it
const T = 5000;

describe('hostile input on a raw stream: reset with a typed code, nothing deleted, mailbox keeps serving', () => {
  let server: MailboxNode;
  let client: Libp2p;
  let addr: Multiaddr;
  const storage = new MemoryMailboxStorage();
  const resets: StreamResetDetail[] = [];
  const alice = makeIdentity();
  const bob = makeIdentity(); // served, empty box: the honest fetch after every hostile one
  let stored: Envelope[] = [];
  let clock = 0;

  before(async () => {
    storage.serve(alice.key);
    storage.serve(bob.key);
    server = await createMailboxNode({
      storage,
      readTimeout: READ_TIMEOUT,
      ackTimeout: READ_TIMEOUT,
      rateLimit: { now: () => clock },
    });
    server.services.mailbox.addEventListener('reset', (evt) => {
      resets.push((evt as CustomEvent<StreamResetDetail>).detail);
    });
    client = await createPlainNode();
    const first = server.getMultiaddrs()[0];
    assert.ok(first);
    addr = first;
  });

  after(async () => {
    await Promise.allSettled([client?.stop(), server?.stop()]);
  });

  beforeEach(() => {
    clock += 1e9; // a full rate-limit bucket for every test
    storage.clear();
    stored = Array.from({ length: 5 }, () => storage.deposit(makeEnvelope(alice.key)));
  });

  /**
   * Runs `act` on a fresh raw stream and checks: the mailbox reset it with `code` (stats + event)
   * within `within` ms, no entry was deleted, and an honest client is still served. Returns the ms
   * from the end of `act` to the reset.
   */
  async function hostile(act: (raw: RawSession) => Promise<void>, code: string, within: number): Promise<number> {
    const stats = server.services.mailbox.stats;
    const before = { resets: resets.length, counted: stats.resets[code] ?? 0, deleted: stats.deleted };
    const raw = await rawSession(client, addr);
    await act(raw);
    const { error, elapsed } = await waitForClose(raw.stream, within);
    assert.ok(error, 'the stream was reset, not closed cleanly');
    await waitFor(() => resets.length > before.resets, T, `reset event ${code}`);
    assert.equal(resets[before.resets]?.code, code);
    assert.equal(stats.resets[code], before.counted + 1, `stats.resets.${code} counted`);
    assert.equal(stats.deleted, before.deleted, 'nothing deleted');
    assert.deepEqual(
      storage.ids(alice.key),
      stored.map((e) => hex(e.id)),
      'storage unchanged',
    );
    const honest = await fetchMailbox(client, addr, {
      identity: bob.key,
      sign: bob.sign,
      localPeer: client.peerId,
      onBatch: async () => {},
      timeout: T,
    });
    assert.equal(honest.fetched, 0, 'an honest client is still served');
    return elapsed;
  }

  /** Authenticates as alice on `raw` and returns the first batch's ids. */
  async function firstBatch(raw: RawSession): Promise<Uint8Array[]> {
    const entries = okEntries(await raw.authenticate(alice, server.peerId, client.peerId));
    assert.equal(entries.length, stored.length);
    return entries.map((e) => e.id);
  }

  describe('framing', () => {
    it('a length prefix above MAX_CLIENT_FRAME_BYTES is reset at once, without the payload', async () => {
      const elapsed = await hostile(
        async (raw) => void raw.stream.send(varint(MAX_CLIENT_FRAME_BYTES + 1)),
        'ERR_FRAME_TOO_LARGE',
        T,
      );
      assert.ok(elapsed < READ_TIMEOUT, `reset after ${elapsed.toFixed(0)} ms, not at the read timeout`);
    });

    it('a 4 GiB length prefix (over-long varint) is reset at once', async () => {
      await hostile(async (raw) => void raw.stream.send(varint(2 ** 32)), 'ERR_FRAME_TOO_LARGE', READ_TIMEOUT / 2);
    });

    it('an unterminated length prefix is reset at once', async () => {
      await hostile(
        async (raw) => void raw.stream.send(new Uint8Array(3).fill(0x80)),
        'ERR_FRAME_TOO_LARGE',
        READ_TIMEOUT / 2,
      );
    });

    it('an oversized Ack frame after a batch (arriving in one piece)', async () => {
      await hostile(
        async (raw) => {
          await firstBatch(raw);
          raw.stream.send(frame(new Uint8Array(MAX_CLIENT_FRAME_BYTES + 1)));
        },
        'ERR_FRAME_TOO_LARGE',
        T,
      );
    });

    it('a truncated frame, then end of stream', async () => {
      await hostile(
        async (raw) => {
          raw.stream.send(Uint8Array.of(40, 0x0a, 0x22, 1, 2, 3));
          await raw.stream.close();
        },
        'ERR_TRUNCATED_FRAME',
        T,
      );
    });
  });

  describe('malformed protobuf and wrong sizes', () => {
    it('garbage protobuf', async () => {
      await hostile(
        async (raw) => void raw.stream.send(frame(new Uint8Array(40).fill(0xff))),
        'ERR_MALFORMED_FRAME',
        T,
      );
    });

    it('an empty ClientFrame (no member set)', async () => {
      await hostile(async (raw) => void raw.stream.send(frame(new Uint8Array(0))), 'ERR_MALFORMED_FRAME', T);
    });

    for (const size of [0, 31, 33]) {
      it(`a ${size}-byte identity`, async () => {
        await hostile(
          (raw) => raw.send({ hello: { identity: u8(new Uint8Array(size).fill(1)) } }),
          'ERR_INVALID_FIELD_LENGTH',
          T,
        );
      });
    }

    it('a 63-byte signature', async () => {
      await hostile(
        async (raw) => {
          await raw.send({ hello: { identity: u8(alice.key) } });
          assert.equal((await raw.read()).type, 'challenge');
          await raw.send({ auth: { signature: u8(new Uint8Array(63).fill(1)), prekeys: [] } });
        },
        'ERR_INVALID_FIELD_LENGTH',
        T,
      );
    });

    it('an Auth uploading more than MAX_UPLOAD_PREKEYS prekeys, or a 31-byte prekey', async () => {
      const many = Array.from({ length: MAX_UPLOAD_PREKEYS + 1 }, (_, i) => ({
        id: i,
        publicKey: u8(new Uint8Array(32)),
      }));
      await hostile(
        async (raw) => {
          await raw.send({ hello: { identity: u8(alice.key) } });
          assert.equal((await raw.read()).type, 'challenge');
          await raw.send({ auth: { signature: u8(new Uint8Array(64).fill(1)), prekeys: many } });
        },
        'ERR_TOO_MANY_PREKEYS',
        T,
      );
      await hostile(
        async (raw) => {
          await raw.send({ hello: { identity: u8(alice.key) } });
          assert.equal((await raw.read()).type, 'challenge');
          await raw.send({
            auth: {
              signature: u8(new Uint8Array(64).fill(1)),
              prekeys: [{ id: 1, publicKey: u8(new Uint8Array(31)) }],
            },
          });
        },
        'ERR_INVALID_FIELD_LENGTH',
        T,
      );
    });

    it('an Ack with a 15-byte id next to valid ones deletes none of them', async () => {
      await hostile(
        async (raw) => {
          const ids = await firstBatch(raw);
          await raw.send({ ack: { ids: [...ids.map(u8), u8(new Uint8Array(15))] } });
        },
        'ERR_INVALID_FIELD_LENGTH',
        T,
      );
    });

    it(`an Ack with more than MAX_ACK_IDS (${MAX_ACK_IDS}) ids deletes none of them`, async () => {
      await hostile(
        async (raw) => {
          const ids = await firstBatch(raw);
          const padding = Array.from({ length: MAX_ACK_IDS + 1 - ids.length }, (_, i) => new Uint8Array(16).fill(i));
          await raw.send({ ack: { ids: [...ids, ...padding].map(u8) } });
        },
        'ERR_TOO_MANY_IDS',
        T,
      );
    });
  });

  describe('frames out of turn', () => {
    it('Auth before Hello', async () => {
      await hostile(
        (raw) => raw.send({ auth: { signature: u8(new Uint8Array(64).fill(1)), prekeys: [] } }),
        'ERR_UNEXPECTED_FRAME',
        T,
      );
    });

    it('Ack before Hello (even with the right ids)', async () => {
      await hostile((raw) => raw.send({ ack: { ids: stored.map((e) => u8(e.id)) } }), 'ERR_UNEXPECTED_FRAME', T);
    });

    it('a second Hello instead of Auth', async () => {
      await hostile(
        async (raw) => {
          await raw.send({ hello: { identity: u8(alice.key) } });
          assert.equal((await raw.read()).type, 'challenge');
          await raw.send({ hello: { identity: u8(bob.key) } });
        },
        'ERR_UNEXPECTED_FRAME',
        T,
      );
    });

    it('Ack instead of Auth (an unauthenticated delete)', async () => {
      await hostile(
        async (raw) => {
          await raw.send({ hello: { identity: u8(alice.key) } });
          assert.equal((await raw.read()).type, 'challenge');
          await raw.send({ ack: { ids: stored.map((e) => u8(e.id)) } });
        },
        'ERR_UNEXPECTED_FRAME',
        T,
      );
    });

    it('Hello instead of an Ack', async () => {
      await hostile(
        async (raw) => {
          await firstBatch(raw);
          await raw.send({ hello: { identity: u8(alice.key) } });
        },
        'ERR_UNEXPECTED_FRAME',
        T,
      );
    });
  });

  describe('timeouts', () => {
    it('an idle stream is reset at the read timeout', async () => {
      await hostile(async () => {}, 'ERR_READ_TIMEOUT', READ_TIMEOUT * 4);
    });

    it('a client that never answers the Challenge is reset at the read timeout', async () => {
      await hostile(
        async (raw) => {
          await raw.send({ hello: { identity: u8(alice.key) } });
          assert.equal((await raw.read()).type, 'challenge');
        },
        'ERR_READ_TIMEOUT',
        READ_TIMEOUT * 4,
      );
    });

    it('a client that never acks is reset at the ack timeout, nothing deleted', async () => {
      await hostile(async (raw) => void (await firstBatch(raw)), 'ERR_READ_TIMEOUT', READ_TIMEOUT * 4);
    });
  });
});
