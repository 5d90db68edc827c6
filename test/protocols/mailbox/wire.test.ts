// /sotto/mailbox/1.0.0 without a network: the fetch-auth bytes against the SPEC §4 test vector (with
// both crypto providers), and the frame codecs' validation (SPEC §5).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id';
import { nobleProvider } from '../../../src/crypto/provider-noble.js';
import { nodeProvider } from '../../../src/crypto/provider-node.js';
import {
  BadResponseError,
  decodeClientFrame,
  decodeServerFrame,
  encodeClientFrame,
  encodeServerFrame,
  FETCH_AUTH_LABEL,
  fetchAuthMessage,
  InvalidFieldLengthError,
  MAX_ACK_IDS,
  MAX_BATCH_BYTES,
  MAX_BATCH_ENVELOPES,
  MAX_CLIENT_FRAME_BYTES,
  MAX_ENVELOPE_BYTES,
  MAX_SERVER_FRAME_BYTES,
  MailboxStatus,
  MalformedFrameError,
  TooManyIdsError,
} from '../../../src/protocols/mailbox/index.js';
import {
  Batch as PbBatch,
  ClientFrame as PbClientFrame,
  ServerFrame as PbServerFrame,
} from '../../../src/protocols/mailbox/pb/mailbox.js';
import { MAX_FRAME_BYTES as MESSAGE_MAX_FRAME_BYTES } from '../../../src/protocols/message/index.js';
import { equal, hex, u8 } from './helpers.js';

const fromHex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'));

// SPEC §4 "Test vector" — keep in step with the table there.
const VECTOR = {
  mailboxPeerId: '12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5',
  mailboxPeer: '0024080112208a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c',
  clientPeerId: '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq',
  clientPeer: '0024080112208139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394',
  identitySeed: '0303030303030303030303030303030303030303030303030303030303030303',
  identity: 'ed4928c628d1c2c6eae90338905995612959273a5c63f93636c14614ac8737d1',
  nonce: '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f',
  message: [
    '736f74746f2f6d61696c626f782f66657463682f7631',
    '26',
    '0024080112208a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c',
    '26',
    '0024080112208139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394',
    '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f',
    'ed4928c628d1c2c6eae90338905995612959273a5c63f93636c14614ac8737d1',
  ].join(''),
  signature:
    '9423185b4e5db7a951af84867d036cf6385c892faf1d7dd8e90dc5f39218a3d9cc2809388b8bcaa4ef5c428e4d0c256746c78e5dab559e3515e1d648f01c8b06',
};

describe('fetch-auth bytes (SPEC §4)', () => {
  it('the peer ids of the vector come from the Ed25519 seeds 01…01 and 02…02', async () => {
    const mailbox = peerIdFromPrivateKey(await generateKeyPairFromSeed('Ed25519', new Uint8Array(32).fill(1)));
    const client = peerIdFromPrivateKey(await generateKeyPairFromSeed('Ed25519', new Uint8Array(32).fill(2)));
    assert.equal(mailbox.toString(), VECTOR.mailboxPeerId);
    assert.equal(client.toString(), VECTOR.clientPeerId);
    assert.equal(hex(mailbox.toMultihash().bytes), VECTOR.mailboxPeer);
    assert.equal(hex(client.toMultihash().bytes), VECTOR.clientPeer);
  });

  it('fetchAuthMessage reproduces the vector byte for byte', () => {
    const message = fetchAuthMessage({
      mailboxPeer: peerIdFromString(VECTOR.mailboxPeerId).toMultihash().bytes,
      clientPeer: peerIdFromString(VECTOR.clientPeerId).toMultihash().bytes,
      nonce: fromHex(VECTOR.nonce),
      identity: fromHex(VECTOR.identity),
    });
    assert.equal(hex(message), VECTOR.message);
    assert.equal(message.byteLength, 164);
    assert.equal(Buffer.from(message.subarray(0, 22)).toString('ascii'), FETCH_AUTH_LABEL);
  });

  for (const provider of [nodeProvider, nobleProvider]) {
    it(`identity key and signature of the vector (${provider.name})`, () => {
      const seed = fromHex(VECTOR.identitySeed);
      assert.equal(hex(provider.ed25519PublicKey(seed)), VECTOR.identity);
      const signature = provider.ed25519Sign(seed, fromHex(VECTOR.message));
      assert.equal(hex(signature), VECTOR.signature);
      assert.ok(provider.ed25519Verify(fromHex(VECTOR.identity), fromHex(VECTOR.message), signature));
    });
  }

  it('every input changes the bytes: the signature binds mailbox, client, nonce and identity', () => {
    const fields = {
      mailboxPeer: fromHex(VECTOR.mailboxPeer),
      clientPeer: fromHex(VECTOR.clientPeer),
      nonce: fromHex(VECTOR.nonce),
      identity: fromHex(VECTOR.identity),
    };
    const swapped = fetchAuthMessage({ ...fields, mailboxPeer: fields.clientPeer, clientPeer: fields.mailboxPeer });
    assert.notEqual(hex(swapped), VECTOR.message, 'mailbox and client are not interchangeable');
    for (const key of Object.keys(fields) as Array<keyof typeof fields>) {
      const changed = Uint8Array.from(fields[key]);
      changed[changed.length - 1] = (changed[changed.length - 1] ?? 0) ^ 1;
      const message = fetchAuthMessage({ ...fields, [key]: changed });
      assert.notEqual(hex(message), VECTOR.message, `${key} is covered`);
      assert.ok(!nodeProvider.ed25519Verify(fromHex(VECTOR.identity), message, fromHex(VECTOR.signature)));
    }
  });

  it('rejects a wrong-size nonce or identity and an empty or over-long peer id', () => {
    const ok = {
      mailboxPeer: fromHex(VECTOR.mailboxPeer),
      clientPeer: fromHex(VECTOR.clientPeer),
      nonce: fromHex(VECTOR.nonce),
      identity: fromHex(VECTOR.identity),
    };
    assert.throws(() => fetchAuthMessage({ ...ok, nonce: new Uint8Array(31) }), InvalidFieldLengthError);
    assert.throws(() => fetchAuthMessage({ ...ok, identity: new Uint8Array(33) }), InvalidFieldLengthError);
    assert.throws(() => fetchAuthMessage({ ...ok, mailboxPeer: new Uint8Array(0) }), RangeError);
    assert.throws(() => fetchAuthMessage({ ...ok, clientPeer: new Uint8Array(256) }), RangeError);
    assert.equal(fetchAuthMessage({ ...ok, clientPeer: new Uint8Array(255) }).byteLength, 22 + 39 + 256 + 64);
  });
});

describe('frame codecs (SPEC §5)', () => {
  const id = (n: number): Uint8Array => new Uint8Array(16).fill(n);

  it('client frames round-trip; the largest valid one fits MAX_CLIENT_FRAME_BYTES', () => {
    const identity = new Uint8Array(32).fill(7);
    const hello = decodeClientFrame(encodeClientFrame({ type: 'hello', identity }));
    assert.ok(hello.type === 'hello' && equal(hello.identity, identity));
    const signature = new Uint8Array(64).fill(9);
    const auth = decodeClientFrame(encodeClientFrame({ type: 'auth', signature, prekeys: [] }));
    assert.ok(auth.type === 'auth' && equal(auth.signature, signature));
    const ids = Array.from({ length: MAX_ACK_IDS }, (_, i) => id(i));
    const frame = encodeClientFrame({ type: 'ack', ids });
    assert.ok(frame.byteLength <= MAX_CLIENT_FRAME_BYTES, `${frame.byteLength} bytes`);
    const ack = decodeClientFrame(frame);
    assert.ok(ack.type === 'ack' && ack.ids.length === MAX_ACK_IDS);
    const empty = decodeClientFrame(encodeClientFrame({ type: 'ack', ids: [] }));
    assert.equal(empty.type, 'ack', 'an empty Ack is not an empty Hello');
  });

  it('client frame violations are typed', () => {
    assert.throws(() => decodeClientFrame(new Uint8Array(0)), MalformedFrameError, 'no member');
    assert.throws(() => decodeClientFrame(new Uint8Array(12).fill(0xff)), MalformedFrameError);
    assert.throws(
      () => decodeClientFrame(PbClientFrame.encode({ hello: { identity: u8(new Uint8Array(31)) } })),
      InvalidFieldLengthError,
    );
    assert.throws(() => decodeClientFrame(PbClientFrame.encode({ hello: { identity: u8(new Uint8Array(0)) } })), {
      name: 'InvalidFieldLengthError',
    });
    assert.throws(
      () => decodeClientFrame(PbClientFrame.encode({ auth: { signature: u8(new Uint8Array(63)), prekeys: [] } })),
      InvalidFieldLengthError,
    );
    assert.throws(
      () => decodeClientFrame(PbClientFrame.encode({ ack: { ids: [u8(id(1)), u8(new Uint8Array(15))] } })),
      InvalidFieldLengthError,
    );
    const tooMany = Array.from({ length: MAX_ACK_IDS + 1 }, (_, i) => u8(id(i)));
    assert.throws(() => decodeClientFrame(PbClientFrame.encode({ ack: { ids: tooMany } })), TooManyIdsError);
    assert.throws(() => encodeClientFrame({ type: 'ack', ids: tooMany }), TooManyIdsError);
  });

  it('server frames round-trip; a full batch fits MAX_SERVER_FRAME_BYTES', () => {
    const nonce = new Uint8Array(32).fill(3);
    const challenge = decodeServerFrame(encodeServerFrame({ type: 'challenge', nonce }));
    assert.ok(challenge.type === 'challenge' && equal(challenge.nonce, nonce));
    // the worst case: 64 entries whose envelopes total exactly MAX_BATCH_BYTES, remaining 2^32 - 1
    const size = Math.floor(MAX_BATCH_BYTES / MAX_BATCH_ENVELOPES);
    const entries = Array.from({ length: MAX_BATCH_ENVELOPES }, (_, i) => ({
      id: id(i),
      envelope: new Uint8Array(size).fill(i),
    }));
    const frame = encodeServerFrame({
      type: 'batch',
      batch: { status: MailboxStatus.OK, entries, remaining: 0xffff_ffff },
    });
    assert.ok(frame.byteLength <= MAX_SERVER_FRAME_BYTES, `${frame.byteLength} bytes`);
    const back = decodeServerFrame(frame);
    assert.ok(back.type === 'batch' && back.batch.status === MailboxStatus.OK);
    assert.equal(back.batch.entries.length, MAX_BATCH_ENVELOPES);
    assert.equal(back.batch.remaining, 0xffff_ffff);
    const limited = decodeServerFrame(
      encodeServerFrame({ type: 'batch', batch: { status: MailboxStatus.RATE_LIMITED, retryAfterMs: 1234 } }),
    );
    assert.deepEqual(limited, { type: 'batch', batch: { status: MailboxStatus.RATE_LIMITED, retryAfterMs: 1234 } });
    assert.equal(MAX_ENVELOPE_BYTES, MESSAGE_MAX_FRAME_BYTES, 'every deposit can be fetched');
  });

  it('server frame violations are BadResponseError; the zero status is never OK', () => {
    const bad: Uint8Array[] = [
      new Uint8Array(0), // no member
      new Uint8Array(10).fill(0xff), // not protobuf
      PbServerFrame.encode({ challenge: { nonce: u8(new Uint8Array(31)) } }),
      PbServerFrame.encode({
        batch: { status: PbBatch.Status.STATUS_UNSPECIFIED, entries: [], remaining: 0, retryAfterMs: 0, prekeys: 0 },
      }),
      Uint8Array.of(0x12, 0x02, 0x08, 0x63), // batch with status 99
      PbServerFrame.encode({
        batch: {
          status: PbBatch.Status.OK,
          entries: [{ id: u8(new Uint8Array(15)), envelope: u8(new Uint8Array(10)) }],
          remaining: 0,
          retryAfterMs: 0,
          prekeys: 0,
        },
      }),
      PbServerFrame.encode({
        batch: {
          status: PbBatch.Status.OK,
          entries: [{ id: u8(id(1)), envelope: u8(new Uint8Array(MAX_ENVELOPE_BYTES + 1)) }],
          remaining: 0,
          retryAfterMs: 0,
          prekeys: 0,
        },
      }),
      PbServerFrame.encode({
        batch: {
          status: PbBatch.Status.OK,
          entries: Array.from({ length: MAX_BATCH_ENVELOPES + 1 }, (_, i) => ({
            id: u8(id(i)),
            envelope: u8(new Uint8Array(1)),
          })),
          remaining: 0,
          retryAfterMs: 0,
          prekeys: 0,
        },
      }),
      PbServerFrame.encode({
        batch: {
          status: PbBatch.Status.OK,
          entries: Array.from({ length: 16 }, (_, i) => ({
            id: u8(id(i)),
            envelope: u8(new Uint8Array(MAX_ENVELOPE_BYTES)),
          })), // 16 × 66 560 > 1 MiB
          remaining: 0,
          retryAfterMs: 0,
          prekeys: 0,
        },
      }),
    ];
    for (const [i, frame] of bad.entries()) {
      assert.throws(() => decodeServerFrame(frame), BadResponseError, `case ${i}`);
    }
  });
});
