/** Typed errors of the node API (house style: src/crypto/errors.ts). */

export type NodeErrorCode =
  | 'NODE_NOT_STARTED'
  | 'NODE_ALREADY_STARTED'
  | 'RECIPIENT_NOT_FOUND'
  | 'INVALID_MESSAGE'
  | 'UNKNOWN_CONTACT'
  | 'PREKEY_IDS_EXHAUSTED'
  | 'INVALID_MAILBOX_OPTIONS'
  | 'IDENTITY_BLOCKED'
  | 'UNKNOWN_REQUEST'
  | 'BLOCK_LIST_FULL'
  | 'INVALID_REQUEST_OPTIONS';

export class NodeError extends Error {
  readonly code: NodeErrorCode;
  constructor(code: NodeErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = 'NodeError';
  }
}

export class NodeNotStartedError extends NodeError {
  constructor() {
    super('NODE_NOT_STARTED', 'the node is not running: call start() first');
    this.name = 'NodeNotStartedError';
  }
}

export class NodeAlreadyStartedError extends NodeError {
  constructor() {
    super('NODE_ALREADY_STARTED', 'the node is already running');
    this.name = 'NodeAlreadyStartedError';
  }
}

/** No valid identity record for the address could be found in the directory. */
export class RecipientNotFoundError extends NodeError {
  constructor() {
    super('RECIPIENT_NOT_FOUND', 'no identity record found for this address');
    this.name = 'RecipientNotFoundError';
  }
}

/** The text to send is empty or too long. */
export class InvalidMessageError extends NodeError {
  constructor(message: string) {
    super('INVALID_MESSAGE', message);
    this.name = 'InvalidMessageError';
  }
}

/** No contact with this address. */
export class UnknownContactError extends NodeError {
  constructor() {
    super('UNKNOWN_CONTACT', 'no contact with this address (add it first)');
    this.name = 'UnknownContactError';
  }
}

/**
 * A prekey needs a new id, but every id of its kind was allocated already: a signed or KEM
 * rotation whose highest id ever used is the largest u32, or one-time prekeys whose id counter is
 * past MAX_PREKEY_ID. Ids are never reused (a handshake naming an old id must not find a different key).
 */
export class PrekeyIdsExhaustedError extends NodeError {
  readonly kind: 'signed' | 'kem' | 'one-time';
  constructor(kind: 'signed' | 'kem' | 'one-time') {
    super('PREKEY_IDS_EXHAUSTED', `no unused ${kind} prekey id is left`);
    this.name = 'PrekeyIdsExhaustedError';
    this.kind = kind;
  }
}

/** Mailbox options (the role this node serves, or this identity's own mailboxes) are invalid. */
export class InvalidMailboxOptionsError extends NodeError {
  constructor(message: string) {
    super('INVALID_MAILBOX_OPTIONS', message);
    this.name = 'InvalidMailboxOptionsError';
  }
}

/** The identity is on the block list: nothing is sent to it (unblock it first). */
export class IdentityBlockedError extends NodeError {
  constructor() {
    super('IDENTITY_BLOCKED', 'this identity is blocked: nothing is sent to it (unblock it first)');
    this.name = 'IdentityBlockedError';
  }
}

/** No pending contact request from this address. */
export class UnknownRequestError extends NodeError {
  constructor() {
    super('UNKNOWN_REQUEST', 'no pending contact request from this address');
    this.name = 'UnknownRequestError';
  }
}

/** The block list holds MAX_BLOCKED_IDENTITIES already. */
export class BlockListFullError extends NodeError {
  constructor(max: number) {
    super('BLOCK_LIST_FULL', `the block list is full (${max} identities): unblock one first`);
    this.name = 'BlockListFullError';
  }
}

/** The contact request options of `createNode` are invalid (unknown policy, limits out of range). */
export class InvalidRequestOptionsError extends NodeError {
  constructor(message: string) {
    super('INVALID_REQUEST_OPTIONS', message);
    this.name = 'InvalidRequestOptionsError';
  }
}
