/**
 * The transport layer's configuration: what to listen on (directly, or through circuit relays), what
 * to announce, whom to bootstrap from, how to behave in the DHT, connection limits, and whether this
 * node serves as a circuit relay for others. `parseNetConfig` validates untrusted input (a
 * config file, CLI flags) field by field and throws a `NetConfigError` naming the first bad field.
 *
 * Addresses are kept as strings so a config round-trips through JSON unchanged.
 */
import { peerIdFromString } from '@libp2p/peer-id';
import { isPrivate } from '@libp2p/utils';
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';
import { NetConfigError } from './errors.js';

/**
 * Default listen addresses: loopback only, ephemeral ports. A node never listens on a public
 * interface unless its config says so.
 */
export const DEFAULT_LISTEN: readonly string[] = Object.freeze(['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws']);

/**
 * libp2p's own default is 300. A messaging node keeps a few connections per contact and per DHT
 * bucket neighbour; 256 leaves room for a self-hoster's mailbox users while bounding memory.
 */
export const DEFAULT_MAX_CONNECTIONS = 256;
/**
 * libp2p's default (5 new connections per second per remote host) resets connections when a
 * devnet of many nodes on one IP bootstraps from the same node at once (DESIGN.md, runtime facts).
 * 100/s still stops a single host from flooding us with Noise handshakes.
 */
export const DEFAULT_INBOUND_CONNECTION_THRESHOLD = 100;
/**
 * libp2p's default is 10 connections mid-upgrade; a 50-node devnet bootstrapping from one node
 * needs more. Each pending upgrade is a Noise handshake in flight, so keep it bounded.
 */
export const DEFAULT_MAX_INCOMING_PENDING_CONNECTIONS = 64;
/** libp2p's default (10 s); long enough for a slow home uplink, short enough to fail a query path. */
export const DEFAULT_DIAL_TIMEOUT_MS = 10_000;

// Circuit relay v2 (the relay *server* role, `relay`): what a relay promises the peers it relays
// for. Every node can dial and listen through relays; only a node with `relay.enabled` relays.

/** libp2p's default: a relay holds at most this many reservations (one kept-alive connection each). */
export const DEFAULT_RELAY_MAX_RESERVATIONS = 15;
/**
 * The circuit v2 default (libp2p's and go-libp2p's): a relayed connection is reset after two
 * minutes. Long enough for the DCUtR exchange, a prekey claim and a burst of messages; a sender
 * whose relayed connection was reset opens a new one on its next send.
 */
export const DEFAULT_RELAY_MAX_DURATION_MS = 2 * 60_000;
/**
 * Bytes, both directions together, one relayed connection may carry before the relay resets it.
 * libp2p's default (128 KiB) fits one largest envelope (66,560 bytes) and its handshake; 1 MiB fits
 * fifteen, or hundreds of text messages.
 */
export const DEFAULT_RELAY_MAX_DATA_BYTES = 1024 * 1024;
/** Rule: a relay's reservations are open connections, so they are bounded like connections. */
export const MAX_RELAY_RESERVATIONS_LIMIT = 10_000;
/**
 * Rule: a relayed connection must outlive one exchange over a slow relay (Noise handshake,
 * identify, a prekey claim, one envelope and its ack), or a message could never get through.
 */
export const MIN_RELAY_DURATION_MS = 5_000;
/**
 * Rule: a relay is a meeting point, not a transit provider: after an hour a pair should be
 * talking directly (DCUtR) or through a mailbox.
 */
export const MAX_RELAY_DURATION_MS = 60 * 60_000;
/**
 * Rule: one largest envelope (the message protocol's MAX_FRAME_BYTES, 66,560 bytes) plus Noise,
 * yamux and identify overhead must fit in one relayed connection, or a large message could never
 * cross a relay. test/net/config.test.ts checks it against the protocol constant.
 */
export const MIN_RELAY_DATA_BYTES = 128 * 1024;
/** Rule: a per-connection budget above 1 GiB is no budget; bulk traffic does not belong on a relay. */
export const MAX_RELAY_DATA_BYTES = 1024 * 1024 * 1024;

/** Upper bound for any connection count: beyond this a single process runs out of descriptors. */
export const MAX_CONNECTIONS_LIMIT = 10_000;
/** Upper bound for the dial timeout: a dial that takes over a minute is a dead peer. */
export const MAX_DIAL_TIMEOUT_MS = 60_000;
/** A config may list at most this many addresses per list; more is a mistake, not a deployment. */
export const MAX_ADDRESSES_PER_LIST = 64;

export type DhtMode = 'server' | 'client';

export interface ConnectionLimits {
  /** Connections above this are pruned (libp2p `maxConnections`). */
  readonly maxConnections: number;
  /** New inbound connections per second per remote host (libp2p `inboundConnectionThreshold`). */
  readonly inboundConnectionThreshold: number;
  /** Inbound connections still upgrading (libp2p `maxIncomingPendingConnections`). */
  readonly maxIncomingPendingConnections: number;
  /** Per-dial timeout in ms (libp2p `dialTimeout`). */
  readonly dialTimeoutMs: number;
}

/** The circuit relay v2 server role: relaying connections for peers that cannot be dialled directly. */
export interface RelayConfig {
  /** Serve as a relay (accept reservations and relay connections to the peers that hold them). Default false. */
  readonly enabled: boolean;
  /** Most reservations held at once; further requests are refused (RESERVATION_REFUSED). */
  readonly maxReservations: number;
  /** A relayed connection is reset after this many ms. */
  readonly maxDurationMs: number;
  /** A relayed connection is reset after carrying this many bytes (both directions together). */
  readonly maxDataBytes: number;
}

export interface NetConfig {
  /**
   * Multiaddrs to listen on: `/ip4|ip6/<ip>/tcp/<port>` optionally followed by `/ws`; `/p2p-circuit`
   * to take a reservation on any relay among the peers this node learns of; or
   * `<relay address>/p2p/<relay peer id>/p2p-circuit` to take one on that relay.
   */
  readonly listen: readonly string[];
  /** Multiaddrs to announce instead of the listen addresses (empty: announce what we listen on). */
  readonly announce: readonly string[];
  /** Peers to dial on start; each ends in `/p2p/<peerId>`. Empty is a valid lone node. */
  readonly bootstrap: readonly string[];
  /** `server` answers DHT queries and stores records; `client` only asks. */
  readonly dhtMode: DhtMode;
  /**
   * Keep private and loopback addresses in DHT peer info and allow dialling them. True for
   * loopback tests and devnets; a public deployment sets false.
   */
  readonly allowPrivateAddresses: boolean;
  readonly limits: ConnectionLimits;
  readonly relay: RelayConfig;
}

export const DEFAULT_LIMITS: ConnectionLimits = Object.freeze({
  maxConnections: DEFAULT_MAX_CONNECTIONS,
  inboundConnectionThreshold: DEFAULT_INBOUND_CONNECTION_THRESHOLD,
  maxIncomingPendingConnections: DEFAULT_MAX_INCOMING_PENDING_CONNECTIONS,
  dialTimeoutMs: DEFAULT_DIAL_TIMEOUT_MS,
});

export const DEFAULT_RELAY: RelayConfig = Object.freeze({
  enabled: false,
  maxReservations: DEFAULT_RELAY_MAX_RESERVATIONS,
  maxDurationMs: DEFAULT_RELAY_MAX_DURATION_MS,
  maxDataBytes: DEFAULT_RELAY_MAX_DATA_BYTES,
});

const TOP_KEYS = ['listen', 'announce', 'bootstrap', 'dhtMode', 'allowPrivateAddresses', 'limits', 'relay'] as const;
const LIMIT_KEYS = ['maxConnections', 'inboundConnectionThreshold', 'maxIncomingPendingConnections', 'dialTimeoutMs'];
const RELAY_KEYS = ['enabled', 'maxReservations', 'maxDurationMs', 'maxDataBytes'];

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function rejectUnknownKeys(obj: Record<string, unknown>, allowed: readonly string[], prefix: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) throw new NetConfigError(`${prefix}${key}`, 'UNKNOWN_KEY', 'unknown key');
  }
}

function parseMultiaddr(value: unknown, field: string): Multiaddr {
  if (typeof value !== 'string') throw new NetConfigError(field, 'WRONG_TYPE', 'expected a multiaddr string');
  try {
    return multiaddr(value);
  } catch {
    throw new NetConfigError(field, 'BAD_MULTIADDR', 'not a valid multiaddr');
  }
}

function stringList(value: unknown, field: string): unknown[] {
  if (!Array.isArray(value)) throw new NetConfigError(field, 'WRONG_TYPE', 'expected an array of multiaddr strings');
  if (value.length > MAX_ADDRESSES_PER_LIST) {
    throw new NetConfigError(field, 'OUT_OF_RANGE', `at most ${MAX_ADDRESSES_PER_LIST} addresses`);
  }
  return value;
}

const LISTEN_FORMS = 'expected /ip4|ip6/<ip>/tcp/<port>[/ws], /p2p-circuit or <relay address>/p2p/<peerId>/p2p-circuit';

/**
 * What our transports can listen on: `/ip4|ip6/<ip>/tcp/<port>` with an optional trailing `/ws`
 * (TCP, WebSockets), `/p2p-circuit` (a reservation on any relay found among known peers), or a
 * relay's dialable address ending in `/p2p/<peerId>/p2p-circuit` (a reservation on that relay).
 */
function checkListenAddress(ma: Multiaddr, field: string, allowPrivateAddresses: boolean): void {
  const names = ma.getComponents().map((c) => c.name);
  if (names[names.length - 1] === 'p2p-circuit') {
    if (names.length === 1) return;
    if (names.indexOf('p2p-circuit') !== names.length - 1) {
      throw new NetConfigError(field, 'UNSUPPORTED_LISTEN_ADDRESS', LISTEN_FORMS);
    }
    const relay = ma.decapsulate('/p2p-circuit');
    if (relay.getComponents().at(-1)?.name !== 'p2p') {
      throw new NetConfigError(field, 'MISSING_PEER_ID', 'a relay address must end in /p2p/<peerId>/p2p-circuit');
    }
    checkBootstrapAddress(relay, field);
    if (!allowPrivateAddresses && isPrivate(relay)) {
      throw new NetConfigError(
        field,
        'PRIVATE_ADDRESS_NOT_ALLOWED',
        'private relay address while allowPrivateAddresses is false',
      );
    }
    return;
  }
  const ok =
    (names[0] === 'ip4' || names[0] === 'ip6') &&
    names[1] === 'tcp' &&
    (names.length === 2 || (names.length === 3 && names[2] === 'ws'));
  if (!ok) throw new NetConfigError(field, 'UNSUPPORTED_LISTEN_ADDRESS', LISTEN_FORMS);
}

function checkBootstrapAddress(ma: Multiaddr, field: string): void {
  const components = ma.getComponents();
  const last = components[components.length - 1];
  if (last?.name !== 'p2p' || last.value == null) {
    throw new NetConfigError(field, 'MISSING_PEER_ID', 'a bootstrap address must end in /p2p/<peerId>');
  }
  try {
    peerIdFromString(last.value);
  } catch {
    throw new NetConfigError(field, 'MISSING_PEER_ID', 'the /p2p/ component is not a valid peer id');
  }
  if (components.length < 2) {
    throw new NetConfigError(field, 'BAD_MULTIADDR', 'a bootstrap address needs a transport address before /p2p/');
  }
}

function parseLimit(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new NetConfigError(field, 'WRONG_TYPE', 'expected an integer');
  }
  if (value < min || value > max) throw new NetConfigError(field, 'OUT_OF_RANGE', `expected ${min}..${max}`);
  return value;
}

function parseLimits(value: unknown): ConnectionLimits {
  if (value === undefined) return DEFAULT_LIMITS;
  if (!isPlainObject(value)) throw new NetConfigError('limits', 'WRONG_TYPE', 'expected an object');
  rejectUnknownKeys(value, LIMIT_KEYS, 'limits.');
  const pick = (key: keyof ConnectionLimits, min: number, max: number): number =>
    value[key] === undefined ? DEFAULT_LIMITS[key] : parseLimit(value[key], `limits.${key}`, min, max);
  return Object.freeze({
    maxConnections: pick('maxConnections', 1, MAX_CONNECTIONS_LIMIT),
    inboundConnectionThreshold: pick('inboundConnectionThreshold', 1, MAX_CONNECTIONS_LIMIT),
    maxIncomingPendingConnections: pick('maxIncomingPendingConnections', 1, MAX_CONNECTIONS_LIMIT),
    dialTimeoutMs: pick('dialTimeoutMs', 100, MAX_DIAL_TIMEOUT_MS),
  });
}

function parseRelay(value: unknown, maxConnections: number): RelayConfig {
  if (value === undefined) return DEFAULT_RELAY;
  if (!isPlainObject(value)) throw new NetConfigError('relay', 'WRONG_TYPE', 'expected an object');
  rejectUnknownKeys(value, RELAY_KEYS, 'relay.');
  let enabled = DEFAULT_RELAY.enabled;
  if (value.enabled !== undefined) {
    if (typeof value.enabled !== 'boolean')
      throw new NetConfigError('relay.enabled', 'WRONG_TYPE', 'expected a boolean');
    enabled = value.enabled;
  }
  const pick = (key: Exclude<keyof RelayConfig, 'enabled'>, min: number, max: number): number =>
    value[key] === undefined ? DEFAULT_RELAY[key] : parseLimit(value[key], `relay.${key}`, min, max);
  const maxReservations = pick('maxReservations', 1, MAX_RELAY_RESERVATIONS_LIMIT);
  // every reservation keeps a connection open: more reservations than connections cannot be held
  if (maxReservations > maxConnections) {
    throw new NetConfigError(
      'relay.maxReservations',
      'OUT_OF_RANGE',
      `expected at most limits.maxConnections (${maxConnections})`,
    );
  }
  return Object.freeze({
    enabled,
    maxReservations,
    maxDurationMs: pick('maxDurationMs', MIN_RELAY_DURATION_MS, MAX_RELAY_DURATION_MS),
    maxDataBytes: pick('maxDataBytes', MIN_RELAY_DATA_BYTES, MAX_RELAY_DATA_BYTES),
  });
}

/**
 * Validates `input` (e.g. the `net` section of a parsed config file; `undefined` means all
 * defaults) and returns a frozen, complete `NetConfig`. Throws `NetConfigError` on the first bad field.
 */
export function parseNetConfig(input: unknown): NetConfig {
  const raw = input === undefined ? {} : input;
  if (!isPlainObject(raw)) throw new NetConfigError('(root)', 'WRONG_TYPE', 'expected an object');
  rejectUnknownKeys(raw, TOP_KEYS, '');

  let allowPrivateAddresses = true;
  if (raw.allowPrivateAddresses !== undefined) {
    if (typeof raw.allowPrivateAddresses !== 'boolean') {
      throw new NetConfigError('allowPrivateAddresses', 'WRONG_TYPE', 'expected a boolean');
    }
    allowPrivateAddresses = raw.allowPrivateAddresses;
  }

  let dhtMode: DhtMode = 'server';
  if (raw.dhtMode !== undefined) {
    if (typeof raw.dhtMode !== 'string') throw new NetConfigError('dhtMode', 'WRONG_TYPE', 'expected a string');
    if (raw.dhtMode !== 'server' && raw.dhtMode !== 'client') {
      throw new NetConfigError('dhtMode', 'BAD_VALUE', 'expected "server" or "client"');
    }
    dhtMode = raw.dhtMode;
  }

  const listen: string[] = [];
  if (raw.listen === undefined) {
    listen.push(...DEFAULT_LISTEN);
  } else {
    stringList(raw.listen, 'listen').forEach((entry, i) => {
      const field = `listen[${i}]`;
      const ma = parseMultiaddr(entry, field);
      checkListenAddress(ma, field, allowPrivateAddresses);
      listen.push(ma.toString());
    });
  }

  const announce: string[] = [];
  if (raw.announce !== undefined) {
    stringList(raw.announce, 'announce').forEach((entry, i) => {
      announce.push(parseMultiaddr(entry, `announce[${i}]`).toString());
    });
  }

  const bootstrap: string[] = [];
  if (raw.bootstrap !== undefined) {
    stringList(raw.bootstrap, 'bootstrap').forEach((entry, i) => {
      const field = `bootstrap[${i}]`;
      const ma = parseMultiaddr(entry, field);
      checkBootstrapAddress(ma, field);
      if (!allowPrivateAddresses && isPrivate(ma)) {
        throw new NetConfigError(
          field,
          'PRIVATE_ADDRESS_NOT_ALLOWED',
          'private address while allowPrivateAddresses is false',
        );
      }
      bootstrap.push(ma.toString());
    });
  }

  const limits = parseLimits(raw.limits);
  return Object.freeze({
    listen: Object.freeze(listen),
    announce: Object.freeze(announce),
    bootstrap: Object.freeze(bootstrap),
    dhtMode,
    allowPrivateAddresses,
    limits,
    relay: parseRelay(raw.relay, limits.maxConnections),
  });
}
