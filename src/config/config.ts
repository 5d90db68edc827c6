/**
 * The daemon's configuration: where its data lives, the network (`parseNetConfig`'s `NetConfig`),
 * the local API and logging. Validated once at start; every error names its source, the field and
 * the problem (`ConfigError`); unknown keys, variables and flags are errors, not silently ignored.
 *
 * ## Sources and precedence (lowest first)
 *
 * 1. built-in defaults
 * 2. the config file `<dataDir>/config.json`
 * 3. environment variables `SOTTO_*`
 * 4. command-line flags
 *
 * Settings merge field by field: `SOTTO_API_PORT` overrides only `api.port`, `SOTTO_MAX_CONNECTIONS`
 * only `net.limits.maxConnections`; a list (listen, announce, bootstrap) is replaced as a whole.
 * Every source is validated on its own, so a bad value is reported even when a higher source
 * overrides it; the merged result is then validated once more (cross-field rules).
 *
 * The data dir cannot come from the file inside it: `--data-dir` > `SOTTO_HOME` >
 * `$XDG_DATA_HOME/sotto` (when `XDG_DATA_HOME` is set to an absolute path) > `~/.local/share/sotto`.
 * A relative `--data-dir`/`SOTTO_HOME` is resolved against the working directory; a leading `~/`
 * against the home directory.
 *
 * ## The config file
 *
 * `<dataDir>/config.json`, optional (missing = all defaults; empty = `{}`). Every key is optional:
 *
 * ```json
 * {
 *   "net": {
 *     "listen": ["/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/tcp/4002/ws"],
 *     "announce": ["/dns4/node.example.org/tcp/4001"],
 *     "bootstrap": ["/dns4/friend.example.org/tcp/4001/p2p/12D3KooW…"],
 *     "dhtMode": "server",
 *     "allowPrivateAddresses": false,
 *     "limits": { "maxConnections": 256, "inboundConnectionThreshold": 100,
 *                 "maxIncomingPendingConnections": 64, "dialTimeoutMs": 10000 },
 *     "relay": { "enabled": false, "maxReservations": 15, "maxDurationMs": 120000,
 *                "maxDataBytes": 1048576 }
 *   },
 *   "api": { "host": "127.0.0.1", "port": 7373, "allowRemote": false },
 *   "metrics": { "listen": "127.0.0.1:9464", "allowRemote": false, "tokenFile": "/run/secrets/metrics" },
 *   "log": { "level": "info", "format": "json" },
 *   "mailbox": { "enabled": true, "policy": "allow-list", "allow": ["sotto1…"],
 *                "maxEnvelopesPerIdentity": 10000, "maxBytesPerIdentity": 67108864,
 *                "maxTotalBytes": 1073741824, "ttlDays": 30, "maxEnvelopeBytes": 66560 },
 *   "mailboxes": ["12D3KooW…"],
 *   "failAfterDays": 7,
 *   "contacts": { "requests": "ask" }
 * }
 * ```
 *
 * ## Mailboxes
 *
 * `mailbox` is this node's mailbox role (off unless `enabled`): it holds envelopes for the
 * identities its `policy` accepts (`allow-list`: the addresses in `allow`, each of which must decode;
 * `open`: anyone) within the quotas, for at most `ttlDays` whole days. `mailboxes` are the peer ids
 * of this identity's own mailboxes (at most 8, distinct), published in its record; `failAfterDays`
 * is how many whole days an undeliverable message waits before it is marked failed. The daemon
 * writes `mailboxes` back into this file when the list is changed through the API
 * (`src/config/write.ts`), unless `SOTTO_MAILBOXES` or `--mailboxes` set it.
 *
 * ## Contact requests
 *
 * `contacts.requests` says what a first message from an identity that is neither a contact nor in
 * a conversation does: `ask` (the default) holds it as a contact request, without a receipt, until
 * the user accepts, rejects or blocks it (README "Message requests and blocking"); `accept` delivers
 * it at once, as sotto did before requests existed.
 *
 * ## The local API is loopback-only unless said otherwise
 *
 * `api.host` must be an IP literal (`127.0.0.1`, `::1`, `0.0.0.0`, …; no brackets, no host names)
 * or `localhost`. A host that is not loopback (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104, `localhost`)
 * is refused unless `api.allowRemote` is `true` (file), `SOTTO_API_ALLOW_REMOTE=true` or
 * `--api-allow-remote`: the API controls the node, and listening on a public interface must be a
 * decision, never a typo. Port 0 means an ephemeral port chosen by the OS.
 *
 * ## The metrics listener
 *
 * Off unless `metrics.listen` is set: `host:port` (IPv6 in brackets, `[::1]:9464`; the host an IP
 * literal or `localhost`; port 0 = ephemeral). It serves only `GET /metrics` (the API's registry,
 * read-only; src/api/metrics-listener.ts), for a Prometheus that cannot hold each node's API
 * token. The loopback rule is the API's: a non-loopback host needs `metrics.allowRemote: true`
 * (`SOTTO_METRICS_ALLOW_REMOTE=true`, `--metrics-allow-remote`). `metrics.tokenFile`, an absolute
 * path, names a file whose content (surrounding whitespace removed) the listener then requires as
 * `Authorization: Bearer <token>`; the daemon reads it at start (`readMetricsToken` in load.ts).
 *
 * ## Environment variables
 *
 * | variable | setting | value |
 * |---|---|---|
 * | `SOTTO_HOME` | data dir | path (absolute, `~/…`, or relative to the working directory) |
 * | `SOTTO_LISTEN` | `net.listen` | comma-separated multiaddrs; empty = none |
 * | `SOTTO_ANNOUNCE` | `net.announce` | comma-separated multiaddrs; empty = none |
 * | `SOTTO_BOOTSTRAP` | `net.bootstrap` | comma-separated multiaddrs ending in `/p2p/<peerId>`; empty = none |
 * | `SOTTO_DHT_MODE` | `net.dhtMode` | `server` or `client` |
 * | `SOTTO_ALLOW_PRIVATE_ADDRESSES` | `net.allowPrivateAddresses` | `true`/`false`/`1`/`0` |
 * | `SOTTO_MAX_CONNECTIONS` | `net.limits.maxConnections` | integer |
 * | `SOTTO_INBOUND_CONNECTION_THRESHOLD` | `net.limits.inboundConnectionThreshold` | integer |
 * | `SOTTO_MAX_INCOMING_PENDING_CONNECTIONS` | `net.limits.maxIncomingPendingConnections` | integer |
 * | `SOTTO_DIAL_TIMEOUT_MS` | `net.limits.dialTimeoutMs` | integer (ms) |
 * | `SOTTO_RELAY_ENABLED` | `net.relay.enabled` | `true`/`false`/`1`/`0` |
 * | `SOTTO_RELAY_MAX_RESERVATIONS` | `net.relay.maxReservations` | integer |
 * | `SOTTO_RELAY_MAX_DURATION_MS` | `net.relay.maxDurationMs` | integer (ms) |
 * | `SOTTO_RELAY_MAX_DATA_BYTES` | `net.relay.maxDataBytes` | integer (bytes) |
 * | `SOTTO_API_HOST` | `api.host` | IP literal or `localhost` |
 * | `SOTTO_API_PORT` | `api.port` | integer 0..65535 |
 * | `SOTTO_API_ALLOW_REMOTE` | `api.allowRemote` | `true`/`false`/`1`/`0` |
 * | `SOTTO_METRICS_LISTEN` | `metrics.listen` | `host:port` |
 * | `SOTTO_METRICS_ALLOW_REMOTE` | `metrics.allowRemote` | `true`/`false`/`1`/`0` |
 * | `SOTTO_METRICS_TOKEN_FILE` | `metrics.tokenFile` | absolute path |
 * | `SOTTO_LOG_LEVEL` | `log.level` | `error`, `warn`, `info`, `debug`, `silent` |
 * | `SOTTO_LOG_FORMAT` | `log.format` | `json` or `pretty` |
 * | `SOTTO_MAILBOX_ENABLED` | `mailbox.enabled` | `true`/`false`/`1`/`0` |
 * | `SOTTO_MAILBOX_POLICY` | `mailbox.policy` | `allow-list` or `open` |
 * | `SOTTO_MAILBOX_ALLOW` | `mailbox.allow` | comma-separated addresses; empty = none |
 * | `SOTTO_MAILBOX_MAX_ENVELOPES_PER_IDENTITY` | `mailbox.maxEnvelopesPerIdentity` | integer |
 * | `SOTTO_MAILBOX_MAX_BYTES_PER_IDENTITY` | `mailbox.maxBytesPerIdentity` | integer (bytes) |
 * | `SOTTO_MAILBOX_MAX_TOTAL_BYTES` | `mailbox.maxTotalBytes` | integer (bytes) |
 * | `SOTTO_MAILBOX_TTL_DAYS` | `mailbox.ttlDays` | integer (days) |
 * | `SOTTO_MAILBOX_MAX_ENVELOPE_BYTES` | `mailbox.maxEnvelopeBytes` | integer (bytes) |
 * | `SOTTO_MAILBOXES` | `mailboxes` | comma-separated peer ids; empty = none |
 * | `SOTTO_FAIL_AFTER_DAYS` | `failAfterDays` | integer (days) |
 * | `SOTTO_CONTACT_REQUESTS` | `contacts.requests` | `ask` or `accept` |
 *
 * Any other `SOTTO_*` variable is an error (a typo must not be silently ignored), except those in
 * `ENV_ALLOW_LIST` (read by other parts of sotto: `SOTTO_PASSPHRASE`, `SOTTO_PASSPHRASE_FILE`,
 * `SOTTO_API_URL`, `SOTTO_API_TOKEN`, `SOTTO_DEBUG`) and any extra names the caller passes as
 * `allowEnv`. Scalar variables must not be empty (unset them instead); list variables may be.
 * Booleans are case-insensitive. The values of unknown variables never appear in error messages.
 *
 * ## Flags
 *
 * `ConfigFlags`: already-parsed CLI options with camelCase keys; each maps to `--kebab-case` in
 * messages (`apiPort` → `--api-port`). Lists take an array (each element may itself be
 * comma-separated) or one comma-separated string; numbers and booleans also take their string form.
 */
import '../net/shim.js';
import { BlockList, isIP } from 'node:net';
import { isAbsolute, join, resolve } from 'node:path';
import { peerIdFromString } from '@libp2p/peer-id';
import { decodeAddress, encodeAddress } from '../identity/address.js';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from '../log/logger.js';
import { type NetConfig, parseNetConfig } from '../net/config.js';
import { NetConfigError } from '../net/errors.js';
import { ConfigError, type ConfigSource } from './errors.js';
import {
  type ApiConfig,
  CONFIG_FILE_NAME,
  CONTACT_REQUEST_POLICIES,
  type ConfigEnv,
  type ConfigField,
  type ConfigFlags,
  type ConfigSources,
  type ContactRequestPolicy,
  DAY_MS,
  type DaemonConfig,
  DEFAULT_API_HOST,
  DEFAULT_API_PORT,
  DEFAULT_CONTACT_REQUESTS,
  DEFAULT_FAIL_AFTER_DAYS,
  DEFAULT_LOG_FORMAT_NO_TTY,
  DEFAULT_LOG_FORMAT_TTY,
  DEFAULT_LOG_LEVEL,
  DEFAULT_MAILBOX,
  ENV_ALLOW_LIST,
  ENV_HOME,
  ENV_PREFIX,
  ENV_VARS,
  FLAG_KEYS,
  fail,
  flagName,
  isPlainObject,
  type Kind,
  type LogConfig,
  MAILBOX_POLICIES,
  MAX_API_PORT,
  MAX_DAYS,
  MAX_MAILBOX_ENVELOPE_BYTES,
  MAX_MAILBOX_ENVELOPES_PER_IDENTITY,
  MAX_OWN_MAILBOXES,
  MAX_PATH_LENGTH,
  type MailboxConfig,
  type MailboxPolicy,
  type MetricsConfig,
  MIN_API_PORT,
  type Origin,
  type ResolveConfigInput,
  type ResolvedConfig,
  resolveDataDir,
  SETTINGS,
  type SettingField,
  showValue,
} from './settings.js';

export * from './settings.js';

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

/** True for `localhost`, 127.0.0.0/8, `::1` and IPv4-mapped loopback. */
export function isLoopbackHost(host: string): boolean {
  if (host.toLowerCase() === 'localhost') return true;
  const family = isIP(host);
  if (family === 4) return LOOPBACK.check(host, 'ipv4');
  if (family === 6) return LOOPBACK.check(host, 'ipv6');
  return false;
}

const PORT_RE = /^\d{1,5}$/;

/**
 * `host:port` → its parts, or a reason it is not one. The host is an IP literal (IPv6 in brackets)
 * or `localhost`, lower-cased; the port 0..65535.
 */
function parseHostPort(text: string): { host: string; port: number } | string {
  const colon = text.lastIndexOf(':');
  if (colon < 0) return 'expected host:port (e.g. 127.0.0.1:9464)';
  let host = text.slice(0, colon);
  const portText = text.slice(colon + 1);
  if (host.startsWith('[') && host.endsWith(']')) {
    host = host.slice(1, -1);
    if (isIP(host) !== 6) return 'expected an IPv6 address inside the brackets';
  } else if (host.includes(':')) {
    return 'an IPv6 host goes in brackets ([::1]:9464)';
  } else if (host.toLowerCase() !== 'localhost' && isIP(host) !== 4) {
    return 'expected an IP address or "localhost" as the host';
  }
  if (!PORT_RE.test(portText) || Number(portText) > MAX_API_PORT)
    return `expected a port ${MIN_API_PORT}..${MAX_API_PORT}`;
  return { host: host.toLowerCase(), port: Number(portText) };
}

/** The host and port of a validated `metrics.listen` (`[::1]:9464` → `{ host: '::1', port: 9464 }`). */
export function splitListen(listen: string): { host: string; port: number } {
  const parts = parseHostPort(listen);
  if (typeof parts === 'string') throw new RangeError(`not a host:port: ${listen}`);
  return parts;
}

// ---------------------------------------------------------------------------------------------
// Per-kind parsing of environment and flag values (strings, or already-typed flag values)

const BOOLEAN_RE = /^(?:true|false|1|0)$/i;
const DECIMAL_RE = /^\d+$/;

function splitList(text: string, origin: Origin): string[] {
  if (text.trim() === '') return [];
  return text.split(',').map((entry, i) => {
    const trimmed = entry.trim();
    if (trimmed === '') fail(origin, 'EMPTY', `entry ${i + 1} is empty (stray comma?)`);
    return trimmed;
  });
}

function coerceText(kind: Kind, text: string, origin: Origin, expect: string): unknown {
  if (kind !== 'list' && text === '') fail(origin, 'EMPTY', 'empty value (unset it to use the default)');
  switch (kind) {
    case 'list':
      return splitList(text, origin);
    case 'boolean':
      if (!BOOLEAN_RE.test(text)) fail(origin, 'WRONG_TYPE', `expected true, false, 1 or 0, got ${showValue(text)}`);
      return /^(?:true|1)$/i.test(text);
    case 'integer': {
      if (!DECIMAL_RE.test(text)) fail(origin, 'WRONG_TYPE', `expected ${expect}, got ${showValue(text)}`);
      const n = Number(text);
      if (!Number.isSafeInteger(n)) fail(origin, 'OUT_OF_RANGE', `expected ${expect}, got ${showValue(text)}`);
      return n;
    }
    case 'string':
      return text;
  }
}

/** What one entry of a list setting is, for messages ("a list of multiaddrs"). */
const LIST_ITEMS: Partial<Record<SettingField, [one: string, many: string]>> = {
  'mailbox.allow': ['an address', 'addresses'],
  mailboxes: ['a peer id', 'peer ids'],
};
const listItem = (field: SettingField) => LIST_ITEMS[field] ?? ['a multiaddr', 'multiaddrs'];

function coerceFlag(kind: Kind, value: unknown, origin: Origin, expect: string, field: SettingField): unknown {
  if (typeof value === 'string') return coerceText(kind, value, origin, expect);
  if (kind === 'list' && Array.isArray(value)) {
    const out: string[] = [];
    value.forEach((entry: unknown, i) => {
      if (typeof entry !== 'string') {
        fail(origin, 'WRONG_TYPE', `entry ${i + 1}: expected ${listItem(field)[0]} string, got ${showValue(entry)}`);
      }
      if (entry.trim() === '') fail(origin, 'EMPTY', `entry ${i + 1} is empty`);
      out.push(...splitList(entry, origin));
    });
    return out;
  }
  if (kind === 'boolean' && typeof value === 'boolean') return value;
  if (kind === 'integer' && typeof value === 'number') return value;
  fail(
    origin,
    'WRONG_TYPE',
    `expected ${kind === 'list' ? `a list of ${listItem(field)[1]}` : expect}, got ${showValue(value)}`,
  );
}

/** Integer settings other than the network limits (parseNetConfig checks those): their ranges. */
const INTEGER_RANGES: Partial<Record<SettingField, [min: number, max: number]>> = {
  'api.port': [MIN_API_PORT, MAX_API_PORT],
  'mailbox.maxEnvelopesPerIdentity': [1, MAX_MAILBOX_ENVELOPES_PER_IDENTITY],
  'mailbox.maxBytesPerIdentity': [1, Number.MAX_SAFE_INTEGER],
  'mailbox.maxTotalBytes': [1, Number.MAX_SAFE_INTEGER],
  'mailbox.ttlDays': [1, MAX_DAYS],
  'mailbox.maxEnvelopeBytes': [1, MAX_MAILBOX_ENVELOPE_BYTES],
  failAfterDays: [1, MAX_DAYS],
};

const EXPECT: Partial<Record<SettingField, string>> = Object.fromEntries(
  Object.entries(INTEGER_RANGES).map(([field, [min, max]]) => [
    field,
    max === Number.MAX_SAFE_INTEGER ? `a positive integer` : `an integer ${min}..${max}`,
  ]),
);

// ---------------------------------------------------------------------------------------------
// Validation of the non-network settings (the network ones go through parseNetConfig)

function validateInteger(field: SettingField, value: unknown, origin: Origin): number {
  const [min, max] = INTEGER_RANGES[field] ?? [0, Number.MAX_SAFE_INTEGER];
  const expect = EXPECT[field] ?? 'an integer';
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    fail(origin, 'WRONG_TYPE', `expected ${expect}, got ${showValue(value)}`);
  }
  if (value < min || value > max) fail(origin, 'OUT_OF_RANGE', `expected ${expect}, got ${showValue(value)}`);
  return value;
}

/**
 * Where one entry of a list is reported: in the file as `mailboxes[2]`, elsewhere as the variable
 * or flag with `entry 3: ` before the problem (as the network lists are).
 */
function entryOrigin(origin: Origin, index: number): { origin: Origin; prefix: string } {
  return origin.source === 'file'
    ? { origin: { ...origin, name: `${origin.name}[${index}]` }, prefix: '' }
    : { origin, prefix: `entry ${index + 1}: ` };
}

/** Each entry of a list setting through `parse` (which returns the canonical form or throws). */
function validateList(
  field: SettingField,
  value: unknown,
  origin: Origin,
  parse: (entry: string, at: { origin: Origin; prefix: string }) => string,
): string[] {
  const [one, many] = listItem(field);
  if (!Array.isArray(value)) fail(origin, 'WRONG_TYPE', `expected a list of ${many}, got ${showValue(value)}`);
  return value.map((entry: unknown, i) => {
    const at = entryOrigin(origin, i);
    if (typeof entry !== 'string')
      fail(at.origin, 'WRONG_TYPE', `${at.prefix}expected ${one}, got ${showValue(entry)}`);
    return parse(entry, at);
  });
}

/** A `sotto1…` address in its canonical (lower-case) form; a mistyped one is an error. */
function canonicalAddress(entry: string, at: { origin: Origin; prefix: string }): string {
  try {
    return encodeAddress(decodeAddress(entry));
  } catch (err) {
    fail(
      at.origin,
      'BAD_ADDRESS',
      `${at.prefix}not a valid address (${(err as Error).message}), got ${showValue(entry)}`,
      err,
    );
  }
}

/** A libp2p peer id in its canonical string form. */
function canonicalPeerId(entry: string, at: { origin: Origin; prefix: string }): string {
  try {
    return peerIdFromString(entry.trim()).toString();
  } catch (err) {
    fail(at.origin, 'BAD_PEER_ID', `${at.prefix}not a libp2p peer id, got ${showValue(entry)}`, err);
  }
}

function oneOf<T extends string>(values: readonly T[], value: unknown, origin: Origin): T {
  if (typeof value !== 'string' || !(values as readonly string[]).includes(value)) {
    fail(
      origin,
      typeof value === 'string' ? 'BAD_VALUE' : 'WRONG_TYPE',
      `expected one of ${values.join(', ')}, got ${showValue(value)}`,
    );
  }
  return value as T;
}

function validateSetting(field: SettingField, value: unknown, origin: Origin): unknown {
  switch (field) {
    case 'api.host': {
      if (typeof value !== 'string') fail(origin, 'WRONG_TYPE', `expected a string, got ${showValue(value)}`);
      if (value === '') fail(origin, 'EMPTY', 'empty host');
      if (value.toLowerCase() === 'localhost') return 'localhost';
      if (isIP(value) === 0) {
        fail(origin, 'BAD_VALUE', `expected an IP address (no brackets) or "localhost", got ${showValue(value)}`);
      }
      return value.toLowerCase();
    }
    case 'api.port':
    case 'mailbox.maxEnvelopesPerIdentity':
    case 'mailbox.maxBytesPerIdentity':
    case 'mailbox.maxTotalBytes':
    case 'mailbox.ttlDays':
    case 'mailbox.maxEnvelopeBytes':
    case 'failAfterDays':
      return validateInteger(field, value, origin);
    case 'metrics.listen': {
      if (typeof value !== 'string') fail(origin, 'WRONG_TYPE', `expected "host:port", got ${showValue(value)}`);
      if (value === '') fail(origin, 'EMPTY', 'empty address (leave it unset for no metrics listener)');
      const parts = parseHostPort(value);
      if (typeof parts === 'string') fail(origin, 'BAD_VALUE', `${parts}, got ${showValue(value)}`);
      return `${parts.host.includes(':') ? `[${parts.host}]` : parts.host}:${parts.port}`;
    }
    case 'metrics.tokenFile': {
      if (typeof value !== 'string') fail(origin, 'WRONG_TYPE', `expected a path, got ${showValue(value)}`);
      if (value === '') fail(origin, 'EMPTY', 'empty path');
      if (value.includes('\0')) fail(origin, 'BAD_VALUE', 'path contains a NUL character');
      if (value.length > MAX_PATH_LENGTH)
        fail(origin, 'OUT_OF_RANGE', `path longer than ${MAX_PATH_LENGTH} characters`);
      if (!isAbsolute(value)) fail(origin, 'NOT_ABSOLUTE', `expected an absolute path, got ${showValue(value)}`);
      return resolve(value);
    }
    case 'api.allowRemote':
    case 'metrics.allowRemote':
    case 'mailbox.enabled':
      if (typeof value !== 'boolean') fail(origin, 'WRONG_TYPE', `expected a boolean, got ${showValue(value)}`);
      return value;
    case 'log.level':
      return oneOf(LOG_LEVELS, value, origin);
    case 'log.format':
      return oneOf(LOG_FORMATS, value, origin);
    case 'mailbox.policy':
      return oneOf(MAILBOX_POLICIES, value, origin);
    case 'contacts.requests':
      return oneOf(CONTACT_REQUEST_POLICIES, value, origin);
    case 'mailbox.allow':
      // Canonical and without repeats: the same address twice means nothing more.
      return [...new Set(validateList(field, value, origin, canonicalAddress))];
    case 'mailboxes': {
      const peers = validateList(field, value, origin, canonicalPeerId);
      if (peers.length > MAX_OWN_MAILBOXES) {
        fail(origin, 'OUT_OF_RANGE', `at most ${MAX_OWN_MAILBOXES} mailboxes, got ${peers.length}`);
      }
      peers.forEach((peer, i) => {
        const first = peers.indexOf(peer);
        if (first !== i) {
          const at = entryOrigin(origin, i);
          fail(at.origin, 'DUPLICATE', `${at.prefix}the same peer as entry ${first + 1}, got ${showValue(peer)}`);
        }
      });
      return peers;
    }
    default:
      return value;
  }
}

// ---------------------------------------------------------------------------------------------
// Layers: one per source, each a map from setting to (value, origin)

interface Entry {
  readonly value: unknown;
  readonly origin: Origin;
}

interface Layer {
  readonly source: Exclude<ConfigSource, 'default'>;
  readonly entries: Map<SettingField, Entry>;
  /** The file's `net` section as written (file layer only), to quote values in net errors. */
  readonly rawNet?: unknown;
  readonly file?: string;
}

const SETTING_BY_FIELD = new Map<string, (typeof SETTINGS)[number]>(SETTINGS.map((s) => [s.field, s]));

/** The sub-sections of `net` (objects of settings rather than settings). */
const NET_SECTIONS = ['limits', 'relay'] as const;

/** The `net` part of a layer in `parseNetConfig`'s input shape. */
function netInput(entries: ReadonlyMap<SettingField, Entry>): Record<string, unknown> {
  const net: Record<string, unknown> = {};
  for (const [field, entry] of entries) {
    if (!field.startsWith('net.')) continue;
    const path = field.slice('net.'.length);
    const section = NET_SECTIONS.find((s) => path.startsWith(`${s}.`));
    if (section === undefined) {
      net[path] = entry.value;
    } else {
      net[section] ??= {};
      (net[section] as Record<string, unknown>)[path.slice(section.length + 1)] = entry.value;
    }
  }
  return net;
}

const NET_FIELD_RE = /^([A-Za-z]+)(?:\.([A-Za-z]+))?(?:\[(\d+)\])?$/;

function lookup(root: unknown, path: readonly (string | number)[]): unknown {
  let value = root;
  for (const step of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string | number, unknown>)[step];
  }
  return value;
}

/**
 * Re-throws a `NetConfigError` as a `ConfigError` naming the source and the source's own field
 * name. `entries` tells which origin supplied each net setting (one layer's, or the merged winners).
 */
function rethrowNetError(
  err: unknown,
  entries: ReadonlyMap<SettingField, Entry>,
  fallback: Origin,
  rawNet: unknown,
  context?: string,
): never {
  if (!(err instanceof NetConfigError)) throw err;
  const prefix = `${err.field}: `;
  let detail = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
  const m = NET_FIELD_RE.exec(err.field);
  const key = m?.[1];
  const sub = m?.[2];
  const index = m?.[3] === undefined ? undefined : Number(m[3]);
  const setting = key === undefined ? undefined : (`net.${sub === undefined ? key : `${key}.${sub}`}` as SettingField);
  const entry = setting === undefined ? undefined : entries.get(setting);
  const origin = entry?.origin ?? fallback;
  const path: (string | number)[] = [];
  if (key !== undefined) path.push(key);
  if (sub !== undefined) path.push(sub);
  if (index !== undefined) path.push(index);
  const showable = err.problem !== 'UNKNOWN_KEY' && err.field !== '(root)';

  if (origin.source === 'file') {
    const value =
      entry === undefined ? lookup(rawNet, path) : index === undefined ? entry.value : lookup(entry.value, [index]);
    if (showable && value !== undefined) detail += `, got ${showValue(value)}`;
    if (context !== undefined) detail += ` ${context}`;
    throw new ConfigError({
      source: 'file',
      file: origin.file,
      field: err.field === '(root)' ? 'net' : `net.${err.field}`,
      problem: err.problem,
      detail,
      cause: err,
    });
  }
  const value = index === undefined ? entry?.value : lookup(entry?.value, [index]);
  if (showable && value !== undefined) detail += `, got ${showValue(value)}`;
  if (index !== undefined) detail = `entry ${index + 1}: ${detail}`;
  if (context !== undefined) detail += ` ${context}`;
  throw new ConfigError({ source: origin.source, field: origin.name, problem: err.problem, detail, cause: err });
}

function validateLayer(layer: Layer): void {
  for (const [field, entry] of layer.entries) {
    if (!field.startsWith('net.'))
      layer.entries.set(field, { ...entry, value: validateSetting(field, entry.value, entry.origin) });
  }
  try {
    parseNetConfig(netInput(layer.entries));
  } catch (err) {
    rethrowNetError(err, layer.entries, { source: layer.source, name: 'net', file: layer.file }, layer.rawNet);
  }
}

function rejectUnknownKeys(
  obj: Record<string, unknown>,
  allowed: readonly string[],
  prefix: string,
  file: string,
): void {
  for (const key of Object.keys(obj)) {
    if (allowed.includes(key)) continue;
    if (prefix === '' && key === 'dataDir') {
      fail(
        { source: 'file', name: key, file },
        'NOT_ALLOWED_HERE',
        `the data dir cannot be set in the config file inside it: use --data-dir or ${ENV_HOME}`,
      );
    }
    fail({ source: 'file', name: `${prefix}${key}`, file }, 'UNKNOWN_KEY', 'unknown key');
  }
}

function fileLayer(file: unknown, path: string): Layer {
  const entries = new Map<SettingField, Entry>();
  const layer: Layer = { source: 'file', entries, file: path, rawNet: undefined };
  if (file === undefined) return layer;
  if (!isPlainObject(file)) {
    fail({ source: 'file', name: '', file: path }, 'WRONG_TYPE', 'expected a JSON object at the top level');
  }
  rejectUnknownKeys(
    file,
    ['net', 'api', 'metrics', 'log', 'mailbox', 'mailboxes', 'failAfterDays', 'contacts'],
    '',
    path,
  );
  const put = (field: SettingField, value: unknown) => {
    entries.set(field, { value, origin: { source: 'file', name: field, file: path } });
  };

  if (file.net !== undefined) {
    // parseNetConfig checks the section's shape and unknown keys, with its own field names.
    try {
      parseNetConfig(file.net);
    } catch (err) {
      rethrowNetError(err, new Map(), { source: 'file', name: 'net', file: path }, file.net);
    }
    const net = file.net as Record<string, unknown>;
    for (const [key, value] of Object.entries(net)) {
      if ((NET_SECTIONS as readonly string[]).includes(key)) {
        for (const [sub, v] of Object.entries(value as Record<string, unknown>)) {
          put(`net.${key}.${sub}` as SettingField, v);
        }
      } else {
        put(`net.${key}` as SettingField, value);
      }
    }
  }
  for (const section of ['api', 'metrics', 'log', 'mailbox', 'contacts'] as const) {
    const value = file[section];
    if (value === undefined) continue;
    if (!isPlainObject(value)) {
      fail({ source: 'file', name: section, file: path }, 'WRONG_TYPE', `expected an object, got ${showValue(value)}`);
    }
    const keys = SETTINGS.filter((s) => s.field.startsWith(`${section}.`)).map((s) =>
      s.field.slice(section.length + 1),
    );
    rejectUnknownKeys(value, keys, `${section}.`, path);
    for (const [key, v] of Object.entries(value)) put(`${section}.${key}` as SettingField, v);
  }
  for (const key of ['mailboxes', 'failAfterDays'] as const) {
    if (file[key] !== undefined) put(key, file[key]);
  }
  return { ...layer, rawNet: file.net };
}

function envLayer(env: ConfigEnv): Layer {
  const entries = new Map<SettingField, Entry>();
  for (const spec of SETTINGS) {
    const text = env[spec.env];
    if (text === undefined) continue;
    const origin: Origin = { source: 'env', name: spec.env };
    entries.set(spec.field, { value: coerceText(spec.kind, text, origin, EXPECT[spec.field] ?? 'an integer'), origin });
  }
  return { source: 'env', entries };
}

function flagLayer(flags: Readonly<Record<string, unknown>>): Layer {
  const entries = new Map<SettingField, Entry>();
  for (const spec of SETTINGS) {
    const value = flags[spec.flag];
    if (value === undefined) continue;
    const origin: Origin = { source: 'flag', name: flagName(spec.flag) };
    entries.set(spec.field, {
      value: coerceFlag(spec.kind, value, origin, EXPECT[spec.field] ?? 'an integer', spec.field),
      origin,
    });
  }
  return { source: 'flag', entries };
}

function checkEnvNames(env: ConfigEnv, allowEnv: readonly string[]): void {
  const known = new Set<string>([...ENV_VARS.map((v) => v.name), ...ENV_ALLOW_LIST, ...allowEnv]);
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith(ENV_PREFIX) || env[name] === undefined || known.has(name)) continue;
    // Never quote the value: a misspelt SOTTO_PASSPHRSE holds a secret.
    fail(
      { source: 'env', name },
      'UNKNOWN_KEY',
      `unknown ${ENV_PREFIX}* variable (known: ${ENV_VARS.map((v) => v.name).join(', ')})`,
    );
  }
}

function checkFlagNames(flags: unknown): asserts flags is Readonly<Record<string, unknown>> {
  if (!isPlainObject(flags)) fail({ source: 'flag', name: '' }, 'WRONG_TYPE', 'flags must be a plain object');
  for (const key of Object.keys(flags)) {
    if (!FLAG_KEYS.includes(key)) fail({ source: 'flag', name: flagName(key) }, 'UNKNOWN_KEY', 'unknown option');
  }
}

// ---------------------------------------------------------------------------------------------
// Resolution

/**
 * Builds the daemon config from defaults, the parsed config file, the environment and the flags
 * (in rising precedence). Pure: reads nothing but its input. Throws `ConfigError` on the first
 * problem found (unknown variables and flags first, then the data dir, the file, the environment,
 * the flags, and finally cross-field rules on the merged result).
 */
export function resolveConfig(input: ResolveConfigInput = {}): ResolvedConfig {
  const env = input.env ?? {};
  const flags: unknown = input.flags ?? {};
  checkEnvNames(env, input.allowEnv ?? []);
  checkFlagNames(flags);
  const { dataDir, source: dataDirSource } = resolveDataDir({
    flags: flags as ConfigFlags,
    env,
    homedir: input.homedir,
    cwd: input.cwd,
  });
  const path = join(dataDir, CONFIG_FILE_NAME);

  const layers = [fileLayer(input.file, path), envLayer(env), flagLayer(flags)];
  for (const layer of layers) validateLayer(layer);

  const winners = new Map<SettingField, Entry>();
  const sources = { dataDir: dataDirSource } as Record<ConfigField, ConfigSource>;
  for (const spec of SETTINGS) {
    sources[spec.field] = 'default';
    for (const layer of layers) {
      const entry = layer.entries.get(spec.field);
      if (entry === undefined) continue;
      winners.set(spec.field, entry);
      sources[spec.field] = layer.source;
    }
  }

  let net: NetConfig;
  const mergedNet = netInput(winners);
  try {
    net = parseNetConfig(mergedNet);
  } catch (err) {
    const allow = winners.get('net.allowPrivateAddresses')?.origin;
    const context =
      err instanceof NetConfigError && err.problem === 'PRIVATE_ADDRESS_NOT_ALLOWED' && allow !== undefined
        ? `(allowPrivateAddresses=false comes from ${allow.source === 'file' ? allow.file : allow.name})`
        : undefined;
    rethrowNetError(err, winners, { source: 'default', name: 'net' }, mergedNet, context);
  }

  const pick = <T>(field: SettingField, fallback: T): T => (winners.get(field)?.value as T | undefined) ?? fallback;
  const api: ApiConfig = Object.freeze({
    host: pick('api.host', DEFAULT_API_HOST),
    port: pick('api.port', DEFAULT_API_PORT),
    allowRemote: pick('api.allowRemote', false),
  });
  if (!api.allowRemote && !isLoopbackHost(api.host)) {
    const origin = winners.get('api.host')?.origin ?? { source: 'default', name: 'api.host' };
    fail(
      origin,
      'REMOTE_API_NOT_ALLOWED',
      `${api.host} is not a loopback address, so the API would be reachable from the network; ` +
        'if that is intended set api.allowRemote: true (SOTTO_API_ALLOW_REMOTE=true, --api-allow-remote)',
    );
  }
  const metrics: MetricsConfig = Object.freeze({
    listen: pick<string | null>('metrics.listen', null),
    allowRemote: pick('metrics.allowRemote', false),
    tokenFile: pick<string | null>('metrics.tokenFile', null),
  });
  if (metrics.listen !== null && !metrics.allowRemote && !isLoopbackHost(splitListen(metrics.listen).host)) {
    const origin = winners.get('metrics.listen')?.origin ?? { source: 'default', name: 'metrics.listen' };
    fail(
      origin,
      'REMOTE_METRICS_NOT_ALLOWED',
      `${splitListen(metrics.listen).host} is not a loopback address, so the metrics would be reachable from the ` +
        'network; if that is intended set metrics.allowRemote: true (SOTTO_METRICS_ALLOW_REMOTE=true, ' +
        '--metrics-allow-remote), and consider metrics.tokenFile',
    );
  }
  const log: LogConfig = Object.freeze({
    level: pick<LogLevel>('log.level', DEFAULT_LOG_LEVEL),
    format: pick<LogFormat>('log.format', input.isTty === true ? DEFAULT_LOG_FORMAT_TTY : DEFAULT_LOG_FORMAT_NO_TTY),
  });

  const mailbox: MailboxConfig = Object.freeze({
    enabled: pick('mailbox.enabled', DEFAULT_MAILBOX.enabled),
    policy: pick<MailboxPolicy>('mailbox.policy', DEFAULT_MAILBOX.policy),
    allow: Object.freeze([...pick<readonly string[]>('mailbox.allow', DEFAULT_MAILBOX.allow)]),
    maxEnvelopesPerIdentity: pick('mailbox.maxEnvelopesPerIdentity', DEFAULT_MAILBOX.maxEnvelopesPerIdentity),
    maxBytesPerIdentity: pick('mailbox.maxBytesPerIdentity', DEFAULT_MAILBOX.maxBytesPerIdentity),
    maxTotalBytes: pick('mailbox.maxTotalBytes', DEFAULT_MAILBOX.maxTotalBytes),
    ttlDays: pick('mailbox.ttlDays', DEFAULT_MAILBOX.ttlDays),
    maxEnvelopeBytes: pick('mailbox.maxEnvelopeBytes', DEFAULT_MAILBOX.maxEnvelopeBytes),
  });
  const mailboxes = Object.freeze([...pick<readonly string[]>('mailboxes', [])]);
  const failAfterDays = pick('failAfterDays', DEFAULT_FAIL_AFTER_DAYS);
  const contacts = Object.freeze({
    requests: pick<ContactRequestPolicy>('contacts.requests', DEFAULT_CONTACT_REQUESTS),
  });

  return Object.freeze({
    config: Object.freeze({ dataDir, net, api, metrics, log, mailbox, mailboxes, failAfterDays, contacts }),
    sources: Object.freeze(sources),
    file: Object.freeze({ path, present: input.file !== undefined }),
  });
}

// ---------------------------------------------------------------------------------------------
// Display

const SECRET_KEY_RE = /passphrase|password|secret|token|private.?key/i;
/** A key naming the file a secret is in (`metrics.tokenFile`) holds a path, which is shown. */
const SECRET_PATH_KEY_RE = /File$/;
export const REDACTED = '[redacted]';

function redactValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactValue);
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      out[key] = SECRET_KEY_RE.test(key) && !SECRET_PATH_KEY_RE.test(key) ? REDACTED : redactValue(v);
    }
    return out;
  }
  return value;
}

/**
 * A plain, JSON-safe copy of the config for display (`sotto config`), with any field whose name
 * looks secret (passphrase, password, secret, token, private key) replaced by `[redacted]`, except
 * a path to a secret's file (a key ending in `File`, such as `metrics.tokenFile`): the path is shown,
 * the file is never read here. The config holds no secrets today; this keeps it that way on screen
 * if one is ever added.
 */
export function redactedConfig(config: DaemonConfig): Record<string, unknown> {
  return redactValue(JSON.parse(JSON.stringify(config))) as Record<string, unknown>;
}

/** `redactedConfig` as indented JSON; with `sources`, each field's source is listed under `sources`. */
export function configToJson(config: DaemonConfig, sources?: ConfigSources): string {
  const body = sources === undefined ? redactedConfig(config) : { ...redactedConfig(config), sources: { ...sources } };
  return `${JSON.stringify(body, null, 2)}\n`;
}

/** The spec of a setting (its env var, flag and description), for help texts. */
export function settingSpec(field: SettingField): (typeof SETTINGS)[number] {
  const spec = SETTING_BY_FIELD.get(field);
  if (spec === undefined) throw new RangeError(`unknown setting ${field}`);
  return spec;
}

// ---------------------------------------------------------------------------------------------
// What the node gets

/** The mailbox options of `createNode` (src/node/node.ts `CreateNodeOptions`) from a daemon config. */
export interface NodeMailboxOptions {
  /** The mailbox role; absent when `mailbox.enabled` is false. */
  mailbox?: {
    policy: MailboxPolicy;
    allow: string[];
    maxEnvelopesPerIdentity: number;
    maxBytesPerIdentity: number;
    maxTotalBytes: number;
    ttlMs: number;
    maxEnvelopeBytes: number;
  };
  mailboxes: string[];
  failAfterMs: number;
  /** `contacts.requests`: the node's `contactRequests`. */
  contactRequests: ContactRequestPolicy;
}

/**
 * `mailbox`, `mailboxes`, `failAfterMs` (days turned into milliseconds) and `contactRequests` for
 * `createNode`: the node options the daemon takes from its config.
 */
export function nodeMailboxOptions(config: DaemonConfig): NodeMailboxOptions {
  const m = config.mailbox;
  return {
    ...(m.enabled
      ? {
          mailbox: {
            policy: m.policy,
            allow: [...m.allow],
            maxEnvelopesPerIdentity: m.maxEnvelopesPerIdentity,
            maxBytesPerIdentity: m.maxBytesPerIdentity,
            maxTotalBytes: m.maxTotalBytes,
            ttlMs: m.ttlDays * DAY_MS,
            maxEnvelopeBytes: m.maxEnvelopeBytes,
          },
        }
      : {}),
    mailboxes: [...config.mailboxes],
    failAfterMs: config.failAfterDays * DAY_MS,
    contactRequests: config.contacts.requests,
  };
}
