/**
 * Bearer token checks. A request carries the token in `Authorization: Bearer <token>`; a WebSocket
 * upgrade may instead offer the subprotocol `sotto.bearer.<token>` (browsers cannot set headers on
 * a WebSocket), together with `sotto.events.v1`, which the server selects so the token is never
 * echoed back. Tokens are never accepted in query strings: URLs end up in logs and histories.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** The scheme of the Authorization header. */
export const BEARER_SCHEME = 'Bearer';
/** Prefix of the WebSocket subprotocol that carries the token. */
export const BEARER_SUBPROTOCOL_PREFIX = 'sotto.bearer.';
/** The subprotocol of the events stream; clients offering the token as a subprotocol offer this too. */
export const EVENTS_SUBPROTOCOL = 'sotto.events.v1';

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/**
 * A constant-time check against `token`: both sides are hashed to 32 bytes first, so
 * `timingSafeEqual` compares equal-length buffers and the time taken says nothing about the token,
 * not even its length.
 */
export function tokenChecker(token: string): (candidate: string | undefined) => boolean {
  const expected = digest(token);
  // No token at all is refused at once: that a request carried none is no secret.
  return (candidate) => candidate !== undefined && timingSafeEqual(digest(candidate), expected);
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerFromHeader(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const match = /^([A-Za-z]+) +(\S+) *$/.exec(header);
  if (!match || match[1]!.toLowerCase() !== BEARER_SCHEME.toLowerCase()) return undefined;
  return match[2];
}

/** The subprotocols a WebSocket handshake offers (`Sec-WebSocket-Protocol`, comma separated). */
export function offeredSubprotocols(header: string | string[] | undefined): string[] {
  const joined = Array.isArray(header) ? header.join(',') : (header ?? '');
  return joined
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}

/** The token of the first `sotto.bearer.<token>` subprotocol offered, or undefined. */
export function bearerFromSubprotocols(header: string | string[] | undefined): string | undefined {
  const offered = offeredSubprotocols(header).find((p) => p.startsWith(BEARER_SUBPROTOCOL_PREFIX));
  return offered?.slice(BEARER_SUBPROTOCOL_PREFIX.length);
}

/**
 * ws `handleProtocols`: selects `sotto.events.v1` when offered, otherwise no subprotocol. The
 * bearer subprotocol is never selected (that would echo the token in the response).
 */
export function selectSubprotocol(protocols: Set<string>): string | false {
  return protocols.has(EVENTS_SUBPROTOCOL) ? EVENTS_SUBPROTOCOL : false;
}
