/**
 * `createNode`: one sotto node — an identity, its keys and sessions in a LevelDB store, a libp2p
 * host with the private DHT, and the message protocol — behind a small API with typed events.
 *
 * Send: address → identity record (DHT, validated, rollback-checked, cached) → session (stored, or a
 * new PQXDH handshake) → encrypt → ONE batch {advanced session, outbox entry, message} → envelope to
 * the recipient's node → on an ack of STORED/DUPLICATE, ONE batch {outbox removed, message delivered}.
 * Receive: envelope → our identity? already seen? → the sender's node must be bound to the sender
 * identity (device binding in its record) → decrypt (or answer the handshake) → ONE batch {session,
 * message, dedupe mark[, used one-time prekey removed]} → ack STORED → 'message' event. An ack is
 * sent only after that batch is durable, and a message reaches the app exactly once. A blocked
 * sender's envelope is dropped before all of this; under `contactRequests: 'ask'` the text of an
 * identity that is neither a contact nor in a conversation goes to its contact request instead of
 * the history (README "Message requests and blocking").
 */
import { EventEmitter } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { PeerId } from '@libp2p/interface';
import { peerIdFromMultihash, peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id';
import { decode as decodeMultihash } from 'multiformats/hashes/digest';
import { equalBytes, fromHex, toHex } from '../crypto/bytes.js';
import { type CryptoEnv, createEnv } from '../crypto/env.js';
import { SottoCryptoError } from '../crypto/errors.js';
import { generateIdentity, generateOneTimePrekey, type IdentityKeyPair, MAX_PREKEY_ID } from '../crypto/keys.js';
import { initiateSession, peekMessage, respondToSession } from '../crypto/pqxdh.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { nodeProviderReady } from '../crypto/provider-node.js';
import { pooledRandom } from '../crypto/random-pool.js';
import { safetyNumber } from '../crypto/safety-number.js';
import { Session } from '../crypto/session.js';
import { identityRecordRules } from '../directory/dht-rules.js';
import { DirectoryError } from '../directory/errors.js';
import {
  bundleFromRecord,
  createIdentityRecord,
  encodeIdentityRecord,
  type IdentityRecord,
  MAX_MAILBOXES,
  recordKey,
  validateRecordBytes,
} from '../directory/record.js';
import { decodeAddress, encodeAddress } from '../identity/address.js';
import { createDeviceBinding } from '../identity/device-binding.js';
import {
  abortDeadConnections,
  type CreateHostOptions,
  createHost,
  disconnectPeer,
  getRecord,
  loadOrCreatePeerKey,
  type NetLogger,
  parseNetConfig,
  putRecord,
  routingTableSize,
  type SottoHost,
  waitForDhtPeer,
} from '../net/index.js';
import {
  fetchMailbox,
  MAX_UPLOAD_PREKEYS,
  type MailboxHandler,
  mailboxProtocol,
  type UploadedPrekey,
} from '../protocols/mailbox/index.js';
import {
  type Ack,
  AckStatus,
  type Envelope,
  type EnvelopeDecision,
  type EnvelopeStream,
  encodeEnvelope,
  isSealed,
  ID_BYTES as MESSAGE_ID_BYTES,
  MessageHandler,
  openEnvelopeStream,
  openSealedEnvelope,
  RATE_LIMITED_REASON,
  type SealedEnvelope,
  sealEnvelope,
  sendEnvelope,
  type WireEnvelope,
} from '../protocols/message/index.js';
import { type ClaimResult, claimPrekey, PrekeyHandler, TokenBucketLimiter } from '../protocols/prekeys/index.js';
import { MAX_PREVIOUS_SESSIONS } from '../store/codec.js';
import { openEncryptedStore, PRIVATE_DIR_MODE, restrictPermissions } from '../store/encrypted-store.js';
import { firstFreeOneTimeId } from '../store/layout.js';
import { MAX_MESSAGE_PAGE } from '../store/stores.js';
import type {
  BlockedRecord,
  ContactRecord,
  ContactRequestRecord,
  MessageRecord,
  MessageState,
  PreviousSession,
  SessionRecord,
  SottoStore,
} from '../store/types.js';
import { type BanEntry, BanList } from './ban-list.js';
import {
  type Content,
  ContentError,
  decodeContent,
  encodeReceipt,
  encodeText,
  MAX_RECEIPT_IDS,
  type ReceiptKind,
} from './content.js';
import {
  BlockListFullError,
  IdentityBlockedError,
  InvalidMailboxOptionsError,
  InvalidMessageError,
  InvalidRequestOptionsError,
  NodeAlreadyStartedError,
  NodeNotStartedError,
  PrekeyIdsExhaustedError,
  RecipientNotFoundError,
  UnknownContactError,
  UnknownRequestError,
} from './errors.js';
import { MAILBOX_EXPIRY_INTERVAL_MS, MailboxRole, type MailboxRoleOptions, parseMailboxRole } from './mailbox.js';
import { ensureCurrentPrekeys } from './prekey-rotation.js';

/** How many one-time prekeys the node keeps ready for first contacts. */
export const ONE_TIME_PREKEY_POOL = 20;
/**
 * One-time prekeys handed out and not yet used by a handshake (issue 7, "one-time prekey claims
 * rate-limited per requester; fall back to the signed prekey"): each claim is refilled with a new
 * key while the claimed one is kept for its handshake, so many requesters (each within its own rate
 * limit) could grow the store without bound. At this many outstanding claims the node answers
 * EMPTY and senders handshake with the signed prekey alone until handshakes use up claimed keys.
 */
export const MAX_OUTSTANDING_CLAIMS = 1000;
export { MAX_TEXT_BYTES } from './content.js';
/** Lifetime of a published identity record; republished at half of it. */
export const RECORD_LIFETIME_MS = 24 * 60 * 60 * 1000;
/** How long `send` waits for the recipient's ack before reporting the message as queued. */
export const SEND_ATTEMPT_TIMEOUT_MS = 15_000;
/** How long a directory lookup may take. */
export const LOOKUP_TIMEOUT_MS = 20_000;
/** First retry delay of an undelivered message; doubles per attempt up to RETRY_MAX_MS. */
export const RETRY_BASE_MS = 5_000;
/** Longest delay between two attempts of one message. */
export const RETRY_MAX_MS = 30 * 60 * 1000;
/** Up to this fraction of the delay is added at random, so retries of many nodes spread out. */
export const RETRY_JITTER = 0.2;
/** How often the outbox is checked for due messages. */
export const RETRY_INTERVAL_MS = 5_000;
/** Most messages one outbox pass tries. */
export const RETRY_BATCH = 50;
/** How far an outgoing message's state has come; a state only ever moves to a higher rank. */
const STATE_RANK: Record<MessageState, number> = {
  failed: 0,
  queued: 0,
  sent: 1,
  'stored-at-mailbox': 2,
  delivered: 3,
  read: 4,
  received: 0,
};
/** markRead scans at most this many pages of a conversation for unread messages. */
export const MAX_READ_SCAN_PAGES = 100;
/** Serialises every allocation of one-time prekey ids (claims served, uploads to mailboxes). */
const ONE_TIME_PREKEY_LOCK = 'one-time-prekeys';
/** Upload one-time prekeys to a mailbox when it holds fewer than this many of ours (issue 5). */
export const MAILBOX_PREKEY_LOW = 10;
/** …and bring it up to this many (at most MAX_UPLOAD_PREKEYS per fetch session). */
export const MAILBOX_PREKEY_TARGET = 20;
/** How often a node fetches from its mailboxes (also at start and whenever it connects to one). */
export const MAILBOX_FETCH_INTERVAL_MS = 60_000;
/** Fetch sessions in a row with one mailbox while it says more are waiting (64 batches of ≤ 64 each). */
export const MAX_FETCH_SESSIONS = 16;
/** Default time after which an undeliverable message is marked failed (issue 5: "not silently dropped"). */
export const FAIL_AFTER_MS = 7 * 24 * 60 * 60 * 1000;
/**
 * How long `start()` waits for a first DHT peer when bootstrap peers are configured, so the first
 * publish of our identity record reaches someone. A lone node (no bootstrap peers) does not wait.
 */
export const FIRST_PEER_WAIT_MS = 5_000;
/** After a publish that reached no peer, how often the node checks for a DHT peer to publish to. */
export const REPUBLISH_RETRY_MS = 1_000;
/** Shortest delay between two prekey rotation checks (a clock that jumps cannot make it spin). */
export const ROTATION_CHECK_MIN_MS = 60_000;
/** How long a send waits for a one-time prekey before handshaking without one. */
export const CLAIM_TIMEOUT_MS = 5_000;
/** A failed send on an open stream is retried on a fresh stream only if it failed this fast (a reset). */
export const FRESH_STREAM_RETRY_WITHIN_MS = 1_000;
/** Fresh streams tried after such fast failures before the attempt counts as failed (outbox retry). */
export const FRESH_STREAM_RETRIES = 2;
/**
 * After a direct attempt to a recipient's node failed without an answer, messages to it go straight
 * to its mailboxes (when it has any) for this long, instead of waiting out a dial or ack timeout
 * each time (a partitioned node drops packets: every attempt would cost seconds).
 */
export const UNREACHABLE_HOLD_MS = 30_000;
/**
 * Directory lookups an inbound peer may cause (a sender identity this node has no record of costs a
 * DHT query): a burst of this many, then one more per LOOKUP_REFILL_MS. Stops a peer from making the
 * node query the DHT for every envelope it invents.
 */
export const INBOUND_LOOKUP_BURST = 10;
export const INBOUND_LOOKUP_REFILL_MS = 1_000;
/**
 * New sessions one inbound peer may make this node compute (protocols/message/SPEC.md §11.2, a
 * limit of the node's own): a burst of this many, then one more per HANDSHAKE_REFILL_MS. A prekey
 * message that belongs to no current or previous session costs a whole PQXDH response (≈ 0.8–0.9 ms
 * of CPU here, about as much when it then fails to authenticate); at the envelope rate limit
 * (1 000 a second) one peer could otherwise keep a core busy with them. An honest peer starts one
 * session per identity it writes to, plus one on a crossed handshake or after a restore. Beyond it
 * the envelope is answered UNAVAILABLE `rate-limited`: kept by the sender and retried later.
 * Envelopes fetched from this identity's own mailboxes are not counted (the mailbox limits deposits
 * per peer, and a refused envelope would hold up the whole fetched batch).
 */
export const HANDSHAKE_BURST = 16;
export const HANDSHAKE_REFILL_MS = 6_000;
/** Most validated identity records kept in memory. */
export const MAX_VERIFIED_RECORDS = 10_000;
/**
 * Most live (decoded) sessions kept in memory. Each is exactly the last stored snapshot, so a
 * message skips a store read and a snapshot decode; the least recently used one is dropped beyond this.
 */
export const MAX_LIVE_SESSIONS = 1000;
/** A cached identity record is used without a new lookup for this long. */
export const DIRECTORY_CACHE_TTL_MS = 10 * 60 * 1000;

/**
 * What a first message from an unknown identity (neither a contact nor in any conversation) does
 * (issue 7, contact requests): `ask` holds it in a contact request until the user accepts, rejects
 * or blocks; `accept` delivers it like any other message (the behaviour before requests existed).
 */
export const CONTACT_REQUEST_POLICIES = Object.freeze(['ask', 'accept'] as const);
export type ContactRequestPolicy = (typeof CONTACT_REQUEST_POLICIES)[number];
/**
 * Most pending contact requests (issue 7: requests are bounded). While this many wait for the user,
 * a message from one more unknown identity is refused before any lookup or decryption: first come,
 * kept, so a flood of new identities can neither grow the store nor push out requests the user has
 * not seen. Refused on the direct path with UNAVAILABLE (the sender's node retries later); from a
 * mailbox it is dropped (the fetch must go on for the envelopes behind it).
 */
export const MAX_PENDING_REQUESTS = 100;
/**
 * Most messages held per pending request (issue 7): the first ones, the introduction, are kept;
 * further ones are refused before decryption, the same way as a new request over
 * MAX_PENDING_REQUESTS, until the user decides.
 */
export const MAX_MESSAGES_PER_REQUEST = 20;
/** Most identities on the block list (it is held in memory so an envelope is checked without a store read). */
export const MAX_BLOCKED_IDENTITIES = 10_000;
/** Most identities remembered in memory as known (a contact, or a conversation), so a message skips two store reads. */
export const MAX_KNOWN_SENDERS = 10_000;

export interface CreateNodeOptions {
  /** Directory holding the store and the peer key (created, mode 0700; its files are made 0600). */
  dataDir: string;
  /**
   * Encryption at rest (src/store/encrypted-store.ts): unlocks the data key of a store protected by
   * a passphrase (a wrong one fails `start()` with BadPassphraseError, none with
   * PassphraseRequiredError, and nothing changes); for a new data dir, or one written before
   * encryption at rest, it wraps the new data key. Without it a new data key is kept unwrapped,
   * protected by file permissions only, and `start()` logs one warning. Kept in a private field,
   * never logged.
   */
  passphrase?: string | Uint8Array | undefined;
  /** Network configuration (see src/net/config.ts); validated at start. */
  net?: unknown;
  /** Crypto provider; default: the node:crypto provider. */
  provider?: CryptoProvider;
  logger?: NetLogger;
  /**
   * The node's clock (ms since the epoch) for record times, prekey rotation, retries and message
   * timestamps. Default `Date.now`; tests and simulations move it forward.
   */
  clock?: () => number;
  /** libp2p's metrics, e.g. `prometheusMetrics({ registry })` from @libp2p/prometheus-metrics. */
  libp2pMetrics?: CreateHostOptions['metrics'];
  /** Serve as a mailbox for other identities (protocols/mailbox/SPEC.md); off when absent. */
  mailbox?: MailboxRoleOptions;
  /**
   * Peer ids of this identity's own mailboxes, published in its record (at most MAX_MAILBOXES):
   * senders deposit there while this node is unreachable, and this node fetches from them.
   */
  mailboxes?: string[];
  /** Send read receipts when the app marks messages read (`markRead`); default true. */
  readReceipts?: boolean;
  /** A message not delivered (nor stored at a mailbox) within this many ms is marked failed; default FAIL_AFTER_MS. */
  failAfterMs?: number;
  /**
   * A first message from an identity that is neither a contact nor in any conversation: `ask` holds
   * it in a contact request (`requests()`, 'request' events) until the user accepts, rejects or
   * blocks it; `accept` delivers it at once. Default `accept` for the library, so an app that keeps
   * its own policy sees no change; the daemon's config (`contacts.requests`) defaults to `ask`.
   */
  contactRequests?: ContactRequestPolicy;
  /** Lower caps than MAX_PENDING_REQUESTS and MAX_MESSAGES_PER_REQUEST (never higher), e.g. for tests. */
  requestLimits?: { maxPending?: number; maxMessagesPerRequest?: number };
  /** A lower cap than MAX_OUTSTANDING_CLAIMS (never higher), e.g. for tests. */
  maxOutstandingClaims?: number;
}

/**
 * A message from an identity that is not known (a contact or a conversation) arrived under the
 * `ask` policy: it is stored with that identity's contact request, not in a conversation, and no
 * receipt tells the sender more than the protocol's ack did.
 */
export interface ContactRequestEvent {
  /** The requester's address. */
  from: string;
  id: string;
  text: string;
  /** The sender's timestamp. */
  timestamp: number;
  /** Messages now held with the request. */
  held: number;
  /** True when this message created the request. */
  first: boolean;
}

/** A pending contact request, without its messages. */
export interface ContactRequestSummary {
  address: string;
  identityKey: string;
  /** When its first held message arrived (this node's clock, ms). */
  firstAt: number;
  /** When its latest held message arrived. */
  lastAt: number;
  /** Messages held. */
  held: number;
}

/** A pending contact request with its held messages, in arrival order. */
export interface ContactRequestView extends ContactRequestSummary {
  messages: Array<{ id: string; text: string; timestamp: number; receivedAt: number }>;
}

/** An identity on the block list. */
export interface BlockedIdentity {
  address: string;
  identityKey: string;
  blockedAt: number;
}

export interface IncomingMessage {
  id: string;
  /** The sender's address. */
  from: string;
  text: string;
  timestamp: number;
}

/**
 * A delivery attempt's outcome: `delivered` when the recipient's node acked it as stored, `queued`
 * when an attempt failed and the message stays in the outbox for a retry.
 */
export interface DeliveryUpdate {
  id: string;
  to: string;
  state: MessageState;
}

export interface SendResult {
  id: string;
  /**
   * `delivered`: the recipient's node stored it; `stored-at-mailbox`: the recipient's node was
   * unreachable and one of its mailboxes stored it; `queued`: kept in the outbox to retry.
   */
  state: 'delivered' | 'stored-at-mailbox' | 'queued';
}

/**
 * A contact's identity DH key differs from the one first seen (trust on first use): their identity
 * signed a new one. Never silent; the contact's verified flag is cleared.
 */
export interface KeyChange {
  address: string;
  name: string;
  previousKey: string;
  currentKey: string;
}

/** One directory lookup of an identity record finished (for metrics). */
export interface LookupEvent {
  /** A valid record was found. */
  ok: boolean;
  /** It came from the node's cache (memory or store) instead of a DHT query. */
  cached: boolean;
  durationMs: number;
}

/** A PQXDH handshake completed, as the side that started it or the side that answered it. */
export interface HandshakeEvent {
  role: 'initiator' | 'responder';
}

export interface SottoNodeEvents {
  message: [IncomingMessage];
  delivery: [DeliveryUpdate];
  'key-change': [KeyChange];
  lookup: [LookupEvent];
  handshake: [HandshakeEvent];
  request: [ContactRequestEvent];
}

function peerIdFromBytes(bytes: Uint8Array): PeerId {
  return peerIdFromMultihash(decodeMultihash(bytes));
}

/** Mailbox peer ids as given by the app or the config: valid, distinct, at most MAX_MAILBOXES. */
function parseMailboxPeers(peerIds: readonly string[]): PeerId[] {
  if (!Array.isArray(peerIds)) throw new InvalidMailboxOptionsError('mailboxes must be an array of peer ids');
  if (peerIds.length > MAX_MAILBOXES) throw new InvalidMailboxOptionsError(`at most ${MAX_MAILBOXES} mailboxes`);
  const out: PeerId[] = [];
  for (const id of peerIds) {
    let peer: PeerId;
    try {
      peer = peerIdFromString(String(id));
    } catch {
      throw new InvalidMailboxOptionsError(`not a peer id: ${JSON.stringify(String(id).slice(0, 80))}`);
    }
    if (out.some((p) => p.equals(peer))) throw new InvalidMailboxOptionsError(`mailbox listed twice: ${peer}`);
    out.push(peer);
  }
  return out;
}

/** Files of the data dir besides the store (net/peer-key.ts, api/token.ts, daemon/info.ts, config/): tightened to 0600 at open. */
const DATA_DIR_FILES: readonly string[] = ['peer-key', 'api-token', 'daemon.json', 'config.json'];

export class SottoNode extends EventEmitter<SottoNodeEvents> {
  private readonly options: Omit<CreateNodeOptions, 'passphrase'>;
  /** A true private field: `util.inspect(node)` does not show it. */
  readonly #passphrase: string | Uint8Array | undefined;
  private readonly env: CryptoEnv;
  /** Message ids: public, only unique (random-pool.ts), so served from pooled CSPRNG output. */
  private readonly idRandom: (length: number) => Uint8Array;
  private store?: SottoStore;
  private host?: SottoHost;
  private handler?: MessageHandler;
  private prekeyHandler?: PrekeyHandler;
  private mailboxHandler?: MailboxHandler;
  private fetchAbort = new AbortController();
  private identityKeys?: IdentityKeyPair;
  /** The X25519 form of the identity key and its public key: open sealed envelopes (protocols/message/SPEC.md §9). */
  private sealKey?: { privateKey: Uint8Array; publicKey: Uint8Array };
  /** X25519 forms of recipients' identity keys (hex → key), to seal deposits to (bounded). */
  private readonly sealTo = new Map<string, Uint8Array>();
  private republishTimer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  private firstPeerTimer?: NodeJS.Timeout;
  private rotationTimer?: NodeJS.Timeout;
  private expiryTimer?: NodeJS.Timeout;
  private mailboxRole?: MailboxRole;
  /** Our own mailboxes (peer ids), published in our record. */
  private ownMailboxes: PeerId[] = [];
  private fetchTimer?: NodeJS.Timeout;
  /** The fetch running per mailbox (one at a time each). */
  private readonly fetches = new Map<string, Promise<number>>();
  /** Recipients' device peer ids (hex) whose node did not answer, until when (UNREACHABLE_HOLD_MS). */
  private readonly unreachableUntil = new Map<string, number>();
  /** Mailboxes that kept none of an upload (no prekey support, or full): not asked again. */
  private readonly noPrekeyMailboxes = new Set<string>();
  /** Receipts being sent in the background (stop() waits for them). */
  private readonly background = new Set<Promise<void>>();
  /** Ids of texts fetched from a mailbox, per sender, whose delivery receipt is still to be sent. */
  private readonly deliveryReceiptsDue = new Map<string, string[]>();
  private onPeerConnect?: (evt: CustomEvent<PeerId>) => void;
  private retrying?: Promise<number>;
  /** Validated identity records (insertion order = age), so messages skip signature checks. */
  private readonly verified = new Map<string, { record: IdentityRecord; fetchedAt: number }>();
  /** Budget of directory lookups each inbound peer may cause. */
  /** Peers banned for protocol violations (issue 7), on the node's clock; the connection gater asks it. */
  private readonly bans = new BanList(() => this.env.now());
  private readonly inboundLookups = new TokenBucketLimiter({
    capacity: INBOUND_LOOKUP_BURST,
    refillIntervalMs: INBOUND_LOOKUP_REFILL_MS,
  });
  /** Budget of new sessions (PQXDH responses) each inbound peer may make this node compute. */
  private readonly inboundHandshakes = new TokenBucketLimiter({
    capacity: HANDSHAKE_BURST,
    refillIntervalMs: HANDSHAKE_REFILL_MS,
  });
  /**
   * Live sessions by remote identity, least recently used first. An entry always equals the stored
   * snapshot: it is (re)inserted only after the batch that stores its state committed, and dropped
   * when such a batch fails.
   */
  private readonly liveSessions = new Map<string, LiveSession>();
  /** Received messages whose batch is queued but not yet durable, by `sender/id`: a repeat waits for it. */
  private readonly pendingReceipts = new Map<string, Promise<void>>();
  /** One open message stream per peer, reused for up to MAX_ENVELOPES_PER_STREAM envelopes. */
  private readonly envelopeStreams = new Map<string, EnvelopeStream>();
  /** One decrypt/encrypt at a time per remote identity: sessions are read-modify-write. */
  private readonly locks = new Map<string, Promise<unknown>>();
  /** `contactRequests` and its caps, set at start. */
  private requestPolicy: ContactRequestPolicy = 'accept';
  private maxPendingRequests = MAX_PENDING_REQUESTS;
  private maxMessagesPerRequest = MAX_MESSAGES_PER_REQUEST;
  private maxOutstandingClaims = MAX_OUTSTANDING_CLAIMS;
  /** Blocked identities (hex), loaded at start: checked before any other work on an envelope. */
  private readonly blockedIds = new Set<string>();
  /** Pending contact requests: identity (hex) → messages held (0: one being written). Loaded at start. */
  private readonly pendingRequests = new Map<string, number>();
  /** Identities known to be a contact or in a conversation (a cache of `isKnown`, bounded). */
  private readonly knownSenders = new Set<string>();

  constructor(options: CreateNodeOptions) {
    super();
    const { passphrase, ...rest } = options;
    this.options = rest;
    this.#passphrase = passphrase instanceof Uint8Array ? passphrase.slice() : passphrase;
    this.env = createEnv({ provider: options.provider, clock: options.clock });
    this.idRandom = pooledRandom(this.env.rng);
  }

  /** This node's identity, as an address others paste. */
  get address(): string {
    return encodeAddress(this.identity.signingKey);
  }

  get peerId(): string {
    return this.running.host.peerId.toString();
  }

  multiaddrs(): string[] {
    return this.running.host.getMultiaddrs().map((m) => m.toString());
  }

  private get identity(): IdentityKeyPair {
    if (!this.identityKeys) throw new NodeNotStartedError();
    return this.identityKeys;
  }

  private get running(): { store: SottoStore; host: SottoHost } {
    if (!this.store || !this.host) throw new NodeNotStartedError();
    return { store: this.store, host: this.host };
  }

  async start(): Promise<void> {
    if (this.store) throw new NodeAlreadyStartedError();
    const config = parseNetConfig(this.options.net ?? {});
    const roleConfig = this.options.mailbox === undefined ? undefined : parseMailboxRole(this.options.mailbox);
    const requestOptions = parseRequestOptions(this.options);
    const maxClaims = this.options.maxOutstandingClaims ?? MAX_OUTSTANDING_CLAIMS;
    if (!Number.isInteger(maxClaims) || maxClaims < 1 || maxClaims > MAX_OUTSTANDING_CLAIMS) {
      throw new InvalidRequestOptionsError(`maxOutstandingClaims must be an integer 1..${MAX_OUTSTANDING_CLAIMS}`);
    }
    this.maxOutstandingClaims = maxClaims;
    const ownMailboxes = parseMailboxPeers(this.options.mailboxes ?? []);
    await nodeProviderReady;
    const store = await this.openStore();
    try {
      if (roleConfig !== undefined) this.mailboxRole = new MailboxRole(roleConfig, store, () => this.env.now());
      this.ownMailboxes = ownMailboxes;
      this.identityKeys = await this.loadOrCreateKeys(store);
      this.requestPolicy = requestOptions.policy;
      this.maxPendingRequests = requestOptions.maxPending;
      this.maxMessagesPerRequest = requestOptions.maxMessagesPerRequest;
      await this.loadRequestState(store);
      const sealPrivate = this.env.provider.ed25519SeedToX25519(this.identityKeys.signingSeed);
      this.sealKey = { privateKey: sealPrivate, publicKey: this.env.provider.x25519PublicKey(sealPrivate) };
      const { privateKey } = await loadOrCreatePeerKey(this.options.dataDir);
      const now = () => this.env.now();
      const provider = this.env.provider;
      const host = await createHost({
        privateKey,
        config,
        logger: this.options.logger,
        start: false,
        dht: identityRecordRules(provider, now),
        metrics: this.options.libp2pMetrics,
        isBanned: (peer) => this.bans.isBanned(peer.toString()),
        onViolation: (peer, code) => this.reportViolation(host, peer, code),
      });
      // every stream a protocol handler resets is reported; violations get the peer banned
      const onReset = (evt: Event): void => this.onProtocolReset(host, evt);
      this.handler = new MessageHandler(
        { registrar: host },
        { onEnvelope: (envelope, ctx) => this.receive(envelope, ctx.remotePeer) },
      );
      this.handler.addEventListener('reset', onReset);
      await this.handler.start();
      this.prekeyHandler = new PrekeyHandler({ registrar: host }, { claim: (identity) => this.serveClaim(identity) });
      this.prekeyHandler.addEventListener('reset', onReset);
      await this.prekeyHandler.start();
      if (this.mailboxRole) {
        const role = this.mailboxRole;
        this.mailboxHandler = mailboxProtocol({
          storage: role.storage(),
          verify: (key, message, signature) => provider.ed25519Verify(key, message, signature),
        })({ registrar: host, logger: host.logger, peerId: host.peerId });
        this.mailboxHandler.addEventListener('reset', onReset);
        await this.mailboxHandler.start();
      }
      await host.start();
      this.store = store;
      this.host = host;
    } catch (err) {
      await store.close();
      throw err;
    }
    await this.rotatePrekeys({ publish: false });
    if (config.bootstrap.length > 0) await waitForDhtPeer(this.running.host, FIRST_PEER_WAIT_MS);
    const { peersStored } = await this.publishRecord();
    if (peersStored === 0) this.publishOnFirstPeer();
    this.republishTimer = setInterval(() => {
      this.publishRecord().catch((err: unknown) => this.options.logger?.warn?.(`republish failed: ${String(err)}`));
    }, RECORD_LIFETIME_MS / 2);
    this.republishTimer.unref();
    this.retryTimer = setInterval(() => {
      if (this.retrying) return;
      this.retrying = this.retryOutbox().finally(() => {
        this.retrying = undefined;
      });
      this.retrying.catch((err: unknown) => this.options.logger?.warn?.(`outbox retry failed: ${String(err)}`));
    }, RETRY_INTERVAL_MS);
    this.retryTimer.unref();
    this.onPeerConnect = (evt) => {
      this.unreachableUntil.delete(toHex(evt.detail.toMultihash().bytes)); // it is back: try it directly again
      if (this.ownMailboxes.some((p) => p.equals(evt.detail))) this.fetchFromInBackground(evt.detail);
    };
    this.running.host.addEventListener('peer:connect', this.onPeerConnect);
    for (const peer of this.ownMailboxes) this.fetchFromInBackground(peer);
    this.fetchTimer = setInterval(() => {
      for (const peer of this.ownMailboxes) this.fetchFromInBackground(peer);
    }, MAILBOX_FETCH_INTERVAL_MS);
    this.fetchTimer.unref();
    if (this.mailboxRole) {
      const role = this.mailboxRole;
      await role.expire();
      this.expiryTimer = setInterval(() => {
        role.expire().catch((err: unknown) => this.options.logger?.warn?.(`mailbox expiry failed: ${String(err)}`));
      }, MAILBOX_EXPIRY_INTERVAL_MS);
      this.expiryTimer.unref();
    }
  }

  /**
   * Creates or rotates the signed X25519 and ML-KEM prekeys when due (prekey-rotation.ts), deletes
   * retired ones past their grace period, republishes the identity record after a rotation, and
   * schedules the next check.
   */
  private async rotatePrekeys(options: { publish: boolean }): Promise<void> {
    const { store } = this.running;
    const result = await ensureCurrentPrekeys(store, this.env, this.identity, this.env.now());
    if (result.rotated && options.publish) await this.publishRecord();
    if (this.rotationTimer) clearTimeout(this.rotationTimer);
    // setTimeout holds at most 2^31 - 1 ms (≈ 24.8 days); the rotation period is shorter
    const delay = Math.min(Math.max(result.nextCheckAt - this.env.now(), ROTATION_CHECK_MIN_MS), 2 ** 31 - 1);
    this.rotationTimer = setTimeout(() => {
      this.rotatePrekeys({ publish: true }).catch((err: unknown) =>
        this.options.logger?.warn?.(`prekey rotation failed: ${String(err)}`),
      );
    }, delay);
    this.rotationTimer.unref();
  }

  /** Peers in the DHT routing table right now (0 before start). */
  get dhtPeers(): number {
    return this.host ? routingTableSize(this.host) : 0;
  }

  /** Our record reached nobody (no DHT peer yet): publish again as soon as there is one. */
  private publishOnFirstPeer(): void {
    if (this.firstPeerTimer) return;
    this.firstPeerTimer = setInterval(() => {
      if (this.dhtPeers === 0) return;
      clearInterval(this.firstPeerTimer);
      this.firstPeerTimer = undefined;
      this.publishRecord()
        .then(({ peersStored }) => {
          if (peersStored === 0 && this.host) this.publishOnFirstPeer();
        })
        .catch((err: unknown) => this.options.logger?.warn?.(`publish failed: ${String(err)}`));
    }, REPUBLISH_RETRY_MS);
    this.firstPeerTimer.unref();
  }

  /**
   * Creates (or loads) this node's identity, prekeys and peer key without going online, then closes
   * the store: `sotto init` and `sotto id` without a daemon. Fails with StoreOpenError while
   * another process (a running daemon) holds the data dir.
   */
  async initialize(): Promise<{ address: string; peerId: string; created: boolean }> {
    if (this.store) throw new NodeAlreadyStartedError();
    await nodeProviderReady;
    const store = await this.openStore();
    try {
      const created = (await store.identity.get()) === undefined;
      const identity = await this.loadOrCreateKeys(store);
      await ensureCurrentPrekeys(store, this.env, identity, this.env.now());
      const { privateKey } = await loadOrCreatePeerKey(this.options.dataDir);
      const peerId = peerIdFromPrivateKey(privateKey).toString();
      return { address: encodeAddress(identity.signingKey), peerId, created };
    } finally {
      await store.close();
    }
  }

  /**
   * Opens the store with encryption at rest, after making the data dir 0700 and its files 0600.
   * Logs one warning when no passphrase protects the data key, and one line when a store from
   * before encryption at rest was encrypted.
   */
  private async openStore(): Promise<SottoStore> {
    const dataDir = this.options.dataDir;
    await mkdir(dataDir, { recursive: true, mode: PRIVATE_DIR_MODE });
    await restrictPermissions(dataDir, { only: DATA_DIR_FILES });
    const opened = await openEncryptedStore({
      path: join(dataDir, 'store'),
      passphrase: this.#passphrase,
      provider: this.env.provider,
    });
    if (opened.migrated) {
      this.options.logger?.info?.(`encrypted the store at rest (${opened.migratedValues} values)`);
    }
    if (opened.protection === 'none') {
      this.options.logger?.warn?.(
        'no passphrase: the data key is stored unwrapped in the store directory, protected by file permissions only (set one with: sotto passphrase set)',
      );
    }
    return opened.store;
  }

  /** Stops the host and closes the store; afterwards the process can exit. */
  async stop(): Promise<void> {
    if (this.republishTimer) clearInterval(this.republishTimer);
    if (this.retryTimer) clearInterval(this.retryTimer);
    if (this.firstPeerTimer) clearInterval(this.firstPeerTimer);
    if (this.rotationTimer) clearTimeout(this.rotationTimer);
    this.rotationTimer = undefined;
    this.firstPeerTimer = undefined;
    this.republishTimer = undefined;
    this.retryTimer = undefined;
    if (this.expiryTimer) clearInterval(this.expiryTimer);
    if (this.fetchTimer) clearInterval(this.fetchTimer);
    this.fetchTimer = undefined;
    if (this.onPeerConnect) this.host?.removeEventListener('peer:connect', this.onPeerConnect);
    this.onPeerConnect = undefined;
    this.fetchAbort.abort();
    await Promise.allSettled([...this.fetches.values()]);
    this.fetchAbort = new AbortController();
    this.expiryTimer = undefined;
    await this.retrying?.catch(() => undefined);
    await Promise.allSettled([...this.locks.values()]);
    await Promise.allSettled([...this.envelopeStreams.values()].map((st) => st.close()));
    this.envelopeStreams.clear();
    await this.handler?.stop();
    await this.prekeyHandler?.stop();
    await this.mailboxHandler?.stop();
    this.mailboxHandler = undefined;
    await this.host?.stop();
    // receipts being sent: with the host stopped their attempts fail fast and stay in the outbox
    await Promise.allSettled([...this.background]);
    await this.store?.close();
    this.handler = undefined;
    this.prekeyHandler = undefined;
    this.host = undefined;
    this.store = undefined;
    this.mailboxRole = undefined;
    this.sealKey?.privateKey.fill(0);
    this.sealKey = undefined;
  }

  private async loadOrCreateKeys(store: SottoStore): Promise<IdentityKeyPair> {
    let identity = await store.identity.get();
    const batch = store.batch();
    if (!identity) {
      identity = generateIdentity(this.env);
      batch.identity.put(identity);
    }
    await this.replenishOneTimePrekeys(store, batch);
    await batch.commit();
    return identity;
  }

  /** The stored one-time prekey ids, and those of them not handed out yet. */
  private async oneTimePool(store: SottoStore): Promise<{ ids: number[]; unclaimed: number[] }> {
    const ids = await store.prekeys.ids('one-time');
    const unclaimed: number[] = [];
    for (const id of ids) if (!(await store.prekeys.isClaimed(id))) unclaimed.push(id);
    return { ids, unclaimed };
  }

  /** Tops the pool of unclaimed one-time prekeys up to ONE_TIME_PREKEY_POOL (in `batch`). */
  private async replenishOneTimePrekeys(store: SottoStore, batch: ReturnType<SottoStore['batch']>): Promise<void> {
    const { ids, unclaimed } = await this.oneTimePool(store);
    await this.topUpOneTimePrekeys(store, batch, ids, unclaimed.length);
  }

  /** Adds keys to `batch` until `unclaimed` reaches ONE_TIME_PREKEY_POOL, with ids never used before. */
  private async topUpOneTimePrekeys(
    store: SottoStore,
    batch: ReturnType<SottoStore['batch']>,
    ids: readonly number[],
    unclaimed: number,
  ): Promise<void> {
    const fresh = await this.allocateOneTimeIds(store, batch, ids, Math.max(0, ONE_TIME_PREKEY_POOL - unclaimed));
    for (const id of fresh) batch.prekeys.put('one-time', generateOneTimePrekey(this.env, id));
  }

  /**
   * `count` one-time prekey ids never allocated before, from max(stored counter, highest of `ids`
   * (the stored ones) + 1, 1) up: ids never repeat, so a late or replayed handshake naming a used
   * id finds no key rather than a different one. The advanced counter goes into `batch`, the batch
   * that stores the keys; it is also written when `count` is 0 if it was missing or behind, so a
   * store from before the counter is pinned above its highest id at its first write. Ids are u32
   * on the wire and never wrap: PrekeyIdsExhaustedError when one would pass MAX_PREKEY_ID, before
   * anything is added to `batch`. Callers hold ONE_TIME_PREKEY_LOCK (or run before claims are served).
   */
  private async allocateOneTimeIds(
    store: SottoStore,
    batch: ReturnType<SottoStore['batch']>,
    ids: readonly number[],
    count: number,
  ): Promise<number[]> {
    const stored = await store.prekeys.nextOneTimeId();
    const first = firstFreeOneTimeId(stored, ids);
    if (first + count - 1 > MAX_PREKEY_ID) throw new PrekeyIdsExhaustedError('one-time');
    if (stored !== first + count) batch.prekeys.setNextOneTimeId(first + count);
    return Array.from({ length: count }, (_, i) => first + i);
  }

  /**
   * The prekey claim protocol's callback: hands out one unclaimed one-time prekey and marks it
   * claimed in a durable write before answering, so it is never handed out twice; its private half
   * stays until a handshake uses it. The pool is topped up in the same write when it runs low.
   */
  private async serveClaim(identity: Uint8Array): Promise<ClaimResult> {
    const { store } = this.running;
    if (!equalBytes(identity, this.identity.signingKey)) {
      // as a mailbox: a prekey the identity uploaded, handed out once (taken out of the store)
      const role = this.mailboxRole;
      if (role === undefined || !role.serves(toHex(identity))) return 'unknown';
      return (await store.mailbox.takePrekey(toHex(identity))) ?? 'empty';
    }
    return this.withLock(ONE_TIME_PREKEY_LOCK, () => this.claimOwn(store));
  }

  private async claimOwn(store: SottoStore): Promise<ClaimResult> {
    const { ids, unclaimed } = await this.oneTimePool(store);
    if (ids.length - unclaimed.length >= this.maxOutstandingClaims) return 'empty';
    for (const id of unclaimed) {
      const prekey = await store.prekeys.get('one-time', id);
      if (!prekey) continue;
      const batch = store.batch();
      batch.prekeys.markClaimed(id, this.env.now());
      await this.topUpOneTimePrekeys(store, batch, ids, unclaimed.length - 1); // the pool read once, minus this claim
      await batch.commit();
      return { id, publicKey: prekey.publicKey };
    }
    return 'empty';
  }

  /** Signs and publishes our identity record (sequence = time, so it only grows). */
  async publishRecord(): Promise<{ peersStored: number }> {
    const { store, host } = this.running;
    const identity = this.identity;
    const signedPrekey = await store.prekeys.current('signed');
    const kemPrekey = await store.prekeys.current('kem');
    if (!signedPrekey || !kemPrekey) throw new NodeNotStartedError();
    const now = this.env.now();
    const previous = (await store.directory.highestSequence(toHex(identity.signingKey))) ?? 0;
    const record = createIdentityRecord(this.env, identity, {
      signedPrekey: { id: signedPrekey.id, publicKey: signedPrekey.publicKey, signature: signedPrekey.signature },
      kemPrekey: { id: kemPrekey.id, publicKey: kemPrekey.publicKey, signature: kemPrekey.signature },
      devices: [createDeviceBinding(this.env.provider, identity, host.peerId.toMultihash().bytes, now)],
      mailboxes: this.ownMailboxes.map((p) => p.toMultihash().bytes),
      sequence: Math.max(now, previous + 1),
      expiresAt: now + RECORD_LIFETIME_MS,
    });
    const bytes = encodeIdentityRecord(record);
    await store.directory.noteSequence(toHex(identity.signingKey), record.sequence);
    await store.directory.put({ identity: toHex(identity.signingKey), record: bytes, fetchedAt: now });
    const result = await putRecord(host, recordKey(identity.signingKey), bytes);
    return { peersStored: result.accepted };
  }

  /**
   * A protocol handler reset a stream (its 'reset' event): a violation counts towards a ban; the
   * peer that reaches the threshold is banned and its connections are aborted at once (nothing
   * waits on it). Runs inside the handler's dispatch: never throws.
   */
  private onProtocolReset(host: SottoHost, evt: Event): void {
    const detail = (evt as CustomEvent<{ code: string; remotePeer: PeerId }>).detail;
    this.reportViolation(host, detail.remotePeer, detail.code);
  }

  /** A peer broke a protocol rule (`code`): counts towards a ban, as `onProtocolReset`. Never throws. */
  private reportViolation(host: SottoHost, remotePeer: PeerId, code: string): void {
    try {
      const peer = remotePeer.toString();
      if (!this.bans.report(peer, code)) return;
      disconnectPeer(host, remotePeer, new Error('peer banned for protocol violations'));
      this.options.logger?.info?.(`banned ${peer} for protocol violations (${code})`);
    } catch (err) {
      this.options.logger?.warn?.(`ban bookkeeping failed: ${(err as Error)?.name ?? 'error'}`);
    }
  }

  /** Non-secret facts for status pages: connected peers, DHT routing table size, outbox depth. */
  async status(): Promise<{
    peers: number;
    routingTable: number;
    outbox: number;
    /** Unclaimed and claimed-but-unused one-time prekeys, and claims served since start. */
    oneTimePrekeys: { available: number; claimed: number; claimsServed: number };
    /** The mailbox role, when this node serves it: envelopes and bytes held for others. */
    mailbox?: { held: number; bytes: number };
    /** Peers banned right now for protocol violations, with when the ban ends and why. */
    banned: BanEntry[];
    /** Bans issued since the node started (a peer banned twice counts twice). */
    bansTotal: number;
  }> {
    const { store, host } = this.running;
    let claimed = 0;
    const ids = await store.prekeys.ids('one-time');
    for (const id of ids) if (await store.prekeys.isClaimed(id)) claimed++;
    return {
      peers: host.getPeers().length,
      routingTable: routingTableSize(host),
      outbox: (await store.outbox.list()).length,
      oneTimePrekeys: { available: ids.length - claimed, claimed, claimsServed: this.prekeyHandler?.stats.claims ?? 0 },
      ...(this.mailboxRole ? { mailbox: await this.mailboxUsage() } : {}),
      banned: this.bans.banned(),
      bansTotal: this.bans.total,
    };
  }

  /** Safety number with a contact's address, the same on both sides. */
  safetyNumber(address: string): string {
    return safetyNumber(this.env.provider, this.identity.signingKey, decodeAddress(address));
  }

  // ── Contacts and history ───────────────────────────────────────────────────────────────────

  async addContact(name: string, address: string): Promise<ContactRecord> {
    const { store } = this.running;
    const key = toHex(decodeAddress(address));
    // Adding a requester as a contact is accepting its request: its held messages join the conversation.
    if (this.pendingRequests.has(key)) {
      try {
        return await this.acceptRequest(address, name);
      } catch (err) {
        if (!(err instanceof UnknownRequestError)) throw err; // only a place being held: add it as usual
      }
    }
    this.rememberKnown(key);
    const existing = await store.contacts.get(key);
    const record: ContactRecord = existing
      ? { ...existing, name }
      : {
          identityKey: key,
          name,
          address: encodeAddress(decodeAddress(address)),
          verified: false,
          addedAt: this.env.now(),
          previousKeys: [],
        };
    await store.contacts.put(record);
    return record;
  }

  /** Removes a contact (history and session stay); false when the address was not a contact. */
  async removeContact(address: string): Promise<boolean> {
    const { store } = this.running;
    const key = toHex(decodeAddress(address));
    if (!(await store.contacts.get(key))) return false;
    await store.contacts.remove(key);
    this.knownSenders.delete(key); // still known if a conversation exists (isKnown looks again)
    return true;
  }

  /** Connected peers and the remote addresses of their connections. */
  peers(): Array<{ peerId: string; addresses: string[] }> {
    const byPeer = new Map<string, string[]>();
    for (const conn of this.running.host.getConnections()) {
      const peerId = conn.remotePeer.toString();
      const addresses = byPeer.get(peerId) ?? [];
      const addr = conn.remoteAddr.toString();
      if (!addresses.includes(addr)) addresses.push(addr);
      byPeer.set(peerId, addresses);
    }
    return [...byPeer].map(([peerId, addresses]) => ({ peerId, addresses }));
  }

  async contacts(): Promise<ContactRecord[]> {
    return this.running.store.contacts.list();
  }

  /** A conversation's history, newest first. */
  async conversation(address: string, options: { limit?: number; before?: { timestamp: number; id: string } } = {}) {
    return this.running.store.messages.list(toHex(decodeAddress(address)), options);
  }

  // ── Sending ─────────────────────────────────────────────────────────────────────────────────

  async send(address: string, text: string): Promise<SendResult> {
    let plaintext: Uint8Array;
    try {
      plaintext = encodeText(text);
    } catch (err) {
      throw new InvalidMessageError((err as Error).message);
    }
    const recipient = decodeAddress(address);
    // Replying to a pending request accepts it (without making a contact): its messages join the conversation.
    const remote = toHex(recipient);
    if (this.pendingRequests.has(remote) && !this.blockedIds.has(remote)) await this.acceptHeld(remote);
    return this.sendContent(recipient, plaintext, text);
  }

  /**
   * Encrypts and sends one content (protocols/content/SPEC.md) to `recipient`: the advanced chain,
   * the ciphertext in the outbox and, for a text (`text` given), the outgoing message in the history
   * are stored in one batch before the frame leaves; then one delivery attempt. A receipt has no
   * history entry.
   */
  private async sendContent(recipient: Uint8Array, plaintext: Uint8Array, text?: string): Promise<SendResult> {
    const { store } = this.running;
    const remote = toHex(recipient);
    if (this.blockedIds.has(remote)) throw new IdentityBlockedError();
    const record = await this.lookup(recipient);
    const device = record.devices[0];
    if (!device) throw new RecipientNotFoundError();
    const devicePeer = peerIdFromBytes(device.peerId);
    const id = toHex(this.idRandom(MESSAGE_ID_BYTES));
    const timestamp = this.env.now();

    const message: MessageRecord | undefined =
      text === undefined
        ? undefined
        : { id, contact: remote, direction: 'out', timestamp, body: text, state: 'queued' };
    const { ct: ciphertext, durable } = await this.withLock(remote, async () => {
      const live = (await this.loadSession(remote)) ?? {
        session: this.initiate(record, await this.claimOneTimePrekey(record, devicePeer, recipient), devicePeer),
        previous: [],
      };
      const ct = live.session.encrypt(plaintext);
      // The advanced chain, the ciphertext and the message are stored before the frame leaves.
      const batch = store.batch();
      putSession(batch, remote, live);
      batch.outbox.put({
        id,
        recipient: remote,
        ciphertext: ct,
        state: 'queued',
        attempts: 0,
        nextAttemptAt: timestamp,
        createdAt: timestamp,
      });
      if (message) batch.messages.put(message);
      // The next message to `remote` may be encrypted while this batch is still being written;
      // the store writes batches in commit order (group commit).
      return { ct, durable: this.commitSession(remote, live, batch) };
    });
    await durable;

    const outcome = await this.deliver({ id, recipient: remote, ciphertext, createdAt: timestamp }, record, message);
    return { id, state: outcome };
  }

  /**
   * Marks messages from `address` as read (all unread ones, or those of `ids`) and, unless read
   * receipts are off (`createNode({ readReceipts: false })`), tells the sender end to end. Returns
   * the ids newly marked.
   */
  async markRead(address: string, ids?: readonly string[]): Promise<string[]> {
    const { store } = this.running;
    const remote = toHex(decodeAddress(address));
    const wanted = ids === undefined ? undefined : new Set(ids);
    const marked: MessageRecord[] = [];
    let before: { timestamp: number; id: string } | undefined;
    for (let page = 0; page < MAX_READ_SCAN_PAGES; page++) {
      const rows = await store.messages.list(remote, { limit: MAX_MESSAGE_PAGE, ...(before ? { before } : {}) });
      for (const m of rows) {
        if (m.direction === 'in' && m.state === 'received' && (wanted === undefined || wanted.has(m.id)))
          marked.push(m);
      }
      const last = rows.at(-1);
      if (rows.length < MAX_MESSAGE_PAGE || last === undefined) break;
      before = { timestamp: last.timestamp, id: last.id };
    }
    if (marked.length === 0) return [];
    const batch = store.batch();
    for (const m of marked) batch.messages.update({ ...m, state: 'read' });
    await batch.commit();
    if (this.options.readReceipts !== false && !this.blockedIds.has(remote)) {
      this.sendReceipts(
        fromHex(remote),
        'read',
        marked.map((m) => m.id),
      );
    }
    return marked.map((m) => m.id);
  }

  /**
   * Fresh one-time prekeys for a mailbox to hand out: stored here with their private halves and
   * marked claimed (so this node never hands them out itself), in one durable batch before upload.
   */
  private prekeysForUpload(count: number): Promise<UploadedPrekey[]> {
    return this.withLock(ONE_TIME_PREKEY_LOCK, async () => {
      const { store } = this.running;
      const ids = await store.prekeys.ids('one-time');
      const now = this.env.now();
      const batch = store.batch();
      const out: UploadedPrekey[] = [];
      for (const id of await this.allocateOneTimeIds(store, batch, ids, count)) {
        const prekey = generateOneTimePrekey(this.env, id);
        batch.prekeys.put('one-time', prekey);
        batch.prekeys.markClaimed(prekey.id, now);
        out.push({ id: prekey.id, publicKey: prekey.publicKey });
      }
      await batch.commit();
      return out;
    });
  }

  private flushDeliveryReceipts(): void {
    for (const [sender, ids] of this.deliveryReceiptsDue) this.sendReceipts(fromHex(sender), 'delivered', ids);
    this.deliveryReceiptsDue.clear();
  }

  /** Sends receipts for `ids` in the background (chunks of MAX_RECEIPT_IDS); a failure is logged. */
  private sendReceipts(to: Uint8Array, kind: ReceiptKind, ids: readonly string[]): void {
    for (let i = 0; i < ids.length; i += MAX_RECEIPT_IDS) {
      const chunk = ids.slice(i, i + MAX_RECEIPT_IDS).map((id) => fromHex(id));
      const sending = this.sendContent(to, encodeReceipt(kind, chunk)).then(
        () => undefined,
        (err: unknown) => {
          this.options.logger?.warn?.(`${kind} receipt not sent: ${(err as Error)?.name ?? 'error'}`);
        },
      );
      this.background.add(sending);
      void sending.finally(() => this.background.delete(sending));
    }
  }

  /** A receipt from `contact`: moves our messages it names forward (never back) and reports each change. */
  private async applyReceipt(contact: string, kind: ReceiptKind, ids: readonly Uint8Array[]): Promise<void> {
    const { store } = this.running;
    const state: MessageState = kind === 'read' ? 'read' : 'delivered';
    const changed: MessageRecord[] = [];
    for (const raw of ids) {
      const m = await store.messages.get(contact, toHex(raw));
      if (m === undefined || m.direction !== 'out' || STATE_RANK[m.state] >= STATE_RANK[state]) continue;
      changed.push({ ...m, state });
    }
    if (changed.length === 0) return;
    const batch = store.batch();
    for (const m of changed) {
      batch.messages.update(m);
      batch.outbox.remove(m.id); // e.g. marked failed while a mailbox had taken it after all
    }
    await batch.commit();
    const to = encodeAddress(fromHex(contact));
    for (const m of changed) this.emit('delivery', { id: m.id, to, state });
  }

  /**
   * One delivery attempt of an outbox entry: the exact stored ciphertext, same id. Direct to the
   * recipient's node first; when that node cannot be reached, to its mailboxes in the order its
   * record lists them. On an ack of STORED/DUPLICATE one batch removes the entry and sets the
   * message's state (delivered / stored-at-mailbox); otherwise the entry gets its next attempt time
   * (exponential backoff with jitter), or is marked failed once it is older than `failAfterMs`.
   */
  private async deliver(
    entry: { id: string; recipient: string; ciphertext: Uint8Array; createdAt: number },
    record: IdentityRecord,
    /** The stored outgoing message, when the caller has it (saves a read on the send path). */
    known?: MessageRecord,
  ): Promise<'delivered' | 'stored-at-mailbox' | 'queued'> {
    const { store } = this.running;
    if (this.blockedIds.has(entry.recipient)) return 'queued'; // blocked meanwhile: nothing leaves (block() failed it)
    const recipient = fromHex(entry.recipient);
    const envelope: Envelope = {
      id: fromHex(entry.id),
      sender: this.identity.signingKey,
      recipient,
      timestamp: entry.createdAt,
      body: entry.ciphertext,
    };
    let reachable = false;
    const device = record.devices[0];
    const deviceKey = device === undefined ? '' : toHex(device.peerId);
    const skipDirect = record.mailboxes.length > 0 && (this.unreachableUntil.get(deviceKey) ?? 0) > this.env.now();
    if (device !== undefined && !skipDirect) {
      try {
        // 'sent' (the frame left, its Ack is pending) is an event only: the store says 'queued' until acked
        const onWritten =
          known !== undefined && this.listenerCount('delivery') > 0
            ? () => this.emit('delivery', { id: entry.id, to: encodeAddress(recipient), state: 'sent' })
            : undefined;
        const ack = await this.sendOnStream(peerIdFromBytes(device.peerId), envelope, onWritten);
        reachable = true;
        this.unreachableUntil.delete(deviceKey);
        if (ack.status === AckStatus.STORED || ack.status === AckStatus.DUPLICATE) {
          await this.settle(entry, recipient, 'delivered', known);
          return 'delivered';
        }
        this.options.logger?.debug?.(`direct send answered ${ack.status} ${ack.reason ?? ''}`);
      } catch (err) {
        // Not known to be stored: the outbox keeps the exact ciphertext for a retry.
        this.options.logger?.debug?.(
          `direct send to ${peerIdFromBytes(device.peerId)} failed: ${(err as Error)?.name ?? 'error'}: ${(err as Error)?.message ?? ''}`,
        );
        this.unreachableUntil.set(deviceKey, this.env.now() + UNREACHABLE_HOLD_MS);
        if (this.unreachableUntil.size > MAX_LIVE_SESSIONS) {
          const oldest = this.unreachableUntil.keys().next().value;
          if (oldest !== undefined) this.unreachableUntil.delete(oldest);
        }
      }
    }
    // The recipient's node is unreachable (an answer other than stored means it is up: retry it).
    // Mailboxes get the envelope sealed (SPEC §9): they store nothing that names the sender.
    const sealed = !reachable && record.mailboxes.length > 0 ? this.sealForMailbox(envelope) : undefined;
    if (sealed !== undefined) {
      for (const mailbox of record.mailboxes) {
        try {
          const ack = await sendEnvelope(this.running.host, peerIdFromBytes(mailbox), sealed, {
            timeout: SEND_ATTEMPT_TIMEOUT_MS,
          });
          if (ack.status === AckStatus.STORED || ack.status === AckStatus.DUPLICATE) {
            await this.settle(entry, recipient, 'stored-at-mailbox', known);
            return 'stored-at-mailbox';
          }
        } catch {
          // next mailbox
        }
      }
    }
    const current = await store.outbox.get(entry.id);
    const now = this.env.now();
    if (current && now - current.createdAt >= (this.options.failAfterMs ?? FAIL_AFTER_MS)) {
      const message = known ?? (await store.messages.get(entry.recipient, entry.id));
      const batch = store.batch();
      batch.outbox.put({ ...current, state: 'failed', attempts: current.attempts + 1 });
      if (message) batch.messages.put({ ...message, state: 'failed' });
      await batch.commit();
      this.emit('delivery', { id: entry.id, to: encodeAddress(recipient), state: 'failed' });
      return 'queued';
    }
    this.emit('delivery', { id: entry.id, to: encodeAddress(recipient), state: 'queued' }); // attempt failed
    if (current) {
      const attempts = current.attempts + 1;
      const backoff = Math.min(RETRY_BASE_MS * 2 ** Math.min(attempts, 20), RETRY_MAX_MS);
      const jitter = Math.floor((backoff * RETRY_JITTER * (this.env.rng(1)[0] as number)) / 255);
      await store.outbox.put({ ...current, attempts, nextAttemptAt: now + backoff + jitter });
    }
    return 'queued';
  }

  /** The envelope sealed to its recipient; undefined when the recipient key cannot be sealed to. */
  private sealForMailbox(envelope: Envelope): SealedEnvelope | undefined {
    try {
      const hex = toHex(envelope.recipient);
      let key = this.sealTo.get(hex);
      if (key === undefined) {
        key = this.env.provider.ed25519PublicToX25519(envelope.recipient);
        if (this.sealTo.size >= MAX_LIVE_SESSIONS) this.sealTo.clear();
        this.sealTo.set(hex, key);
      }
      return sealEnvelope(this.env, envelope, key);
    } catch {
      // a recipient key that is not a point of large order: no mailbox may have it in clear instead
      return undefined;
    }
  }

  /** The ack is in: the outbox entry goes and the message moves to its new state (never back), in one batch. */
  private async settle(
    entry: { id: string; recipient: string },
    recipient: Uint8Array,
    state: 'delivered' | 'stored-at-mailbox',
    known: MessageRecord | undefined,
  ): Promise<void> {
    const { store } = this.running;
    const message = known ?? (await store.messages.get(entry.recipient, entry.id));
    const batch = store.batch();
    batch.outbox.remove(entry.id);
    if (message && STATE_RANK[message.state] < STATE_RANK[state]) batch.messages.update({ ...message, state });
    // no fsync: lost in an OS crash, the entry is resent and answered DUPLICATE (same end state)
    await batch.commit({ durable: false });
    this.emit('delivery', { id: entry.id, to: encodeAddress(recipient), state });
  }

  /**
   * Puts a failed message back in the queue for another round of attempts (its clock restarts).
   * Returns false when there is no failed outgoing message with this id.
   */
  async retryMessage(id: string): Promise<boolean> {
    const { store } = this.running;
    const entry = await store.outbox.get(id);
    if (entry === undefined || entry.state !== 'failed') return false;
    if (this.blockedIds.has(entry.recipient)) throw new IdentityBlockedError();
    const now = this.env.now();
    const message = await store.messages.get(entry.recipient, entry.id);
    const batch = store.batch();
    batch.outbox.put({ ...entry, state: 'queued', attempts: 0, nextAttemptAt: now, createdAt: now });
    if (message) batch.messages.put({ ...message, state: 'queued' });
    await batch.commit();
    this.emit('delivery', { id, to: encodeAddress(fromHex(entry.recipient)), state: 'queued' });
    return true;
  }

  private async mailboxUsage(): Promise<{ held: number; bytes: number }> {
    const usage = await this.running.store.mailbox.usage();
    return { held: usage.count, bytes: usage.bytes };
  }

  /**
   * Fetches from every one of this identity's mailboxes now; resolves with how many new messages
   * arrived. Runs by itself at start, every MAILBOX_FETCH_INTERVAL_MS and on connecting to one.
   */
  async fetchMailboxes(): Promise<number> {
    const counts = await Promise.allSettled(this.ownMailboxes.map((peer) => this.fetchFrom(peer)));
    return counts.reduce((n, r) => n + (r.status === 'fulfilled' ? r.value : 0), 0);
  }

  private fetchFromInBackground(peer: PeerId): void {
    if (this.store === undefined) return; // stopped (or stopping): timers and events may still fire once
    this.fetchFrom(peer).catch((err: unknown) =>
      this.options.logger?.debug?.(`mailbox fetch from ${peer} failed: ${(err as Error)?.name ?? 'error'}`),
    );
  }

  /**
   * One fetch session with `peer` (protocols/mailbox/SPEC.md), at most one per mailbox at a time.
   * Each batch is decided envelope by envelope in the order the mailbox held them, exactly like
   * the direct path (dedupe by id, so an envelope that also came directly is delivered once); the
   * batch is acked (deleted at the mailbox) only once every envelope in it is stored or refused for
   * good. A transient failure (store, directory) ends the session without an ack: the mailbox keeps
   * them and the next fetch tries again.
   */
  private fetchFrom(peer: PeerId): Promise<number> {
    const key = peer.toString();
    const running = this.fetches.get(key);
    if (running !== undefined) return running;
    const { host } = this.running;
    const identity = this.identity;
    let fresh = 0;
    let prekeys = 0;
    const session = (upload: UploadedPrekey[] = []) =>
      fetchMailbox(host, peer, {
        upload,
        identity: identity.signingKey,
        localPeer: host.peerId,
        sign: (message) => this.env.provider.ed25519Sign(identity.signingSeed, message),
        signal: this.fetchAbort.signal,
        onBatch: async (envelopes) => {
          for (const envelope of envelopes) {
            const decision = await this.receive(envelope, peer, true);
            const status = typeof decision === 'object' ? decision.status : decision;
            const reason = typeof decision === 'object' ? decision.reason : undefined;
            if (status === AckStatus.UNAVAILABLE || reason === 'unknown-sender') {
              throw new Error('transient failure: keep the batch at the mailbox');
            }
            if (status === AckStatus.STORED) fresh++;
          }
          this.flushDeliveryReceipts();
        },
      });
    const run = (async () => {
      // a session ends after MAX_BATCHES_PER_STREAM batches with `remaining` > 0: go on, bounded
      for (let i = 0; i < MAX_FETCH_SESSIONS; i++) {
        const result = await session();
        prekeys = result.prekeys;
        if (result.remaining === 0) break;
      }
      // Keep the mailbox stocked with our one-time prekeys for first contacts while we are offline
      // (a mailbox that keeps none is not asked again until restart).
      if (prekeys < MAILBOX_PREKEY_LOW && !this.noPrekeyMailboxes.has(key)) {
        const upload = await this.prekeysForUpload(Math.min(MAX_UPLOAD_PREKEYS, MAILBOX_PREKEY_TARGET - prekeys));
        const result = await session(upload);
        if (result.prekeys <= prekeys) this.noPrekeyMailboxes.add(key);
      }
      return fresh;
    })().finally(() => this.fetches.delete(key));
    this.fetches.set(key, run);
    return run;
  }

  /** This identity's mailboxes (peer ids), as published in its record. */
  mailboxes(): string[] {
    return this.ownMailboxes.map((p) => p.toString());
  }

  /** Replaces this identity's mailbox list and republishes the record (validated: peer ids, at most MAX_MAILBOXES). */
  async setMailboxes(peerIds: string[]): Promise<void> {
    const parsed = parseMailboxPeers(peerIds);
    void this.running; // throws when not started
    this.ownMailboxes = parsed;
    await this.publishRecord();
  }

  /**
   * Sends on the peer's open message stream (pipelined, SPEC §3), opening a new one when there is
   * none, it is used up, or it failed (the receiver resets idle streams). An envelope whose stream
   * failed is tried once more on a fresh stream: a resend after a lost ack is answered DUPLICATE.
   */
  private async sendOnStream(peer: PeerId, envelope: Envelope, onWritten?: () => void): Promise<Ack> {
    const options = { timeout: SEND_ATTEMPT_TIMEOUT_MS, onWritten };
    let stale = this.envelopeStreams.get(peer.toString());
    for (let fresh = 0; ; fresh++) {
      const started = Date.now();
      try {
        const stream = stale?.usable ? stale : await this.freshStream(peer, stale);
        stale = stream;
        return await stream.send(envelope, options);
      } catch (err) {
        // A stream the receiver reset (idle, or used up), or a connection closed while the stream
        // opened (a relayed connection replaced or cut by its relay), fails at once: try a fresh
        // one. One that waited out its timeout means the peer is gone: do not wait a second time.
        // A connection whose multiplexer died under an open socket would be handed out again:
        // abort it, so the fresh stream comes with a fresh connection.
        abortDeadConnections(this.running.host, peer, err instanceof Error ? err : new Error(String(err)));
        if (fresh >= FRESH_STREAM_RETRIES || Date.now() - started > FRESH_STREAM_RETRY_WITHIN_MS) throw err;
      }
    }
  }

  /** The peer's stream if someone already replaced `stale` with a usable one, else a new one. */
  private async freshStream(peer: PeerId, stale: EnvelopeStream | undefined): Promise<EnvelopeStream> {
    const key = peer.toString();
    return this.withLock(`stream:${key}`, async () => {
      const current = this.envelopeStreams.get(key);
      if (current !== undefined && current !== stale && current.usable) return current;
      const fresh = await openEnvelopeStream(this.running.host, peer, { timeout: SEND_ATTEMPT_TIMEOUT_MS });
      this.envelopeStreams.set(key, fresh);
      // the old one ends once its last acks are in (or is already reset)
      current?.close({ signal: AbortSignal.timeout(SEND_ATTEMPT_TIMEOUT_MS) }).catch(() => undefined);
      return fresh;
    });
  }

  /**
   * Retries every outbox entry that is due (all of them with `force`): runs at start, every
   * RETRY_INTERVAL_MS, and on demand. Returns how many were delivered.
   */
  async retryOutbox(options: { force?: boolean } = {}): Promise<number> {
    const { store } = this.running;
    const now = this.env.now();
    const due = options.force
      ? (await store.outbox.list()).filter((e) => e.state !== 'failed')
      : await store.outbox.due(now, RETRY_BATCH);
    // Oldest first per recipient, and a recipient whose attempt failed waits for the next round:
    // retries keep the order of sending as far as they can (a receiver skips at most MAX_SKIP
    // message keys in one step, so a large backlog reordered by retries could otherwise not decrypt).
    const ordered = due
      .slice(0, RETRY_BATCH)
      .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const blocked = new Set<string>();
    let delivered = 0;
    for (const entry of ordered) {
      if (blocked.has(entry.recipient)) continue;
      let record: IdentityRecord;
      try {
        record = await this.lookup(fromHex(entry.recipient));
      } catch {
        blocked.add(entry.recipient);
        continue;
      }
      if ((await this.deliver(entry, record)) !== 'queued') delivered++;
      else blocked.add(entry.recipient);
    }
    return delivered;
  }

  private initiate(
    record: IdentityRecord,
    oneTime: { id: number; publicKey: Uint8Array } | undefined,
    devicePeer: PeerId,
  ): Session {
    const session = initiateSession(this.env, {
      identity: this.identity,
      bundle: bundleFromRecord(record, oneTime),
      context: { initiator: this.running.host.peerId.toString(), responder: devicePeer.toString() },
    });
    this.emit('handshake', { role: 'initiator' });
    return session;
  }

  /**
   * A one-time prekey from the recipient's node, else from one of its mailboxes (which hold prekeys
   * the identity uploaded, protocols/mailbox/SPEC.md §12), else none: the handshake then goes ahead
   * without one.
   */
  private async claimOneTimePrekey(
    record: IdentityRecord,
    devicePeer: PeerId,
    identity: Uint8Array,
  ): Promise<{ id: number; publicKey: Uint8Array } | undefined> {
    for (const peer of [devicePeer, ...record.mailboxes.map((m) => peerIdFromBytes(m))]) {
      try {
        const claimed = await claimPrekey(this.running.host, peer, identity, { timeout: CLAIM_TIMEOUT_MS });
        if (claimed) return claimed;
      } catch {
        // unreachable or refused: the next one
      }
    }
    return undefined;
  }

  /** `findRecord`, reported as a 'lookup' event (metrics: count, cache hits, failures, latency). */
  private async lookup(identityKey: Uint8Array, options: { fresh?: boolean } = {}): Promise<IdentityRecord> {
    const started = performance.now();
    const hex = toHex(identityKey);
    const cached = !options.fresh && this.knowsRecord(hex);
    try {
      const record = await this.findRecord(identityKey, hex, options);
      if (this.listenerCount('lookup') > 0) {
        this.emit('lookup', { ok: true, cached, durationMs: performance.now() - started });
      }
      return record;
    } catch (err) {
      this.emit('lookup', { ok: false, cached, durationMs: performance.now() - started });
      throw err;
    }
  }

  /** The recipient's identity record: from the cache while fresh, else the DHT (validated, no rollback). */
  private async findRecord(
    identityKey: Uint8Array,
    hex: string,
    options: { fresh?: boolean },
  ): Promise<IdentityRecord> {
    const { store, host } = this.running;
    const now = this.env.now();
    const known = options.fresh ? undefined : this.verified.get(hex);
    if (known && now - known.fetchedAt < DIRECTORY_CACHE_TTL_MS && known.record.expiresAt > now) return known.record;
    const cached = options.fresh ? undefined : await store.directory.get(hex);
    if (cached && now - cached.fetchedAt < DIRECTORY_CACHE_TTL_MS) {
      try {
        const record = validateRecordBytes(this.env.provider, recordKey(identityKey), cached.record, now);
        this.remember(hex, record, cached.fetchedAt);
        return record;
      } catch {
        // expired or no longer valid: look it up again
      }
    }
    let bytes: Uint8Array;
    try {
      bytes = (await getRecord(host, recordKey(identityKey), { timeoutMs: LOOKUP_TIMEOUT_MS })).value;
    } catch {
      throw new RecipientNotFoundError();
    }
    const record = validateRecordBytes(this.env.provider, recordKey(identityKey), bytes, now);
    if (!(await store.directory.noteSequence(hex, record.sequence))) {
      throw new DirectoryError('RECORD_ROLLBACK', 'the directory returned an older record than one already seen');
    }
    await store.directory.put({ identity: hex, record: bytes, fetchedAt: now });
    this.remember(hex, record, now);
    await this.checkContactKey(record);
    return record;
  }

  /** True when a fresh validated record of `hex` is in memory (no DHT query needed). */
  private knowsRecord(hex: string): boolean {
    const known = this.verified.get(hex);
    const now = this.env.now();
    return known !== undefined && now - known.fetchedAt < DIRECTORY_CACHE_TTL_MS && known.record.expiresAt > now;
  }

  /** Keeps a validated record in memory so a message does not re-verify its signatures. */
  private remember(hex: string, record: IdentityRecord, fetchedAt: number): void {
    this.verified.delete(hex);
    this.verified.set(hex, { record, fetchedAt });
    if (this.verified.size > MAX_VERIFIED_RECORDS) {
      const oldest = this.verified.keys().next().value;
      if (oldest !== undefined) this.verified.delete(oldest);
    }
  }

  /**
   * Trust on first use of a contact's identity DH key: `previousKeys` holds the keys seen, oldest
   * first, the last one current. A different key is recorded, clears `verified`, and emits
   * 'key-change'.
   */
  private async checkContactKey(record: IdentityRecord): Promise<void> {
    const { store } = this.running;
    const contact = await store.contacts.get(toHex(record.identity.signingKey));
    if (!contact) return;
    const current = toHex(record.identity.dhKey);
    const known = contact.previousKeys.at(-1);
    if (known === current) return;
    const updated: ContactRecord = {
      ...contact,
      previousKeys: [...contact.previousKeys, current],
      ...(known === undefined ? {} : { verified: false, keyChangedAt: this.env.now() }),
    };
    await store.contacts.put(updated);
    if (known !== undefined) {
      this.emit('key-change', {
        address: contact.address,
        name: contact.name,
        previousKey: known,
        currentKey: current,
      });
    }
  }

  /**
   * Looks the identity up in the directory now (not from the cache): confirms it is reachable and
   * checks a contact's key (may emit 'key-change'). Returns what the record says.
   */
  async refresh(address: string): Promise<{
    sequence: number;
    devices: number;
    expiresAt: number;
    signedPrekeyId: number;
    kemPrekeyId: number;
  }> {
    const record = await this.lookup(decodeAddress(address), { fresh: true });
    return {
      sequence: record.sequence,
      devices: record.devices.length,
      expiresAt: record.expiresAt,
      signedPrekeyId: record.signedPrekey.id,
      kemPrekeyId: record.kemPrekey.id,
    };
  }

  /** Marks a contact verified after the safety numbers were compared out of band. */
  async verifyContact(address: string): Promise<ContactRecord> {
    const { store } = this.running;
    const contact = await store.contacts.get(toHex(decodeAddress(address)));
    if (!contact) throw new UnknownContactError();
    const updated = { ...contact, verified: true };
    await store.contacts.put(updated);
    return updated;
  }

  // ── Receiving ───────────────────────────────────────────────────────────────────────────────

  /**
   * Decides an incoming envelope. `remotePeer` is the node it came from: the sender's own node on
   * the direct path, or, for an envelope fetched from one of our mailboxes (`viaMailbox`), that
   * mailbox — then the device binding cannot be checked on the connection and the handshake
   * context names the sender's bound device instead (only a successful decrypt authenticates).
   */
  private async receive(wire: WireEnvelope, remotePeer: PeerId, viaMailbox = false): Promise<EnvelopeDecision> {
    const { store } = this.running;
    if (!viaMailbox && this.unreachableUntil.size > 0) {
      this.unreachableUntil.delete(toHex(remotePeer.toMultihash().bytes)); // it reached us: try it directly again
    }
    if (!equalBytes(wire.recipient, this.identity.signingKey)) {
      if (this.mailboxRole === undefined || viaMailbox) return AckStatus.UNKNOWN_RECIPIENT;
      return this.mailboxRole.deposit(
        toHex(wire.recipient),
        toHex(wire.id),
        encodeEnvelope(wire),
        remotePeer.toString(),
        isSealed(wire),
      );
    }
    let envelope: Envelope;
    if (isSealed(wire)) {
      try {
        const key = this.sealKey as { privateKey: Uint8Array; publicKey: Uint8Array };
        envelope = openSealedEnvelope(this.env.provider, key.privateKey, wire, key.publicKey);
      } catch {
        return { status: AckStatus.REJECTED, reason: 'unsealable' };
      }
    } else {
      envelope = wire;
    }
    const sender = toHex(envelope.sender);
    const id = toHex(envelope.id);
    // A blocked identity's envelope is dropped before any other work (no store read, no lookup, no
    // ratchet) and answered STORED, as a delivery would be, so the sender cannot tell
    // (protocols/message/SPEC.md §7.1).
    if (this.blockedIds.has(sender)) return AckStatus.STORED;
    if (await store.dedupe.has(sender, id)) return AckStatus.DUPLICATE;
    // Under "ask" an unknown identity's message joins its contact request if there is room, else it
    // is refused here, before the lookup and the ratchet (MAX_PENDING_REQUESTS, MAX_MESSAGES_PER_REQUEST).
    const asRequest = this.requestPolicy === 'ask' && !(await this.isKnown(sender));
    if (asRequest && !this.requestRoom(sender)) return this.requestsFull(viaMailbox);

    // The sending node must be one the sender identity has bound to itself. A sender we hold no
    // fresh record of costs a DHT query, which each peer may cause only at a bounded rate.
    const lookedUpAt = this.env.now();
    if (!viaMailbox && !this.knowsRecord(sender) && !this.inboundLookups.take(remotePeer.toString()).ok) {
      return { status: AckStatus.REJECTED, reason: 'rate-limited' };
    }
    let record: IdentityRecord;
    try {
      record = await this.lookup(envelope.sender);
    } catch {
      return { status: AckStatus.REJECTED, reason: 'unknown-sender' };
    }
    const peerBytes = remotePeer.toMultihash().bytes;
    const bound = (r: IdentityRecord) =>
      viaMailbox ? r.devices[0] : r.devices.find((d) => equalBytes(d.peerId, peerBytes));
    let device = bound(record);
    // A cached record may predate the sender's current node (restored from a backup, or moved to a
    // new machine): before refusing, look once more in the DHT, at the same per-peer rate as above.
    const fromCache = (this.verified.get(sender)?.fetchedAt ?? lookedUpAt) < lookedUpAt;
    if (device === undefined && fromCache && !viaMailbox && this.inboundLookups.take(remotePeer.toString()).ok) {
      try {
        record = await this.lookup(envelope.sender, { fresh: true });
        device = bound(record);
      } catch {
        // keep the cached answer
      }
    }
    if (device === undefined) return { status: AckStatus.REJECTED, reason: 'device-not-bound' };
    const initiatorPeer = viaMailbox ? peerIdFromBytes(device.peerId).toString() : remotePeer.toString();

    const key = `${sender}/${id}`;
    const outcome = await this.withLock(sender, () =>
      this.withRequestSlot(
        sender,
        asRequest,
        viaMailbox,
        async (
          request,
        ): Promise<
          | EnvelopeDecision
          | {
              durable: Promise<void>;
              content?: Content | ContentError;
              first: boolean;
              request?: { held: number; first: boolean };
            }
        > => {
          const pending = this.pendingReceipts.get(key);
          if (pending !== undefined) return { durable: pending, first: false }; // same id, being written
          if (await store.dedupe.has(sender, id)) return AckStatus.DUPLICATE;
          let plaintext: Uint8Array;
          let next: LiveSession;
          let usedOneTime: number | undefined;
          try {
            const kind = peekMessage(envelope.body);
            const current = await this.loadSession(sender);
            // A prekey message starts a new session unless it belongs to the current one or to a
            // previous one (a retransmission, or more messages sent before the first reply).
            const ofCurrent =
              kind.type === 'prekey' && current !== undefined && equalBytes(current.session.baseKey, kind.baseKey);
            const archived =
              kind.type === 'prekey' && current !== undefined && !ofCurrent
                ? current.previous.findIndex((p) => p.baseKey === toHex(kind.baseKey))
                : -1;
            if (kind.type === 'prekey' && !ofCurrent && archived < 0) {
              if (!viaMailbox && !this.inboundHandshakes.take(remotePeer.toString()).ok) {
                return { status: AckStatus.UNAVAILABLE, reason: RATE_LIMITED_REASON };
              }
              const prekeys = await store.prekeys.loadLookup({
                signedPrekeyId: kind.signedPrekeyId,
                kemPrekeyId: kind.kemPrekeyId,
                oneTimePrekeyId: kind.oneTimePrekeyId,
              });
              const r = respondToSession(this.env, {
                identity: this.identity,
                prekeys,
                message: envelope.body,
                context: { initiator: initiatorPeer, responder: this.running.host.peerId.toString() },
              });
              if (!equalBytes(r.initiator.signingKey, envelope.sender)) {
                return { status: AckStatus.REJECTED, reason: 'sender-mismatch' };
              }
              // A new handshake replaces the session; the old one is kept (messages may still be in
              // flight on it, or both sides handshook at once and the other side will keep this one).
              next = { session: r.session, previous: archive(current) };
              plaintext = r.plaintext;
              usedOneTime = r.usedOneTimePrekeyId;
              this.emit('handshake', { role: 'responder' });
            } else {
              if (!current) return { status: AckStatus.REJECTED, reason: 'no-session' };
              ({ next, plaintext } = this.decryptWithAny(current, envelope.body, archived));
            }
          } catch (err) {
            const reason =
              err instanceof SottoCryptoError ? err.code.toLowerCase().replace(/_/g, '-') : 'undecryptable';
            return { status: AckStatus.REJECTED, reason };
          }
          // Authenticated from here on: the session advances and the id is marked seen even when the
          // content turns out to be invalid (then answered REJECTED, never delivered, never retried).
          let content: Content | ContentError;
          try {
            content = decodeContent(plaintext);
          } catch (err) {
            if (!(err instanceof ContentError)) throw err;
            content = err;
          }
          const now = this.env.now();
          // A text of a pending requester is held with its request; anything else goes on as usual.
          const held =
            request && !(content instanceof ContentError) && content.type === 'text'
              ? await this.holdForRequest(sender, envelope, id, content.text, now, viaMailbox)
              : undefined;
          const batch = store.batch();
          putSession(batch, sender, next);
          if (held !== undefined) held.write(batch);
          else if (!(content instanceof ContentError) && content.type === 'text') {
            batch.messages.put({
              id,
              contact: sender,
              direction: 'in',
              timestamp: envelope.timestamp,
              body: content.text,
              state: 'received',
            });
          }
          batch.dedupe.mark(sender, id, now);
          if (usedOneTime !== undefined) {
            batch.prekeys.remove('one-time', usedOneTime);
            batch.prekeys.unmarkClaimed(usedOneTime);
          }
          const durable = this.commitSession(sender, next, batch);
          this.pendingReceipts.set(key, durable);
          return { durable, content, first: true, ...(held ? { request: held.event } : {}) };
        },
      ),
    );
    if (typeof outcome !== 'object' || !('durable' in outcome)) return outcome;
    const { first, content } = outcome;
    try {
      await outcome.durable;
    } catch {
      return { status: AckStatus.UNAVAILABLE, reason: 'store-failed' };
    } finally {
      if (first) this.pendingReceipts.delete(key);
    }
    if (!first || content === undefined) return AckStatus.DUPLICATE;
    if (content instanceof ContentError) return { status: AckStatus.REJECTED, reason: content.reason };
    if (content.type === 'receipt') {
      await this.applyReceipt(sender, content.kind, content.ids);
      return AckStatus.STORED;
    }
    if (outcome.request !== undefined) {
      // Held with its request: no 'message' event and no receipt until the user accepts it.
      this.emit('request', {
        from: encodeAddress(envelope.sender),
        id,
        text: content.text,
        timestamp: envelope.timestamp,
        held: outcome.request.held,
        first: outcome.request.first,
      });
      return AckStatus.STORED;
    }
    this.emit('message', {
      id,
      from: encodeAddress(envelope.sender),
      text: content.text,
      timestamp: envelope.timestamp,
    });
    // The sender only knows a mailbox took it: tell it end to end (batched per fetched batch).
    if (viaMailbox) {
      const due = this.deliveryReceiptsDue.get(sender) ?? [];
      due.push(id);
      this.deliveryReceiptsDue.set(sender, due);
    }
    return AckStatus.STORED;
  }

  // ── Contact requests and the block list (issue 7) ───────────────────────────────────────────

  /** Loads the block list and the pending requests into memory (at start). */
  private async loadRequestState(store: SottoStore): Promise<void> {
    this.blockedIds.clear();
    this.pendingRequests.clear();
    this.knownSenders.clear();
    for (const b of await store.blocked.list()) this.blockedIds.add(b.identity);
    for (const r of await store.requests.list()) this.pendingRequests.set(r.identity, r.held);
  }

  /** True when `identity` is a contact or has a conversation (in either direction). */
  private async isKnown(identity: string): Promise<boolean> {
    if (this.knownSenders.has(identity)) return true;
    const { store } = this.running;
    const known =
      (await store.contacts.get(identity)) !== undefined ||
      (await store.messages.list(identity, { limit: 1 })).length > 0;
    if (known) this.rememberKnown(identity);
    return known;
  }

  private rememberKnown(identity: string): void {
    if (this.knownSenders.size >= MAX_KNOWN_SENDERS) this.knownSenders.clear();
    this.knownSenders.add(identity);
  }

  /** Whether one more message of `identity` fits in the requests (its request, or a new one). */
  private requestRoom(identity: string): boolean {
    const held = this.pendingRequests.get(identity);
    return held === undefined ? this.pendingRequests.size < this.maxPendingRequests : held < this.maxMessagesPerRequest;
  }

  /** The answer when the requests are full: retry later (direct), or dropped (from a mailbox). */
  private requestsFull(viaMailbox: boolean): EnvelopeDecision {
    if (viaMailbox) {
      this.options.logger?.info?.('a message from an unknown identity was dropped: the contact requests are full');
      return { status: AckStatus.REJECTED, reason: 'requests-full' };
    }
    return { status: AckStatus.UNAVAILABLE, reason: 'requests-full' };
  }

  /**
   * Runs `decide` (inside the sender's lock) after checking again what may have changed while the
   * envelope waited: the sender blocked (dropped), accepted (no longer a request), the requests
   * full. A message that is to start a request holds its place (a reservation counted against
   * MAX_PENDING_REQUESTS) until it is written, so concurrent strangers cannot overshoot the cap.
   */
  private async withRequestSlot<T>(
    sender: string,
    asRequest: boolean,
    viaMailbox: boolean,
    decide: (request: boolean) => Promise<T>,
  ): Promise<T | EnvelopeDecision> {
    if (this.blockedIds.has(sender)) return AckStatus.STORED;
    if (!asRequest || (await this.isKnown(sender))) return decide(false);
    if (!this.requestRoom(sender)) return this.requestsFull(viaMailbox);
    const fresh = !this.pendingRequests.has(sender);
    if (fresh) this.pendingRequests.set(sender, 0);
    try {
      return await decide(true);
    } finally {
      // not written as a request after all (undecryptable, a receipt, …): the place is free again
      if (fresh && this.pendingRequests.get(sender) === 0) this.pendingRequests.delete(sender);
    }
  }

  /** The writes that hold a requester's text with its request (the caller's batch), and the event's counts. */
  private async holdForRequest(
    sender: string,
    envelope: Envelope,
    id: string,
    text: string,
    now: number,
    viaMailbox: boolean,
  ): Promise<{ write: (batch: ReturnType<SottoStore['batch']>) => void; event: { held: number; first: boolean } }> {
    const { store } = this.running;
    // The previous message of this sender may still be queued for the disk (the lock is released
    // before a batch is durable): read the request only after it is written, or its seq would repeat.
    await writesSettled(store);
    const existing = await store.requests.get(sender);
    const request: ContactRequestRecord = existing ?? {
      identity: sender,
      address: encodeAddress(envelope.sender),
      firstAt: now,
      lastAt: now,
      held: 0,
      nextSeq: 0,
    };
    const held = request.held + 1;
    this.pendingRequests.set(sender, held);
    return {
      write: (batch) => {
        batch.requests.putMessage({
          identity: sender,
          seq: request.nextSeq,
          id,
          timestamp: envelope.timestamp,
          receivedAt: now,
          body: text,
          viaMailbox,
        });
        batch.requests.put({ ...request, lastAt: now, held, nextSeq: request.nextSeq + 1 });
      },
      event: { held, first: existing === undefined },
    };
  }

  /** Pending contact requests, oldest first. */
  async requests(): Promise<ContactRequestSummary[]> {
    const list = await this.running.store.requests.list();
    return list.sort((a, b) => a.firstAt - b.firstAt || (a.identity < b.identity ? -1 : 1)).map(requestSummary);
  }

  /** One pending request with its held messages in arrival order; UnknownRequestError when there is none. */
  async request(address: string): Promise<ContactRequestView> {
    const key = toHex(decodeAddress(address));
    const { store } = this.running;
    const request = await store.requests.get(key);
    if (request === undefined) throw new UnknownRequestError();
    const messages = await store.requests.messages(key);
    return {
      ...requestSummary(request),
      messages: messages.map((m) => ({ id: m.id, text: m.body, timestamp: m.timestamp, receivedAt: m.receivedAt })),
    };
  }

  /**
   * Accepts a pending request: the requester becomes contact `name`, its held messages move into
   * the conversation (one batch), the app gets a 'message' event for each in arrival order, and a
   * delivery receipt goes to the sender for those fetched from a mailbox. UnknownRequestError when
   * there is no request from `address`.
   */
  async acceptRequest(address: string, name: string): Promise<ContactRecord> {
    const key = toHex(decodeAddress(address));
    const { contact } = await this.settleRequest(key, { accept: true, name, address });
    return contact as ContactRecord;
  }

  /** Accepts without making a contact (the user replied to the request). */
  private async acceptHeld(key: string): Promise<void> {
    try {
      await this.settleRequest(key, { accept: true });
    } catch (err) {
      if (!(err instanceof UnknownRequestError)) throw err; // settled meanwhile
    }
  }

  /**
   * Rejects a pending request: it and its held messages are deleted; the session stays, so the
   * sender cannot tell, and a later message from it makes a new request. UnknownRequestError when
   * there is none.
   */
  async rejectRequest(address: string): Promise<void> {
    await this.settleRequest(toHex(decodeAddress(address)), { accept: false });
  }

  /** Accepts (messages into the conversation, optionally a contact) or drops a request, in one batch. */
  private async settleRequest(
    key: string,
    action: { accept: boolean; name?: string; address?: string },
  ): Promise<{ contact?: ContactRecord }> {
    const result = await this.withLock(key, async () => {
      const { store } = this.running;
      await writesSettled(store); // held messages still on their way to the disk are moved too
      const request = await store.requests.get(key);
      if (request === undefined) throw new UnknownRequestError();
      const held = await store.requests.messages(key);
      const batch = store.batch();
      batch.requests.remove(
        key,
        held.map((m) => m.seq),
      );
      let contact: ContactRecord | undefined;
      if (action.accept) {
        for (const m of held) {
          batch.messages.put({
            id: m.id,
            contact: key,
            direction: 'in',
            timestamp: m.timestamp,
            body: m.body,
            state: 'received',
          });
        }
        if (action.name !== undefined) {
          const existing = await store.contacts.get(key);
          contact = existing
            ? { ...existing, name: action.name }
            : {
                identityKey: key,
                name: action.name,
                address: request.address,
                verified: false,
                addedAt: this.env.now(),
                previousKeys: [],
              };
          batch.contacts.put(contact);
        }
      }
      await batch.commit();
      this.pendingRequests.delete(key);
      if (action.accept) this.rememberKnown(key);
      return { held, contact };
    });
    if (action.accept) {
      const from = encodeAddress(fromHex(key));
      for (const m of result.held) this.emit('message', { id: m.id, from, text: m.body, timestamp: m.timestamp });
      const owed = result.held.filter((m) => m.viaMailbox).map((m) => m.id);
      if (owed.length > 0) this.sendReceipts(fromHex(key), 'delivered', owed);
    }
    return result.contact ? { contact: result.contact } : {};
  }

  /**
   * Blocks an identity (a requester, a contact, or any address): from now on its envelopes are
   * dropped before any decryption, nothing is sent to it (IdentityBlockedError), its pending request
   * and held messages are deleted, and its queued outgoing messages are marked failed, in one batch.
   * A contact stays a contact (blocked); its history and session stay. Idempotent.
   */
  async block(address: string): Promise<BlockedIdentity> {
    const key = toHex(decodeAddress(address));
    const canonical = encodeAddress(fromHex(key));
    const failed: string[] = [];
    const record = await this.withLock(key, async (): Promise<BlockedRecord> => {
      const { store } = this.running;
      await writesSettled(store); // a request still on its way to the disk is deleted too
      const existing = await store.blocked.get(key);
      if (existing !== undefined) return existing;
      if (this.blockedIds.size >= MAX_BLOCKED_IDENTITIES) throw new BlockListFullError(MAX_BLOCKED_IDENTITIES);
      const blocked: BlockedRecord = { identity: key, address: canonical, blockedAt: this.env.now() };
      const batch = store.batch();
      batch.blocked.put(blocked);
      if ((await store.requests.get(key)) !== undefined) {
        batch.requests.remove(
          key,
          (await store.requests.messages(key)).map((m) => m.seq),
        );
      }
      for (const entry of await store.outbox.list()) {
        if (entry.recipient !== key || entry.state === 'failed') continue;
        batch.outbox.put({ ...entry, state: 'failed' });
        const message = await store.messages.get(key, entry.id);
        if (message !== undefined) {
          batch.messages.put({ ...message, state: 'failed' });
          failed.push(entry.id);
        }
      }
      await batch.commit();
      this.blockedIds.add(key);
      this.pendingRequests.delete(key);
      return blocked;
    });
    for (const id of failed) this.emit('delivery', { id, to: canonical, state: 'failed' });
    return blockedIdentity(record);
  }

  /** Takes an identity off the block list; false when it was not on it. */
  async unblock(address: string): Promise<boolean> {
    const key = toHex(decodeAddress(address));
    return this.withLock(key, async () => {
      const { store } = this.running;
      if ((await store.blocked.get(key)) === undefined) return false;
      const batch = store.batch();
      batch.blocked.remove(key);
      await batch.commit();
      this.blockedIds.delete(key);
      return true;
    });
  }

  /** The block list, most recently blocked last. */
  async blockList(): Promise<BlockedIdentity[]> {
    const list = await this.running.store.blocked.list();
    return list.sort((a, b) => a.blockedAt - b.blockedAt || (a.identity < b.identity ? -1 : 1)).map(blockedIdentity);
  }

  /** Whether `address` is blocked. */
  isBlocked(address: string): boolean {
    return this.blockedIds.has(toHex(decodeAddress(address)));
  }

  /** The session with `remote`: the live one, or the stored one (decoded, then kept live). */
  private async loadSession(remote: string): Promise<LiveSession | undefined> {
    const live = this.liveSessions.get(remote);
    if (live !== undefined) return live;
    const stored = await this.running.store.sessions.get(remote);
    if (stored === undefined) return undefined;
    const restored = { session: Session.restore(this.env, stored.snapshot), previous: stored.previous ?? [] };
    this.keepLive(remote, restored);
    return restored;
  }

  /**
   * Decrypts with the current session, else with the previous ones (newest first; `first` is tried
   * first: the one a prekey message's base key names). A previous session that decrypts becomes the
   * current one, as Signal promotes an archived state: two nodes whose handshakes crossed end up on
   * the same session. Sessions change only when they decrypt (Session.decrypt); throws the current
   * session's error when none does. At most 1 + MAX_PREVIOUS_SESSIONS attempts.
   */
  private decryptWithAny(
    current: LiveSession,
    body: Uint8Array,
    first: number,
  ): { next: LiveSession; plaintext: Uint8Array } {
    let failure: unknown;
    if (first < 0) {
      try {
        return { next: current, plaintext: current.session.decrypt(body) };
      } catch (err) {
        failure = err;
      }
    }
    const order = current.previous.map((_, i) => i).filter((i) => i !== first);
    if (first >= 0) order.unshift(first);
    for (const i of order) {
      const old = current.previous[i] as PreviousSession;
      let session: Session;
      let plaintext: Uint8Array;
      try {
        session = Session.restore(this.env, old.snapshot);
        plaintext = session.decrypt(body);
      } catch (err) {
        failure ??= err;
        continue;
      }
      const rest = current.previous.filter((_, j) => j !== i);
      return { next: { session, previous: archive({ session: current.session, previous: rest }) }, plaintext };
    }
    throw failure;
  }

  /**
   * Commits a batch that stores `live`'s new state. The session is live at once (the next
   * message may use it while this batch is queued); if the batch fails, the in-memory copy is
   * dropped and, the store being fail-stop (src/store/engine.ts), nothing derived from it can be
   * written either: after a restart the node continues from the last durable state.
   */
  private commitSession(remote: string, live: LiveSession, batch: ReturnType<SottoStore['batch']>): Promise<void> {
    this.keepLive(remote, live);
    return batch.commit().catch((err: unknown) => {
      if (this.liveSessions.get(remote) === live) this.liveSessions.delete(remote);
      throw err;
    });
  }

  private keepLive(remote: string, live: LiveSession): void {
    this.liveSessions.delete(remote);
    this.liveSessions.set(remote, live);
    if (this.liveSessions.size > MAX_LIVE_SESSIONS) {
      const oldest = this.liveSessions.keys().next().value;
      if (oldest !== undefined) this.liveSessions.delete(oldest);
    }
  }

  private async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(key) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.locks.set(key, settled);
    try {
      return await run;
    } finally {
      if (this.locks.get(key) === settled) this.locks.delete(key);
    }
  }
}

/** A session kept in memory, with the earlier sessions it replaced (SessionRecord.previous). */
interface LiveSession {
  session: Session;
  previous: PreviousSession[];
  /** A batch built in this process wrote the index entry of `session`'s base key (putSession). */
  indexed?: boolean;
}

/**
 * Puts `live` in `batch`, with its base-key index entry the first time only. Safe because batches
 * commit in the order they were built and the store is fail-stop: once one batch with the entry is
 * built, every later batch for this session either follows it to disk or fails with it (and then
 * commitSession drops the live copy, so a reload writes the entry again).
 */
function putSession(batch: ReturnType<SottoStore['batch']>, remote: string, live: LiveSession): void {
  batch.sessions.put(remote, sessionRecord(live), { index: live.indexed !== true });
  live.indexed = true;
}

/** What the store keeps of a live session. */
function sessionRecord(live: LiveSession): SessionRecord {
  return { snapshot: live.session.snapshot(), baseKey: toHex(live.session.baseKey), previous: live.previous };
}

/** The previous sessions once `current` is replaced: it first, the oldest beyond the cap dropped. */
function archive(current: LiveSession | undefined): PreviousSession[] {
  if (current === undefined) return [];
  const entry = { snapshot: current.session.snapshot(), baseKey: toHex(current.session.baseKey) };
  return [entry, ...current.previous].slice(0, MAX_PREVIOUS_SESSIONS);
}

/**
 * Resolves once every batch committed before it is written: an empty batch takes the next place in
 * the store's write order (src/store/engine.ts), so it completes after all earlier ones.
 */
function writesSettled(store: SottoStore): Promise<void> {
  return store.batch().commit({ durable: false });
}

function requestSummary(r: ContactRequestRecord): ContactRequestSummary {
  return { address: r.address, identityKey: r.identity, firstAt: r.firstAt, lastAt: r.lastAt, held: r.held };
}

function blockedIdentity(b: BlockedRecord): BlockedIdentity {
  return { address: b.address, identityKey: b.identity, blockedAt: b.blockedAt };
}

/** `contactRequests` and `requestLimits` of CreateNodeOptions, checked (InvalidRequestOptionsError). */
function parseRequestOptions(options: CreateNodeOptions): {
  policy: ContactRequestPolicy;
  maxPending: number;
  maxMessagesPerRequest: number;
} {
  const policy = options.contactRequests ?? 'accept';
  if (!(CONTACT_REQUEST_POLICIES as readonly string[]).includes(policy)) {
    throw new InvalidRequestOptionsError(`contactRequests must be one of ${CONTACT_REQUEST_POLICIES.join(', ')}`);
  }
  const cap = (value: unknown, max: number, what: string): number => {
    if (value === undefined) return max;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
      throw new InvalidRequestOptionsError(`${what} must be an integer 1..${max}`);
    }
    return value;
  };
  const limits = options.requestLimits ?? {};
  return {
    policy,
    maxPending: cap(limits.maxPending, MAX_PENDING_REQUESTS, 'requestLimits.maxPending'),
    maxMessagesPerRequest: cap(
      limits.maxMessagesPerRequest,
      MAX_MESSAGES_PER_REQUEST,
      'requestLimits.maxMessagesPerRequest',
    ),
  };
}

/** Creates a node; call `start()` to open its store and join the network. */
export function createNode(options: CreateNodeOptions): SottoNode {
  return new SottoNode(options);
}
