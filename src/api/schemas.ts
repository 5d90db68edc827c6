/**
 * The API's request and response schemas (TypeBox, i.e. JSON Schema): they validate requests, shape
 * responses, and are the source of the OpenAPI document (docs/openapi.json).
 */
import { type Static, type TSchema, type TUnsafe, Type } from '@sinclair/typebox';
import { MAX_ADDRESS_LENGTH } from '../identity/address.js';
import { CONTACT_NAME_MAX_CHARS, CONTACT_NAME_PATTERN } from './contacts.js';
import { API_ERROR_STATUS, type ApiErrorCode } from './errors.js';

/**
 * Longest message text in UTF-8 bytes: MAX_TEXT_BYTES of src/node/node.ts, restated here so the API
 * does not load the node (and libp2p) to know it; test/api checks the two agree. The node enforces
 * the byte limit (INVALID_MESSAGE); the schema's `maxLength` in UTF-16 code units is never smaller
 * than a text's UTF-8 length, so it only refuses texts the node would refuse anyway.
 */
export const MAX_TEXT_BYTES = 32 * 1024;

/**
 * Most mailboxes an identity lists: MAX_MAILBOXES of src/directory/record.ts, restated like
 * MAX_TEXT_BYTES (test/api checks the two agree).
 */
export const MAX_MAILBOXES = 8;
/** A peer id string is 46 to 62 characters in its usual forms; longer ones are not peer ids. */
export const PEER_ID_MAX_LENGTH = 128;

/** An address in the API is at most as long as the address decoder accepts. */
export const ADDRESS_MAX_LENGTH = MAX_ADDRESS_LENGTH;
/** A path parameter is a contact name (at most 64 code points) or an address. */
export const CONTACT_REF_MAX_LENGTH = 256;
export const CONVERSATION_DEFAULT_LIMIT = 50;
export const CONVERSATION_MAX_LIMIT = 200;

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.Unsafe<ApiErrorCode>({ type: 'string', enum: Object.keys(API_ERROR_STATUS) }),
      message: Type.String({ description: 'one line for people; match on `code`' }),
      field: Type.Optional(Type.String({ description: 'INVALID_REQUEST: the failing part, e.g. body.text' })),
    }),
  },
  { $id: 'Error', title: 'Error' },
);

/**
 * A reference to a shared schema (registered with `app.addSchema`, listed once under
 * `components.schemas` in the OpenAPI document), typed as the schema itself. Responses only:
 * request schemas stay self-contained for the validator.
 */
function ref<T extends TSchema>(schema: T, description?: string): TUnsafe<Static<T>> {
  return Type.Unsafe<Static<T>>({ $ref: `${schema.$id}#`, ...(description ? { description } : {}) });
}

/** `{ <status>: Error }` for the statuses a route can answer with besides success (401, 500 always). */
export function errorResponses(...statuses: number[]): Record<number, TUnsafe<Static<typeof ErrorBody>>> {
  const out: Record<number, TUnsafe<Static<typeof ErrorBody>>> = {};
  for (const status of [...new Set([401, 500, ...statuses])].sort((a, b) => a - b)) {
    out[status] = ref(ErrorBody, describeStatus(status));
  }
  return out;
}

function describeStatus(status: number): string {
  const codes = Object.entries(API_ERROR_STATUS)
    .filter(([, s]) => s === status)
    .map(([code]) => code);
  return codes.join(', ');
}

export const Address = Type.String({
  minLength: 1,
  maxLength: ADDRESS_MAX_LENGTH,
  description: 'a sotto address (sotto1…)',
});

export const ContactName = Type.String({
  minLength: 1,
  pattern: CONTACT_NAME_PATTERN,
  description: `1 to ${CONTACT_NAME_MAX_CHARS} characters without control characters, line separators or bidirectional controls, not starting with "sotto1"`,
});

export const ContactRef = Type.String({
  minLength: 1,
  maxLength: CONTACT_REF_MAX_LENGTH,
  description: 'a contact name, or a sotto1… address',
});

const MessageId = Type.String({ pattern: '^[0-9a-f]{32}$', description: '16 random bytes, lowercase hex' });
const PeerId = Type.String({
  minLength: 1,
  maxLength: PEER_ID_MAX_LENGTH,
  description: 'a libp2p peer id (12D3KooW…)',
});
const Millis = Type.Integer({ minimum: 0, description: 'milliseconds since the Unix epoch' });

export const ContactParams = Type.Object({ contact: ContactRef }, { additionalProperties: false });

export const Contact = Type.Object(
  {
    name: Type.String(),
    address: Type.String(),
    identityKey: Type.String({ description: 'the Ed25519 identity key, hex' }),
    verified: Type.Boolean({ description: 'safety numbers were compared; cleared when the key changes' }),
    addedAt: Millis,
    keyChangedAt: Type.Optional(Millis),
    previousKeys: Type.Array(Type.String(), { description: 'identity DH keys seen, oldest first, hex' }),
  },
  { $id: 'Contact', title: 'Contact' },
);

/** The contact as a response. */
export const ContactResponse = (description: string) => ref(Contact, description);

export const ContactList = Type.Object(
  { contacts: Type.Array(ref(Contact)) },
  { description: 'every contact, by name' },
);

export const AddContactBody = Type.Object({ name: ContactName, address: Address }, { additionalProperties: false });

export const RenameContactBody = Type.Object({ name: ContactName }, { additionalProperties: false });

export const SendBody = Type.Object(
  {
    to: ContactRef,
    text: Type.String({
      minLength: 1,
      maxLength: MAX_TEXT_BYTES,
      description: `the message, 1 to ${MAX_TEXT_BYTES} bytes of UTF-8`,
    }),
  },
  { additionalProperties: false },
);

/** The schemas responses refer to by `$ref` (register each with `app.addSchema`). */
export function sharedSchemas(): TSchema[] {
  return [ErrorBody, Contact, StreamEvent];
}

// ── Contact requests and the block list ────────────────────────────────────────────────────────

export const AddressParams = Type.Object({ address: Address }, { additionalProperties: false });

export const AcceptRequestBody = Type.Object({ name: ContactName }, { additionalProperties: false });

export const BlockBody = Type.Object({ contact: ContactRef }, { additionalProperties: false });

const RequestFields = {
  address: Type.String({ description: "the requester's address" }),
  identityKey: Type.String({ description: 'the Ed25519 identity key, hex' }),
  firstAt: Type.Integer({ minimum: 0, description: 'when its first message arrived (ms since the Unix epoch)' }),
  lastAt: Type.Integer({ minimum: 0, description: 'when its latest message arrived' }),
  held: Type.Integer({ minimum: 0, description: 'messages held with the request' }),
};

export const RequestSummary = Type.Object(RequestFields);

export const RequestList = Type.Object(
  { requests: Type.Array(RequestSummary, { description: 'oldest first' }) },
  { description: 'pending contact requests' },
);

export const RequestView = Type.Object(
  {
    ...RequestFields,
    messages: Type.Array(
      Type.Object({
        id: Type.String({ pattern: '^[0-9a-f]{32}$' }),
        text: Type.String(),
        timestamp: Type.Integer({ minimum: 0, description: "the sender's timestamp" }),
        receivedAt: Type.Integer({ minimum: 0 }),
      }),
      { description: 'in arrival order' },
    ),
  },
  { description: 'the request with its held messages' },
);

export const Blocked = Type.Object(
  {
    address: Type.String(),
    identityKey: Type.String({ description: 'the Ed25519 identity key, hex' }),
    name: Type.Optional(Type.String({ description: 'when the identity is a contact' })),
    blockedAt: Type.Integer({ minimum: 0 }),
  },
  { description: 'a blocked identity' },
);

export const BlockedList = Type.Object(
  { blocked: Type.Array(Blocked, { description: 'most recently blocked last' }) },
  { description: 'the block list' },
);

export type AddressParams = Static<typeof AddressParams>;
export type AcceptRequestBody = Static<typeof AcceptRequestBody>;
export type BlockBody = Static<typeof BlockBody>;

/** A string enum for response schemas (responses are serialized, not validated). */
function StringEnum<T extends string>(values: readonly T[], options: { description?: string } = {}) {
  return Type.Unsafe<T>({ type: 'string', enum: [...values], ...options });
}

export const SendResult = Type.Object(
  {
    id: MessageId,
    to: Type.String({ description: 'the recipient address' }),
    state: StringEnum(['delivered', 'stored-at-mailbox', 'queued'], {
      description:
        "delivered: the recipient node stored it; stored-at-mailbox: one of the recipient's mailboxes stored it (its node was unreachable); queued: the outbox retries it",
    }),
  },
  { description: 'the message was stored and one delivery attempt made' },
);

export const ConversationQuery = Type.Object(
  {
    limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: CONVERSATION_MAX_LIMIT, default: CONVERSATION_DEFAULT_LIMIT }),
    ),
    beforeTimestamp: Type.Optional(Type.Integer({ minimum: 0, description: 'page cursor, with beforeId' })),
    beforeId: Type.Optional(
      Type.String({ pattern: '^[0-9a-f]{32}$', description: 'page cursor, with beforeTimestamp' }),
    ),
  },
  { additionalProperties: false },
);

export const Message = Type.Object({
  id: MessageId,
  direction: StringEnum(['in', 'out']),
  timestamp: Millis,
  text: Type.String(),
  state: StringEnum(['queued', 'sent', 'stored-at-mailbox', 'delivered', 'read', 'received', 'failed']),
});

export const Conversation = Type.Object(
  {
    address: Type.String(),
    name: Type.Optional(Type.String()),
    messages: Type.Array(Message, { description: 'newest first' }),
    next: Type.Optional(
      Type.Object(
        { beforeTimestamp: Millis, beforeId: MessageId },
        { description: 'query for the next (older) page; absent on the last page' },
      ),
    ),
  },
  { description: 'one page of the conversation' },
);

export const SafetyNumber = Type.Object(
  {
    address: Type.String(),
    name: Type.Optional(Type.String()),
    safetyNumber: Type.String({ description: '60 digits in 12 groups of 5, the same on both sides' }),
    verified: Type.Boolean(),
  },
  { description: 'the safety number' },
);

export const Identity = Type.Object(
  {
    address: Type.String(),
    peerId: Type.String(),
    multiaddrs: Type.Array(Type.String()),
    fingerprint: Type.String({
      description: 'our 30-digit half of every safety number (6 groups of 5 digits)',
    }),
  },
  { description: 'this node' },
);

export const Status = Type.Object(
  {
    peers: Type.Integer({ minimum: 0 }),
    routingTable: Type.Integer({ minimum: 0 }),
    outbox: Type.Integer({ minimum: 0 }),
    oneTimePrekeys: Type.Object({
      available: Type.Integer({ minimum: 0 }),
      claimed: Type.Integer({ minimum: 0 }),
      claimsServed: Type.Integer({ minimum: 0 }),
    }),
    mailbox: Type.Optional(
      Type.Object(
        {
          held: Type.Integer({ minimum: 0, description: 'envelopes held' }),
          bytes: Type.Integer({ minimum: 0, description: 'their size in bytes' }),
        },
        { description: 'only when this node serves as a mailbox: what it holds for other identities' },
      ),
    ),
    startedAt: Millis,
    uptimeMs: Type.Integer({ minimum: 0 }),
    version: Type.String(),
  },
  { description: 'the node status' },
);

export const Peers = Type.Object(
  {
    peers: Type.Array(Type.Object({ peerId: Type.String(), addresses: Type.Array(Type.String()) })),
  },
  { description: 'connected peers' },
);

export const Health = Type.Object(
  {
    ready: Type.Boolean(),
    reason: Type.Optional(Type.String()),
  },
  { description: 'readiness' },
);

// ── Mailboxes and retries ─────────────────────────────────────────────────────────────────────

export const MailboxList = Type.Object(
  { peers: Type.Array(Type.String(), { description: 'peer ids, in the order senders try them' }) },
  { description: "this identity's mailboxes, as published in its record" },
);

export const SetMailboxesBody = Type.Object(
  {
    peers: Type.Array(PeerId, {
      maxItems: MAX_MAILBOXES,
      description: `the new list, at most ${MAX_MAILBOXES} distinct peer ids, in the order senders should try them`,
    }),
  },
  { additionalProperties: false },
);

export const SetMailboxesResult = Type.Object(
  {
    peers: Type.Array(Type.String(), { description: 'the list now in effect (canonical peer ids)' }),
    saved: Type.Boolean({ description: 'the daemon saved the list to its config.json: a restart keeps it' }),
    reason: Type.Optional(Type.String({ description: 'when not saved: why, for people' })),
  },
  { description: 'the list is in effect and the record republished' },
);

export const FetchResult = Type.Object(
  {
    fetched: Type.Integer({ minimum: 0, description: 'new messages that arrived' }),
    mailboxes: Type.Integer({ minimum: 0, description: 'mailboxes asked (unreachable ones are skipped)' }),
  },
  { description: 'one fetch from every mailbox done' },
);

export const MessageParams = Type.Object({ id: MessageId }, { additionalProperties: false });

export const RetryResult = Type.Object(
  {
    id: MessageId,
    state: StringEnum(['queued'], { description: 'queued: the outbox tries it again now, with a fresh deadline' }),
  },
  { description: 'the failed message is queued again' },
);

export const AnyObject = (description: string) => Type.Object({}, { additionalProperties: true, description });

export type AddContactBody = Static<typeof AddContactBody>;
export type RenameContactBody = Static<typeof RenameContactBody>;
export type SendBody = Static<typeof SendBody>;
export type ConversationQuery = Static<typeof ConversationQuery>;
export type ContactParams = Static<typeof ContactParams>;
export type SetMailboxesBody = Static<typeof SetMailboxesBody>;
export type MessageParams = Static<typeof MessageParams>;

// ── The events stream (GET /v1/events, WebSocket): one JSON object per WebSocket message ──────────

export const MessageEvent = Type.Object(
  {
    type: Type.Literal('message'),
    id: MessageId,
    from: Type.String({ description: "the sender's address" }),
    text: Type.String(),
    timestamp: Millis,
  },
  { title: 'MessageEvent', description: 'a message arrived (stored, exactly once)' },
);

export const DeliveryEvent = Type.Object(
  {
    type: Type.Literal('delivery'),
    id: MessageId,
    to: Type.String({ description: "the recipient's address" }),
    state: StringEnum(['queued', 'sent', 'stored-at-mailbox', 'delivered', 'read', 'received', 'failed']),
  },
  { title: 'DeliveryEvent', description: 'an outgoing message changed state' },
);

export const KeyChangeEvent = Type.Object(
  {
    type: Type.Literal('key-change'),
    address: Type.String(),
    name: Type.String(),
    previousKey: Type.String({ description: 'hex' }),
    currentKey: Type.String({ description: 'hex' }),
  },
  {
    title: 'KeyChangeEvent',
    description: "a contact's identity key changed: compare safety numbers again (verified was cleared)",
  },
);

export const RequestEvent = Type.Object(
  {
    type: Type.Literal('request'),
    from: Type.String({ description: "the requester's address" }),
    id: MessageId,
    text: Type.String(),
    timestamp: Millis,
    held: Type.Integer({ minimum: 1, description: 'messages now held with the request' }),
    first: Type.Boolean({ description: 'this message created the request' }),
  },
  {
    title: 'RequestEvent',
    description:
      'a message from an identity that is neither a contact nor in a conversation was held as a contact request (contacts.requests "ask"); accept, reject or block it under /v1/requests',
  },
);

export const StreamEvent = Type.Union([MessageEvent, DeliveryEvent, KeyChangeEvent, RequestEvent], {
  $id: 'StreamEvent',
  title: 'StreamEvent',
  description: 'what GET /v1/events sends: one JSON object per WebSocket text message, nothing else',
});

export type StreamEvent = Static<typeof StreamEvent>;
