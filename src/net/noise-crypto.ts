/**
 * The crypto Noise uses for every connection handshake: @chainsafe/libp2p-noise's default
 * (node:crypto SHA-256, ChaCha20-Poly1305) with X25519 taken from sotto's node provider, i.e.
 * libsodium when it loads (OpenSSL otherwise). The default does X25519 through KeyObjects
 * (`generateKeyPairSync`, `createPrivateKey` per Diffie-Hellman), which dominated the CPU profile of
 * a 100-node DHT in one process (≈ 25% of busy time in key import). No primitive is written here:
 * this only routes Noise's X25519 calls to the provider the Double Ratchet already uses.
 *
 * ChaCha20-Poly1305 goes to the provider too: libsodium when it loads (one native call per frame),
 * where the default takes OpenSSL's `createCipheriv` for frames of 1,200 bytes and more (every
 * envelope) and AssemblyScript below that. A list is sealed as one buffer, so a frame leaves as one
 * ciphertext instead of one part per input buffer plus the tag.
 */
import type { ICryptoInterface } from '@chainsafe/libp2p-noise';
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto';
import { nodeProvider } from '../crypto/provider-node.js';
import { NoiseDecryptError } from './errors.js';

/** X25519 key and shared-secret length (RFC 7748). */
const X25519_BYTES = 32;

export const noiseCrypto: ICryptoInterface = {
  ...defaultCrypto,
  generateX25519KeyPair() {
    const privateKey = nodeProvider.randomBytes(X25519_BYTES);
    return { privateKey, publicKey: nodeProvider.x25519PublicKey(privateKey) };
  },
  generateX25519KeyPairFromSeed(seed) {
    return { privateKey: seed, publicKey: nodeProvider.x25519PublicKey(seed) };
  },
  chaCha20Poly1305Encrypt(plaintext, nonce, ad, k) {
    return nodeProvider.aeadSeal('chacha20-poly1305', k, nonce, plaintext.subarray(), ad);
  },
  chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k) {
    const plain = nodeProvider.aeadOpen('chacha20-poly1305', k, nonce, ciphertext.subarray(), ad);
    // Noise aborts the connection on this, as it does on the default's failure
    if (plain === null) throw new NoiseDecryptError('ChaCha20-Poly1305 frame did not authenticate');
    return plain;
  },
  generateX25519SharedKey(privateKey, publicKey) {
    // throws on a low-order public key (all-zero shared secret), as the default's OpenSSL derive does
    return nodeProvider.x25519(privateKey.subarray(), publicKey.subarray());
  },
};
