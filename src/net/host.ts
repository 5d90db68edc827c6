/**
 * Assembles the libp2p 3 host from a validated `NetConfig`: TCP + WebSockets + circuit relay v2
 * (dial and listen through relays), Noise, Yamux, identify, ping, AutoNAT v2, DCUtR, kad-dht on
 * sotto's private protocol id with the caller's record validators and selectors, and the circuit
 * relay server when `relay.enabled`. Bootstrap peers come only from the config. No mDNS, no UPnP,
 * no public bootstrap list: every peer a node dials is configured or learned from a peer it
 * already talks to (AutoNAT asks connected peers and, while an address is unverified, DHT random
 * walks; DCUtR dials the peer it is relayed to; relay discovery looks among known peers and DHT
 * random walks). The connection gater refuses private addresses on a public deployment and, when
 * the caller passes `isBanned`, banned peers both ways.
 */
import './shim.js';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { autoNATv2 } from '@libp2p/autonat-v2';
import {
  type CircuitRelayService,
  circuitRelayServer,
  circuitRelayTransport,
  RELAY_V2_HOP_CODEC,
  RELAY_V2_STOP_CODEC,
} from '@libp2p/circuit-relay-v2';
import { dcutr } from '@libp2p/dcutr';
import { type Identify, identify } from '@libp2p/identify';
import {
  type AbortOptions,
  type ConnectionGater,
  isPeerId,
  type PeerId,
  type PrivateKey,
  type Stream,
  type StreamHandler,
} from '@libp2p/interface';
import {
  type KadDHT,
  kadDHT,
  passthroughMapper,
  removePrivateAddressesMapper,
  type Selectors,
  type Validators,
} from '@libp2p/kad-dht';
import { type Ping, ping } from '@libp2p/ping';
import { tcp } from '@libp2p/tcp';
import { isPrivate } from '@libp2p/utils';
import { webSockets } from '@libp2p/websockets';
import type { Multiaddr } from '@multiformats/multiaddr';
import { createLibp2p, type Libp2p, type Libp2pOptions } from 'libp2p';
import { type BootstrapDialer, bootstrapDialer } from './bootstrap.js';
import type { NetConfig } from './config.js';
import { HostAssemblyError, InvalidDhtNamespaceError } from './errors.js';
import {
  type FrameLimit,
  guardStreamFrames,
  MAX_DHT_MESSAGE_BYTES,
  MAX_RELAY_MESSAGE_BYTES,
  type StreamComponents,
} from './frame-guard.js';
import type { NetLogger } from './logger.js';
import { withLeanNoiseFrames } from './noise-conn.js';
import { noiseCrypto } from './noise-crypto.js';
import { guardDhtRecords, type PutGetDatastore } from './record-guard.js';
import { findReservationCheck, guardRelayStop } from './relay-stop-guard.js';
import { walkPacer } from './walk-pacer.js';
import { withBatchedWindowUpdates } from './yamux-window.js';

/** sotto's private Kademlia protocol id: a sotto node never joins (or pollutes) the public IPFS DHT. */
export const DHT_PROTOCOL = '/sotto/kad/1.0.0';

/**
 * kad-dht 16 picks a record's validator and selector by the *first* path segment of its key:
 * `/sotto/id/<identity>` → `validators.sotto`. Every sotto record lives under this namespace.
 */
export const DHT_NAMESPACE = 'sotto';

/**
 * How often kad-dht runs its self-query once it is warmed up (libp2p's default is 5 min). Its first
 * one runs on a timer soon after start, often before any peer is connected; the bootstrap service
 * therefore starts a self-lookup after its first connection (`selfLookup`).
 */
export const DHT_QUERY_SELF_INTERVAL_MS = 5 * 60_000;

/**
 * The protocols that may run over a *limited* (relayed) connection: a peer behind a NAT is reached
 * through a circuit relay, and a first message to it needs a prekey claim and an envelope stream
 * before DCUtR can (perhaps) open a direct connection. libp2p refuses any other protocol on a
 * limited connection (its default), so the DHT and mailbox transfers never load a relay. The ids
 * restate src/protocols/{message,prekeys}/constants.ts (test/net/host.test.ts checks they agree):
 * the transport layer does not load the protocol code.
 */
export const LIMITED_CONNECTION_PROTOCOLS: readonly string[] = Object.freeze([
  '/sotto/msg/1.0.0',
  '/sotto/prekeys/1.0.0',
]);

export interface SottoServices extends Record<string, unknown> {
  dht: KadDHT;
  identify: Identify;
  ping: Ping;
  bootstrap: BootstrapDialer;
  /**
   * AutoNAT v2 (`/libp2p/autonat/2/dial-request`, `/libp2p/autonat/2/dial-back`): as a client it
   * asks connected peers to dial our unverified public addresses back on a new connection; as a
   * server it does that for them. Private addresses are never tested (see AUTONAT_* below).
   */
  autoNAT: unknown;
  /** DCUtR: tries to replace a relayed connection with a direct one. */
  dcutr: unknown;
  /** The circuit relay v2 server; present only with `relay.enabled`. */
  relay?: CircuitRelayService;
}

export type SottoHost = Libp2p<SottoServices>;

export interface DhtRecordRules {
  /** Keyed by kad-dht namespace (the first key segment), e.g. `{ sotto: validateSottoRecord }`. */
  readonly validators: Validators;
  /** Same keys as `validators`: kad-dht refuses to `get` a key without a selector, even for one record. */
  readonly selectors: Selectors;
}

export interface CreateHostOptions {
  readonly privateKey: PrivateKey;
  readonly config: NetConfig;
  readonly dht: DhtRecordRules;
  readonly logger?: NetLogger;
  /** Start the node before returning (default true). Pass false to register handlers first. */
  readonly start?: boolean;
  /** libp2p's metrics implementation, e.g. `prometheusMetrics({ registry })` (default: none). */
  readonly metrics?: Libp2pOptions<SottoServices>['metrics'];
  /**
   * Peers to refuse both ways (the node's ban list, src/node/ban-list.ts): the connection gater
   * asks it before every dial and after every handshake, in and out, and on relay requests. It
   * must answer at once and never throw. Close the connections a peer already has with
   * `disconnectPeer` when it becomes banned.
   */
  readonly isBanned?: (peer: PeerId) => boolean;
  /**
   * A peer broke a transport-level rule the host enforces itself (today: a DHT or relay message
   * above its limit, `STREAM_FRAME_LIMITS`, code `MESSAGE_TOO_LARGE`); its stream is already
   * aborted. For the node's ban list.
   */
  readonly onViolation?: (peer: PeerId, code: string) => void;
}

const NAMESPACE_RE = /^[A-Za-z0-9_-]+$/;

function checkRecordRules(rules: DhtRecordRules): void {
  for (const ns of Object.keys(rules.validators)) {
    if (!NAMESPACE_RE.test(ns)) throw new InvalidDhtNamespaceError(ns, 'validator key must be a bare namespace');
    if (typeof rules.selectors[ns] !== 'function') throw new InvalidDhtNamespaceError(ns, 'validator without selector');
  }
  for (const ns of Object.keys(rules.selectors)) {
    if (typeof rules.validators[ns] !== 'function')
      throw new InvalidDhtNamespaceError(ns, 'selector without validator');
  }
}

/**
 * The connection gater: a public deployment neither dials nor advertises private/loopback
 * addresses, and a banned peer (`isBanned`) is refused both ways: we do not dial it, an inbound
 * connection from it is dropped as soon as Noise has told us who it is (its peer id is not known
 * before), and as a relay we neither reserve for it nor relay to or from it. libp2p turns a refusal
 * into an error of the dial (DialDeniedError, ConnectionInterceptedError) or a closed socket on the
 * other side: nothing waits on a banned peer.
 */
export function connectionGater(options: {
  allowPrivateAddresses: boolean;
  isBanned?: (peer: PeerId) => boolean;
}): ConnectionGater {
  const gater: ConnectionGater = options.allowPrivateAddresses ? {} : { denyDialMultiaddr: (ma) => isPrivate(ma) };
  const banned = options.isBanned;
  if (banned === undefined) return gater;
  const deny = (peer: PeerId): boolean => {
    try {
      return banned(peer);
    } catch {
      return false; // a broken ban check must not take the network down
    }
  };
  return {
    ...gater,
    denyDialPeer: (peer) => deny(peer),
    denyOutboundConnection: (peer) => deny(peer),
    denyInboundEncryptedConnection: (peer) => deny(peer),
    denyOutboundEncryptedConnection: (peer) => deny(peer),
    denyInboundUpgradedConnection: (peer) => deny(peer),
    denyOutboundUpgradedConnection: (peer) => deny(peer),
    denyInboundRelayReservation: (source) => deny(source),
    denyOutboundRelayedConnection: (source, destination) => deny(source) || deny(destination),
    denyInboundRelayedConnection: (relay, remotePeer) => deny(relay) || deny(remotePeer),
  };
}

/**
 * Aborts every open connection to `peer` at once (no graceful close: nothing waits on a peer that
 * is being thrown out, and its streams fail with `reason` on both sides). Returns how many were
 * aborted. Never throws.
 */
export function disconnectPeer(host: SottoHost, peer: PeerId, reason: Error): number {
  let n = 0;
  for (const conn of host.getConnections(peer)) {
    try {
      conn.abort(reason);
      n++;
    } catch {
      // already closed
    }
  }
  return n;
}

/**
 * Aborts the connections to `peer` whose stream multiplexer has ended while the socket is still
 * open. yamux can end a multiplexer without closing its socket (a GoAway it sent or received, or
 * its early-stream limit), and libp2p keeps handing such a connection out: every new stream on it
 * fails with `ConnectionClosedError` ("The connection muxer is closed") until something closes
 * it, so a retry would never dial afresh. Returns how many were aborted. Never throws.
 */
export function abortDeadConnections(host: SottoHost, peer: PeerId, reason: Error): number {
  let n = 0;
  for (const conn of host.getConnections(peer)) {
    // `muxer` is libp2p's own field on its Connection class, not part of the interface
    const muxer = (conn as unknown as { muxer?: { status?: string } }).muxer;
    if (conn.status !== 'open' || muxer === undefined || muxer.status === 'open') continue;
    try {
      conn.abort(reason);
      n++;
    } catch {
      // already closed
    }
  }
  return n;
}

/**
 * How often libp2p's connection monitor pings each open connection (its default is 10 s). Each ping
 * is a new stream with protocol negotiation; measured with 100 nodes in one process (≈ 1,800
 * connections), the default pings alone kept more than one core busy while nothing else happened.
 * A dead connection is still found within a minute, and any message or DHT query on it fails fast.
 */
export const CONNECTION_PING_INTERVAL_MS = 60_000;

/**
 * AutoNAT v2 (`@libp2p/autonat-v2`). As a client, on every new connection to a peer that speaks
 * `/libp2p/autonat/2/dial-request`, the node sends the addresses it has not verified with a random
 * nonce: public ones only (the client skips private addresses, which libp2p counts as reachable at
 * once, and IPv6 addresses outside global unicast). The peer dials each back on a **new**
 * connection and sends the nonce over `/libp2p/autonat/2/dial-back`. A listen (`transport`)
 * address is verified after one such dial-back, an `observed` one after 4 from peers in 4 distinct
 * network segments (first IPv4 octet or first IPv6 group); 8 failures from distinct segments
 * withdraw one. A verdict holds for libp2p's address-verification TTL (10 min), then the address
 * is tested again on the next new connection. While an address is unverified the client also
 * walks the DHT for peers to ask, once a minute (10 s each walk, cut short near the connection
 * limit; the walk pacer keeps it from spinning on an empty routing table).
 *
 * As a server it dials what a connected peer asks, within these bounds: it refuses private
 * addresses (library rule, on a devnet too) and addresses on transports it lacks, and the
 * connection gater still applies (private addresses on a public deployment, banned peers). For an
 * address whose IP differs from the one the request came from it first makes the requester send
 * 30–100 kB ("dial data", the protocol's anti-amplification rule), so our node cannot be made to
 * flood a third party for free. The constants below bound each exchange.
 */
/** One AutoNAT exchange (a dial request, the dial-back and its answer) ends within this, both roles. */
export const AUTONAT_TIMEOUT_MS = 30_000;
/**
 * AutoNAT streams of one protocol a peer may have open at once on one connection, inbound: at most
 * this many dial requests from one connection are served concurrently (libp2p resets the next).
 */
export const AUTONAT_MAX_INBOUND_STREAMS = 2;
/**
 * Largest AutoNAT message our server (a dial request lists addresses) and our dial-back handler
 * read; a larger one resets the stream.
 */
export const AUTONAT_MAX_MESSAGE_BYTES = 8_192;
/**
 * Most "dial data" the client sends when a server asks for it before a dial-back (servers ask
 * 30–100 kB); a server asking more gets nothing and the address stays untested with it.
 */
export const AUTONAT_MAX_DIAL_DATA_BYTES = 200_000;

/**
 * Streams a peer may open on a new connection before our side of it is set up (yamux buffers them
 * as "early streams" until libp2p attaches its stream listener; one more aborts the whole
 * multiplexer). The library default of 10 is below what one busy peer opens at once on a fresh
 * connection: kad-dht alone keeps up to 64 outbound streams per connection, and a node sending
 * to many identities at once runs directory lookups in parallel. Measured by the scale benchmark
 * (issue 8): with 32 directory operations in flight per host the receiver aborted every new
 * connection (`MaxEarlyStreamsError` in 8 of 8 runs; 0 of 3 with 128), and the socket stayed open
 * with a dead multiplexer. Bounded so that a peer cannot make us buffer streams without limit.
 */
export const YAMUX_MAX_EARLY_STREAMS = 80;

/**
 * The protocols whose incoming messages the frame guard (src/net/frame-guard.ts) holds to our own
 * limits because their libraries read up to 4 MiB: the DHT (every frame, both ways) and circuit
 * relay v2's HOP and STOP requests (the first frame of an inbound stream; after it the stream
 * carries the relayed connection).
 */
export const STREAM_FRAME_LIMITS: Readonly<Record<string, FrameLimit>> = Object.freeze({
  [DHT_PROTOCOL]: Object.freeze({ maxBytes: MAX_DHT_MESSAGE_BYTES }),
  [RELAY_V2_HOP_CODEC]: Object.freeze({ maxBytes: MAX_RELAY_MESSAGE_BYTES, frames: 1 }),
  [RELAY_V2_STOP_CODEC]: Object.freeze({ maxBytes: MAX_RELAY_MESSAGE_BYTES, frames: 1 }),
});

/** How often `waitForDhtPeer` looks at the routing table. */
const DHT_PEER_POLL_MS = 20;

/** Peers in the host's DHT routing table (kad-dht does not put its size on the public interface). */
export function routingTableSize(host: SottoHost): number {
  const dht = host.services.dht as unknown as { routingTable?: { size?: number } };
  return dht.routingTable?.size ?? 0;
}

/**
 * Resolves true once the routing table has a peer, false when `timeoutMs` passed, the signal was
 * aborted or the host stopped first. A new connection's peer enters the table only after identify.
 */
export async function waitForDhtPeer(host: SottoHost, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (routingTableSize(host) === 0) {
    if (Date.now() >= until || signal?.aborted === true || host.status !== 'started') return false;
    await new Promise((resolve) => setTimeout(resolve, DHT_PEER_POLL_MS));
  }
  return true;
}

/** Bound of the self-lookup after the first bootstrap connection. */
export const SELF_LOOKUP_TIMEOUT_MS = 15_000;

/**
 * Looks up our own peer id once we have a first peer: the peers closest to us answer and land in
 * the routing table. kad-dht's own first self-query runs on a timer shortly after start, usually
 * before the bootstrap connection exists, and then only every DHT_QUERY_SELF_INTERVAL_MS: measured
 * with 100 nodes in one process, most routing tables held only the bootstrap peer for minutes.
 */
function selfLookup(node: SottoHost, logger: NetLogger | undefined): void {
  void (async () => {
    const signal = AbortSignal.timeout(SELF_LOOKUP_TIMEOUT_MS);
    // the connection is open, but kad-dht adds the peer only after identify: wait for it
    if (!(await waitForDhtPeer(node, SELF_LOOKUP_TIMEOUT_MS, signal))) return;
    let found = 0;
    for await (const event of node.services.dht.getClosestPeers(node.peerId.toMultihash().bytes, { signal })) {
      if (event.name === 'FINAL_PEER') found++;
    }
    logger?.debug?.(`self-lookup found ${found} peers`);
  })().catch((err: unknown) => logger?.debug?.(`self-lookup ended: ${(err as Error).name}`));
}

const allowedOnLimited = (protocols: string | readonly string[]): boolean => {
  const list = typeof protocols === 'string' ? [protocols] : protocols;
  return list.length > 0 && list.every((p) => LIMITED_CONNECTION_PROTOCOLS.includes(p));
};

/** Errors after which a fresh address lookup cannot help: the caller gave up, or the peer answered. */
const NOT_AN_ADDRESS_PROBLEM = new Set([
  'AbortError',
  'TimeoutError',
  'LimitedConnectionError',
  'UnsupportedProtocolError',
  'InvalidParametersError',
  'NotStartedError',
]);

async function knownAddresses(node: SottoHost, peer: PeerId): Promise<Set<string>> {
  try {
    return new Set((await node.peerStore.get(peer)).addresses.map((a) => a.multiaddr.toString()));
  } catch {
    return new Set();
  }
}

/** Bound of the fresh lookup before a failed dial is retried (the caller's own signal may be shorter). */
export const RETRY_LOOKUP_TIMEOUT_MS = 10_000;

/**
 * Every address the DHT hands out for `peer`: the answers of all the peers the lookup reaches, not
 * only the first (libp2p's `peerRouting.findPeer` stops at the first answer). The servers do not
 * all know the same: a relay keeps no `/p2p-circuit` address through itself in its peer store, so
 * it answers for a peer it relays for with that peer's unreachable LAN address alone.
 */
async function lookUpAddresses(node: SottoHost, peer: PeerId, callerSignal?: AbortSignal): Promise<Multiaddr[]> {
  const found = new Map<string, Multiaddr>();
  const bound = AbortSignal.timeout(RETRY_LOOKUP_TIMEOUT_MS);
  const signal = callerSignal ? AbortSignal.any([callerSignal, bound]) : bound;
  try {
    for await (const event of node.services.dht.findPeer(peer, { signal, useCache: false })) {
      if (event.name === 'FINAL_PEER' && event.peer.id.equals(peer)) {
        for (const ma of event.peer.multiaddrs) found.set(ma.toString(), ma);
      }
    }
  } catch {
    // not found, or the lookup was cut short: what was found so far is the answer
  }
  return [...found.values()];
}

/**
 * Two changes to how the host opens and accepts protocol streams, whoever calls it:
 *
 * - LIMITED_CONNECTION_PROTOCOLS run over relayed connections: `handle` registers them with
 *   `runOnLimitedConnection` (libp2p otherwise resets such a stream when it arrives over a relay)
 *   and `dialProtocol` opens them with it (libp2p otherwise refuses to use a relayed connection).
 *   Everything else keeps libp2p's default. A direct connection is still preferred whenever one is
 *   open: libp2p reuses a relayed connection only when there is no other.
 * - A dial by peer id that failed on every address we knew is tried once more after a fresh DHT
 *   lookup (`lookUpAddresses`), when that lookup brings addresses we did not have. libp2p looks a
 *   peer up only when it knows no address at all, and takes the first answer: seen in
 *   test/system/nat.test.ts, a sender got a NATed node's LAN address alone from the node's relay
 *   (which keeps no circuit address through itself) and every later send failed on it.
 */
function adaptStreams(node: SottoHost, logger: NetLogger | undefined): void {
  const handle = node.handle.bind(node);
  const dialProtocol = node.dialProtocol.bind(node);
  node.handle = (protocols, handler: StreamHandler, opts) =>
    handle(protocols, handler, allowedOnLimited(protocols) ? { ...opts, runOnLimitedConnection: true } : opts);
  node.dialProtocol = async (
    peer: PeerId | Multiaddr | Multiaddr[],
    protocols: string | string[],
    opts?: AbortOptions,
  ): Promise<Stream> => {
    const options = allowedOnLimited(protocols) ? { ...opts, runOnLimitedConnection: true } : opts;
    try {
      return await dialProtocol(peer, protocols, options);
    } catch (err) {
      const name = (err as Error)?.name ?? '';
      if (!isPeerId(peer) || opts?.signal?.aborted === true || NOT_AN_ADDRESS_PROBLEM.has(name)) throw err;
      if (node.getConnections(peer).length > 0) throw err;
      const before = await knownAddresses(node, peer);
      const fresh = await lookUpAddresses(node, peer, opts?.signal);
      const added = fresh.filter((a) => !before.has(a.toString()));
      if (added.length === 0) {
        logger?.debug?.(`dial to ${peer.toString()} failed (${name}); the DHT knows no other address`);
        throw err;
      }
      await node.peerStore.merge(peer, { multiaddrs: added });
      logger?.debug?.(`dial to ${peer.toString()} failed on known addresses; retrying with fresh ones from the DHT`);
      return dialProtocol(peer, protocols, options);
    }
  };
}

/**
 * When our relay addresses change (a reservation taken, or lost), look ourselves up in the DHT:
 * the peers closest to our id are the ones a `findPeer` for us asks, and the lookup connects us to
 * them, so identify hands them our current addresses, the new `/p2p-circuit` ones included.
 * Without it only the peers we happened to be connected to learn of them (seen in
 * test/system/nat.test.ts: sometimes none but the relay, which keeps no circuit address through
 * itself, and the NATed node could not be found).
 */
function announceRelayAddresses(node: SottoHost, logger: NetLogger | undefined): void {
  let relayed = '';
  node.addEventListener('self:peer:update', () => {
    const now = node
      .getMultiaddrs()
      .map((ma) => ma.toString())
      .filter((ma) => ma.includes('/p2p-circuit'))
      .sort()
      .join(' ');
    if (now === relayed) return;
    relayed = now;
    if (now !== '') selfLookup(node, logger);
  });
}

export async function createHost(options: CreateHostOptions): Promise<SottoHost> {
  const { config, privateKey, dht, logger } = options;
  checkRecordRules(dht);
  const { limits, relay } = config;

  // the walk pacer needs the routing table, which exists once the node does
  let built: SottoHost | undefined;
  const node = await createLibp2p<SottoServices>({
    privateKey,
    ...(options.metrics ? { metrics: options.metrics } : {}),
    start: false,
    addresses: {
      listen: [...config.listen],
      announce: config.announce.length > 0 ? [...config.announce] : undefined,
    },
    // circuitRelayTransport dials `…/p2p-circuit/p2p/<peer>` addresses and, for a `/p2p-circuit`
    // listen address, takes a reservation on a relay among the peers we know.
    transports: [tcp(), webSockets(), circuitRelayTransport()],
    // one socket write per send and no exception object per received chunk (noise-conn.ts)
    connectionEncrypters: [withLeanNoiseFrames(noise({ crypto: noiseCrypto }))],
    // window updates once half a stream's window is used, not one per data frame (yamux-window.ts)
    streamMuxers: [withBatchedWindowUpdates(yamux({ maxEarlyStreams: YAMUX_MAX_EARLY_STREAMS }))],
    connectionGater: connectionGater({
      allowPrivateAddresses: config.allowPrivateAddresses,
      isBanned: options.isBanned,
    }),
    connectionMonitor: { pingInterval: CONNECTION_PING_INTERVAL_MS },
    connectionManager: {
      maxConnections: limits.maxConnections,
      inboundConnectionThreshold: limits.inboundConnectionThreshold,
      maxIncomingPendingConnections: limits.maxIncomingPendingConnections,
      dialTimeout: limits.dialTimeoutMs,
    },
    // No peerDiscovery modules: peers come from config.bootstrap and from the DHT itself.
    peerDiscovery: [],
    // kad-dht is the peer router (as a service); the pacer only slows libp2p's random walk on an
    // empty routing table, which would otherwise spin and starve the event loop (walk-pacer.ts).
    peerRouters: [walkPacer({ routingTableSize: () => (built ? routingTableSize(built) : 0) })],
    services: {
      identify: identify(),
      ping: ping(),
      dht: kadDHT({
        protocol: DHT_PROTOCOL,
        // The default (client until a public address is confirmed) never serves on a devnet.
        clientMode: config.dhtMode === 'client',
        // The default mapper drops private/loopback addresses, which makes a devnet unroutable.
        peerInfoMapper: config.allowPrivateAddresses ? passthroughMapper : removePrivateAddressesMapper,
        validators: { ...dht.validators },
        selectors: { ...dht.selectors },
        // Otherwise every query waits for the first self-query, i.e. forever on a lone node.
        allowQueryWithZeroPeers: true,
        querySelfInterval: DHT_QUERY_SELF_INTERVAL_MS,
      }),
      bootstrap: bootstrapDialer({
        addresses: config.bootstrap,
        logger,
        onFirstConnection: () => selfLookup(node, logger),
      }),
      // AutoNAT v2 and DCUtR act on public addresses only (libp2p treats private ones as
      // reachable); AutoNAT asks connected peers, which dial back on a new connection (see above).
      autoNAT: autoNATv2({
        timeout: AUTONAT_TIMEOUT_MS,
        maxInboundStreams: AUTONAT_MAX_INBOUND_STREAMS,
        maxMessageSize: AUTONAT_MAX_MESSAGE_BYTES,
        maxDialDataBytes: BigInt(AUTONAT_MAX_DIAL_DATA_BYTES),
      }),
      dcutr: dcutr(),
      ...(relay.enabled
        ? {
            relay: circuitRelayServer({
              reservations: {
                maxReservations: relay.maxReservations,
                applyDefaultLimit: true,
                defaultDurationLimit: relay.maxDurationMs,
                defaultDataLimit: BigInt(relay.maxDataBytes),
              },
            }),
          }
        : {}),
    },
  });
  built = node;
  adaptStreams(node, logger);
  announceRelayAddresses(node, logger);
  // kad-dht reads its datastore through libp2p's components; patching `put` there covers both
  // remote PUT_VALUE requests and our own puts. Fail now if libp2p's shape ever changes.
  const datastore = (node as unknown as { components?: { datastore?: PutGetDatastore } }).components?.datastore;
  if (datastore == null || typeof datastore.put !== 'function' || typeof datastore.get !== 'function') {
    await node.stop();
    throw new HostAssemblyError('libp2p components.datastore is not reachable: cannot guard DHT records');
  }
  guardDhtRecords(datastore, node.services.dht.validators, node.services.dht.selectors);
  // kad-dht and circuit relay read up to 4 MiB per message; the frame guard holds them to ours.
  const streams = (node as unknown as { components?: Partial<StreamComponents> }).components;
  if (typeof streams?.registrar?.handle !== 'function' || typeof streams?.events?.addEventListener !== 'function') {
    await node.stop();
    throw new HostAssemblyError('libp2p components.registrar/events not reachable: cannot guard DHT and relay streams');
  }
  guardStreamFrames(streams as StreamComponents, STREAM_FRAME_LIMITS, (peer, err) =>
    options.onViolation?.(peer, err.code),
  );
  // A STOP stream from a peer we hold no reservation on would make libp2p listen through it.
  const holdsReservation = findReservationCheck((streams as { transportManager?: unknown }).transportManager);
  if (holdsReservation === undefined) {
    await node.stop();
    throw new HostAssemblyError('circuit relay reservation store not reachable: cannot guard relay STOP streams');
  }
  guardRelayStop(streams as StreamComponents, holdsReservation, (relay) =>
    logger?.debug?.(`refused a relay STOP stream from ${relay}: no reservation held there`),
  );
  if (options.start ?? true) await node.start();
  return node;
}
