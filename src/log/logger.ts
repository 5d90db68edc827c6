/**
 * sotto's structured logger, built on pino. One root logger per process (or per embedded node),
 * one child per component (`log.child('net')`); every line carries `component`.
 *
 * Formats:
 * - `json`: pino's JSON lines, `{"level":"info","time":"<ISO 8601>","component":"net","msg":"…",…}`,
 *   for log shippers, Docker and devnets.
 * - `pretty`: one human line per record, `HH:MM:SS.mmm LEVEL component message k=v …` (local time),
 *   for a terminal. Hand-written on purpose (no pino-pretty dependency); control characters and
 *   bidi overrides are escaped so a logged value cannot forge or hide a line.
 *
 * Levels: `error` < `warn` < `info` < `debug`, plus `silent` (writes nothing).
 *
 * Calls follow the `NetLogger` signature `(message, ...args)`: `%s %d %i %f %j %o %O %p %a` in the
 * message take the next argument (`%%` is a literal `%`); remaining plain-object arguments become
 * structured fields, a remaining `Error` becomes `err: { type, message, code? }`, anything else is
 * appended to the message. Field names `level`, `time`, `component` and `msg` are reserved: an
 * argument field with one of these names is logged as `_level`, `_time`, ….
 *
 * WHAT NEVER GOES INTO A LOG: key material of any kind (identity, peer, prekey, ratchet, message
 * keys; passphrases; API tokens), message plaintext and message bodies, decrypted or not, and
 * whole records or envelopes. Log ids, peer ids, addresses, counts, sizes, durations, error names.
 * This rule is on the caller. As a last line of defence the logger redacts fields with common
 * secret names (`REDACT_PATHS`, censor `[redacted]`) at the top level and one level down; that
 * catches a careless `log.debug('got %s', 'x', { body })`, not a secret interpolated into the
 * message text.
 */
import pino from 'pino';
import type { NetLogger } from '../net/logger.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug' | 'silent';
export type LogFormat = 'json' | 'pretty';

/** Every accepted level, quietest last. */
export const LOG_LEVELS: readonly LogLevel[] = Object.freeze(['error', 'warn', 'info', 'debug', 'silent']);
export const LOG_FORMATS: readonly LogFormat[] = Object.freeze(['json', 'pretty']);

/** The component name of the root logger's own lines unless `createLogger` is given another. */
export const ROOT_COMPONENT = 'sotto';

/**
 * A component name is a short identifier (`net`, `api`, `delivery.outbox`): long names make every
 * pretty line wrap, and a name built from untrusted input would be a way to inject text into logs.
 */
export const MAX_COMPONENT_NAME_LENGTH = 64;
const COMPONENT_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.:/-]*$/;

/** Field names whose values are replaced by `[redacted]` wherever they appear (top level and one level down). */
export const SECRET_FIELD_NAMES: readonly string[] = Object.freeze([
  'privateKey',
  'secret',
  'token',
  'passphrase',
  'password',
  'body',
  'text',
  'plaintext',
]);
/** pino `redact` paths derived from `SECRET_FIELD_NAMES`. */
export const REDACT_PATHS: readonly string[] = Object.freeze(SECRET_FIELD_NAMES.flatMap((name) => [name, `*.${name}`]));
export const REDACT_CENSOR = '[redacted]';

/** Where lines go: anything with a `write(line)`; pino hands it one complete line (with `\n`) per call. */
export interface LogDestination {
  write(line: string): void;
  flush?(): void;
}

export interface LoggerOptions {
  readonly level: LogLevel;
  readonly format: LogFormat;
  /** Default: standard output, written synchronously so nothing is lost on `process.exit`. */
  readonly destination?: LogDestination;
  /** Component of the root logger's own lines (default `sotto`). */
  readonly component?: string;
  /** Fields added to every line, e.g. `{ node: 'n3' }` in a devnet. Keep them short and non-secret. */
  readonly bindings?: Readonly<Record<string, string | number | boolean>>;
}

export interface SottoLogger extends NetLogger {
  /** The `component` on this logger's lines. */
  readonly component: string;
  readonly level: LogLevel;
  /**
   * A logger for a sub-component. From the root, `child('net')` logs as `net`; from a child, names
   * nest with a dot: `child('net').child('dht')` logs as `net.dht`.
   */
  child(component: string): SottoLogger;
  /** Whether a call at `level` would write anything (skip building expensive arguments when not). */
  isLevelEnabled(level: Exclude<LogLevel, 'silent'>): boolean;
  /** Flushes the destination if it buffers. */
  flush(): void;
}

const RESERVED_FIELDS = new Set(['level', 'time', 'component', 'msg']);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function checkComponentName(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_COMPONENT_NAME_LENGTH) {
    throw new RangeError(`log component name must be 1..${MAX_COMPONENT_NAME_LENGTH} characters`);
  }
  if (!COMPONENT_NAME_RE.test(name)) {
    throw new RangeError(`log component name ${JSON.stringify(name)} must match ${COMPONENT_NAME_RE}`);
  }
}

function safeJson(value: unknown): string {
  try {
    const json = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    return json ?? String(value);
  } catch {
    return '[unserializable]';
  }
}

function errorFields(err: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { type: err.name, message: err.message };
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') out.code = code;
  return out;
}

function stringArg(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  if (typeof value === 'object' && value !== null && !isPlainObject(value) && !Array.isArray(value)) {
    // Peer ids, multiaddrs, CIDs: their toString() is the readable form.
    return String(value);
  }
  if (typeof value === 'object' && value !== null) return safeJson(value);
  return String(value);
}

const PLACEHOLDER_RE = /%[sdifjoOpa%]/g;

/** Applies printf-style placeholders and splits the leftover arguments into text and fields. */
export function formatLogCall(
  message: string,
  args: readonly unknown[],
): { msg: string; fields: Record<string, unknown> | undefined } {
  let next = 0;
  let msg = String(message).replace(PLACEHOLDER_RE, (token) => {
    if (token === '%%') return '%';
    if (next >= args.length) return token;
    const arg = args[next++];
    switch (token) {
      case '%d':
      case '%i':
        return typeof arg === 'bigint'
          ? arg.toString()
          : String(token === '%i' ? Math.trunc(Number(arg)) : Number(arg));
      case '%f':
        return String(Number(arg));
      case '%j':
      case '%o':
      case '%O':
        return safeJson(arg);
      default:
        return stringArg(arg);
    }
  });
  let fields: Record<string, unknown> | undefined;
  for (const arg of args.slice(next)) {
    if (isPlainObject(arg)) {
      fields ??= {};
      for (const [key, value] of Object.entries(arg)) {
        fields[RESERVED_FIELDS.has(key) ? `_${key}` : key] = value;
      }
    } else if (arg instanceof Error) {
      fields ??= {};
      fields.err = errorFields(arg);
    } else {
      msg += ` ${stringArg(arg)}`;
    }
  }
  return { msg, fields };
}

// ---------------------------------------------------------------------------------------------
// pretty format

// C0/C1 controls, DEL, line/paragraph separators and bidi embedding/override/isolate characters.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const UNSAFE_CHARS_RE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function escapeUnsafe(text: string): string {
  return text.replace(UNSAFE_CHARS_RE, (ch) => {
    const short: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
    return short[ch] ?? `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

const BARE_VALUE_RE = /^[A-Za-z0-9_.:/@+,=-]+$/;

function prettyValue(value: unknown): string {
  if (typeof value === 'string') return BARE_VALUE_RE.test(value) ? value : escapeUnsafe(JSON.stringify(value));
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return escapeUnsafe(safeJson(value));
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** One pretty line (without the newline) from one pino JSON record. */
export function formatPrettyRecord(record: Record<string, unknown>): string {
  const t = typeof record.time === 'number' ? new Date(record.time) : new Date();
  const time = `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}.${pad(t.getMilliseconds(), 3)}`;
  const level = String(record.level ?? '')
    .toUpperCase()
    .padEnd(5);
  const component = prettyValue(record.component ?? ROOT_COMPONENT);
  let line = `${time} ${level} ${component} ${escapeUnsafe(String(record.msg ?? ''))}`;
  for (const [key, value] of Object.entries(record)) {
    if (RESERVED_FIELDS.has(key)) continue;
    line += ` ${escapeUnsafe(key)}=${prettyValue(value)}`;
  }
  return line;
}

function prettyDestination(out: LogDestination): LogDestination {
  return {
    write(chunk: string): void {
      for (const line of chunk.split('\n')) {
        if (line === '') continue;
        let record: unknown;
        try {
          record = JSON.parse(line);
        } catch {
          out.write(`${escapeUnsafe(line)}\n`);
          continue;
        }
        out.write(`${isPlainObject(record) ? formatPrettyRecord(record) : escapeUnsafe(line)}\n`);
      }
    },
    flush(): void {
      out.flush?.();
    },
  };
}

// ---------------------------------------------------------------------------------------------

class Logger implements SottoLogger {
  readonly component: string;
  readonly level: LogLevel;
  readonly #root: pino.Logger;
  readonly #pino: pino.Logger;
  readonly #nested: boolean;

  constructor(root: pino.Logger, component: string, level: LogLevel, nested: boolean) {
    this.#root = root;
    this.#pino = root.child({ component });
    this.component = component;
    this.level = level;
    this.#nested = nested;
  }

  child(component: string): SottoLogger {
    checkComponentName(component);
    const name = this.#nested ? `${this.component}.${component}` : component;
    if (name.length > MAX_COMPONENT_NAME_LENGTH) {
      throw new RangeError(`log component name must be 1..${MAX_COMPONENT_NAME_LENGTH} characters`);
    }
    return new Logger(this.#root, name, this.level, true);
  }

  isLevelEnabled(level: Exclude<LogLevel, 'silent'>): boolean {
    return this.#pino.isLevelEnabled(level);
  }

  flush(): void {
    this.#root.flush();
  }

  debug(message: string, ...args: unknown[]): void {
    this.#write('debug', message, args);
  }
  info(message: string, ...args: unknown[]): void {
    this.#write('info', message, args);
  }
  warn(message: string, ...args: unknown[]): void {
    this.#write('warn', message, args);
  }
  error(message: string, ...args: unknown[]): void {
    this.#write('error', message, args);
  }

  #write(level: Exclude<LogLevel, 'silent'>, message: string, args: unknown[]): void {
    if (!this.#pino.isLevelEnabled(level)) return;
    const { msg, fields } = formatLogCall(message, args);
    if (fields === undefined) this.#pino[level](msg);
    else this.#pino[level](fields, msg);
  }
}

/** Builds the root logger. Throws `RangeError` on an unknown level or format or a bad component name. */
export function createLogger(options: LoggerOptions): SottoLogger {
  const { level, format } = options;
  if (!LOG_LEVELS.includes(level)) throw new RangeError(`unknown log level ${JSON.stringify(level)}`);
  if (!LOG_FORMATS.includes(format)) throw new RangeError(`unknown log format ${JSON.stringify(format)}`);
  const component = options.component ?? ROOT_COMPONENT;
  checkComponentName(component);
  const bindings = options.bindings ?? {};
  for (const key of Object.keys(bindings)) {
    if (RESERVED_FIELDS.has(key)) throw new RangeError(`log binding "${key}" is a reserved field name`);
  }

  const out: LogDestination = options.destination ?? pino.destination({ fd: 1, sync: true });
  const root = pino(
    {
      level,
      base: { ...bindings },
      // Pretty output formats the epoch itself (local time); JSON gets an unambiguous ISO 8601 UTC time.
      timestamp: format === 'json' ? pino.stdTimeFunctions.isoTime : pino.stdTimeFunctions.epochTime,
      formatters: { level: (label) => ({ level: label }) },
      // `err` is already a small plain object (formatLogCall); pino's default serializer would add a stack.
      serializers: { err: (value: unknown) => value },
      redact: { paths: [...REDACT_PATHS], censor: REDACT_CENSOR },
    },
    format === 'pretty' ? prettyDestination(out) : out,
  );
  return new Logger(root, component, level, false);
}

/** A logger that writes nothing (for tests and for embedders that bring no logger). */
export function silentLogger(): SottoLogger {
  return createLogger({ level: 'silent', format: 'json', destination: { write: () => {} } });
}
