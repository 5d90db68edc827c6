/**
 * The crypto Noise uses for every connection handshake: @chainsafe/libp2p-noise's default
 * (node:crypto SHA-256, ChaCha20-Poly1305) with X25519 taken from sotto's node provider, i.e.
 * libsodium when it loads (OpenSSL otherwise). The default does X25519 through KeyObjects
 * (`generateKeyPairSync`, `createPrivateKey` per Diffie-Hellman), which dominated the CPU profile of
 * a 100-node DHT in one process (≈ 25% of busy time in key import). No primitive is written here:
 * this only routes Noise's X25519 calls to the provider the Double Ratchet already uses.
 */
import type { ICryptoInterface } from '@chainsafe/libp2p-noise';
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto';
import { nodeProvider } from '../crypto/provider-node.js';

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
  generateX25519SharedKey(privateKey, publicKey) {
    // throws on a low-order public key (all-zero shared secret), as the default's OpenSSL derive does
    return nodeProvider.x25519(privateKey.subarray(), publicKey.subarray());
  },
};
