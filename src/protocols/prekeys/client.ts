/**
 * The requesting side of `/sotto/prekeys/1.0.0` (SPEC §3, §5, §7): opens a stream, writes one
 * ClaimRequest, reads and validates one ClaimResponse. Pure wire client: which node to ask (home
 * node, then mailbox nodes) and going ahead without a one-time prekey belong to the session layer.
 */
import type { AbortOptions, DialTarget, Stream } from '@libp2p/interface';
import { InvalidDataLengthError, InvalidDataLengthLengthError, lpStream } from '@libp2p/utils';
import { CLAIM_TIMEOUT_MS, MAX_RESPONSE_FRAME_BYTES, PROTOCOL_ID } from './constants.js';
import {
  BadResponseError,
  ClaimTimeoutError,
  NoResponseError,
  RateLimitedError,
  StreamResetError,
  UnavailableError,
  UnknownIdentityError,
} from './errors.js';
import { type ClaimedPrekey, ClaimStatus, decodeClaimResponse, encodeClaimRequest } from './validate.js';

/** Anything that can open a protocol stream: a libp2p node (`dialProtocol`) fits. */
export interface ProtocolDialer {
  dialProtocol(peer: DialTarget, protocols: string | string[], options?: AbortOptions): Promise<Stream>;
}

export interface ClaimOptions extends AbortOptions {
  /** Milliseconds for the whole operation (dial + stream + write + response); default CLAIM_TIMEOUT_MS. */
  timeout?: number;
}

/** Maps whatever the stream threw into this protocol's typed errors. */
function classify(err: unknown, stream: Stream | undefined, timedOut: boolean): Error {
  if (timedOut) return new ClaimTimeoutError('no response within the claim timeout', { cause: err });
  if (err instanceof BadResponseError) return err;
  if (err instanceof InvalidDataLengthError || err instanceof InvalidDataLengthLengthError) {
    return new BadResponseError('response frame above MAX_RESPONSE_FRAME_BYTES', { cause: err });
  }
  if (stream?.status === 'reset' || (err as Error | undefined)?.name === 'StreamResetError') {
    return new StreamResetError('remote reset the stream', { cause: err });
  }
  if ((err as Error | undefined)?.name === 'UnexpectedEOFError') {
    return new NoResponseError('remote closed the stream without a response', { cause: err });
  }
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * Claims one one-time prekey of `identity` from `peer`. Resolves the validated prekey (id and
 * canonical, non-small-order X25519 public key), or `null` when the peer has none left (EMPTY: run
 * the handshake without a one-time prekey). Throws InvalidFieldLengthError (bad `identity`, before
 * dialling), UnknownIdentityError, RateLimitedError, UnavailableError, BadResponseError,
 * ClaimTimeoutError, NoResponseError, StreamResetError, the dial error, or the caller's abort reason.
 */
export async function claimPrekey(
  dialer: ProtocolDialer,
  peer: DialTarget,
  identity: Uint8Array,
  options: ClaimOptions = {},
): Promise<ClaimedPrekey | null> {
  const request = encodeClaimRequest({ identity }); // validates before dialling
  const ms = options.timeout ?? CLAIM_TIMEOUT_MS;
  const timer = new AbortController();
  const handle = setTimeout(() => timer.abort(new ClaimTimeoutError(`no response within ${ms} ms`)), ms);
  const signal = options.signal == null ? timer.signal : AbortSignal.any([options.signal, timer.signal]);
  let stream: Stream | undefined;
  try {
    let response: ReturnType<typeof decodeClaimResponse>;
    try {
      stream = await dialer.dialProtocol(peer, PROTOCOL_ID, { signal });
      const lp = lpStream(stream, { maxDataLength: MAX_RESPONSE_FRAME_BYTES });
      await lp.write(request, { signal });
      response = decodeClaimResponse(await lp.read({ signal }));
    } catch (err) {
      if (options.signal?.aborted === true && !timer.signal.aborted) {
        stream?.abort(options.signal.reason instanceof Error ? options.signal.reason : new Error('aborted'));
        throw options.signal.reason;
      }
      const typed = classify(err, stream, timer.signal.aborted);
      stream?.abort(typed);
      throw typed;
    }
    // the response is in hand: a failure to close gracefully changes nothing for the caller
    await stream.close({ signal: AbortSignal.timeout(1000) }).catch(() => {});
    switch (response.status) {
      case ClaimStatus.OK:
        return response.prekey;
      case ClaimStatus.EMPTY:
        return null;
      case ClaimStatus.UNKNOWN_IDENTITY:
        throw new UnknownIdentityError('the peer does not serve prekeys for this identity');
      case ClaimStatus.RATE_LIMITED:
        throw new RateLimitedError(response.retryAfterMs);
      default:
        throw new UnavailableError('the peer could not serve the claim right now');
    }
  } finally {
    clearTimeout(handle);
  }
}
