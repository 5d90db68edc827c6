/**
 * How the CLI fails: every error becomes exactly one line on standard error, `sotto: <message>`
 * (with a hint where one helps), and an exit code from `EXIT`. Stack traces only with `--debug`
 * (or `SOTTO_DEBUG=1`).
 *
 * Errors are matched on their class, `name` and `code`, never on message text. The daemon's and the
 * node's error classes are matched by `name` so that this module does not load them (and libp2p)
 * for commands that only talk to the API.
 */
import { ApiTokenError } from '../api/errors.js';
import { ConfigError } from '../config/errors.js';

/** Exit codes of every `sotto` command. Scripts may rely on them; changing one is a breaking change. */
export const EXIT = Object.freeze({
  /** Success. */
  OK: 0,
  /** An unexpected error (the message says what; `--debug` shows the stack). */
  FAILURE: 1,
  /** Wrong usage (unknown command or option, missing argument) or invalid input (bad address, empty message). */
  USAGE: 2,
  /** No daemon is running for the data dir, or its API does not answer. */
  NO_DAEMON: 3,
  /**
   * Not found: unknown contact, recipient not in the directory, no identity, no such mailbox, failed
   * message or contact request, not blocked.
   */
  NOT_FOUND: 4,
  /**
   * Conflict: the contact name is taken, the address is already a contact, the name is ambiguous, 8
   * mailboxes already, the identity is blocked, the block list is full.
   */
  CONFLICT: 5,
  /** The data dir is locked by another sotto process (a running daemon). */
  LOCKED: 6,
  /**
   * The configuration is invalid (config file, SOTTO_* variable or flag), or the store's passphrase
   * (SOTTO_PASSPHRASE, SOTTO_PASSPHRASE_FILE, --passphrase-file or the prompt) is missing, wrong, or
   * given for a store that has none; a backup's passphrase is wrong.
   */
  CONFIG: 7,
  /** `send`: the message is stored and queued; the daemon keeps retrying (EX_TEMPFAIL). */
  QUEUED: 75,
  /** `start`: a second SIGINT/SIGTERM forced the daemon to stop before it finished stopping (128 + SIGINT). */
  FORCED: 130,
});

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The exit-code table as shown in `sotto --help`. */
export const EXIT_CODE_TABLE: readonly { code: ExitCode; meaning: string }[] = Object.freeze([
  { code: EXIT.OK, meaning: 'success' },
  { code: EXIT.FAILURE, meaning: 'unexpected error' },
  { code: EXIT.USAGE, meaning: 'usage error or invalid input' },
  { code: EXIT.NO_DAEMON, meaning: 'no daemon running / local API unreachable' },
  {
    code: EXIT.NOT_FOUND,
    meaning:
      'not found (unknown contact, recipient not in the directory, no identity, no such mailbox, failed message or request, not blocked)',
  },
  {
    code: EXIT.CONFLICT,
    meaning: 'conflict (contact name taken, address already a contact, mailbox list full, identity blocked)',
  },
  { code: EXIT.LOCKED, meaning: 'data dir locked by another daemon' },
  {
    code: EXIT.CONFIG,
    meaning: 'invalid configuration (config.json, SOTTO_* variable or flag), or a missing or wrong passphrase',
  },
  { code: EXIT.QUEUED, meaning: 'send: queued, the daemon will retry (EX_TEMPFAIL)' },
  { code: EXIT.FORCED, meaning: 'start: stopped by a second signal before a graceful stop finished' },
]);

/** An error the CLI reports as is: one line, an exit code, an optional hint in parentheses. */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CliError';
  }
}

/** The local API could not be reached (connection refused, timeout, no token). */
export class ApiUnreachableError extends Error {
  constructor(
    readonly url: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ApiUnreachableError';
  }
}

/** The local API answered with an error: its stable `code`, HTTP `status` and one-line message. */
export class ApiCallError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiCallError';
  }
}

/** Where the CLI looked for the daemon, for the "no daemon" message. */
export interface ErrorContext {
  /** The data dir, when known. */
  dataDir?: string;
  /** The API URL was given explicitly (`--api-url`, `SOTTO_API_URL`): name it instead of the data dir. */
  explicitApiUrl?: string;
}

export interface ReportedError {
  exitCode: ExitCode;
  /** One line, without the `sotto: ` prefix. */
  message: string;
}

/** One line: newlines and other control characters become spaces. */
export function oneLine(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim();
}

function withHint(message: string, hint?: string): string {
  return hint === undefined ? message : `${message} (${hint})`;
}

/** The "no daemon" message for a data dir or an explicit API URL. */
export function noDaemonMessage(context: ErrorContext): string {
  if (context.explicitApiUrl !== undefined) {
    return `no daemon answers at ${context.explicitApiUrl} (start one with: sotto start)`;
  }
  return `no daemon is running for ${context.dataDir ?? 'the data dir'} (start one with: sotto start)`;
}

function apiErrorExitCode(code: string): ExitCode {
  switch (code) {
    case 'UNKNOWN_CONTACT':
    case 'RECIPIENT_NOT_FOUND':
    case 'FAILED_MESSAGE_NOT_FOUND':
    case 'UNKNOWN_REQUEST':
    case 'NOT_BLOCKED':
      return EXIT.NOT_FOUND;
    case 'IDENTITY_BLOCKED':
    case 'BLOCK_LIST_FULL':
      return EXIT.CONFLICT;
    case 'CONTACT_NAME_TAKEN':
    case 'CONTACT_EXISTS':
    case 'AMBIGUOUS_CONTACT':
      return EXIT.CONFLICT;
    case 'INVALID_ADDRESS':
    case 'INVALID_PEER_ID':
    case 'INVALID_MESSAGE':
    case 'INVALID_REQUEST':
    case 'BODY_TOO_LARGE':
      return EXIT.USAGE;
    case 'NOT_READY':
      return EXIT.NO_DAEMON;
    default:
      return EXIT.FAILURE;
  }
}

function apiErrorHint(err: ApiCallError): string | undefined {
  switch (err.code) {
    case 'UNKNOWN_CONTACT':
      return 'see sotto contacts list';
    case 'RECIPIENT_NOT_FOUND':
      return 'their node may be offline or not yet in the directory; check the address and sotto status';
    case 'CONTACT_EXISTS':
      return 'see sotto contacts list';
    case 'AMBIGUOUS_CONTACT':
      return 'see sotto contacts list';
    case 'UNAUTHORIZED':
      return 'the token does not belong to this daemon: check SOTTO_API_TOKEN, --api-url and --data-dir';
    case 'FAILED_MESSAGE_NOT_FOUND':
      return 'only a failed outgoing message can be retried; sotto chat <contact> shows the state of each';
    case 'UNKNOWN_REQUEST':
      return 'see sotto requests';
    case 'IDENTITY_BLOCKED':
      return 'unblock it first: sotto unblock <contact>';
    case 'NOT_BLOCKED':
      return 'see sotto blocked';
    case 'CONFIG_NOT_SAVED':
      return "fix config.json in the data dir, or see the daemon's log";
    case 'INTERNAL':
      return "see the daemon's log";
    default:
      return undefined;
  }
}

function errName(err: unknown): string | undefined {
  const name = typeof err === 'object' && err !== null ? (err as { name?: unknown }).name : undefined;
  return typeof name === 'string' ? name : undefined;
}

function errCode(err: unknown): string | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

const PASSPHRASE_SOURCES = 'SOTTO_PASSPHRASE, SOTTO_PASSPHRASE_FILE or --passphrase-file';

/** The store's encryption-at-rest errors (src/store/errors.ts), matched on `name` and `code`. */
function storeError(
  name: string | undefined,
  code: string | undefined,
  err: unknown,
  context: ErrorContext,
): ReportedError | undefined {
  if (name === undefined || code === undefined) return undefined;
  const where = context.dataDir ?? 'the data dir';
  const subject = (err as { subject?: unknown }).subject;
  switch (code) {
    case 'BAD_PASSPHRASE':
      return {
        exitCode: EXIT.CONFIG,
        message:
          subject === 'backup'
            ? 'wrong passphrase for this backup (or the file was changed); nothing was written'
            : `wrong passphrase for the store in ${where}; nothing was changed`,
      };
    case 'PASSPHRASE_REQUIRED':
      return {
        exitCode: EXIT.CONFIG,
        message: `the store in ${where} is protected by a passphrase (give it with ${PASSPHRASE_SOURCES}, or run on a terminal to be asked)`,
      };
    case 'PASSPHRASE_NOT_SET':
      return {
        exitCode: EXIT.CONFIG,
        message: `the store in ${where} has no passphrase (set one with: sotto passphrase set; or unset ${PASSPHRASE_SOURCES})`,
      };
    case 'PASSPHRASE_ALREADY_SET':
      return {
        exitCode: EXIT.CONFLICT,
        message: `the store in ${where} already has a passphrase (change it with: sotto passphrase change)`,
      };
    case 'KEY_FILE_MISSING':
      return {
        exitCode: EXIT.FAILURE,
        message: `the store in ${where} is encrypted but its key file (store/keys.json) is missing; restore it from where the data dir was copied, or import a backup into a new data dir`,
      };
    case 'KEY_FILE_INVALID':
      return { exitCode: EXIT.FAILURE, message: oneLine(`${where}: ${(err as Error).message}`) };
    case 'BACKUP_INVALID':
      return { exitCode: EXIT.USAGE, message: oneLine((err as Error).message) };
    case 'IMPORT_TARGET_NOT_EMPTY':
      return {
        exitCode: EXIT.CONFLICT,
        message: `${where} already has a store: a backup is imported only into an empty data dir (pass another --data-dir)`,
      };
    default:
      return undefined;
  }
}

/** Maps any error to its exit code and one-line message (without the `sotto: ` prefix). */
export function describeError(err: unknown, context: ErrorContext = {}): ReportedError {
  if (err instanceof CliError) return { exitCode: err.exitCode, message: oneLine(withHint(err.message, err.hint)) };
  if (err instanceof ApiUnreachableError) {
    return { exitCode: EXIT.NO_DAEMON, message: oneLine(err.message) };
  }
  if (err instanceof ApiCallError) {
    const message = err.code === 'NOT_READY' ? 'the daemon is starting or stopping: try again' : err.message;
    return { exitCode: apiErrorExitCode(err.code), message: oneLine(withHint(message, apiErrorHint(err))) };
  }
  if (err instanceof ConfigError) return { exitCode: EXIT.CONFIG, message: oneLine(err.message) };
  if (err instanceof ApiTokenError) return { exitCode: EXIT.FAILURE, message: oneLine(err.message) };
  const name = errName(err);
  const code = errCode(err);
  if (name === 'DaemonError') {
    return {
      exitCode: code === 'DATA_DIR_LOCKED' ? EXIT.LOCKED : EXIT.FAILURE,
      message: oneLine((err as Error).message),
    };
  }
  const stored = storeError(name, code, err, context);
  if (stored !== undefined) return stored;
  if (code === 'STORE_OPEN_FAILED') {
    const where = context.dataDir ?? 'the data dir';
    return {
      exitCode: EXIT.LOCKED,
      message: `${where} is in use by another sotto process (a running daemon?): stop it, or use its API (sotto id, sotto status)`,
    };
  }
  if (err instanceof Error) {
    const text = oneLine(err.message);
    return { exitCode: EXIT.FAILURE, message: text === '' ? err.name : text };
  }
  return { exitCode: EXIT.FAILURE, message: oneLine(String(err)) };
}

/** The full report for `--debug`: the stack and every cause, one block each. */
export function debugReport(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    const text = current instanceof Error ? (current.stack ?? `${current.name}: ${current.message}`) : String(current);
    parts.push(depth === 0 ? text : `caused by: ${text}`);
    current = current instanceof Error ? current.cause : undefined;
  }
  return `${parts.join('\n')}\n`;
}
