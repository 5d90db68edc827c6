/**
 * @packageDocumentation
 *
 * `/sotto/prekeys/1.0.0`: claims one one-time X25519 prekey of an identity from the node that serves
 * them (its home node or one of its mailbox nodes). A responder hands out each prekey at most once,
 * rate-limits claims per requesting peer, and answers EMPTY when none is left; the requester then
 * runs PQXDH without a one-time prekey. The normative description is `protocols/prekeys/SPEC.md`;
 * the wire schema is `prekeys.proto` next to it.
 *
 * Serving: add the service to libp2p; `claim` sees only validated requests that passed the rate
 * limit, one at a time per identity, and must take the prekey out of the unclaimed pool before it
 * resolves (SPEC §8).
 *
 * ```ts
 * const node = await createLibp2p({
 *   // ...transports, encrypters, muxers
 *   services: {
 *     prekeys: prekeysProtocol({
 *       claim: async (identity) => {
 *         if (!hosts(identity)) return 'unknown';
 *         return (await pool.takeOne(identity)) ?? 'empty'; // atomically moved out of the pool
 *       },
 *     }),
 *   },
 * });
 * ```
 *
 * Claiming: `claimPrekey(node, peer, identity)` → `{ id, publicKey }`, or `null` when the peer has
 * none left; every other outcome is a typed error (see `claimPrekey`).
 *
 * Events: the service is an `EventTarget`; `'reset'` (`CustomEvent<StreamResetDetail>`) fires each time
 * it resets a hostile or broken stream; `stats` counts streams, requests, claims, responses and resets.
 */
import { PrekeyHandler, type PrekeyHandlerComponents, type PrekeyHandlerInit } from './handler.js';

export { type TakeResult, type TokenBucketInit, TokenBucketLimiter } from '../common/rate-limit.js';
export * from './client.js';
export * from './constants.js';
export * from './errors.js';
export {
  type ClaimPrekey,
  type ClaimResult,
  PrekeyHandler,
  type PrekeyHandlerComponents,
  type PrekeyHandlerInit,
  type PrekeyHandlerStats,
  type PrekeyRegistrar,
  type StreamResetDetail,
} from './handler.js';
export {
  type ClaimedPrekey,
  type ClaimRequest,
  type ClaimResponse,
  ClaimStatus,
  decodeClaimRequest,
  decodeClaimResponse,
  encodeClaimRequest,
  encodeClaimResponse,
  validatePrekey,
} from './validate.js';

/** Options of the `prekeysProtocol` service. */
export interface PrekeysProtocolInit extends PrekeyHandlerInit {}

/** libp2p service factory: `services: { prekeys: prekeysProtocol({ claim }) }`. */
export function prekeysProtocol(init: PrekeysProtocolInit): (components: PrekeyHandlerComponents) => PrekeyHandler {
  return (components) => new PrekeyHandler(components, init);
}
