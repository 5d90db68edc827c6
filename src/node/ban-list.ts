/**
 * The ban list (issue 7, "a connection gater with a ban list fed by misbehaviour"): every stream a
 * protocol handler resets for a protocol violation (an oversized, truncated or malformed frame, a
 * frame of the wrong kind, too many envelopes on a stream) is reported here against the remote
 * peer; a peer that commits MISBEHAVIOUR_THRESHOLD violations within MISBEHAVIOUR_WINDOW_MS is
 * banned for BAN_DURATION_MS: the node closes its connections and the connection gater refuses
 * new ones both ways. A correct peer never causes a violation, so the threshold only has to absorb
 * rare accidents (a peer that crashes mid-frame). Refusals by rate limits are not violations: an
 * honest node with a backlog meets them, and they already cost the node almost nothing.
 *
 * Only the codes in VIOLATION_CODES count: everything else a handler resets a stream for (a read
 * timeout, the remote resetting its own stream, our shutdown, a per-peer stream cap) can happen to
 * an honest peer on a slow or lossy network, or through our own fault.
 */
import { MessageTooLargeError } from '../net/errors.js';
import {
  FrameTooLargeError,
  InvalidFieldLengthError,
  MalformedFrameError,
  TruncatedFrameError,
} from '../protocols/common/errors.js';
import { TooManyIdsError, TooManyPrekeysError, UnexpectedFrameError } from '../protocols/mailbox/errors.js';
import {
  BodyTooLargeError,
  EmptyBodyError,
  InvalidTimestampError,
  TooManyEnvelopesError,
} from '../protocols/message/errors.js';

/** Violations within the window that get a peer banned. */
export const MISBEHAVIOUR_THRESHOLD = 20;
/** The window violations are counted in (sliding: each violation expires this long after it). */
export const MISBEHAVIOUR_WINDOW_MS = 60_000;
/** How long a ban lasts. */
export const BAN_DURATION_MS = 10 * 60_000;
/** Peers tracked at once (offenders and banned); beyond that the least recently seen is forgotten. */
export const MAX_TRACKED_OFFENDERS = 10_000;

/**
 * The reset codes that are protocol violations (rule: "a correct peer never causes a violation"):
 * frames too large, truncated, malformed or of the wrong kind, invalid fields, too many envelopes,
 * ids or prekeys in one frame or stream (protocols/message/SPEC.md §6, protocols/prekeys/SPEC.md,
 * protocols/mailbox/SPEC.md §9), a DHT or relay message above its limit (src/net/frame-guard.ts).
 * Not in it: read and ack timeouts (a slow or partitioned network looks the same as a slow-loris
 * from here; the timeout itself is the defence), our own shutdown, a stream the remote reset, and
 * the per-peer stream cap.
 */
export const VIOLATION_CODES: ReadonlySet<string> = new Set([
  FrameTooLargeError.code,
  TruncatedFrameError.code,
  MalformedFrameError.code,
  InvalidFieldLengthError.code,
  EmptyBodyError.code,
  BodyTooLargeError.code,
  InvalidTimestampError.code,
  TooManyEnvelopesError.code,
  UnexpectedFrameError.code,
  TooManyIdsError.code,
  TooManyPrekeysError.code,
  MessageTooLargeError.code,
]);

interface Offender {
  /** Times of the violations still inside the window, oldest first. */
  violations: number[];
  bannedUntil: number;
  reason: string;
}

export interface BanEntry {
  peer: string;
  until: number;
  /** The code of the violation that tipped it over. */
  reason: string;
}

export class BanList {
  private readonly offenders = new Map<string, Offender>();
  private issued = 0;

  constructor(private readonly now: () => number) {}

  /**
   * Counts one reset of a stream of `peer` for `code`; returns true when this one got it banned.
   * Codes outside VIOLATION_CODES are ignored.
   */
  report(peer: string, code: string): boolean {
    if (!VIOLATION_CODES.has(code)) return false;
    const now = this.now();
    const o = this.touch(peer);
    if (o.bannedUntil > now) return false;
    while (o.violations.length > 0 && (o.violations[0] as number) <= now - MISBEHAVIOUR_WINDOW_MS) o.violations.shift();
    o.violations.push(now);
    if (o.violations.length < MISBEHAVIOUR_THRESHOLD) return false;
    o.violations = [];
    o.bannedUntil = now + BAN_DURATION_MS;
    o.reason = code;
    this.issued++;
    return true;
  }

  /** Bans issued so far (for metrics: a peer banned twice counts twice). */
  get total(): number {
    return this.issued;
  }

  isBanned(peer: string): boolean {
    const o = this.offenders.get(peer);
    return o !== undefined && o.bannedUntil > this.now();
  }

  /** Peers banned right now. */
  banned(): BanEntry[] {
    const now = this.now();
    const out: BanEntry[] = [];
    for (const [peer, o] of this.offenders) {
      if (o.bannedUntil > now) out.push({ peer, until: o.bannedUntil, reason: o.reason });
    }
    return out;
  }

  /** Lifts a ban (an operator's decision). Returns false when `peer` was not banned. */
  unban(peer: string): boolean {
    const banned = this.isBanned(peer);
    this.offenders.delete(peer);
    return banned;
  }

  private touch(peer: string): Offender {
    let o = this.offenders.get(peer);
    if (o === undefined) {
      o = { violations: [], bannedUntil: 0, reason: '' };
    } else {
      this.offenders.delete(peer); // re-insert: Map order is the recency order
    }
    this.offenders.set(peer, o);
    if (this.offenders.size > MAX_TRACKED_OFFENDERS) {
      const oldest = this.offenders.keys().next().value;
      if (oldest !== undefined) this.offenders.delete(oldest);
    }
    return o;
  }
}
