/**
 * Contact names are the CLI's handle for an address: unique (case-sensitive), 1 to 64 characters
 * (code points), no control characters, line separators or bidirectional controls (they would let a
 * name rewrite the terminal line it is shown on), and not starting with "sotto1" (a name that looks
 * like an address could shadow one: names are resolved first). Wherever the API takes a contact, it
 * takes a name or a `sotto1…` address.
 */
import { toHex } from '../crypto/bytes.js';
import { decodeAddress, encodeAddress } from '../identity/address.js';
import { InvalidAddressError } from '../identity/errors.js';
import { ApiError } from './errors.js';
import type { ApiNode, ContactRecord } from './types.js';

/** Longest contact name, in characters (Unicode code points). */
export const CONTACT_NAME_MAX_CHARS = 64;

/**
 * A contact name as a regular expression source that works with and without the `u` flag (TypeBox
 * compiles without it, Ajv-based clients with it): a character is a BMP code unit outside the
 * forbidden ranges and lone surrogates, or a surrogate pair, so `{1,64}` counts code points.
 */
export const CONTACT_NAME_PATTERN =
  '^(?![Ss][Oo][Tt][Tt][Oo]1)' +
  '(?:[^\\u0000-\\u001F\\u007F-\\u009F\\u061C\\u200E\\u200F\\u2028-\\u202E\\u2066-\\u2069\\uD800-\\uDFFF]' +
  `|[\\uD800-\\uDBFF][\\uDC00-\\uDFFF]){1,${CONTACT_NAME_MAX_CHARS}}$`;

const NAME_REGEX = new RegExp(CONTACT_NAME_PATTERN);

export function isValidContactName(name: string): boolean {
  return NAME_REGEX.test(name);
}

/** True when `text` is meant as an address (not necessarily a valid one). */
export function looksLikeAddress(text: string): boolean {
  return /^\s*sotto1/i.test(text);
}

/** A quoted, single-line rendering of user input for error messages. */
export function quote(text: string): string {
  return JSON.stringify(text.length > 100 ? `${text.slice(0, 100)}…` : text);
}

/** Decodes an address; a malformed one is ApiError INVALID_ADDRESS saying what is wrong. */
export function parseAddress(text: string, field?: string): { address: string; identityKey: string } {
  let key: Uint8Array;
  try {
    key = decodeAddress(text);
  } catch (err) {
    if (err instanceof InvalidAddressError) {
      throw new ApiError('INVALID_ADDRESS', `invalid address: ${err.message}`, field ? { field } : {});
    }
    throw err;
  }
  return { address: encodeAddress(key), identityKey: toHex(key) };
}

export interface ResolvedContact {
  /** The canonical address. */
  address: string;
  /** The contact, when the address is one. */
  contact?: ContactRecord | undefined;
}

/**
 * Resolves a name or an address: a contact with exactly this name first; otherwise, if it looks
 * like an address, the address (INVALID_ADDRESS when it does not decode). With `contactOnly`, an
 * address that is not a contact is UNKNOWN_CONTACT too.
 */
export async function resolveContact(
  node: ApiNode,
  ref: string,
  options: { contactOnly: boolean; field?: string },
): Promise<ResolvedContact> {
  const contacts = await node.contacts();
  const named = contacts.filter((c) => c.name === ref);
  if (named.length > 1) {
    throw new ApiError('AMBIGUOUS_CONTACT', `${named.length} contacts are named ${quote(ref)}: use the address`);
  }
  if (named[0]) return { address: named[0].address, contact: named[0] };
  if (looksLikeAddress(ref)) {
    const { address, identityKey } = parseAddress(ref, options.field);
    const contact = contacts.find((c) => c.identityKey === identityKey);
    if (!contact && options.contactOnly) throw new ApiError('UNKNOWN_CONTACT', `unknown contact ${quote(address)}`);
    return { address: contact?.address ?? address, contact };
  }
  throw new ApiError('UNKNOWN_CONTACT', `unknown contact ${quote(ref)}`);
}
