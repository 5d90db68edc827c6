/**
 * HPKE base mode (src/crypto/hpke.ts) and the Ed25519 → X25519 conversions it is used with:
 * RFC 9180 Appendix A.2.1 with both providers, an independent implementation (@hpke/core) opening
 * what we seal and the other way round, tampering, and the conversions agreeing across providers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Chacha20Poly1305 } from '@hpke/chacha20poly1305';
import { CipherSuite, HkdfSha256 } from '@hpke/core';
import { DhkemX25519HkdfSha256 } from '@hpke/dhkem-x25519';
import fc from 'fast-check';
import {
  type CryptoProvider,
  fromHex,
  hpkeDeriveKeyPair,
  hpkeOpen,
  hpkeSeal,
  InvalidArgumentError,
  nobleProvider,
  nodeProvider,
  toHex,
} from '../../src/crypto/index.js';

const providers: CryptoProvider[] = [nodeProvider, nobleProvider];

/** RFC 9180 Appendix A.2.1 (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20Poly1305, Base), sequence 0. */
const A21 = {
  info: '4f6465206f6e2061204772656369616e2055726e',
  ikmE: '909a9b35d3dc4713a5e72a4da274b55d3d3821a37e5d099e74a647db583a904b',
  pkEm: '1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a',
  skEm: 'f4ec9b33b792c372c1d2c2063507b684ef925b8c75a42dbcbf57d63ccd381600',
  ikmR: '1ac01f181fdf9f352797655161c58b75c656a6cc2716dcb66372da835542e1df',
  pkRm: '4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a',
  skRm: '8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb',
  pt: '4265617574792069732074727574682c20747275746820626561757479',
  aad: '436f756e742d30',
  ct: '1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db21993c62ce81883d2dd1b51a28',
};

const suite = new CipherSuite({
  kem: new DhkemX25519HkdfSha256(),
  kdf: new HkdfSha256(),
  aead: new Chacha20Poly1305(),
});

for (const p of providers) {
  describe(`HPKE base mode (${p.name} provider)`, () => {
    it('reproduces RFC 9180 A.2.1: DeriveKeyPair of both keys, enc and the first ciphertext', () => {
      const e = hpkeDeriveKeyPair(p, fromHex(A21.ikmE));
      assert.equal(toHex(e.privateKey), A21.skEm);
      assert.equal(toHex(e.publicKey), A21.pkEm);
      const r = hpkeDeriveKeyPair(p, fromHex(A21.ikmR));
      assert.equal(toHex(r.privateKey), A21.skRm);
      assert.equal(toHex(r.publicKey), A21.pkRm);
      const sealed = hpkeSeal(p, r.publicKey, fromHex(A21.info), fromHex(A21.aad), fromHex(A21.pt), e.privateKey);
      assert.equal(toHex(sealed), A21.pkEm + A21.ct);
      const opened = hpkeOpen(p, r.privateKey, fromHex(A21.info), fromHex(A21.aad), sealed);
      assert.equal(opened && toHex(opened), A21.pt);
    });

    it('returns null for a wrong key, other info or aad, any flipped bit, a short input, a low-order enc', () => {
      const r = hpkeDeriveKeyPair(p, fromHex(A21.ikmR));
      const other = hpkeDeriveKeyPair(p, fromHex(A21.ikmE));
      const sealed = fromHex(A21.pkEm + A21.ct);
      const info = fromHex(A21.info);
      const aad = fromHex(A21.aad);
      assert.equal(hpkeOpen(p, other.privateKey, info, aad, sealed), null);
      assert.equal(hpkeOpen(p, r.privateKey, new Uint8Array(0), aad, sealed), null);
      assert.equal(hpkeOpen(p, r.privateKey, info, new Uint8Array(0), sealed), null);
      for (let bit = 0; bit < sealed.length * 8; bit += 7) {
        const bad = sealed.slice();
        bad[bit >> 3] = (bad[bit >> 3] as number) ^ (1 << (bit & 7));
        assert.equal(hpkeOpen(p, r.privateKey, info, aad, bad), null, `bit ${bit}`);
      }
      assert.equal(hpkeOpen(p, r.privateKey, info, aad, sealed.subarray(0, 47)), null);
      const lowOrder = sealed.slice();
      lowOrder.fill(0, 0, 32); // u = 0: the DH output is all zero
      assert.equal(hpkeOpen(p, r.privateKey, info, aad, lowOrder), null);
    });

    it('interoperates with @hpke/core both ways (random keys, info, aad and plaintexts)', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
          fc.uint8Array({ maxLength: 40 }),
          fc.uint8Array({ maxLength: 40 }),
          fc.uint8Array({ maxLength: 600 }),
          async (ikmR, ikmE, info, aad, pt) => {
            const r = hpkeDeriveKeyPair(p, ikmR);
            const pkR = await suite.kem.importKey('raw', r.publicKey, true);
            const skR = await suite.kem.importKey('raw', r.privateKey, false);
            // ours → theirs
            const ephemeral = hpkeDeriveKeyPair(p, ikmE).privateKey;
            const sealed = hpkeSeal(p, r.publicKey, info, aad, pt, ephemeral);
            const theirs = await suite.open(
              { recipientKey: skR, enc: sealed.slice(0, 32), info },
              sealed.slice(32),
              aad,
            );
            assert.equal(toHex(new Uint8Array(theirs)), toHex(pt));
            // theirs (with the same ephemeral key material) → ours, byte-identical
            const other = await suite.seal({ recipientPublicKey: pkR, info, ekm: ikmE }, pt, aad);
            const bytes = new Uint8Array([...new Uint8Array(other.enc), ...new Uint8Array(other.ct)]);
            assert.equal(toHex(bytes), toHex(sealed));
            const opened = hpkeOpen(p, r.privateKey, info, aad, bytes);
            assert.equal(opened && toHex(opened), toHex(pt));
          },
        ),
        { numRuns: 25 },
      );
    });
  });
}

describe('Ed25519 → X25519 conversions', () => {
  it('agree across providers, and the converted private key matches the converted public key', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (seed) => {
        const edPublic = nodeProvider.ed25519PublicKey(seed);
        const a = nodeProvider.ed25519PublicToX25519(edPublic);
        const b = nobleProvider.ed25519PublicToX25519(edPublic);
        assert.equal(toHex(a), toHex(b));
        const sa = nodeProvider.ed25519SeedToX25519(seed);
        const sb = nobleProvider.ed25519SeedToX25519(seed);
        assert.equal(toHex(sa), toHex(sb));
        assert.equal(toHex(nodeProvider.x25519PublicKey(sa)), toHex(a));
      }),
      { numRuns: 100 },
    );
  });

  it('refuses encodings that are not points, and points of small order, in both providers', () => {
    const notPoint = fromHex('0200000000000000000000000000000000000000000000000000000000000000'); // y = 2: no x
    const identity = fromHex('0100000000000000000000000000000000000000000000000000000000000000'); // order 1
    const order2 = fromHex('ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'); // y = -1: order 2
    for (const p of providers) {
      for (const bad of [notPoint, identity, order2]) {
        assert.throws(() => p.ed25519PublicToX25519(bad), InvalidArgumentError, `${p.name} ${toHex(bad)}`);
      }
      assert.throws(() => p.ed25519PublicToX25519(new Uint8Array(31)), InvalidArgumentError);
      assert.throws(() => p.ed25519SeedToX25519(new Uint8Array(33)), InvalidArgumentError);
    }
  });
});
