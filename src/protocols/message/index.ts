/**
 * @packageDocumentation
 *
 * `/sotto/msg/1.0.0`: carries end-to-end encrypted session messages (opaque bytes from `src/crypto`)
 * from a sender's node to the recipient's node or mailbox, and one Ack per envelope back. An Ack of
 * STORED or DUPLICATE means "durably stored": only then may the sender drop its outbox copy. The
 * normative description is `protocols/message/SPEC.md`; the wire schema is `message.proto` next to it.
 *
 * Receiving: add the service to libp2p; `onEnvelope` sees only validated envelopes and decides the
 * status (it must resolve STORED only after the store's batch is durable).
 *
 * ```ts
 * const node = await createLibp2p({
 *   // ...transports, encrypters, muxers
 *   services: {
 *     message: messageProtocol({
 *       onEnvelope: async (envelope, { remotePeer }) => {
 *         if (!hosts(envelope.recipient)) return AckStatus.UNKNOWN_RECIPIENT;
 *         return (await store.putIfAbsent(envelope)) ? AckStatus.STORED : AckStatus.DUPLICATE;
 *       },
 *     }),
 *   },
 * });
 * ```
 *
 * Sending: `node.services.message.send(peer, envelope)`, or `sendEnvelope(node, peer, envelope)`
 * with any `dialProtocol`-capable object; `openEnvelopeStream` keeps one stream for several envelopes.
 * Every failure is a typed error whose meaning is "not known to be stored: keep it and retry".
 *
 * Events: the service is an `EventTarget`; `'reset'` (`CustomEvent<StreamResetDetail>`) fires each time
 * it resets a hostile or broken stream; `stats` counts streams, envelopes, acks and resets by code.
 */
import type { AbortOptions, DialTarget, Stream } from '@libp2p/interface';
import {
  type EnvelopeStream,
  openEnvelopeStream,
  type ProtocolDialer,
  type SendOptions,
  sendEnvelope,
} from './client.js';
import { MessageHandler, type MessageHandlerComponents, type MessageHandlerInit } from './handler.js';
import type { Ack, WireEnvelope } from './validate.js';

export * from './client.js';
export * from './constants.js';
export * from './errors.js';
export {
  type EnvelopeContext,
  type EnvelopeDecision,
  MessageHandler,
  type MessageHandlerStats,
  type MessageRegistrar,
  type OnEnvelope,
  type StreamResetDetail,
} from './handler.js';
export { openSealedEnvelope, padSealed, type SealEnv, sealEnvelope, unpadSealed } from './sealed.js';
export {
  type Ack,
  AckStatus,
  decodeAck,
  decodeEnvelope,
  type Envelope,
  encodeEnvelope,
  isSealed,
  type SealedEnvelope,
  validateEnvelope,
  validateSealedEnvelope,
  validateWireEnvelope,
  type WireEnvelope,
} from './validate.js';

/** Options of the `messageProtocol` service. */
export interface MessageProtocolInit extends MessageHandlerInit {}

/** The part of libp2p's connection manager the service uses to send. */
export interface MessageConnectionManager {
  openStream(peer: DialTarget, protocol: string | string[], options?: AbortOptions): Promise<Stream>;
}

/** What the service needs from libp2p: nothing else is touched. */
export interface MessageProtocolComponents extends MessageHandlerComponents {
  connectionManager: MessageConnectionManager;
}

/** The service: receives through `onEnvelope`, sends with `send`/`open`. */
export class MessageProtocol extends MessageHandler {
  private readonly dialer: ProtocolDialer;

  constructor(components: MessageProtocolComponents, init: MessageProtocolInit) {
    super(components, init);
    const cm = components.connectionManager;
    if (cm == null) throw new TypeError('messageProtocol needs components.connectionManager');
    this.dialer = { dialProtocol: (peer, protocols, options) => cm.openStream(peer, protocols, options) };
  }

  /** Sends one envelope on a fresh stream; see `sendEnvelope`. */
  send(peer: DialTarget, envelope: WireEnvelope, options?: SendOptions): Promise<Ack> {
    return sendEnvelope(this.dialer, peer, envelope, options);
  }

  /** Opens a stream for several pipelined envelopes; see `openEnvelopeStream`. */
  open(peer: DialTarget, options?: SendOptions): Promise<EnvelopeStream> {
    return openEnvelopeStream(this.dialer, peer, options);
  }
}

/** libp2p service factory: `services: { message: messageProtocol({ onEnvelope }) }`. */
export function messageProtocol(init: MessageProtocolInit): (components: MessageProtocolComponents) => MessageProtocol {
  return (components) => new MessageProtocol(components, init);
}
