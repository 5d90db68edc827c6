/**
 * Noise's X25519 routed to sotto's provider (src/net/noise-crypto.ts) computes exactly what the
 * library's default does, refuses a low-order public key as the default does, and two hosts using
 * it still handshake and talk (the host tests run on it too).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultCrypto, pureJsCrypto } from '@chainsafe/libp2p-noise/crypto';
import { noiseCrypto } from '../../src/net/noise-crypto.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('Noise crypto (X25519 from the node provider)', () => {
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
});
