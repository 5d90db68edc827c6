/**
 * @packageDocumentation
 *
 * `/sotto/mailbox/1.0.0`: an identity's own node fetches the end-to-end encrypted envelopes a mailbox
 * node holds for it while it was offline, and deletes them once it has stored them. Deposits are not
 * part of it: they arrive at the mailbox on `/sotto/msg/1.0.0` like any envelope. One stream is one
 * session: Hello(identity) → Challenge(nonce) → Auth(signature) → Batch → Ack → Batch → … → empty
 * Batch. The signature binds the identity key to this stream's nonce, the mailbox's peer id and the
 * client's peer id, so only the identity's owner can fetch or delete, and a signature is good for one
 * stream only. The normative description is `protocols/mailbox/SPEC.md`; the wire schema is
 * `mailbox.proto` next to it.
 *
 * Serving (the mailbox node): add the service to libp2p with a `MailboxStorage`; the handler touches
 * storage only for an authenticated identity and deletes only acked entries of that identity.
 *
 * ```ts
 * const node = await createLibp2p({
 *   // ...transports, encrypters, muxers
 *   services: {
 *     mailbox: mailboxProtocol({
 *       storage: {
 *         serves: (identity) => allowList.has(toHex(identity)),
 *         list: (identity, limit, maxBytes) => box.oldest(identity, limit, maxBytes), // [{ id, envelope }]
 *         remove: (identity, ids) => box.remove(identity, ids), // only this identity's entries
 *         count: (identity) => box.count(identity),
 *       },
 *       verify: (key, message, signature) => env.provider.ed25519Verify(key, message, signature),
 *     }),
 *   },
 * });
 * ```
 *
 * Fetching (the identity's node): `fetchMailbox(node, mailboxPeerId, { identity, sign, localPeer,
 * onBatch })` → `{ fetched, batches, invalid, remaining }`; `onBatch` resolves once the envelopes are
 * durable, then the batch is acked (deleted at the mailbox). Every other outcome is a typed error.
 *
 * ```ts
 * const { fetched, remaining } = await fetchMailbox(node, mailboxPeerId, {
 *   identity: me.signingKey,
 *   sign: (bytes) => env.provider.ed25519Sign(me.signingSeed, bytes),
 *   localPeer: node.peerId,
 *   onBatch: (envelopes) => inbox.storeAll(envelopes), // durable before it resolves
 * });
 * if (remaining > 0) { ... } // the mailbox's per-stream cap: fetch again
 * ```
 *
 * Events: the service is an `EventTarget`; `'reset'` (`CustomEvent<StreamResetDetail>`) fires each
 * time it resets a hostile or broken stream, `'session'` (`CustomEvent<SessionDetail>`) each time a
 * stream is done with; `stats` counts streams, sessions, batches, deletions, statuses and resets.
 */
import { MailboxHandler, type MailboxHandlerComponents, type MailboxHandlerInit } from './handler.js';

export * from './client.js';
export * from './constants.js';
export * from './errors.js';
export {
  MailboxHandler,
  type MailboxHandlerComponents,
  type MailboxHandlerInit,
  type MailboxHandlerStats,
  type MailboxRegistrar,
  type MailboxStorage,
  type SessionDetail,
  type StreamResetDetail,
  type VerifySignature,
} from './handler.js';
export {
  type BatchEntry,
  type ClientMessage,
  decodeClientFrame,
  decodeServerFrame,
  encodeClientFrame,
  encodeServerFrame,
  fetchAuthMessage,
  type MailboxBatch,
  MailboxStatus,
  type ServerMessage,
  type UploadedPrekey,
  validateBatchEntries,
  validateIdentity,
} from './validate.js';

/** Options of the `mailboxProtocol` service. */
export interface MailboxProtocolInit extends MailboxHandlerInit {}

/** libp2p service factory: `services: { mailbox: mailboxProtocol({ storage, verify }) }`. */
export function mailboxProtocol(init: MailboxProtocolInit): (components: MailboxHandlerComponents) => MailboxHandler {
  return (components) => new MailboxHandler(components, init);
}
