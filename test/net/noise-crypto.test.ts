/**
 * Noise's X25519 routed to sotto's provider (src/net/noise-crypto.ts) computes exactly what the
 * library's default does, refuses a low-order public key as the default does, and two hosts using
 * it still handshake and talk (the host tests run on it too).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { defaultCrypto, pureJsCrypto } from '@chainsafe/libp2p-noise/crypto';
import { Uint8ArrayList } from 'uint8arraylist';
import { NoiseDecryptError } from '../../src/net/errors.js';
import { noiseCrypto } from '../../src/net/noise-crypto.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
/** Noise's own copy of uint8arraylist is typed apart from ours; at run time any list is read alike. */
type NoiseBytes = Parameters<typeof noiseCrypto.chaCha20Poly1305Encrypt>[0];

describe('Noise crypto (X25519 and ChaCha20-Poly1305 from the node provider)', () => {
  it('key pairs and shared secrets agree with the default and the pure-JS implementation', () => {
    for (let i = 0; i < 50; i++) {
      const a = noiseCrypto.generateX25519KeyPair();
      const b = defaultCrypto.generateX25519KeyPair();
      assert.equal(a.privateKey.length, 32);
      assert.equal(hex(pureJsCrypto.generateX25519KeyPairFromSeed(a.privateKey).publicKey), hex(a.publicKey));
      assert.equal(hex(noiseCrypto.generateX25519KeyPairFromSeed(b.privateKey).publicKey), hex(b.publicKey));
      const ours = noiseCrypto.generateX25519SharedKey(a.privateKey, b.publicKey);
      const theirs = defaultCrypto.generateX25519SharedKey(b.privateKey, a.publicKey);
      assert.equal(hex(ours), hex(theirs));
    }
    const keys = new Set(Array.from({ length: 20 }, () => hex(noiseCrypto.generateX25519KeyPair().privateKey)));
    assert.equal(keys.size, 20, 'fresh random private keys');
  });

  it('refuses a low-order public key (all-zero shared secret), as the default does', () => {
    const { privateKey } = noiseCrypto.generateX25519KeyPair();
    const zero = new Uint8Array(32);
    assert.throws(() => noiseCrypto.generateX25519SharedKey(privateKey, zero));
    assert.throws(() => defaultCrypto.generateX25519SharedKey(privateKey, zero));
  });

  it('ChaCha20-Poly1305 seals and opens exactly as the default does, for arrays and lists of every size class', () => {
    // around the default's 1,200-byte switch between AssemblyScript and OpenSSL, and a full frame
    for (const size of [0, 1, 100, 1199, 1200, 2400, 65_519]) {
      const key = randomBytes(32);
      const nonce = randomBytes(12);
      const ad = randomBytes(size % 33);
      const plain = randomBytes(size);
      const ours = noiseCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, key).subarray();
      assert.equal(
        hex(ours),
        hex(defaultCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, key).subarray()),
        `seal, ${size} bytes`,
      );
      const split = Math.floor(size / 3);
      const asList = new Uint8ArrayList(plain.subarray(0, split), plain.subarray(split));
      assert.equal(
        hex(noiseCrypto.chaCha20Poly1305Encrypt(asList as unknown as NoiseBytes, nonce, ad, key).subarray()),
        hex(ours),
        `seal of a list, ${size} bytes`,
      );
      const opened = noiseCrypto.chaCha20Poly1305Decrypt(ours, nonce, ad, key).subarray();
      assert.equal(hex(opened), hex(plain), `open, ${size} bytes`);
      const sealedList = new Uint8ArrayList(ours.subarray(0, 5), ours.subarray(5));
      assert.equal(
        hex(noiseCrypto.chaCha20Poly1305Decrypt(sealedList as unknown as NoiseBytes, nonce, ad, key).subarray()),
        hex(plain),
      );
    }
  });

  it('a frame that does not authenticate throws NoiseDecryptError (Noise then aborts the connection)', () => {
    const key = randomBytes(32);
    const nonce = randomBytes(12);
    const sealed = Uint8Array.from(
      noiseCrypto.chaCha20Poly1305Encrypt(randomBytes(64), nonce, new Uint8Array(0), key).subarray(),
    );
    const tampered = sealed.slice();
    tampered[3] = (tampered[3] as number) ^ 1;
    assert.throws(
      () => noiseCrypto.chaCha20Poly1305Decrypt(tampered, nonce, new Uint8Array(0), key),
      NoiseDecryptError,
    );
    const badTag = sealed.slice();
    badTag[badTag.length - 1] = (badTag[badTag.length - 1] as number) ^ 0x80;
    assert.throws(() => noiseCrypto.chaCha20Poly1305Decrypt(badTag, nonce, new Uint8Array(0), key), NoiseDecryptError);
    assert.throws(
      () => noiseCrypto.chaCha20Poly1305Decrypt(sealed, randomBytes(12), new Uint8Array(0), key),
      NoiseDecryptError,
    );
    assert.throws(
      () => noiseCrypto.chaCha20Poly1305Decrypt(sealed.subarray(0, 15), nonce, new Uint8Array(0), key),
      NoiseDecryptError,
    );
  });
});
