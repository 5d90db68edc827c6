/**
 * Typed errors of the local API (house style: src/crypto/errors.ts). Every HTTP error leaves the
 * daemon as `{ "error": { "code": "STABLE_CODE", "message": "one line" } }`; clients match on `code`,
 * never on `message`. Adding a code is fine; renaming one is a breaking change.
 */

/** Stable error codes of HTTP responses, with the status each is sent with. */
export const API_ERROR_STATUS = {
  /** The bearer token is missing or wrong. */
  UNAUTHORIZED: 401,
  /** No such route. */
  NOT_FOUND: 404,
  /** The request does not match its schema; `field` names the first failing part. */
  INVALID_REQUEST: 400,
  /** The body is larger than the API's body limit. */
  BODY_TOO_LARGE: 413,
  /** A body that is not `application/json`. */
  UNSUPPORTED_MEDIA_TYPE: 415,
  /** The events stream was requested without a WebSocket upgrade. */
  UPGRADE_REQUIRED: 426,
  /** No contact with this name (or address, where a contact is required). */
  UNKNOWN_CONTACT: 404,
  /** Two or more contacts share the name (added outside the API): use the address. */
  AMBIGUOUS_CONTACT: 409,
  /** A `sotto1…` address that does not decode (typo, checksum, length). */
  INVALID_ADDRESS: 400,
  /** Another address already has this contact name. */
  CONTACT_NAME_TAKEN: 409,
  /** The address is already a contact under another name (rename it instead). */
  CONTACT_EXISTS: 409,
  /** The message text is empty or longer than the node accepts. */
  INVALID_MESSAGE: 400,
  /** No identity record for the recipient in the directory. */
  RECIPIENT_NOT_FOUND: 404,
  /** The directory returned a record that failed validation (bad signature, rollback, …). */
  DIRECTORY_ERROR: 502,
  /** A libp2p peer id that does not parse (a mailbox in PUT /v1/mailboxes). */
  INVALID_PEER_ID: 400,
  /** No pending contact request from this address. */
  UNKNOWN_REQUEST: 404,
  /** The identity is blocked: nothing is sent to it (unblock it first). */
  IDENTITY_BLOCKED: 409,
  /** The identity is not on the block list. */
  NOT_BLOCKED: 404,
  /** The block list is full (MAX_BLOCKED_IDENTITIES): unblock one first. */
  BLOCK_LIST_FULL: 409,
  /** No failed outgoing message with this id: only a failed message can be retried. */
  FAILED_MESSAGE_NOT_FOUND: 404,
  /** A change could not be saved to the daemon's config.json; nothing was changed. */
  CONFIG_NOT_SAVED: 500,
  /** The node is not running (starting or stopping). */
  NOT_READY: 503,
  /** Anything else; details go to the daemon's log, never to the client. */
  INTERNAL: 500,
} as const;

export type ApiErrorCode = keyof typeof API_ERROR_STATUS;

export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly statusCode: number;
  /** For INVALID_REQUEST: the failing part, e.g. `body.text` or `query.limit`. */
  readonly field?: string | undefined;
  constructor(code: ApiErrorCode, message: string, options: { field?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ApiError';
    this.code = code;
    this.statusCode = API_ERROR_STATUS[code];
    this.field = options.field;
  }
}

// ── The token file ─────────────────────────────────────────────────────────────────────────────

export type ApiTokenErrorCode = 'TOKEN_INSECURE_PERMISSIONS' | 'TOKEN_MALFORMED' | 'TOKEN_NOT_A_FILE';

export class ApiTokenError extends Error {
  readonly code: ApiTokenErrorCode;
  /** The token file's path (never its content). */
  readonly path: string;
  constructor(code: ApiTokenErrorCode, path: string, message: string) {
    super(message);
    this.name = 'ApiTokenError';
    this.code = code;
    this.path = path;
  }
}

/** The token file can be read or written by the group or others: whoever can read it controls the node. */
export class TokenPermissionsError extends ApiTokenError {
  /** The file's permission bits, e.g. 0o644. */
  readonly mode: number;
  constructor(path: string, mode: number) {
    super(
      'TOKEN_INSECURE_PERMISSIONS',
      path,
      `API token file ${path} has mode ${mode.toString(8).padStart(4, '0')}: allow the owner only (chmod 600 ${path})`,
    );
    this.name = 'TokenPermissionsError';
    this.mode = mode;
  }
}

/** The token file does not hold one base64url token of 32 bytes. */
export class TokenMalformedError extends ApiTokenError {
  constructor(path: string) {
    super('TOKEN_MALFORMED', path, `API token file ${path} is malformed: delete it to have a new token created`);
    this.name = 'TokenMalformedError';
  }
}

/** The token path is a symbolic link, a directory or another non-regular file. */
export class TokenNotAFileError extends ApiTokenError {
  constructor(path: string) {
    super('TOKEN_NOT_A_FILE', path, `API token path ${path} is not a regular file`);
    this.name = 'TokenNotAFileError';
  }
}
