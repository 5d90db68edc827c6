/**
 * Symmetric-key ratchet step (Double Ratchet §5.2 KDF_CK). Labels are parameters so the same code
 * reproduces libsignal's known answer with Signal's bytes (test/vectors/signal-chain-kdf.test.ts).
 */
import { CHAIN_KEY_SEED_BYTE, MESSAGE_KEY_SEED_BYTE } from '../constants.js';
import type { CryptoProvider } from '../provider.js';

export interface ChainKdfLabels {
  /** HMAC input for the message-key seed (Signal: 0x01). */
  messageKeySeed: Uint8Array;
  /** HMAC input for the next chain key (Signal: 0x02). */
  chainKeySeed: Uint8Array;
}

export const SOTTO_CHAIN_LABELS: ChainKdfLabels = {
  messageKeySeed: MESSAGE_KEY_SEED_BYTE,
  chainKeySeed: CHAIN_KEY_SEED_BYTE,
};

export interface ChainStep {
  messageKeySeed: Uint8Array;
  nextChainKey: Uint8Array;
}

/** One step of a sending or receiving chain: CK → (message-key seed, CK'). */
export function chainStep(
  provider: CryptoProvider,
  chainKey: Uint8Array,
  labels: ChainKdfLabels = SOTTO_CHAIN_LABELS,
): ChainStep {
  return {
    messageKeySeed: provider.hmacSha256(chainKey, labels.messageKeySeed),
    nextChainKey: provider.hmacSha256(chainKey, labels.chainKeySeed),
  };
}
