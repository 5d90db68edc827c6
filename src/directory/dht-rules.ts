/**
 * The DHT validator and selector for sotto's namespace (`/sotto/...` keys): every identity record is
 * fully validated on put and get, and the highest valid sequence wins (protocols/directory/SPEC.md).
 */
import type { Clock } from '../crypto/env.js';
import type { CryptoProvider } from '../crypto/provider.js';
import type { DhtRecordRules } from '../net/host.js';
import { DHT_NAMESPACE } from '../net/host.js';
import { selectIdentityRecord, validateRecordBytes } from './record.js';

export function identityRecordRules(provider: CryptoProvider, now: Clock): DhtRecordRules {
  return {
    validators: {
      [DHT_NAMESPACE]: async (key: Uint8Array, value: Uint8Array) => {
        validateRecordBytes(provider, key, value, now());
      },
    },
    selectors: {
      [DHT_NAMESPACE]: (key: Uint8Array, values: Uint8Array[]) => selectIdentityRecord(provider, key, values, now()),
    },
  };
}
