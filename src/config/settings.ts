/**
 * The daemon settings as data, and the data dir rule: defaults and limits, the table of settings
 * with their environment variables and flags, and `resolveDataDir`. Nothing here loads the network
 * code, so the command line can use it for every command (src/config/config.ts validates a whole
 * configuration and needs the multiaddr checks of src/net/config.ts).
 */
import { isAbsolute, join, resolve } from 'node:path';
import type { LogFormat, LogLevel } from '../log/logger.js';
import type { NetConfig } from '../net/config.js';
import { ConfigError, type ConfigProblem, type ConfigSource } from './errors.js';

// ---------------------------------------------------------------------------------------------
// Defaults and limits

/** The config file's name inside the data dir. */
export const CONFIG_FILE_NAME = 'config.json';
/** The data dir's name under `$XDG_DATA_HOME` or `~/.local/share`. */
export const DATA_DIR_NAME = 'sotto';
/** Loopback: the API is reachable from this machine only (see "loopback-only" above). */
export const DEFAULT_API_HOST = '127.0.0.1';
/**
 * Unprivileged and clear of the ports a node usually sits next to (libp2p's customary 4001,
 * Prometheus 9090); tests and devnets use port 0 (ephemeral) instead.
 */
export const DEFAULT_API_PORT = 7373;
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';
/** `pretty` on a terminal, `json` everywhere else (pipes, files, Docker, systemd). */
export const DEFAULT_LOG_FORMAT_TTY: LogFormat = 'pretty';
export const DEFAULT_LOG_FORMAT_NO_TTY: LogFormat = 'json';

/** Lowest and highest TCP port; 0 asks the OS for an ephemeral one. */
export const MIN_API_PORT = 0;
export const MAX_API_PORT = 65_535;
/**
 * A hand-written config is a few KiB; anything over 1 MiB is a wrong file (a log, a database), and
 * refusing it early keeps a mistake from costing memory and a confusing JSON error.
 */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;
/**
 * Largest `metrics.tokenFile` read at start: a bearer token is a line of at most a few hundred
 * characters, so anything bigger is the wrong file (a key, a log) and is refused instead of read.
 */
export const MAX_METRICS_TOKEN_FILE_BYTES = 4096;
/**
 * Shortest metrics token accepted: a bearer token guards the listener only if it cannot be guessed,
 * so fewer than 16 characters (e.g. a word, a PIN) is a config error (`openssl rand -hex 32` gives 64).
 */
export const MIN_METRICS_TOKEN_CHARS = 16;
/** Linux `PATH_MAX`: a longer data dir cannot be opened anyway. */
export const MAX_PATH_LENGTH = 4096;
/** Error messages quote at most this many characters of a bad value, so a pasted blob stays one readable line. */
export const MAX_SHOWN_VALUE_CHARS = 80;

// Mailboxes. The node's own defaults and limits (src/node/mailbox.ts, src/node/node.ts,
// src/directory/record.ts, src/protocols/message/constants.ts), restated here so that the config
// does not load the node; test/config checks that the two agree.

export const MAILBOX_POLICIES = Object.freeze(['allow-list', 'open'] as const);
export type MailboxPolicy = (typeof MAILBOX_POLICIES)[number];
/**
 * `contacts.requests`: what a first message from an identity that is neither a contact nor in a
 * conversation does — `ask`: held as a contact request until the user accepts, rejects or blocks it;
 * `accept`: delivered at once. The node's CONTACT_REQUEST_POLICIES, restated (test/config checks).
 */
export const CONTACT_REQUEST_POLICIES = Object.freeze(['ask', 'accept'] as const);
export type ContactRequestPolicy = (typeof CONTACT_REQUEST_POLICIES)[number];
/**
 * `ask`: a stranger's message is not shown, answered with a receipt or mixed into the conversations
 * until the user says so; that is what people who choose a private messenger expect.
 */
export const DEFAULT_CONTACT_REQUESTS: ContactRequestPolicy = 'ask';
/** One day in milliseconds: `mailbox.ttlDays` and `failAfterDays` are whole days. */
export const DAY_MS = 24 * 60 * 60 * 1000;
/** Longest `mailbox.ttlDays` and `failAfterDays`: ten years (anything longer is a typo). */
export const MAX_DAYS = 3650;
/** Most envelopes per identity a mailbox can count (the store keeps a u32). */
export const MAX_MAILBOX_ENVELOPES_PER_IDENTITY = 0xffff_ffff;
/** Largest envelope a mailbox can accept: the message protocol's frame limit (MAX_FRAME_BYTES). */
export const MAX_MAILBOX_ENVELOPE_BYTES = 65_536 + 1024;
/** Most mailboxes an identity lists in its record (MAX_MAILBOXES). */
export const MAX_OWN_MAILBOXES = 8;
/** A message neither delivered nor stored at a mailbox within this many days is marked failed (FAIL_AFTER_MS). */
export const DEFAULT_FAIL_AFTER_DAYS = 7;

// ---------------------------------------------------------------------------------------------
// Types

export interface ApiConfig {
  /** IP literal or `localhost` to bind the local HTTP/WebSocket API to. Default `127.0.0.1`. */
  readonly host: string;
  /** TCP port, 0..65535; 0 = ephemeral. Default 7373. */
  readonly port: number;
  /** Must be `true` for a non-loopback `host`. Default `false`. */
  readonly allowRemote: boolean;
}

/**
 * The metrics listener: a second, read-only HTTP listener serving only `GET /metrics` (the same
 * registry as the API's), for a Prometheus that cannot use the API's per-node token. Off unless
 * `listen` is set.
 */
export interface MetricsConfig {
  /** `host:port` (`[v6]:port`), canonical; host an IP literal or `localhost`. `null` (default): off. */
  readonly listen: string | null;
  /** Must be `true` for a non-loopback `listen` host. Default `false`. */
  readonly allowRemote: boolean;
  /** Absolute path of a file holding the bearer token the listener requires; `null` (default): none. */
  readonly tokenFile: string | null;
}

export interface LogConfig {
  /** Default `info`. */
  readonly level: LogLevel;
  /** Default `pretty` when standard output is a terminal, else `json`. */
  readonly format: LogFormat;
}

/** This node's mailbox role: holding envelopes for other identities while their nodes are offline. */
export interface MailboxConfig {
  /** Serve as a mailbox at all. Default `false`. */
  readonly enabled: boolean;
  /** `allow-list` (default): only the identities in `allow`; `open`: anyone, within the quotas. */
  readonly policy: MailboxPolicy;
  /** Addresses (`sotto1…`, canonical form) served under `allow-list`. Default none. */
  readonly allow: readonly string[];
  /** Default 10 000. */
  readonly maxEnvelopesPerIdentity: number;
  /** Default 64 MiB. */
  readonly maxBytesPerIdentity: number;
  /** Default 1 GiB. */
  readonly maxTotalBytes: number;
  /** Days an envelope is held unfetched before it expires. Default 30. */
  readonly ttlDays: number;
  /** Largest envelope accepted, encoded bytes. Default (and most) 66 560. */
  readonly maxEnvelopeBytes: number;
}

export interface DaemonConfig {
  /** Absolute, normalised path of the data dir. */
  readonly dataDir: string;
  readonly net: NetConfig;
  readonly api: ApiConfig;
  readonly metrics: MetricsConfig;
  readonly log: LogConfig;
  readonly mailbox: MailboxConfig;
  /** Peer ids of this identity's own mailboxes (canonical form), published in its record. Default none. */
  readonly mailboxes: readonly string[];
  /** Days after which a message neither delivered nor stored at a mailbox is marked failed. Default 7. */
  readonly failAfterDays: number;
  readonly contacts: ContactsConfig;
}

/** How first messages from unknown identities are handled. */
export interface ContactsConfig {
  /** `ask` (default): held as contact requests; `accept`: delivered at once. */
  readonly requests: ContactRequestPolicy;
}

/** The mailbox role's defaults. */
export const DEFAULT_MAILBOX: MailboxConfig = Object.freeze({
  enabled: false,
  policy: 'allow-list',
  allow: Object.freeze([]) as readonly string[],
  maxEnvelopesPerIdentity: 10_000,
  maxBytesPerIdentity: 64 * 1024 * 1024,
  maxTotalBytes: 1024 * 1024 * 1024,
  ttlDays: 30,
  maxEnvelopeBytes: MAX_MAILBOX_ENVELOPE_BYTES,
});

/** Already-parsed command-line options (camelCase); `undefined` means "not given". */
export interface ConfigFlags {
  readonly dataDir?: string;
  readonly listen?: readonly string[] | string;
  readonly announce?: readonly string[] | string;
  readonly bootstrap?: readonly string[] | string;
  readonly dhtMode?: string;
  readonly allowPrivateAddresses?: boolean | string;
  readonly maxConnections?: number | string;
  readonly inboundConnectionThreshold?: number | string;
  readonly maxIncomingPendingConnections?: number | string;
  readonly dialTimeoutMs?: number | string;
  readonly relayEnabled?: boolean | string;
  readonly relayMaxReservations?: number | string;
  readonly relayMaxDurationMs?: number | string;
  readonly relayMaxDataBytes?: number | string;
  readonly apiHost?: string;
  readonly apiPort?: number | string;
  readonly apiAllowRemote?: boolean | string;
  readonly metricsListen?: string;
  readonly metricsAllowRemote?: boolean | string;
  readonly metricsTokenFile?: string;
  readonly logLevel?: string;
  readonly logFormat?: string;
  readonly mailboxEnabled?: boolean | string;
  readonly mailboxPolicy?: string;
  readonly mailboxAllow?: readonly string[] | string;
  readonly mailboxMaxEnvelopesPerIdentity?: number | string;
  readonly mailboxMaxBytesPerIdentity?: number | string;
  readonly mailboxMaxTotalBytes?: number | string;
  readonly mailboxTtlDays?: number | string;
  readonly mailboxMaxEnvelopeBytes?: number | string;
  readonly mailboxes?: readonly string[] | string;
  readonly failAfterDays?: number | string;
  readonly contactRequests?: string;
}

export type Kind = 'list' | 'string' | 'boolean' | 'integer';

interface SettingSpec {
  /** Path in the config file and in `DaemonConfig`. */
  readonly field: string;
  readonly env: string;
  readonly flag: keyof ConfigFlags;
  readonly kind: Kind;
  readonly description: string;
}

/** Every setting except the data dir, in display order. */
export const SETTINGS = Object.freeze([
  { field: 'net.listen', env: 'SOTTO_LISTEN', flag: 'listen', kind: 'list', description: 'multiaddrs to listen on' },
  {
    field: 'net.announce',
    env: 'SOTTO_ANNOUNCE',
    flag: 'announce',
    kind: 'list',
    description: 'multiaddrs to announce instead of the listen addresses',
  },
  {
    field: 'net.bootstrap',
    env: 'SOTTO_BOOTSTRAP',
    flag: 'bootstrap',
    kind: 'list',
    description: 'peers to dial on start (…/p2p/<peerId>)',
  },
  { field: 'net.dhtMode', env: 'SOTTO_DHT_MODE', flag: 'dhtMode', kind: 'string', description: 'server or client' },
  {
    field: 'net.allowPrivateAddresses',
    env: 'SOTTO_ALLOW_PRIVATE_ADDRESSES',
    flag: 'allowPrivateAddresses',
    kind: 'boolean',
    description: 'keep and dial private/loopback addresses (devnets)',
  },
  {
    field: 'net.limits.maxConnections',
    env: 'SOTTO_MAX_CONNECTIONS',
    flag: 'maxConnections',
    kind: 'integer',
    description: 'connections above this are pruned',
  },
  {
    field: 'net.limits.inboundConnectionThreshold',
    env: 'SOTTO_INBOUND_CONNECTION_THRESHOLD',
    flag: 'inboundConnectionThreshold',
    kind: 'integer',
    description: 'new inbound connections per second per remote host',
  },
  {
    field: 'net.limits.maxIncomingPendingConnections',
    env: 'SOTTO_MAX_INCOMING_PENDING_CONNECTIONS',
    flag: 'maxIncomingPendingConnections',
    kind: 'integer',
    description: 'inbound connections still upgrading',
  },
  {
    field: 'net.limits.dialTimeoutMs',
    env: 'SOTTO_DIAL_TIMEOUT_MS',
    flag: 'dialTimeoutMs',
    kind: 'integer',
    description: 'per-dial timeout in milliseconds',
  },
  {
    field: 'net.relay.enabled',
    env: 'SOTTO_RELAY_ENABLED',
    flag: 'relayEnabled',
    kind: 'boolean',
    description: 'serve as a circuit relay for peers that cannot be dialled directly',
  },
  {
    field: 'net.relay.maxReservations',
    env: 'SOTTO_RELAY_MAX_RESERVATIONS',
    flag: 'relayMaxReservations',
    kind: 'integer',
    description: 'most relay reservations held at once',
  },
  {
    field: 'net.relay.maxDurationMs',
    env: 'SOTTO_RELAY_MAX_DURATION_MS',
    flag: 'relayMaxDurationMs',
    kind: 'integer',
    description: 'a relayed connection is reset after this many milliseconds',
  },
  {
    field: 'net.relay.maxDataBytes',
    env: 'SOTTO_RELAY_MAX_DATA_BYTES',
    flag: 'relayMaxDataBytes',
    kind: 'integer',
    description: 'a relayed connection is reset after carrying this many bytes',
  },
  {
    field: 'api.host',
    env: 'SOTTO_API_HOST',
    flag: 'apiHost',
    kind: 'string',
    description: 'local API bind address (IP literal or localhost)',
  },
  {
    field: 'api.port',
    env: 'SOTTO_API_PORT',
    flag: 'apiPort',
    kind: 'integer',
    description: 'local API port (0 = any)',
  },
  {
    field: 'api.allowRemote',
    env: 'SOTTO_API_ALLOW_REMOTE',
    flag: 'apiAllowRemote',
    kind: 'boolean',
    description: 'allow a non-loopback API host',
  },
  {
    field: 'metrics.listen',
    env: 'SOTTO_METRICS_LISTEN',
    flag: 'metricsListen',
    kind: 'string',
    description: 'serve GET /metrics (only) on this host:port; off when unset',
  },
  {
    field: 'metrics.allowRemote',
    env: 'SOTTO_METRICS_ALLOW_REMOTE',
    flag: 'metricsAllowRemote',
    kind: 'boolean',
    description: 'allow a non-loopback metrics listener host',
  },
  {
    field: 'metrics.tokenFile',
    env: 'SOTTO_METRICS_TOKEN_FILE',
    flag: 'metricsTokenFile',
    kind: 'string',
    description: 'file holding the bearer token the metrics listener requires (absolute path)',
  },
  {
    field: 'log.level',
    env: 'SOTTO_LOG_LEVEL',
    flag: 'logLevel',
    kind: 'string',
    description: 'error, warn, info, debug or silent',
  },
  { field: 'log.format', env: 'SOTTO_LOG_FORMAT', flag: 'logFormat', kind: 'string', description: 'json or pretty' },
  {
    field: 'mailbox.enabled',
    env: 'SOTTO_MAILBOX_ENABLED',
    flag: 'mailboxEnabled',
    kind: 'boolean',
    description: 'serve as a mailbox: hold envelopes for other identities while they are offline',
  },
  {
    field: 'mailbox.policy',
    env: 'SOTTO_MAILBOX_POLICY',
    flag: 'mailboxPolicy',
    kind: 'string',
    description: 'whom the mailbox serves: allow-list or open',
  },
  {
    field: 'mailbox.allow',
    env: 'SOTTO_MAILBOX_ALLOW',
    flag: 'mailboxAllow',
    kind: 'list',
    description: 'addresses (sotto1…) the mailbox serves under allow-list',
  },
  {
    field: 'mailbox.maxEnvelopesPerIdentity',
    env: 'SOTTO_MAILBOX_MAX_ENVELOPES_PER_IDENTITY',
    flag: 'mailboxMaxEnvelopesPerIdentity',
    kind: 'integer',
    description: 'most envelopes held per identity',
  },
  {
    field: 'mailbox.maxBytesPerIdentity',
    env: 'SOTTO_MAILBOX_MAX_BYTES_PER_IDENTITY',
    flag: 'mailboxMaxBytesPerIdentity',
    kind: 'integer',
    description: 'most envelope bytes held per identity',
  },
  {
    field: 'mailbox.maxTotalBytes',
    env: 'SOTTO_MAILBOX_MAX_TOTAL_BYTES',
    flag: 'mailboxMaxTotalBytes',
    kind: 'integer',
    description: 'most envelope bytes held in all',
  },
  {
    field: 'mailbox.ttlDays',
    env: 'SOTTO_MAILBOX_TTL_DAYS',
    flag: 'mailboxTtlDays',
    kind: 'integer',
    description: 'days an envelope is held unfetched before it expires',
  },
  {
    field: 'mailbox.maxEnvelopeBytes',
    env: 'SOTTO_MAILBOX_MAX_ENVELOPE_BYTES',
    flag: 'mailboxMaxEnvelopeBytes',
    kind: 'integer',
    description: 'largest envelope accepted, in bytes',
  },
  {
    field: 'mailboxes',
    env: 'SOTTO_MAILBOXES',
    flag: 'mailboxes',
    kind: 'list',
    description: "peer ids of this identity's own mailboxes (at most 8)",
  },
  {
    field: 'failAfterDays',
    env: 'SOTTO_FAIL_AFTER_DAYS',
    flag: 'failAfterDays',
    kind: 'integer',
    description: 'days after which an undeliverable message is marked failed',
  },
  {
    field: 'contacts.requests',
    env: 'SOTTO_CONTACT_REQUESTS',
    flag: 'contactRequests',
    kind: 'string',
    description: 'first messages from unknown identities: ask (hold as contact requests) or accept',
  },
] as const satisfies readonly SettingSpec[]);

export type SettingField = (typeof SETTINGS)[number]['field'];
/** Every field whose source `ResolvedConfig.sources` reports. */
export type ConfigField = 'dataDir' | SettingField;
/** Which source won, per field (`dataDir`: `default`, `env` or `flag`, never `file`). */
export type ConfigSources = Readonly<Record<ConfigField, ConfigSource>>;

/** The data-dir variable. */
export const ENV_HOME = 'SOTTO_HOME';

export interface EnvVarSpec {
  readonly name: string;
  readonly field: ConfigField;
  readonly description: string;
}

/** Every environment variable this module reads (the table above). */
export const ENV_VARS: readonly EnvVarSpec[] = Object.freeze([
  Object.freeze({ name: ENV_HOME, field: 'dataDir' as const, description: 'the data dir' }),
  ...SETTINGS.map((s) => Object.freeze({ name: s.env, field: s.field, description: s.description })),
]);

/**
 * `SOTTO_*` variables read elsewhere, which config validation accepts without reading them:
 * the store passphrase (or a file holding it), the CLI's daemon URL and API token, and debug
 * switches. Extend it by passing `allowEnv` to `resolveConfig`/`loadConfig` (or add the name here
 * when the variable belongs to sotto itself).
 */
export const ENV_ALLOW_LIST: readonly string[] = Object.freeze([
  'SOTTO_PASSPHRASE',
  'SOTTO_PASSPHRASE_FILE',
  'SOTTO_API_URL',
  'SOTTO_API_TOKEN',
  'SOTTO_DEBUG',
]);

export const ENV_PREFIX = 'SOTTO_';

/** `apiPort` → `--api-port`. */
export function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

export const FLAG_KEYS: readonly string[] = Object.freeze(['dataDir', ...SETTINGS.map((s) => s.flag)]);

export type ConfigEnv = Readonly<Record<string, string | undefined>>;

export interface ResolveConfigInput {
  /** Parsed CLI options. */
  readonly flags?: ConfigFlags;
  /** The environment (e.g. `process.env`); default none. */
  readonly env?: ConfigEnv;
  /** The parsed `config.json`; `undefined` when there is no file. */
  readonly file?: unknown;
  /** Whether standard output is a terminal (picks the default log format); default false. */
  readonly isTty?: boolean;
  /** The user's home directory, for the default data dir and `~/`; e.g. `os.homedir()`. */
  readonly homedir?: string;
  /** Base for a relative `--data-dir`/`SOTTO_HOME`; without it a relative path is an error. */
  readonly cwd?: string;
  /** Extra `SOTTO_*` names to accept besides `ENV_ALLOW_LIST`. */
  readonly allowEnv?: readonly string[];
}

export interface ResolvedConfig {
  readonly config: DaemonConfig;
  /** Which source won, per field. */
  readonly sources: ConfigSources;
  /** The config file's path and whether there was one. */
  readonly file: { readonly path: string; readonly present: boolean };
}

// ---------------------------------------------------------------------------------------------
// Helpers

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A bad value, quoted and shortened for a one-line message. */
export function showValue(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > MAX_SHOWN_VALUE_CHARS ? `${text.slice(0, MAX_SHOWN_VALUE_CHARS)}…` : text;
}

/** Where a value came from, for error messages. */
export interface Origin {
  readonly source: Exclude<ConfigSource, 'default'> | 'default';
  /** The field's name in that source: `api.port`, `SOTTO_API_PORT`, `--api-port`. */
  readonly name: string;
  readonly file?: string;
}

export function fail(origin: Origin, problem: ConfigProblem, detail: string, cause?: unknown): never {
  throw new ConfigError({
    source: origin.source,
    file: origin.file,
    field: origin.name,
    problem,
    detail,
    cause,
  });
}

// ---------------------------------------------------------------------------------------------
// The data dir

export function normalizePath(
  value: unknown,
  origin: Origin,
  homedir: string | undefined,
  cwd: string | undefined,
): string {
  if (typeof value !== 'string') fail(origin, 'WRONG_TYPE', `expected a path, got ${showValue(value)}`);
  if (value === '') fail(origin, 'EMPTY', 'empty path');
  if (value.includes('\0')) fail(origin, 'BAD_VALUE', 'path contains a NUL character');
  if (value.length > MAX_PATH_LENGTH) fail(origin, 'OUT_OF_RANGE', `path longer than ${MAX_PATH_LENGTH} characters`);
  let path = value;
  if (path === '~' || path.startsWith('~/')) {
    if (homedir === undefined || !isAbsolute(homedir)) {
      fail(origin, 'NOT_ABSOLUTE', `cannot expand "~": no home directory, got ${showValue(value)}`);
    }
    path = join(homedir, path.slice(1));
  }
  if (isAbsolute(path)) return resolve(path);
  if (cwd === undefined || !isAbsolute(cwd))
    fail(origin, 'NOT_ABSOLUTE', `expected an absolute path, got ${showValue(value)}`);
  return resolve(cwd, path);
}

export interface DataDirInput {
  readonly flags?: ConfigFlags;
  readonly env?: ConfigEnv;
  readonly homedir?: string;
  readonly cwd?: string;
}

/**
 * The data dir and where it came from: `--data-dir` > `SOTTO_HOME` > `$XDG_DATA_HOME/sotto` >
 * `<homedir>/.local/share/sotto`. A relative `XDG_DATA_HOME` is ignored, as the XDG spec says.
 */
export function resolveDataDir(input: DataDirInput): { dataDir: string; source: ConfigSource } {
  const { flags = {}, env = {}, homedir, cwd } = input;
  if (flags.dataDir !== undefined) {
    return {
      dataDir: normalizePath(flags.dataDir, { source: 'flag', name: flagName('dataDir') }, homedir, cwd),
      source: 'flag',
    };
  }
  const home = env[ENV_HOME];
  if (home !== undefined) {
    return { dataDir: normalizePath(home, { source: 'env', name: ENV_HOME }, homedir, cwd), source: 'env' };
  }
  const xdg = env.XDG_DATA_HOME;
  if (xdg !== undefined && xdg !== '' && isAbsolute(xdg)) {
    return { dataDir: resolve(xdg, DATA_DIR_NAME), source: 'default' };
  }
  if (homedir === undefined || homedir === '' || !isAbsolute(homedir)) {
    fail(
      { source: 'default', name: 'dataDir' },
      'NO_DATA_DIR',
      `no home directory to put the data dir in: set ${ENV_HOME} or pass --data-dir`,
    );
  }
  return { dataDir: resolve(homedir, '.local', 'share', DATA_DIR_NAME), source: 'default' };
}
