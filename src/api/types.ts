/**
 * What the local API needs from a node, and nothing more: `SottoNode` implements it, and tests pass
 * an in-memory fake. The API is a thin layer over this interface (DESIGN.md, Interfaces).
 */
import type {
  BlockedIdentity,
  ContactRequestEvent,
  ContactRequestSummary,
  ContactRequestView,
  DeliveryUpdate,
  HandshakeEvent,
  IncomingMessage,
  KeyChange,
  LookupEvent,
} from '../node/node.js';
import type { ContactRecord, MessageRecord } from '../store/types.js';

export type {
  BlockedIdentity,
  ContactRecord,
  ContactRequestEvent,
  ContactRequestSummary,
  ContactRequestView,
  DeliveryUpdate,
  HandshakeEvent,
  IncomingMessage,
  KeyChange,
  LookupEvent,
  MessageRecord,
};

/** The node events the API listens to, as `EventEmitter` listener argument lists. */
export interface ApiNodeEvents {
  message: [IncomingMessage];
  delivery: [DeliveryUpdate];
  'key-change': [KeyChange];
  lookup: [LookupEvent];
  handshake: [HandshakeEvent];
  request: [ContactRequestEvent];
}

export type ApiNodeEventName = keyof ApiNodeEvents;

export type ApiNodeListener<E extends ApiNodeEventName> = (...args: ApiNodeEvents[E]) => void;

/** The node's non-secret status facts (as `SottoNode.status()` returns them). */
export interface ApiNodeStatus {
  /** Connected peers. */
  peers: number;
  /** Peers in the DHT routing table. */
  routingTable: number;
  /** Outgoing messages waiting for an ack. */
  outbox: number;
  oneTimePrekeys: { available: number; claimed: number; claimsServed: number };
  /** When the node serves as a mailbox for others: envelopes and bytes it holds for them. */
  mailbox?: { held: number; bytes: number };
}

export interface ApiPeer {
  peerId: string;
  addresses: string[];
}

export interface ApiNode {
  /** Our identity's address (`sotto1…`). */
  readonly address: string;
  /** The libp2p peer id of this node. */
  readonly peerId: string;
  multiaddrs(): string[];
  /** Encrypts and sends; `queued` means the outbox retries it later. */
  send(address: string, text: string): Promise<{ id: string; state: 'delivered' | 'stored-at-mailbox' | 'queued' }>;
  contacts(): Promise<ContactRecord[]>;
  /** Adds the contact, or renames it when the address is already a contact. */
  addContact(name: string, address: string): Promise<ContactRecord>;
  /** Removes the contact; false when there was none with this address. */
  removeContact(address: string): Promise<boolean>;
  /** The conversation with `address`, newest first, strictly before `before` when given. */
  conversation(
    address: string,
    options?: { limit?: number; before?: { timestamp: number; id: string } },
  ): Promise<MessageRecord[]>;
  /** The 60-digit safety number of our identity and `address`. */
  safetyNumber(address: string): string;
  /** Marks the contact verified; throws UnknownContactError when it is not a contact. */
  verifyContact(address: string): Promise<ContactRecord>;
  status(): Promise<ApiNodeStatus>;
  /** Connected peers with their addresses. */
  peers(): ApiPeer[];
  /** Peer ids of this identity's own mailboxes, as published in its record. */
  mailboxes(): string[];
  /**
   * Replaces this identity's mailbox list and republishes its record (the node validates: peer ids,
   * distinct, at most 8; InvalidMailboxOptionsError otherwise).
   */
  setMailboxes(peerIds: string[]): Promise<void>;
  /** Fetches from every one of this identity's mailboxes now; resolves with how many new messages arrived. */
  fetchMailboxes(): Promise<number>;
  /** Queues a failed outgoing message again; false when there is no failed message with this id. */
  retryMessage(id: string): Promise<boolean>;
  /** Pending contact requests, oldest first. */
  requests(): Promise<ContactRequestSummary[]>;
  /** One pending request with its held messages; throws UnknownRequestError when there is none. */
  request(address: string): Promise<ContactRequestView>;
  /** Makes the requester contact `name` and moves its messages into the conversation; UnknownRequestError. */
  acceptRequest(address: string, name: string): Promise<ContactRecord>;
  /** Deletes the request and its messages; UnknownRequestError when there is none. */
  rejectRequest(address: string): Promise<void>;
  /** Blocks the identity (idempotent); BlockListFullError when the list is full. */
  block(address: string): Promise<BlockedIdentity>;
  /** Unblocks; false when it was not blocked. */
  unblock(address: string): Promise<boolean>;
  /** The block list, most recently blocked last. */
  blockList(): Promise<BlockedIdentity[]>;
  on<E extends ApiNodeEventName>(event: E, listener: ApiNodeListener<E>): unknown;
  off<E extends ApiNodeEventName>(event: E, listener: ApiNodeListener<E>): unknown;
}

/**
 * What saving the mailbox list did: saved (it survives a restart), or not, with the reason for
 * people (e.g. an environment variable sets the list at every start).
 */
export type MailboxesSaved = { saved: true } | { saved: false; reason: string };

/** Where the API writes its own log lines (the same shape as the node's logger). */
export interface ApiLogger {
  debug(message: string, ...args: unknown[]): void;
  info(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(message: string, ...args: unknown[]): void;
}
