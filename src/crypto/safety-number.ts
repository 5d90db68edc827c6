/**
 * Safety numbers: a fingerprint of two identity keys that both people can compare (read aloud or
 * as a QR code). Each identity gives 30 digits; the two halves are sorted so both sides show the
 * same 60 digits (12 groups of 5). SPEC §Safety numbers.
 */
import { concat, Writer } from './bytes.js';
import { SAFETY_NUMBER_ITERATIONS, SAFETY_NUMBER_LABEL } from './constants.js';
import { checkEd25519Public } from './keys.js';
import type { CryptoProvider } from './provider.js';

/** Version of the fingerprint format, hashed in so a future change cannot collide with this one. */
export const SAFETY_NUMBER_VERSION = 1;
const DIGITS_PER_CHUNK = 5;
const CHUNKS_PER_HALF = 6;
const CHUNK_BYTES = 5;

/** 30 digits for one identity key. */
export function fingerprintHalf(provider: CryptoProvider, identityKey: Uint8Array): string {
  checkEd25519Public(identityKey, 'identity key');
  let hash = provider.sha256(
    new Writer(64).bytes(SAFETY_NUMBER_LABEL).u16(SAFETY_NUMBER_VERSION).bytes(identityKey).finish(),
  );
  for (let i = 0; i < SAFETY_NUMBER_ITERATIONS; i++) hash = provider.sha256(concat(hash, identityKey));
  let out = '';
  for (let c = 0; c < CHUNKS_PER_HALF; c++) {
    let v = 0;
    for (let b = 0; b < CHUNK_BYTES; b++) v = v * 256 + (hash[c * CHUNK_BYTES + b] as number);
    out += String(v % 10 ** DIGITS_PER_CHUNK).padStart(DIGITS_PER_CHUNK, '0');
  }
  return out;
}

/** The 60-digit safety number of two identities, grouped "12345 67890 …"; same from both sides. */
export function safetyNumber(provider: CryptoProvider, ours: Uint8Array, theirs: Uint8Array): string {
  const halves = [fingerprintHalf(provider, ours), fingerprintHalf(provider, theirs)].sort();
  const digits = halves.join('');
  return digits.match(/\d{5}/g)!.join(' ');
}
