/**
 * The identity's side of `/sotto/mailbox/1.0.0` (SPEC §3–§6): opens one fetch session on a mailbox
 * node, proves it holds the identity key, takes the stored envelopes batch by batch, hands each
 * batch's valid envelopes to the caller and acks the batch once the caller has stored them. Pure wire
 * client: which mailbox to ask, when, and whether to open another session when one ends with
 * `remaining > 0` belong to the delivery engine.
 */
import { type AbortOptions, type DialTarget, isPeerId, type PeerId, type Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { InvalidDataLengthError, InvalidDataLengthLengthError, lpStream } from '@libp2p/utils';
import { strictLengthDecoder } from '../common/stream.js';
import { decodeEnvelope, type WireEnvelope } from '../message/validate.js';
import { MAX_BATCHES_PER_STREAM, MAX_SERVER_FRAME_BYTES, PROTOCOL_ID, READ_TIMEOUT_MS } from './constants.js';
import {
  BadResponseError,
  FetchTimeoutError,
  FrameTooLargeError,
  NoResponseError,
  RateLimitedError,
  StreamResetError,
  UnauthorizedError,
  UnavailableError,
  UnknownIdentityError,
} from './errors.js';
import {
  decodeServerFrame,
  encodeClientFrame,
  fetchAuthMessage,
  type MailboxBatch,
  MailboxStatus,
  type ServerMessage,
  type UploadedPrekey,
  validateIdentity,
} from './validate.js';

/** Anything that can open a protocol stream: a libp2p node (`dialProtocol`) fits. */
export interface ProtocolDialer {
  dialProtocol(peer: DialTarget, protocols: string | string[], options?: AbortOptions): Promise<Stream>;
}

/** A stored entry the client skipped because it is not a valid envelope for this identity (SPEC §5). */
export interface InvalidEntry {
  /** The id the mailbox stores it under; it is acked (deleted) like the valid ones. */
  id: Uint8Array;
  /** Why it was skipped: the message protocol's validation error, or a mismatch (id, recipient). */
  error: Error;
}

export interface FetchOptions extends AbortOptions {
  /** The Ed25519 identity public key (32 bytes) whose mailbox to fetch. */
  identity: Uint8Array;
  /** Signs the fetch-auth bytes (SPEC §4) with the identity key; returns the 64-byte Ed25519 signature. */
  sign: (message: Uint8Array) => Uint8Array | Promise<Uint8Array>;
  /** Local peer id (the client peer id of the signed bytes): the peer id Noise presents to the mailbox. */
  localPeer: PeerId;
  /**
   * Called with each batch's decoded, validated envelopes (oldest first; never called with none);
   * resolve once they are durably stored: all entries of the batch are then acked and deleted. A
   * rejection resets the stream (nothing of that batch is acked) and `fetchMailbox` rejects with it.
   * Should settle well within the mailbox's ACK_TIMEOUT_MS (30 s).
   */
  onBatch: (envelopes: WireEnvelope[]) => Promise<void>;
  /** Told about each entry skipped as invalid (it is still acked, SPEC §5); must not throw. */
  onInvalid?: (entry: InvalidEntry) => void;
  /** Milliseconds to open the stream and to wait for each mailbox frame; default READ_TIMEOUT_MS. */
  timeout?: number;
  /** One-time prekeys to upload with the Auth (SPEC §12), at most MAX_UPLOAD_PREKEYS. */
  upload?: UploadedPrekey[];
}

export interface FetchResult {
  /** Valid envelopes handed to `onBatch` and acked. */
  fetched: number;
  /** Non-empty batches received and acked. */
  batches: number;
  /** Entries skipped as invalid (and acked, so the mailbox deleted them). */
  invalid: number;
  /**
   * From the Batch that ended the session: 0 = the mailbox is empty; more = the mailbox ended the
   * session at its per-stream cap (MAX_BATCHES_PER_STREAM) — open another session for the rest.
   */
  remaining: number;
  /** One-time prekeys the mailbox holds for the identity (after this session's upload, SPEC §12). */
  prekeys: number;
}

/** The mailbox's peer id from the dial target: the "mailbox peer id" of the signed bytes (SPEC §4). */
function targetPeer(peer: DialTarget): PeerId {
  if (isPeerId(peer)) return peer;
  const addrs = Array.isArray(peer) ? peer : [peer];
  let id: string | undefined;
  for (const addr of addrs) {
    const p2p = addr
      .getComponents()
      .filter((c) => c.name === 'p2p')
      .at(-1)?.value;
    if (p2p == null || (id != null && id !== p2p)) {
      throw new TypeError('fetchMailbox needs a PeerId or multiaddrs ending in the same /p2p/<peer id>');
    }
    id = p2p;
  }
  if (id == null) throw new TypeError('fetchMailbox needs a PeerId or a multiaddr');
  return peerIdFromString(id);
}

/** Maps whatever the stream threw into this protocol's typed errors. */
function classify(err: unknown, stream: Stream | undefined, timedOut: boolean): Error {
  if (timedOut) return new FetchTimeoutError('no stream or frame from the mailbox within the timeout', { cause: err });
  if (err instanceof BadResponseError) return err;
  if (
    err instanceof FrameTooLargeError ||
    err instanceof InvalidDataLengthError ||
    err instanceof InvalidDataLengthLengthError
  ) {
    return new BadResponseError('server frame above MAX_SERVER_FRAME_BYTES', { cause: err });
  }
  if (stream?.status === 'reset' || (err as Error | undefined)?.name === 'StreamResetError') {
    return new StreamResetError('remote reset the stream', { cause: err });
  }
  if ((err as Error | undefined)?.name === 'UnexpectedEOFError') {
    return new NoResponseError('the mailbox closed the stream before the session ended', { cause: err });
  }
  return err instanceof Error ? err : new Error(String(err));
}

/** The typed error for a non-OK status (SPEC §5). */
function statusError(batch: Exclude<MailboxBatch, { status: typeof MailboxStatus.OK }>): Error {
  switch (batch.status) {
    case MailboxStatus.UNAUTHORIZED:
      return new UnauthorizedError('the mailbox refused the signature');
    case MailboxStatus.UNKNOWN_IDENTITY:
      return new UnknownIdentityError('the mailbox does not hold mail for this identity');
    case MailboxStatus.RATE_LIMITED:
      return new RateLimitedError(batch.retryAfterMs);
    default:
      return new UnavailableError('the mailbox could not serve the fetch right now');
  }
}

/** Thrown by the caller's own callbacks (`sign`, `onBatch`): passed through as is. */
class CallerError {
  constructor(readonly error: unknown) {}
}

const decodeLength = strictLengthDecoder(
  MAX_SERVER_FRAME_BYTES,
  () => new FrameTooLargeError('length prefix above MAX_SERVER_FRAME_BYTES'),
);

/**
 * Fetches the mailbox of `options.identity` from `peer` (a PeerId, or multiaddrs ending in
 * `/p2p/<peer id>`: the signature names that peer) in one session, and acks every batch after
 * `onBatch` resolved. Resolves when the mailbox ends the session with an empty batch.
 *
 * Throws TypeError / InvalidFieldLengthError (bad arguments, before dialling), UnauthorizedError,
 * UnknownIdentityError, RateLimitedError, UnavailableError, BadResponseError, FetchTimeoutError,
 * NoResponseError, StreamResetError, the dial error, the caller's abort reason, or whatever `sign` or
 * `onBatch` threw. After an error, batches already acked are deleted at the mailbox (or will be fetched
 * again: dedupe by envelope id); the unacked ones stay stored.
 */
export async function fetchMailbox(
  dialer: ProtocolDialer,
  peer: DialTarget,
  options: FetchOptions,
): Promise<FetchResult> {
  const identity = validateIdentity(options.identity);
  if (typeof options.sign !== 'function') throw new TypeError('fetchMailbox needs options.sign');
  if (typeof options.onBatch !== 'function') throw new TypeError('fetchMailbox needs options.onBatch');
  if (!isPeerId(options.localPeer)) throw new TypeError('fetchMailbox needs options.localPeer');
  const mailboxPeer = targetPeer(peer).toMultihash().bytes;
  const clientPeer = options.localPeer.toMultihash().bytes;
  const hello = encodeClientFrame({ type: 'hello', identity });
  const upload = options.upload ?? [];
  // the Auth's upload is checked before dialling too (a signature-sized placeholder, same rules)
  encodeClientFrame({ type: 'auth', signature: new Uint8Array(64), prekeys: upload });
  const ms = options.timeout ?? READ_TIMEOUT_MS;
  let timedOut = false;

  /** Runs one step (open, write, read) under the per-frame timeout and the caller's signal. */
  const within = async <T>(step: (signal: AbortSignal) => Promise<T>): Promise<T> => {
    // an abort stops before the next step (lpStream's write would still send its bytes)
    options.signal?.throwIfAborted();
    const timer = new AbortController();
    const handle = setTimeout(() => {
      timedOut = true;
      timer.abort(new FetchTimeoutError(`no stream or frame from the mailbox within ${ms} ms`));
    }, ms);
    try {
      return await step(options.signal == null ? timer.signal : AbortSignal.any([options.signal, timer.signal]));
    } finally {
      clearTimeout(handle);
    }
  };

  const result: FetchResult = { fetched: 0, batches: 0, invalid: 0, remaining: 0, prekeys: 0 };
  let stream: Stream | undefined;
  let ending: MailboxBatch;
  try {
    const s = await within((signal) => dialer.dialProtocol(peer, PROTOCOL_ID, { signal }));
    stream = s;
    const lp = lpStream(s, { maxDataLength: MAX_SERVER_FRAME_BYTES, lengthDecoder: decodeLength });
    const read = (): Promise<ServerMessage> => within(async (signal) => decodeServerFrame(await lp.read({ signal })));
    const write = (frame: Uint8Array): Promise<void> => within((signal) => lp.write(frame, { signal }));

    await write(hello);
    const challenge = await read();
    if (challenge.type === 'batch') {
      if (challenge.batch.status === MailboxStatus.OK) throw new BadResponseError('a batch before the challenge');
      ending = challenge.batch;
    } else {
      const signed = fetchAuthMessage({ mailboxPeer, clientPeer, nonce: challenge.nonce, identity });
      let signature: Uint8Array;
      try {
        signature = await options.sign(signed);
      } catch (err) {
        throw new CallerError(err);
      }
      await write(encodeClientFrame({ type: 'auth', signature, prekeys: upload }));
      while (true) {
        const next = await read();
        if (next.type === 'challenge') throw new BadResponseError('a second challenge');
        const batch = next.batch;
        if (batch.status !== MailboxStatus.OK || batch.entries.length === 0) {
          ending = batch;
          break;
        }
        if (result.batches >= MAX_BATCHES_PER_STREAM) {
          throw new BadResponseError(`more than ${MAX_BATCHES_PER_STREAM} batches on one stream`);
        }
        const envelopes: WireEnvelope[] = [];
        for (const entry of batch.entries) {
          let error: Error | undefined;
          try {
            const envelope = decodeEnvelope(entry.envelope);
            if (!equalBytes(envelope.id, entry.id)) error = new Error('envelope id differs from the entry id');
            else if (!equalBytes(envelope.recipient, identity)) error = new Error('envelope is for another recipient');
            else envelopes.push(envelope);
          } catch (err) {
            error = err instanceof Error ? err : new Error(String(err));
          }
          if (error != null) {
            result.invalid++;
            try {
              options.onInvalid?.({ id: entry.id, error });
            } catch {
              // a reporting callback cannot stop the fetch
            }
          }
        }
        if (envelopes.length > 0) {
          try {
            await options.onBatch(envelopes);
          } catch (err) {
            throw new CallerError(err);
          }
        }
        // stored (or invalid): ack all of them, the invalid ones too, so none blocks the mailbox
        await write(encodeClientFrame({ type: 'ack', ids: batch.entries.map((e) => e.id) }));
        result.fetched += envelopes.length;
        result.batches++;
      }
    }
  } catch (err) {
    if (err instanceof CallerError) {
      stream?.abort(err.error instanceof Error ? err.error : new Error('fetch callback failed'));
      throw err.error;
    }
    if (options.signal?.aborted === true && !timedOut) {
      stream?.abort(options.signal.reason instanceof Error ? options.signal.reason : new Error('aborted'));
      throw options.signal.reason;
    }
    const typed = classify(err, stream, timedOut);
    stream?.abort(typed);
    throw typed;
  }
  // the session is over (the mailbox closed its side): a failure to close gracefully changes nothing
  await stream.close({ signal: AbortSignal.timeout(1000) }).catch(() => {});
  if (ending.status !== MailboxStatus.OK) throw statusError(ending);
  result.remaining = ending.remaining;
  result.prekeys = ending.prekeys ?? 0;
  return result;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let diff = 0;
  for (let i = 0; i < a.byteLength; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}
