/**
 * Sealed envelopes (protocols/message/SPEC.md §9): round trips with both providers, sizes and
 * padding, and every way a sealed envelope can be wrong — each a typed error, never a crash.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  type CryptoProvider,
  createEnv,
  hpkeSeal,
  nobleProvider,
  nodeProvider,
  toHex,
} from '../../../src/crypto/index.js';
import {
  decodeEnvelope,
  EmptyBodyError,
  type Envelope,
  encodeEnvelope,
  InvalidFieldLengthError,
  InvalidSealedLengthError,
  isSealed,
  MAX_BODY_BYTES,
  MAX_FRAME_BYTES,
  MAX_SEALED_BYTES,
  MalformedFrameError,
  openSealedEnvelope,
  padSealed,
  SEAL_PAD_BLOCK,
  SEALED_INFO,
  SEALED_OVERHEAD_BYTES,
  type SealedEnvelope,
  sealEnvelope,
  UnsealableEnvelopeError,
  unpadSealed,
} from '../../../src/protocols/message/index.js';
import { Envelope as PbEnvelope, SealedContent } from '../../../src/protocols/message/pb/message.js';

const MAX_TIMESTAMP = Number.MAX_SAFE_INTEGER;
/** The codec only copies bytes; its types ask for an ArrayBuffer-backed array. */
const u8 = (b: Uint8Array): Uint8Array<ArrayBuffer> => b as Uint8Array<ArrayBuffer>;

function identity(provider: CryptoProvider) {
  const seed = randomBytes(32);
  return { key: provider.ed25519PublicKey(seed), sealKey: provider.ed25519SeedToX25519(seed) };
}

function plain(recipient: Uint8Array, body: Uint8Array = randomBytes(40), timestamp = 1_700_000_000_123): Envelope {
  return { id: randomBytes(16), sender: randomBytes(32), recipient, timestamp, body };
}

const hex = (e: Envelope) => `${[e.id, e.sender, e.recipient, e.body].map(toHex).join('/')}/${e.timestamp}`;

for (const provider of [nodeProvider, nobleProvider]) {
  describe(`sealed envelopes (${provider.name} provider)`, () => {
    const env = createEnv({ provider });

    it('open(seal(e)) = e for any valid envelope; the wire form carries no sender, timestamp or body', () => {
      const bob = identity(provider);
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: 1, maxLength: 3000 }),
          fc.integer({ min: 1, max: MAX_TIMESTAMP }),
          (body, timestamp) => {
            const e = plain(bob.key, body, timestamp);
            const sealed = sealEnvelope(env, e);
            const wire = decodeEnvelope(encodeEnvelope(sealed));
            assert.ok(isSealed(wire));
            const pb = PbEnvelope.decode(encodeEnvelope(sealed));
            assert.deepEqual([pb.sender.length, pb.timestamp, pb.body.length], [0, 0n, 0]);
            assert.equal(hex(openSealedEnvelope(provider, bob.sealKey, wire)), hex(e));
          },
        ),
        { numRuns: 60 },
      );
    });

    it('sizes: 48 + k·256; a receipt-sized and a short text look the same; the largest body fits a frame', () => {
      const bob = identity(provider);
      const small = sealEnvelope(env, plain(bob.key, randomBytes(60)));
      const text = sealEnvelope(env, plain(bob.key, randomBytes(180)));
      assert.equal(small.sealed.length, SEALED_OVERHEAD_BYTES + SEAL_PAD_BLOCK);
      assert.equal(text.sealed.length, small.sealed.length);
      const largest = sealEnvelope(env, plain(bob.key, randomBytes(MAX_BODY_BYTES), MAX_TIMESTAMP));
      assert.equal(largest.sealed.length, MAX_SEALED_BYTES);
      assert.ok(encodeEnvelope(largest).length <= MAX_FRAME_BYTES);
      assert.equal(hex(openSealedEnvelope(provider, bob.sealKey, largest)).length > 0, true);
    });

    it('each seal is fresh: the same envelope sealed twice differs, both open', () => {
      const bob = identity(provider);
      const e = plain(bob.key);
      const one = sealEnvelope(env, e);
      const two = sealEnvelope(env, e);
      assert.notEqual(toHex(one.sealed), toHex(two.sealed));
      assert.equal(hex(openSealedEnvelope(provider, bob.sealKey, two)), hex(e));
    });

    it('does not open for another identity, after the id or recipient was swapped, or with a flipped bit', () => {
      const bob = identity(provider);
      const carol = identity(provider);
      const s = sealEnvelope(env, plain(bob.key));
      const cases: [string, Uint8Array, SealedEnvelope][] = [
        ['another identity key', carol.sealKey, s],
        ['another id', bob.sealKey, { ...s, id: randomBytes(16) }],
        ['moved to another recipient', carol.sealKey, { ...s, recipient: carol.key }],
      ];
      for (let i = 0; i < s.sealed.length; i += 97) {
        const bad = s.sealed.slice();
        bad[i] = (bad[i] as number) ^ 0x01;
        cases.push([`byte ${i} flipped`, bob.sealKey, { ...s, sealed: bad }]);
      }
      for (const [what, key, envelope] of cases) {
        assert.throws(() => openSealedEnvelope(provider, key, envelope), UnsealableEnvelopeError, what);
      }
    });

    it('contents that open but break the rules: bad padding, not protobuf, an invalid inner envelope', () => {
      const bob = identity(provider);
      const recipientKey = provider.ed25519PublicToX25519(bob.key);
      const id = randomBytes(16);
      const seal = (plaintext: Uint8Array): SealedEnvelope => ({
        id,
        recipient: bob.key,
        sealed: hpkeSeal(
          provider,
          recipientKey,
          new TextEncoder().encode(SEALED_INFO),
          new Uint8Array([...id, ...bob.key]),
          plaintext,
          randomBytes(32),
        ),
      });
      const valid = SealedContent.encode({ sender: randomBytes(32), timestamp: 5n, body: randomBytes(10) });
      const noMarker = new Uint8Array(SEAL_PAD_BLOCK);
      noMarker.set(valid);
      assert.throws(() => openSealedEnvelope(provider, bob.sealKey, seal(noMarker)), UnsealableEnvelopeError);
      assert.throws(
        () => openSealedEnvelope(provider, bob.sealKey, seal(new Uint8Array(SEAL_PAD_BLOCK))),
        UnsealableEnvelopeError,
      );
      assert.throws(
        () => openSealedEnvelope(provider, bob.sealKey, seal(padSealed(Uint8Array.of(0xff, 0xff, 0xff)))),
        MalformedFrameError,
      );
      const emptyBody = SealedContent.encode({ sender: randomBytes(32), timestamp: 5n, body: new Uint8Array(0) });
      assert.throws(() => openSealedEnvelope(provider, bob.sealKey, seal(padSealed(emptyBody))), EmptyBodyError);
      const shortSender = SealedContent.encode({ sender: randomBytes(31), timestamp: 5n, body: randomBytes(3) });
      assert.throws(
        () => openSealedEnvelope(provider, bob.sealKey, seal(padSealed(shortSender))),
        InvalidFieldLengthError,
      );
      assert.equal(openSealedEnvelope(provider, bob.sealKey, seal(padSealed(valid))).timestamp, 5);
    });
  });
}

describe('sealed envelopes on the wire (SPEC §4)', () => {
  const env = createEnv();
  const bob = identity(nodeProvider);

  it('a sealed length that is not 48 + k·256 within MAX_SEALED_BYTES is ERR_INVALID_FIELD_LENGTH', () => {
    for (const n of [1, 47, 48, 303, 305, 48 + 2 * SEAL_PAD_BLOCK - 1, MAX_SEALED_BYTES + SEAL_PAD_BLOCK]) {
      const frame = PbEnvelope.encode({ id: randomBytes(16), recipient: u8(bob.key), sealed: randomBytes(n) });
      assert.throws(
        () => decodeEnvelope(frame),
        (err: unknown) => err instanceof InvalidSealedLengthError && err.code === 'ERR_INVALID_FIELD_LENGTH',
        `${n} bytes`,
      );
    }
    const ok = PbEnvelope.encode({ id: randomBytes(16), recipient: u8(bob.key), sealed: randomBytes(304) });
    assert.ok(isSealed(decodeEnvelope(ok)));
  });

  it('a sealed envelope that also carries sender, timestamp or body is malformed', () => {
    const s = sealEnvelope(env, plain(bob.key));
    const base = { id: u8(s.id), recipient: u8(s.recipient), sealed: u8(s.sealed) };
    for (const extra of [{ sender: randomBytes(32) }, { timestamp: 1n }, { body: randomBytes(5) }]) {
      assert.throws(() => decodeEnvelope(PbEnvelope.encode({ ...base, ...extra })), MalformedFrameError);
    }
  });

  it('sealing refuses a recipient key that is not a point of large order', () => {
    const e = plain(new Uint8Array(32).fill(0).map((_, i) => (i === 0 ? 1 : 0))); // the identity point
    assert.throws(() => sealEnvelope(env, e), /small order|large order/);
  });

  it('padding: unpad(pad(x)) = x and |pad(x)| is the next multiple of 256 above |x|', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (x) => {
        const padded = padSealed(x);
        assert.equal(padded.length % SEAL_PAD_BLOCK, 0);
        assert.ok(padded.length > x.length && padded.length - x.length <= SEAL_PAD_BLOCK);
        assert.equal(toHex(unpadSealed(padded)), toHex(x));
      }),
    );
  });
});
