/** Root-key step of the DH ratchet (Double Ratchet §5.2 KDF_RK). */
import { ROOT_KDF_INFO } from '../constants.js';
import type { CryptoProvider } from '../provider.js';

export interface RootStep {
  rootKey: Uint8Array;
  chainKey: Uint8Array;
}

/** KDF_RK(rk, dh_out) = HKDF-SHA256(salt = rk, ikm = dh_out, info, 64) split 32 | 32. */
export function rootStep(
  provider: CryptoProvider,
  rootKey: Uint8Array,
  dhOutput: Uint8Array,
  info: Uint8Array = ROOT_KDF_INFO,
): RootStep {
  const out = provider.hkdfSha256(dhOutput, rootKey, info, 64);
  return { rootKey: out.slice(0, 32), chainKey: out.slice(32, 64) };
}
