/**
 * sotto addresses: what a person pastes or shows as a QR code to be found.
 *
 *   address = bech32m(hrp = "sotto", data = [version] || 5-bit words of the Ed25519 identity key)
 *
 * e.g. `sotto1pq…` (65 characters for version 1). bech32m (BIP-350) detects every error of up to
 * four characters and almost every other typo, so a mistyped address is refused with a clear error
 * instead of pointing at a stranger. Lower case only on output; upper case is accepted (QR codes).
 */
import { bech32m } from '@scure/base';
import { InvalidAddressError } from './errors.js';

/** Human-readable part of every address. */
export const ADDRESS_PREFIX = 'sotto';
/** Address format version (the first data word). */
export const ADDRESS_VERSION = 1;
/** Ed25519 public key length. */
const IDENTITY_KEY_BYTES = 32;
/** Longest address text decoded: bech32m's own limit is 90 characters; a version-1 address is 65. */
export const MAX_ADDRESS_LENGTH = 90;

export function encodeAddress(identityKey: Uint8Array): string {
  if (!(identityKey instanceof Uint8Array) || identityKey.length !== IDENTITY_KEY_BYTES) {
    throw new InvalidAddressError('length', `an identity key is ${IDENTITY_KEY_BYTES} bytes`);
  }
  return bech32m.encode(ADDRESS_PREFIX, [ADDRESS_VERSION, ...bech32m.toWords(identityKey)], MAX_ADDRESS_LENGTH);
}

/** Decodes an address to the identity key; throws InvalidAddressError saying what is wrong. */
export function decodeAddress(address: string): Uint8Array {
  if (typeof address !== 'string') throw new InvalidAddressError('format', 'an address is a string');
  const text = address.trim();
  if (text.length === 0 || text.length > MAX_ADDRESS_LENGTH) {
    throw new InvalidAddressError('length', `an address is ${MAX_ADDRESS_LENGTH} characters at most`);
  }
  if (!text.toLowerCase().startsWith(`${ADDRESS_PREFIX}1`)) {
    throw new InvalidAddressError('prefix', `a sotto address starts with "${ADDRESS_PREFIX}1"`);
  }
  let words: number[];
  try {
    words = [...bech32m.decode(text as `${string}1${string}`, MAX_ADDRESS_LENGTH).words];
  } catch (err) {
    const checksum = err instanceof Error && /checksum/i.test(err.message);
    throw checksum
      ? new InvalidAddressError('checksum', 'address checksum does not match: it was probably mistyped')
      : new InvalidAddressError('format', 'address contains characters that are not allowed');
  }
  const [version, ...rest] = words;
  if (version !== ADDRESS_VERSION) throw new InvalidAddressError('version', `unknown address version ${version}`);
  let key: Uint8Array;
  try {
    key = bech32m.fromWords(rest);
  } catch {
    throw new InvalidAddressError('length', 'address has the wrong length');
  }
  if (key.length !== IDENTITY_KEY_BYTES) throw new InvalidAddressError('length', 'address has the wrong length');
  return key;
}

/** True when `text` is a well-formed address (no exception). */
export function isAddress(text: string): boolean {
  try {
    decodeAddress(text);
    return true;
  } catch {
    return false;
  }
}
