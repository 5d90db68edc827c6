// The requester's validation and typed errors against a responder that misbehaves on
// /sotto/prekeys/1.0.0: it must never hand a low-order, non-canonical or wrong-size key to PQXDH.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Libp2p, Stream } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';
import type { Multiaddr } from '@multiformats/multiaddr';
import { createEnv } from '../../../src/crypto/env.js';
import { generateOneTimePrekey } from '../../../src/crypto/keys.js';
import {
  BadResponseError,
  ClaimStatus,
  ClaimTimeoutError,
  claimPrekey,
  decodeClaimRequest,
  decodeClaimResponse,
  encodeClaimResponse,
  InvalidFieldLengthError,
  MalformedFrameError,
  NoResponseError,
  PROTOCOL_ID,
  RateLimitedError,
  StreamResetError,
  UnavailableError,
} from '../../../src/protocols/prekeys/index.js';
import {
  ClaimRequest as PbClaimRequest,
  ClaimResponse as PbClaimResponse,
} from '../../../src/protocols/prekeys/pb/prekeys.js';
import { createPlainNode, equal, waitForClose } from './helpers.js';

const fromHex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'));
/** Small-order X25519 points (canonical encodings), and two non-canonical encodings. */
const LOW_ORDER = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
].map(fromHex);
const NON_CANONICAL = [
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // p itself
  '0900000000000000000000000000000000000000000000000000000000000080', // top bit set
].map(fromHex);
const good = generateOneTimePrekey(createEnv(), 7);
const identity = new Uint8Array(32).fill(0xa1);

describe('frame codecs', () => {
  it('a well-formed OK response round-trips; the zero status is never success', () => {
    const frame = encodeClaimResponse({ status: ClaimStatus.OK, prekey: { id: 7, publicKey: good.publicKey } });
    const r = decodeClaimResponse(frame);
    assert.equal(r.status, ClaimStatus.OK);
    assert.ok(r.status === ClaimStatus.OK && r.prekey.id === 7 && equal(r.prekey.publicKey, good.publicKey));
    assert.throws(() => decodeClaimResponse(new Uint8Array(0)), BadResponseError);
    assert.throws(
      () =>
        decodeClaimResponse(PbClaimResponse.encode({ id: 7, publicKey: good.publicKey as Uint8Array<ArrayBuffer> })),
      BadResponseError,
    );
    assert.throws(() => decodeClaimResponse(Uint8Array.of(0x08, 99)), BadResponseError, 'unknown status');
  });
  it('OK without a key, with a wrong-size, low-order or non-canonical key → BadResponseError', () => {
    const bad = [
      new Uint8Array(0),
      new Uint8Array(31).fill(9),
      new Uint8Array(33).fill(9),
      ...LOW_ORDER,
      ...NON_CANONICAL,
    ];
    for (const publicKey of bad) {
      const frame = PbClaimResponse.encode({
        status: PbClaimResponse.Status.OK,
        id: 1,
        publicKey: publicKey as Uint8Array<ArrayBuffer>,
      });
      assert.throws(() => decodeClaimResponse(frame), BadResponseError);
    }
  });
  it('requests: 32-byte identity only', () => {
    assert.ok(equal(decodeClaimRequest(PbClaimRequest.encode({ identity })).identity, identity));
    assert.throws(
      () => decodeClaimRequest(PbClaimRequest.encode({ identity: new Uint8Array(31) })),
      InvalidFieldLengthError,
    );
    assert.throws(() => decodeClaimRequest(new Uint8Array(8).fill(0xff)), MalformedFrameError);
  });
});

describe('claimPrekey against a misbehaving responder', () => {
  let raw: Libp2p;
  let client: Libp2p;
  let addr: Multiaddr;
  let behave: (stream: Stream) => Promise<void> = async () => {};
  let requests = 0;

  before(async () => {
    raw = await createPlainNode();
    await raw.handle(PROTOCOL_ID, (stream) => behave(stream), { maxInboundStreams: 64 });
    client = await createPlainNode();
    const first = raw.getMultiaddrs()[0];
    assert.ok(first);
    addr = first;
  });

  after(async () => {
    await Promise.allSettled([client?.stop(), raw?.stop()]);
  });

  /** The responder reads the request, then answers `payload` (raw protobuf bytes). */
  function answer(payload: Uint8Array): (stream: Stream) => Promise<void> {
    return async (stream) => {
      const lp = lpStream(stream);
      decodeClaimRequest(await lp.read());
      requests++;
      await lp.write(payload);
      await stream.close();
    };
  }
  const okWith = (publicKey: Uint8Array, id = 1): Uint8Array =>
    PbClaimResponse.encode({ status: PbClaimResponse.Status.OK, id, publicKey: publicKey as Uint8Array<ArrayBuffer> });

  it('a valid OK (id 0 is a valid id) → the prekey', async () => {
    behave = answer(okWith(good.publicKey, 0));
    const p = await claimPrekey(client, addr, identity, { timeout: 3000 });
    assert.ok(p);
    assert.equal(p.id, 0);
    assert.ok(equal(p.publicKey, good.publicKey));
  });

  it('a low-order public key → BadResponseError (every small-order point)', async () => {
    for (const key of LOW_ORDER) {
      behave = answer(okWith(key));
      await assert.rejects(claimPrekey(client, addr, identity, { timeout: 3000 }), BadResponseError);
    }
  });

  it('a wrong-size or non-canonical public key → BadResponseError', async () => {
    for (const key of [new Uint8Array(31).fill(9), new Uint8Array(33).fill(9), new Uint8Array(0), ...NON_CANONICAL]) {
      behave = answer(okWith(key));
      await assert.rejects(claimPrekey(client, addr, identity, { timeout: 3000 }), BadResponseError);
    }
  });

  it('no status / an unknown status / an oversized response frame → BadResponseError', async () => {
    behave = answer(PbClaimResponse.encode({ id: 1, publicKey: good.publicKey as Uint8Array<ArrayBuffer> }));
    await assert.rejects(claimPrekey(client, addr, identity, { timeout: 3000 }), BadResponseError);
    behave = answer(Uint8Array.of(0x08, 42));
    await assert.rejects(claimPrekey(client, addr, identity, { timeout: 3000 }), BadResponseError);
    behave = answer(new Uint8Array(4096));
    await assert.rejects(claimPrekey(client, addr, identity, { timeout: 3000 }), BadResponseError);
  });

  it('RATE_LIMITED → RateLimitedError with the hint; UNAVAILABLE → UnavailableError', async () => {
    behave = answer(encodeClaimResponse({ status: ClaimStatus.RATE_LIMITED, retryAfterMs: 1234 }));
    await assert.rejects(
      claimPrekey(client, addr, identity, { timeout: 3000 }),
      (err) => err instanceof RateLimitedError && err.retryAfterMs === 1234,
    );
    behave = answer(encodeClaimResponse({ status: ClaimStatus.UNAVAILABLE }));
    await assert.rejects(claimPrekey(client, addr, identity, { timeout: 3000 }), UnavailableError);
  });

  it('reset by the responder → StreamResetError; closed without a response → NoResponseError', async () => {
    behave = async (stream) => {
      await lpStream(stream).read();
      stream.abort(new Error('go away'));
    };
    await assert.rejects(claimPrekey(client, addr, identity, { timeout: 3000 }), StreamResetError);
    behave = async (stream) => {
      await lpStream(stream).read();
      await stream.close();
    };
    await assert.rejects(claimPrekey(client, addr, identity, { timeout: 3000 }), NoResponseError);
  });

  it('a responder that never answers → ClaimTimeoutError at the timeout, stream reset', async () => {
    let held: Stream | undefined;
    behave = async (stream) => {
      held = stream;
    };
    const start = performance.now();
    await assert.rejects(claimPrekey(client, addr, identity, { timeout: 300 }), ClaimTimeoutError);
    const elapsed = performance.now() - start;
    assert.ok(elapsed >= 250 && elapsed < 2000, `gave up after ${elapsed.toFixed(0)} ms`);
    assert.ok(held, 'the responder saw the stream');
    const { error } = await waitForClose(held, 2000);
    assert.ok(error, 'the requester reset the stream');
  });

  it("the caller's abort wins over the timeout and is rethrown as is", async () => {
    behave = async () => {};
    const controller = new AbortController();
    const reason = new Error('caller gave up');
    setTimeout(() => controller.abort(reason), 50);
    await assert.rejects(
      claimPrekey(client, addr, identity, { timeout: 5000, signal: controller.signal }),
      (err) => err === reason,
    );
  });

  it('a wrong-size identity is refused before dialling', async () => {
    const before = requests;
    await assert.rejects(claimPrekey(client, addr, new Uint8Array(31)), InvalidFieldLengthError);
    assert.equal(requests, before);
  });
});
