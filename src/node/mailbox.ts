/**
 * The mailbox role: this node holds envelopes for other identities while their nodes are offline
 * (protocols/mailbox/SPEC.md). Deposits arrive on `/sotto/msg/1.0.0` like any envelope; an envelope
 * whose recipient is not this node's identity is deposited here when the operator's policy accepts
 * that identity, within the quotas. The mailbox keeps the envelope's bytes opaque: it never holds a
 * key that could open them, and it records nothing about a deposit beyond the envelope itself.
 */

import { fromHex, toHex } from '../crypto/index.js';
import { decodeAddress } from '../identity/address.js';
import type { MailboxStorage } from '../protocols/mailbox/index.js';
import { AckStatus, type EnvelopeDecision, MAX_FRAME_BYTES } from '../protocols/message/index.js';
import { TokenBucketLimiter } from '../protocols/prekeys/index.js';
import type { MailboxQuota, SottoStore } from '../store/index.js';
import { InvalidMailboxOptionsError } from './errors.js';

/** Default most envelopes held per identity (quota; the operator may change it). */
export const DEFAULT_MAILBOX_MAX_ENVELOPES_PER_IDENTITY = 10_000;
/** Default most envelope bytes held per identity: 64 MiB. */
export const DEFAULT_MAILBOX_MAX_BYTES_PER_IDENTITY = 64 * 1024 * 1024;
/** Default most envelope bytes held in all: 1 GiB. */
export const DEFAULT_MAILBOX_MAX_TOTAL_BYTES = 1024 * 1024 * 1024;
/** Default time an envelope is held before it expires unfetched: 30 days. */
export const DEFAULT_MAILBOX_TTL_MS = 30 * 24 * 60 * 60 * 1000;
/** Most uploaded one-time prekeys a mailbox keeps per identity (a bound on what an identity can store). */
export const MAILBOX_MAX_PREKEYS_PER_IDENTITY = 100;
/** How often expired envelopes are deleted. */
export const MAILBOX_EXPIRY_INTERVAL_MS = 60 * 60 * 1000;
/**
 * Deposits per sending peer: burst (rule: "deposit (any sender, rate-limited …)", issue 5). Sized so
 * that one person's backlog to an offline friend (hundreds of messages) is taken in one go; the
 * per-identity and total quotas bound what a flood can store.
 */
export const MAILBOX_DEPOSIT_BURST = 256;
/** Deposits per sending peer: one token back every this many ms (100 per second sustained). */
export const MAILBOX_DEPOSIT_REFILL_MS = 10;
/** Most mailboxes an identity lists (the directory record's own limit, src/directory/record.ts). */
export { MAX_MAILBOXES } from '../directory/record.js';

export interface MailboxRoleOptions {
  /** `allow-list`: only the identities in `allow`; `open`: anyone, within the quotas. */
  policy: 'allow-list' | 'open';
  /** Addresses of the identities served under `allow-list`. */
  allow?: string[];
  maxEnvelopesPerIdentity?: number;
  maxBytesPerIdentity?: number;
  maxTotalBytes?: number;
  /** Milliseconds an envelope is held before it expires unfetched. */
  ttlMs?: number;
  /** Largest envelope accepted, encoded bytes (at most the message protocol's frame limit). */
  maxEnvelopeBytes?: number;
}

export interface MailboxRoleConfig {
  policy: 'allow-list' | 'open';
  /** Identity keys (hex) served under `allow-list`. */
  allow: Set<string>;
  quota: MailboxQuota;
  ttlMs: number;
  maxEnvelopeBytes: number;
}

function positiveInt(what: string, value: number | undefined, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new InvalidMailboxOptionsError(`mailbox ${what} must be an integer 1..${max}`);
  }
  return value;
}

/** Validates the mailbox role options (a mistyped allow-list address is an error, not ignored). */
export function parseMailboxRole(options: MailboxRoleOptions): MailboxRoleConfig {
  if (options === null || typeof options !== 'object')
    throw new InvalidMailboxOptionsError('mailbox must be an object');
  if (options.policy !== 'allow-list' && options.policy !== 'open') {
    throw new InvalidMailboxOptionsError('mailbox policy must be "allow-list" or "open"');
  }
  const allow = new Set<string>();
  for (const address of options.allow ?? []) {
    try {
      allow.add(toHex(decodeAddress(address)));
    } catch (err) {
      throw new InvalidMailboxOptionsError(`mailbox allow list: ${(err as Error).message}`);
    }
  }
  return {
    policy: options.policy,
    allow,
    quota: {
      maxEnvelopesPerIdentity: positiveInt(
        'maxEnvelopesPerIdentity',
        options.maxEnvelopesPerIdentity,
        DEFAULT_MAILBOX_MAX_ENVELOPES_PER_IDENTITY,
        0xffffffff,
      ),
      maxBytesPerIdentity: positiveInt(
        'maxBytesPerIdentity',
        options.maxBytesPerIdentity,
        DEFAULT_MAILBOX_MAX_BYTES_PER_IDENTITY,
      ),
      maxTotalBytes: positiveInt('maxTotalBytes', options.maxTotalBytes, DEFAULT_MAILBOX_MAX_TOTAL_BYTES),
    },
    ttlMs: positiveInt('ttlMs', options.ttlMs, DEFAULT_MAILBOX_TTL_MS),
    maxEnvelopeBytes: positiveInt('maxEnvelopeBytes', options.maxEnvelopeBytes, MAX_FRAME_BYTES, MAX_FRAME_BYTES),
  };
}

/** What the node needs from the mailbox role: accept deposits, expire, serve fetches. */
export class MailboxRole {
  private readonly deposits: TokenBucketLimiter;

  constructor(
    readonly config: MailboxRoleConfig,
    private readonly store: SottoStore,
    private readonly now: () => number,
  ) {
    // on the node's clock (injectable), which the limiter never lets mint tokens by going back
    this.deposits = new TokenBucketLimiter({
      capacity: MAILBOX_DEPOSIT_BURST,
      refillIntervalMs: MAILBOX_DEPOSIT_REFILL_MS,
      now,
    });
  }

  serves(identityHex: string): boolean {
    return this.config.policy === 'open' || this.config.allow.has(identityHex);
  }

  /**
   * Deposits one envelope (its exact encoded bytes) for `recipientHex`, or says why not. Answers
   * UNKNOWN_RECIPIENT for an identity this mailbox does not serve (as a node that does not host it),
   * and REJECTED `sealed-required` for a plain envelope (protocols/message/SPEC.md §9: a mailbox
   * stores only sealed envelopes, so no sender identity ever lands in its store). `fromPeer` feeds
   * the in-memory rate limit only; it is never stored.
   */
  async deposit(
    recipientHex: string,
    id: string,
    encoded: Uint8Array,
    fromPeer: string,
    sealed: boolean,
  ): Promise<EnvelopeDecision> {
    if (!this.serves(recipientHex)) return AckStatus.UNKNOWN_RECIPIENT;
    if (!sealed) return { status: AckStatus.REJECTED, reason: 'sealed-required' };
    if (encoded.byteLength > this.config.maxEnvelopeBytes) return AckStatus.TOO_LARGE;
    if (!this.deposits.take(fromPeer).ok) return { status: AckStatus.REJECTED, reason: 'rate-limited' };
    const result = await this.store.mailbox.deposit(
      { identity: recipientHex, id, envelope: encoded, storedAt: this.now() },
      this.config.quota,
    );
    switch (result) {
      case 'stored':
        return AckStatus.STORED;
      case 'duplicate':
        return AckStatus.DUPLICATE;
      case 'over-quota':
        return { status: AckStatus.REJECTED, reason: 'over-quota' };
      case 'full':
        return { status: AckStatus.REJECTED, reason: 'mailbox-full' };
    }
  }

  /** The fetch protocol's view of the held envelopes (bytes in, bytes out; ids as raw bytes). */
  storage(): MailboxStorage {
    const store = this.store;
    return {
      serves: (identity) => this.serves(toHex(identity)),
      list: async (identity, limit, maxBytes) =>
        (await store.mailbox.list(toHex(identity), limit, maxBytes)).map((e) => ({
          id: fromHex(e.id),
          envelope: e.envelope,
        })),
      remove: (identity, ids) =>
        store.mailbox.remove(
          toHex(identity),
          ids.map((id) => toHex(id)),
        ),
      count: async (identity) => (await store.mailbox.usage(toHex(identity))).count,
      putPrekeys: async (identity, prekeys) => {
        await store.mailbox.putPrekeys(toHex(identity), prekeys, MAILBOX_MAX_PREKEYS_PER_IDENTITY);
      },
      prekeyCount: (identity) => store.mailbox.prekeyCount(toHex(identity)),
    };
  }

  /** Deletes envelopes held longer than the TTL; returns how many. */
  expire(): Promise<number> {
    return this.store.mailbox.expire(Math.max(0, this.now() - this.config.ttlMs));
  }
}
