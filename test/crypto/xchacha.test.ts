/**
 * XChaCha20-Poly1305 in both providers (the store's at-rest AEAD, src/store/at-rest.ts): the
 * draft's known answer (draft-irtf-cfrg-xchacha-03 §A.3.1), libsodium (the node provider when its
 * addon loads) against @noble/ciphers (the noble provider, and the node provider's fallback) on
 * random keys, nonces, associated data and lengths, forgeries refused, and input checks.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { InvalidArgumentError, nobleProvider, nodeProvider, toHex } from '../../src/crypto/index.js';
import { XAEAD_NONCE_BYTES } from '../../src/crypto/provider.js';
import { nodeCurveBackend } from '../../src/crypto/provider-node.js';

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

// draft-irtf-cfrg-xchacha-03, Appendix A.3.1 (AEAD_XChaCha20_Poly1305)
const KAT = {
  plaintext: new TextEncoder().encode(
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
  ),
  aad: hex('50515253c0c1c2c3c4c5c6c7'),
  key: hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f'),
  nonce: hex('404142434445464748494a4b4c4d4e4f5051525354555657'),
  sealed:
    'bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52e' +
    'c0875924c1c7987947deafd8780acf49',
};

describe('XChaCha20-Poly1305 (both providers)', () => {
  it('the node provider runs it on libsodium here (the figures in at-rest.ts assume so)', () => {
    assert.equal(nodeCurveBackend(), 'libsodium');
  });

  for (const provider of [nodeProvider, nobleProvider]) {
    it(`${provider.name}: draft-irtf-cfrg-xchacha-03 A.3.1 seals and opens to the known answer`, () => {
      const sealed = provider.aeadSeal('xchacha20-poly1305', KAT.key, KAT.nonce, KAT.plaintext, KAT.aad);
      assert.equal(toHex(sealed), KAT.sealed);
      assert.deepEqual(provider.aeadOpen('xchacha20-poly1305', KAT.key, KAT.nonce, sealed, KAT.aad), KAT.plaintext);
    });

    it(`${provider.name}: a changed byte of ciphertext, tag, AD or nonce, or a short input, opens to null`, () => {
      const sealed = hex(KAT.sealed);
      for (let i = 0; i < sealed.length; i += 7) {
        const bad = sealed.slice();
        bad[i] = (bad[i] as number) ^ 0x80;
        assert.equal(provider.aeadOpen('xchacha20-poly1305', KAT.key, KAT.nonce, bad, KAT.aad), null, `byte ${i}`);
      }
      const badAd = KAT.aad.slice();
      badAd[0] = (badAd[0] as number) ^ 1;
      assert.equal(provider.aeadOpen('xchacha20-poly1305', KAT.key, KAT.nonce, sealed, badAd), null);
      const badNonce = KAT.nonce.slice();
      badNonce[23] = (badNonce[23] as number) ^ 1;
      assert.equal(provider.aeadOpen('xchacha20-poly1305', KAT.key, badNonce, sealed, KAT.aad), null);
      assert.equal(provider.aeadOpen('xchacha20-poly1305', KAT.key, KAT.nonce, sealed.subarray(0, 15), KAT.aad), null);
    });

    it(`${provider.name}: a 12-byte nonce is an InvalidArgumentError for XChaCha, a 24-byte one for ChaCha`, () => {
      const n12 = new Uint8Array(12);
      const n24 = new Uint8Array(XAEAD_NONCE_BYTES);
      const key = new Uint8Array(32);
      const m = new Uint8Array(3);
      assert.throws(() => provider.aeadSeal('xchacha20-poly1305', key, n12, m, m), InvalidArgumentError);
      assert.throws(
        () => provider.aeadOpen('xchacha20-poly1305', key, n12, new Uint8Array(19), m),
        InvalidArgumentError,
      );
      assert.throws(() => provider.aeadSeal('chacha20-poly1305', key, n24, m, m), InvalidArgumentError);
      assert.throws(() => provider.aeadSeal('xchacha20-poly1305', new Uint8Array(16), n24, m, m), InvalidArgumentError);
    });
  }

  it('libsodium and @noble/ciphers give the same bytes on random inputs, and each opens the other', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 24, maxLength: 24 }),
        fc.uint8Array({ minLength: 0, maxLength: 64 }),
        fc.uint8Array({ minLength: 0, maxLength: 3000 }),
        (key, nonce, aad, plain) => {
          const a = nodeProvider.aeadSeal('xchacha20-poly1305', key, nonce, plain, aad);
          const b = nobleProvider.aeadSeal('xchacha20-poly1305', key, nonce, plain, aad);
          assert.equal(toHex(a), toHex(b));
          assert.deepEqual(nodeProvider.aeadOpen('xchacha20-poly1305', key, nonce, b, aad), plain);
          assert.deepEqual(nobleProvider.aeadOpen('xchacha20-poly1305', key, nonce, a, aad), plain);
        },
      ),
      { numRuns: 300, seed: 0x5077 },
    );
  });
});
