/**
 * libsignal's known answer for the Double Ratchet symmetric chain step (shared/vectors/signal-chain-kdf.json,
 * from rust/protocol/src/ratchet/keys.rs test_chain_key_derivation): sotto's label-parameterised KDF must
 * reproduce it when given Signal's labels, and sotto's own message-key info must separate its domain.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { concat, fromHex, toHex, utf8 } from '../../src/crypto/bytes.js';
import { MESSAGE_KEYS_INFO } from '../../src/crypto/constants.js';
import type { CryptoProvider } from '../../src/crypto/provider.js';
import { nobleProvider } from '../../src/crypto/provider-noble.js';
import { nodeProvider } from '../../src/crypto/provider-node.js';
import { type ChainKdfLabels, chainStep, SOTTO_CHAIN_LABELS } from '../../src/crypto/ratchet/chain-key.js';
import { expandMessageKeys } from '../../src/crypto/ratchet/message-keys.js';

interface SignalChainKdfVector {
  labels: { messageKeySeedByte: string; chainKeySeedByte: string; messageKeysInfo: string; rootKdfInfo: string };
  chainKey: string;
  messageKeySeed: string;
  cipherKey: string;
  macKey: string;
  iv: string;
  nextChainKey: string;
}

/** `shared/` sits beside the project root (here and in CI): test/vectors → ../../../shared/vectors. */
const vector = JSON.parse(
  readFileSync(new URL('../../../shared/vectors/signal-chain-kdf.json', import.meta.url), 'utf8'),
) as SignalChainKdfVector;

const SIGNAL_LABELS: ChainKdfLabels = {
  messageKeySeed: fromHex(vector.labels.messageKeySeedByte),
  chainKeySeed: fromHex(vector.labels.chainKeySeedByte),
};
const SIGNAL_MESSAGE_KEYS_INFO = utf8(vector.labels.messageKeysInfo);
/** libsignal's message keys: cipherKey(32) || macKey(32) || iv(16). */
const SIGNAL_MESSAGE_KEYS_BYTES = 80;

describe('signal chain KDF vector', () => {
  it('uses the labels libsignal documents', () => {
    assert.deepEqual(SIGNAL_LABELS.messageKeySeed, Uint8Array.of(0x01));
    assert.deepEqual(SIGNAL_LABELS.chainKeySeed, Uint8Array.of(0x02));
    assert.equal(vector.labels.messageKeysInfo, 'WhisperMessageKeys');
  });

  it("sotto's default chain labels are Signal's bytes 0x01 / 0x02 (by design)", () => {
    assert.deepEqual(SOTTO_CHAIN_LABELS.messageKeySeed, SIGNAL_LABELS.messageKeySeed);
    assert.deepEqual(SOTTO_CHAIN_LABELS.chainKeySeed, SIGNAL_LABELS.chainKeySeed);
  });

  it("sotto's message-key info is not Signal's", () => {
    assert.notDeepEqual(MESSAGE_KEYS_INFO, SIGNAL_MESSAGE_KEYS_INFO);
  });
});

for (const provider of [nodeProvider, nobleProvider] satisfies CryptoProvider[]) {
  describe(`${provider.name} signal chain KDF`, () => {
    const chainKey = fromHex(vector.chainKey);

    it("chainStep with Signal's labels gives libsignal's message-key seed and next chain key", () => {
      const step = chainStep(provider, chainKey, {
        messageKeySeed: Uint8Array.of(1),
        chainKeySeed: Uint8Array.of(2),
      });
      assert.equal(toHex(step.messageKeySeed), vector.messageKeySeed);
      assert.equal(toHex(step.nextChainKey), vector.nextChainKey);
    });

    it("chainStep with sotto's default labels gives the same step", () => {
      const step = chainStep(provider, chainKey);
      assert.equal(toHex(step.messageKeySeed), vector.messageKeySeed);
      assert.equal(toHex(step.nextChainKey), vector.nextChainKey);
    });

    it("expandMessageKeys with 'WhisperMessageKeys' and 80 bytes gives cipherKey || macKey || iv", () => {
      const material = expandMessageKeys(
        provider,
        fromHex(vector.messageKeySeed),
        SIGNAL_MESSAGE_KEYS_INFO,
        SIGNAL_MESSAGE_KEYS_BYTES,
      );
      assert.equal(material.length, SIGNAL_MESSAGE_KEYS_BYTES);
      assert.equal(toHex(material.subarray(0, 32)), vector.cipherKey);
      assert.equal(toHex(material.subarray(32, 64)), vector.macKey);
      assert.equal(toHex(material.subarray(64, 80)), vector.iv);
      assert.deepEqual(material, concat(fromHex(vector.cipherKey), fromHex(vector.macKey), fromHex(vector.iv)));
    });

    it("sotto's default MESSAGE_KEYS_INFO output differs from the Signal-info output (domain separation)", () => {
      const seed = fromHex(vector.messageKeySeed);
      const signal = expandMessageKeys(provider, seed, SIGNAL_MESSAGE_KEYS_INFO, SIGNAL_MESSAGE_KEYS_BYTES);
      // sotto's default: MESSAGE_KEYS_INFO, 44 bytes (AES-256-GCM key || nonce).
      const sotto = expandMessageKeys(provider, seed);
      assert.notEqual(toHex(sotto), toHex(signal.subarray(0, sotto.length)));
      // Same length for a like-for-like comparison; not even the AEAD key (first 32 bytes) is shared.
      const sottoLong = expandMessageKeys(provider, seed, MESSAGE_KEYS_INFO, SIGNAL_MESSAGE_KEYS_BYTES);
      assert.notEqual(toHex(sottoLong), toHex(signal));
      assert.notEqual(toHex(sottoLong.subarray(0, 32)), toHex(signal.subarray(0, 32)));
      assert.equal(toHex(sottoLong.subarray(0, sotto.length)), toHex(sotto), 'HKDF output is prefix-stable');
    });
  });
}
