/**
 * The ban list (issue 7, "a connection gater with a ban list fed by misbehaviour"): every stream a
 * protocol handler resets for a protocol violation (an oversized, truncated or malformed frame, a
 * frame of the wrong kind, too many envelopes on a stream) is reported here against the remote
 * peer; a peer that commits MISBEHAVIOUR_THRESHOLD violations within MISBEHAVIOUR_WINDOW_MS is
 * banned for BAN_DURATION_MS: the node closes its connections and the connection gater refuses
 * new ones both ways. A correct peer never causes a violation, so the threshold only has to absorb
 * rare accidents (a peer that crashes mid-frame). Refusals by rate limits are not violations: an
 * honest node with a backlog meets them, and they already cost the node almost nothing.
 */

/** Violations within the window that get a peer banned. */
export const MISBEHAVIOUR_THRESHOLD = 20;
/** The window violations are counted in (sliding: each violation expires this long after it). */
export const MISBEHAVIOUR_WINDOW_MS = 60_000;
/** How long a ban lasts. */
export const BAN_DURATION_MS = 10 * 60_000;
/** Peers tracked at once (offenders and banned); beyond that the least recently seen is forgotten. */
export const MAX_TRACKED_OFFENDERS = 10_000;

/**
 * Reset codes that are not the remote peer's fault: our own shutdown, and a read timeout (a slow or
 * partitioned network looks the same as a slow-loris from here; the timeout itself is the defence).
 */
const NOT_MISBEHAVIOUR = new Set(['ERR_HANDLER_STOPPED', 'ERR_READ_TIMEOUT', 'ERR_ACK_TIMEOUT']);

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

  constructor(private readonly now: () => number) {}

  /** Counts one violation by `peer`; returns true when this one got it banned. */
  report(peer: string, code: string): boolean {
    if (NOT_MISBEHAVIOUR.has(code)) return false;
    const now = this.now();
    const o = this.touch(peer);
    if (o.bannedUntil > now) return false;
    while (o.violations.length > 0 && (o.violations[0] as number) <= now - MISBEHAVIOUR_WINDOW_MS) o.violations.shift();
    o.violations.push(now);
    if (o.violations.length < MISBEHAVIOUR_THRESHOLD) return false;
    o.violations = [];
    o.bannedUntil = now + BAN_DURATION_MS;
    o.reason = code;
    return true;
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
