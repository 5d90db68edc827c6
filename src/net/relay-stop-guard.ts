/**
 * Circuit relay v2 STOP streams only from a relay we hold a reservation on.
 *
 * A STOP stream is a relay telling us "a peer dials you through me". @libp2p/circuit-relay-v2 (4.x,
 * `CircuitRelayTransport.onStop`) answers a STOP from a peer it holds no reservation with by
 * starting to listen through that peer (`transportManager.listen(<its address>/p2p-circuit)`):
 * any peer running a relay server could so make itself one of our relays — on a node configured
 * with no relay at all, or with another one — and from then on see who dials us through it, and
 * when. The library means it to mend a relay that lost track of our reservation; a relay that has
 * lost it does not relay to us, and our own node takes its configured reservations again by
 * itself, so nothing is lost by refusing.
 *
 * Rule: a STOP stream is handed to the library only when its connection's remote peer is a relay
 * we hold a reservation on (the transport's own reservation store says so); any other is aborted
 * before a byte of it is read (`UnexpectedRelayStopError`). Not a protocol violation (no ban): a
 * relay that still holds an old reservation of ours after our restart sends such streams in good
 * faith.
 */
import { RELAY_V2_STOP_CODEC } from '@libp2p/circuit-relay-v2';
import type { PeerId } from '@libp2p/interface';
import { UnexpectedRelayStopError } from './errors.js';
import type { StreamComponents } from './frame-guard.js';

/** What the guard needs of libp2p's components: the registrar whose handlers it wraps. */
export type RelayStopComponents = Pick<StreamComponents, 'registrar'>;

/**
 * Wraps `registrar.handle` so that the STOP handler registered through it (circuit relay's, at
 * start) sees only streams from peers for which `holdsReservation(peer)` is true. Call it before
 * the host starts. `onRefused` hears of each refused stream (an exception it throws is dropped).
 */
export function guardRelayStop(
  components: RelayStopComponents,
  holdsReservation: (peer: PeerId) => boolean,
  onRefused?: (peer: PeerId) => void,
): void {
  const { registrar } = components;
  const handle = registrar.handle.bind(registrar);
  registrar.handle = (name, handler, options) => {
    if (name !== RELAY_V2_STOP_CODEC) return handle(name, handler, options);
    return handle(
      name,
      (stream, connection) => {
        const relay = connection.remotePeer;
        if (holdsReservation(relay)) return handler(stream, connection);
        stream.abort(new UnexpectedRelayStopError(relay.toString()));
        try {
          onRefused?.(relay);
        } catch {
          // a listener's failure changes nothing for the stream
        }
      },
      options,
    );
  };
}

/** The reservation store of @libp2p/circuit-relay-v2's transport (not on its public type). */
interface ReservationStoreView {
  hasReservation(peer: PeerId): boolean;
}

/**
 * The circuit relay transport's "do we hold a reservation on this peer", found among the
 * transport manager's transports; undefined when no transport has one (libp2p changed shape).
 */
export function findReservationCheck(transportManager: unknown): ((peer: PeerId) => boolean) | undefined {
  const tm = transportManager as { getTransports?: () => unknown[] } | undefined;
  if (typeof tm?.getTransports !== 'function') return undefined;
  for (const transport of tm.getTransports()) {
    const store = (transport as { reservationStore?: Partial<ReservationStoreView> } | undefined)?.reservationStore;
    if (store !== undefined && typeof store.hasReservation === 'function') {
      const view = store as ReservationStoreView;
      return (peer) => view.hasReservation(peer);
    }
  }
  return undefined;
}
