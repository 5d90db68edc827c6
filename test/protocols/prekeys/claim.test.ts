// /sotto/prekeys/1.0.0 between two real libp2p nodes on 127.0.0.1: at-most-once hand-out under
// concurrency, EMPTY → null, unknown identity, the per-peer rate limit (with an injected clock),
// hostile input, and the loopback latency quoted in the SPEC.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Libp2p, Stream } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';
import { isCanonicalX25519 } from '../../../src/crypto/keys.js';
import {
  CLAIM_BURST,
  CLAIM_REFILL_INTERVAL_MS,
  type ClaimedPrekey,
  claimPrekey,
  MAX_REQUEST_FRAME_BYTES,
  PROTOCOL_ID,
  RateLimitedError,
  type StreamResetDetail,
  UnknownIdentityError,
} from '../../../src/protocols/prekeys/index.js';
import { ClaimRequest as PbClaimRequest } from '../../../src/protocols/prekeys/pb/prekeys.js';
import {
  createNode,
  createPlainNode,
  equal,
  frame,
  HostedIdentity,
  median,
  type PrekeyNode,
  varint,
  waitFor,
  waitForClose,
} from './helpers.js';

const READ_TIMEOUT = 1000; // short, for the idle-stream case only
const T = { timeout: 5000 };

describe('/sotto/prekeys/1.0.0 between two libp2p nodes on 127.0.0.1', () => {
  let server: PrekeyNode;
  let client: Libp2p;
  let addr: Multiaddr;
  let alice: HostedIdentity;
  let clock = 0;
  const resets: StreamResetDetail[] = [];

  before(async () => {
    alice = await HostedIdentity.create(0xa1);
    server = await createNode({
      claim: (identity, requester, options) => alice.claim(identity, requester, options),
      rateLimit: { now: () => clock },
      readTimeout: READ_TIMEOUT,
    });
    server.services.prekeys.addEventListener('reset', (evt) => {
      resets.push((evt as CustomEvent<StreamResetDetail>).detail);
    });
    client = await createPlainNode();
    const first = server.getMultiaddrs()[0];
    assert.ok(first, 'server listens');
    addr = first;
  });

  after(async () => {
    await Promise.allSettled([client?.stop(), server?.stop(), alice?.store.close()]);
  });

  beforeEach(async () => {
    clock += 1e9; // every test starts with a full bucket; time moves only when a test moves it
    alice.raceWindowMs = 0;
    for (const id of await alice.store.prekeys.ids('one-time')) await alice.store.prekeys.remove('one-time', id);
  });

  function checkIssued(got: ClaimedPrekey): void {
    const key = alice.issued.get(got.id);
    assert.ok(key, `prekey ${got.id} was issued by alice`);
    assert.ok(equal(got.publicKey, key.publicKey), 'the public key is the issued one');
    assert.ok(isCanonicalX25519(got.publicKey));
  }

  it('three prekeys: three distinct ids, then EMPTY → null', async () => {
    await alice.add(3);
    const got: ClaimedPrekey[] = [];
    for (let i = 0; i < 3; i++) {
      const p = await claimPrekey(client, addr, alice.identity, T);
      assert.ok(p, `claim ${i + 1} returned a prekey`);
      checkIssued(p);
      got.push(p);
    }
    assert.equal(new Set(got.map((p) => p.id)).size, 3, 'three distinct ids');
    assert.equal(await alice.left(), 0, 'each one left the pool');
    assert.equal(await claimPrekey(client, addr, alice.identity, T), null);
    assert.equal(await claimPrekey(client, addr, alice.identity, T), null, 'still empty, still null');
  });

  it('a concurrent burst of 10 claims against 5 prekeys: exactly 5 distinct prekeys and 5 nulls', async () => {
    await alice.add(5);
    alice.raceWindowMs = 5; // a slow store: overlapping claims would all see the same first id
    const results = await Promise.all(Array.from({ length: 10 }, () => claimPrekey(client, addr, alice.identity, T)));
    const got = results.filter((r): r is ClaimedPrekey => r != null);
    assert.equal(got.length, 5);
    assert.equal(results.filter((r) => r === null).length, 5);
    assert.equal(new Set(got.map((p) => p.id)).size, 5, 'never the same prekey twice');
    for (const p of got) checkIssued(p);
    assert.equal(await alice.left(), 0);
  });

  it('bursts from two requesters at once never share a prekey', async () => {
    await alice.add(8);
    alice.raceWindowMs = 5;
    const other = await createPlainNode();
    try {
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) => claimPrekey(i % 2 === 0 ? client : other, addr, alice.identity, T)),
      );
      const ids = results.filter((r): r is ClaimedPrekey => r != null).map((p) => p.id);
      assert.equal(ids.length, 8);
      assert.equal(new Set(ids).size, 8);
    } finally {
      await other.stop();
    }
  });

  it('an unknown identity → UnknownIdentityError, and nothing is consumed', async () => {
    await alice.add(2);
    await assert.rejects(claimPrekey(client, addr, new Uint8Array(32).fill(0xee), T), UnknownIdentityError);
    assert.equal(await alice.left(), 2);
  });

  it(`rate limit: a burst above CLAIM_BURST (${CLAIM_BURST}) → RATE_LIMITED, refused claims consume nothing`, async () => {
    await alice.add(20);
    const claimsBefore = server.services.prekeys.stats.claims;
    const results = await Promise.allSettled(
      Array.from({ length: CLAIM_BURST + 5 }, () => claimPrekey(client, addr, alice.identity, T)),
    );
    const ok = results.filter((r) => r.status === 'fulfilled' && r.value != null);
    const limited = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
    assert.equal(ok.length, CLAIM_BURST);
    assert.equal(limited.length, 5);
    for (const err of limited) {
      assert.ok(err instanceof RateLimitedError, `typed error, got ${err}`);
      assert.equal(err.retryAfterMs, CLAIM_REFILL_INTERVAL_MS, 'hint: one refill interval (clock frozen)');
    }
    assert.equal(await alice.left(), 20 - CLAIM_BURST, 'refused claims consumed no prekey');
    assert.equal(
      server.services.prekeys.stats.claims - claimsBefore,
      CLAIM_BURST,
      'the callback saw only allowed claims',
    );

    // still limited at the same instant; one refill interval later, exactly one more claim
    await assert.rejects(claimPrekey(client, addr, alice.identity, T), RateLimitedError);
    clock += CLAIM_REFILL_INTERVAL_MS;
    assert.ok(await claimPrekey(client, addr, alice.identity, T));
    await assert.rejects(claimPrekey(client, addr, alice.identity, T), RateLimitedError);
    assert.equal(await alice.left(), 20 - CLAIM_BURST - 1);

    // the limit is per peer: another requester has its own full bucket
    const other = await createPlainNode();
    try {
      assert.ok(await claimPrekey(other, addr, alice.identity, T));
    } finally {
      await other.stop();
    }
  });

  describe('hostile input: stream reset, callback never called, server still serves', () => {
    async function hostile(write: (stream: Stream) => void, code: string, within: number): Promise<number> {
      await alice.add(1);
      const claimsBefore = server.services.prekeys.stats.claims;
      const before = resets.length;
      const stream = await client.dialProtocol(addr, PROTOCOL_ID);
      write(stream);
      const { error, elapsed } = await waitForClose(stream, within);
      assert.ok(error, 'the stream was reset, not closed cleanly');
      await waitFor(() => resets.length > before, 2000, `server reset event ${code}`);
      assert.equal(resets[before]?.code, code);
      assert.equal(server.services.prekeys.stats.claims, claimsBefore, 'claim was never called');
      assert.equal(await alice.left(), 1, 'nothing consumed');
      // the node still serves an honest claim
      const p = await claimPrekey(client, addr, alice.identity, T);
      assert.ok(p);
      checkIssued(p);
      return elapsed;
    }

    it('garbage protobuf', async () => {
      await hostile((s) => void s.send(frame(new Uint8Array(40).fill(0xff))), 'ERR_MALFORMED_FRAME', 2000);
    });

    it('a length prefix above MAX_REQUEST_FRAME_BYTES is reset without the body', async () => {
      await hostile((s) => void s.send(varint(MAX_REQUEST_FRAME_BYTES + 1)), 'ERR_FRAME_TOO_LARGE', READ_TIMEOUT / 2);
    });

    it('a 4 GiB length prefix (over-long varint) is reset promptly', async () => {
      await hostile((s) => void s.send(varint(2 ** 32)), 'ERR_FRAME_TOO_LARGE', READ_TIMEOUT / 2);
    });

    it('an unterminated length prefix is reset promptly, not at the read timeout', async () => {
      await hostile((s) => void s.send(new Uint8Array(3).fill(0x80)), 'ERR_FRAME_TOO_LARGE', READ_TIMEOUT / 2);
    });

    for (const size of [0, 31, 33]) {
      it(`wrong-size identity (${size} bytes)`, async () => {
        const bad = PbClaimRequest.encode({ identity: new Uint8Array(size).fill(0xa1) });
        await hostile((s) => void s.send(frame(bad)), 'ERR_INVALID_FIELD_LENGTH', 2000);
      });
    }

    it('end of stream inside the request', async () => {
      const good = frame(PbClaimRequest.encode({ identity: new Uint8Array(32).fill(0xa1) }));
      await hostile(
        (s) => {
          s.send(good.subarray(0, 10));
          void s.close();
        },
        'ERR_TRUNCATED_FRAME',
        2000,
      );
    });

    it('an idle stream (nothing sent) is reset by the read timeout', async () => {
      const elapsed = await hostile(() => {}, 'ERR_READ_TIMEOUT', READ_TIMEOUT * 3);
      assert.ok(elapsed >= READ_TIMEOUT * 0.8, `reset after ${elapsed.toFixed(0)} ms`);
    });
  });

  it('latency of one claim on loopback (median of 100)', async (t) => {
    await alice.add(120);
    await client.dial(addr);
    const run = async (): Promise<number> => {
      clock += CLAIM_REFILL_INTERVAL_MS; // the limit is not what is measured
      const start = performance.now();
      assert.ok(await claimPrekey(client, addr, alice.identity, T));
      return performance.now() - start;
    };
    for (let i = 0; i < 10; i++) await run(); // warm-up
    const times: number[] = [];
    for (let i = 0; i < 100; i++) times.push(await run());
    t.diagnostic(`median claim (new stream, store-backed callback): ${median(times).toFixed(3)} ms`);
    assert.ok(median(times) < 50);
  });
});
