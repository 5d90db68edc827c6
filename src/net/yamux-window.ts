/**
 * Yamux window updates once half a stream's receive window is used, not after every data frame.
 *
 * @chainsafe/libp2p-yamux 8 (`YamuxStream.handleData` → `sendWindowUpdate`) answers every data
 * frame it receives with a window update frame that hands the bytes back at once. On sotto's
 * message path that is one more frame each way per message: the receiver's node sends an update for
 * the envelope just before its ack, the sender's node one for the ack. Each costs a Noise frame
 * (two socket writes) and wakes the other process for nothing.
 *
 * Rule (go-yamux `Stream.sendWindowUpdate`; the yamux spec leaves the timing to the receiver): an
 * established stream sends an update only once the bytes received since the last one reach
 * WINDOW_UPDATE_FRACTION of its receive window. Anything else goes through the library unchanged:
 * updates that carry flags (SYN/ACK while the stream opens), a paused stream's bookkeeping, and the
 * library's window auto-tuning whenever an update does go out.
 *
 * Flow control stays sound: the sender may have at most a whole window in flight, and the update
 * goes out at half of it, so a sender never waits on an update that is held back. Streams this does
 * not recognise (another muxer, or a yamux whose shape changed) keep the library's behaviour; the
 * tests (test/net/yamux-window.test.ts) fail when that happens to ours.
 *
 * Measured (scratch two-process runs, 10 interleaved pairs, 2026-11-27): delivered msgs/s with 4 in
 * flight 595 against 495 (medians), with 16 in flight 1,029 against 934; the sequential p50 did
 * not change beyond the noise. In three interleaved `bench:node --quick` pairs the throughput
 * difference was within that benchmark's noise (CHANGELOG).
 */
import { StreamState, YamuxStream } from '@chainsafe/libp2p-yamux/stream';
import type { Stream, StreamMuxer, StreamMuxerFactory } from '@libp2p/interface';
import { HostAssemblyError } from './errors.js';

/**
 * The share of a stream's receive window that must have arrived before a window update goes out
 * (go-yamux: `if delta < (max/2) && flags == 0 { return }`). At half, the sender still holds the
 * other half of its window when the update leaves, so it never stalls on a held-back update.
 */
export const WINDOW_UPDATE_FRACTION = 0.5;

/** The fields of a YamuxStream this reads (public JS properties, not on its declared type). */
interface WindowFields {
  state: StreamState;
  recvWindow: number;
  recvWindowCapacity: number;
  sendWindowUpdate(): void;
}

/** The muxer hooks this wraps (AbstractStreamMuxer's, implemented by YamuxMuxer). */
interface MuxerHooks {
  onCreateStream(options: unknown): Stream | Promise<Stream>;
  onRemoteStream(stream: Stream): void;
}

/** The library's own method (undefined if yamux changed shape; withBatchedWindowUpdates checks). */
const upstreamSendWindowUpdate = (YamuxStream.prototype as unknown as Partial<WindowFields>).sendWindowUpdate;

/** Replaces `sendWindowUpdate` on the streams batchWindowUpdates accepts: one function for all of them. */
function batchedSendWindowUpdate(this: WindowFields): void {
  const used = this.recvWindow - this.recvWindowCapacity;
  if (this.state === StreamState.Established && used < this.recvWindow * WINDOW_UPDATE_FRACTION) return;
  upstreamSendWindowUpdate?.call(this);
}

/**
 * Makes `stream` send window updates by WINDOW_UPDATE_FRACTION. Returns false (and changes nothing)
 * for a stream that is not a YamuxStream of the expected shape.
 */
export function batchWindowUpdates(stream: Stream): boolean {
  if (!(stream instanceof YamuxStream)) return false;
  const fields = stream as unknown as Partial<WindowFields>;
  if (
    typeof upstreamSendWindowUpdate !== 'function' ||
    fields.sendWindowUpdate !== upstreamSendWindowUpdate ||
    typeof fields.recvWindow !== 'number' ||
    typeof fields.recvWindowCapacity !== 'number' ||
    typeof fields.state !== 'number'
  ) {
    return false;
  }
  fields.sendWindowUpdate = batchedSendWindowUpdate;
  return true;
}

/** Patches every stream `muxer` creates or accepts (see batchWindowUpdates); leaves a muxer without those hooks alone. */
function patchMuxer(muxer: StreamMuxer): void {
  const hooks = muxer as unknown as Partial<MuxerHooks>;
  const onCreate = hooks.onCreateStream;
  const onRemote = hooks.onRemoteStream;
  if (typeof onCreate !== 'function' || typeof onRemote !== 'function') return;
  hooks.onCreateStream = function onCreateStream(this: MuxerHooks, options: unknown) {
    const created = onCreate.call(this, options);
    if (created instanceof Promise) {
      return created.then((stream) => {
        batchWindowUpdates(stream);
        return stream;
      });
    }
    batchWindowUpdates(created);
    return created;
  };
  hooks.onRemoteStream = function onRemoteStream(this: MuxerHooks, stream: Stream): void {
    // before the library sees the stream, so before its first data frame is handled
    batchWindowUpdates(stream);
    onRemote.call(this, stream);
  };
}

/**
 * Wraps a stream muxer factory (`yamux(…)`) so that the muxers it creates send window updates by
 * WINDOW_UPDATE_FRACTION. Throws HostAssemblyError when the installed yamux no longer has the
 * method this replaces.
 */
export function withBatchedWindowUpdates<C>(
  muxer: (components: C) => StreamMuxerFactory,
): (components: C) => StreamMuxerFactory {
  if (typeof upstreamSendWindowUpdate !== 'function') {
    throw new HostAssemblyError(
      '@chainsafe/libp2p-yamux has no YamuxStream.sendWindowUpdate: cannot batch window updates',
    );
  }
  return (components) => {
    const factory = muxer(components);
    const create = factory.createStreamMuxer.bind(factory);
    factory.createStreamMuxer = (maConn) => {
      const created = create(maConn);
      patchMuxer(created);
      return created;
    };
    return factory;
  };
}
