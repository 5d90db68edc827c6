/**
 * What the transport layer knows about this node's reachability, as plain data: its addresses
 * with libp2p's verdict on each (AutoNAT v2's for public ones), whether it listens through a
 * relay, its open connections (which of them are relayed, i.e. limited), and the reservations it
 * holds as a relay. For status pages, devnet tools and system tests; nothing here dials or changes
 * anything.
 */
import type { SottoHost } from './host.js';

export interface AddressReport {
  readonly multiaddr: string;
  /**
   * libp2p's verdict: private and loopback addresses count as verified at once (libp2p assumes
   * they are reachable on their own network), and so do announced ones and relay addresses (from
   * the reservation); a public listen address only after an AutoNAT v2 server dialled it back on a
   * new connection, an observed one after 4 such servers in distinct network segments did (host.ts).
   * Only verified addresses are advertised (`multiaddrs`).
   */
  readonly verified: boolean;
  /** `transport` (we listen on it, relay addresses included), `observed`, `announce`, … */
  readonly type: string;
}

export interface ConnectionReport {
  /** libp2p's connection id (unique per process). */
  readonly id: string;
  readonly peer: string;
  readonly remoteAddr: string;
  readonly direction: 'inbound' | 'outbound';
  /** True for a relayed connection: the relay limits its duration and data. */
  readonly limited: boolean;
  /** The protocols of its open streams. */
  readonly streams: readonly string[];
  /** When it opened, ms since the epoch. */
  readonly openedAt: number;
}

export interface TransportReport {
  readonly peerId: string;
  /** What identify advertises (verified addresses only), as `getMultiaddrs()` returns them. */
  readonly multiaddrs: readonly string[];
  readonly addresses: readonly AddressReport[];
  /** Our addresses through relays (`…/p2p-circuit/p2p/<us>`). */
  readonly relayAddresses: readonly string[];
  /** The protocols this node handles (identify advertises them). */
  readonly protocols: readonly string[];
  readonly connections: readonly ConnectionReport[];
  /** Reservations held for other peers; present only when this node serves as a relay. */
  readonly relayReservations?: number;
}

interface AddressManagerView {
  getAddressesWithMetadata(): Array<{ multiaddr: { toString(): string }; verified: boolean; type: string }>;
}

export function transportReport(host: SottoHost): TransportReport {
  const components = (host as unknown as { components?: { addressManager?: AddressManagerView } }).components;
  const addresses = (components?.addressManager?.getAddressesWithMetadata() ?? []).map((a) => ({
    multiaddr: a.multiaddr.toString(),
    verified: a.verified,
    type: a.type,
  }));
  const multiaddrs = host.getMultiaddrs().map((m) => m.toString());
  const connections = host.getConnections().map((c) => ({
    id: c.id,
    peer: c.remotePeer.toString(),
    remoteAddr: c.remoteAddr.toString(),
    direction: c.direction,
    limited: c.limits != null,
    streams: c.streams.map((s) => s.protocol ?? ''),
    openedAt: c.timeline.open,
  }));
  const relay = host.services.relay;
  return {
    peerId: host.peerId.toString(),
    multiaddrs,
    addresses,
    relayAddresses: multiaddrs.filter((m) => m.includes('/p2p-circuit')),
    protocols: host.getProtocols(),
    connections,
    ...(relay ? { relayReservations: relay.reservations.size } : {}),
  };
}
