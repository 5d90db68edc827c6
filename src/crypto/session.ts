/**
 * A Double Ratchet session (Signal's Double Ratchet spec, with the PQXDH output as SK).
 *
 * Transactions: `decrypt` computes every change on the side and commits only after the AEAD tag
 * verifies, so a failed decrypt leaves the state exactly as it was. A message key is deleted on
 * use, so a message decrypts at most once. `encrypt` advances the sending chain; callers that
 * persist sessions must store the advanced state before the ciphertext leaves (SPEC §Storage).
 */
import { checkBytes, concat, equalBytes, toHex, Writer } from './bytes.js';
import { MAX_PLAINTEXT_BYTES, MAX_PREVIOUS_RECEIVING_KEYS, MAX_SKIP } from './constants.js';
import type { CryptoEnv } from './env.js';
import {
  DecryptFailedError,
  DuplicateMessageError,
  InvalidArgumentError,
  SessionMismatchError,
  TooManySkippedError,
} from './errors.js';
import { checkX25519Public, generateX25519KeyPair, type X25519KeyPair } from './keys.js';
import { chainStep } from './ratchet/chain-key.js';
import { openWithMessageKey, sealWithMessageKey } from './ratchet/message-keys.js';
import { encodeRatchetHeader, parseMessage, type RatchetMessage } from './ratchet/messages.js';
import { rootStep } from './ratchet/root-key.js';
import type { SkippedKey, SkippedKeys } from './ratchet/skipped-keys.js';
import { decodeSnapshot, encodeSnapshot } from './snapshot.js';

/** Message numbers are u32 on the wire; a chain cannot go past this. */
export const MAX_MESSAGE_NUMBER = 0xffffffff;

export type SessionRole = 'initiator' | 'responder';

/** The full state of a session; what a snapshot stores. */
export interface SessionState {
  role: SessionRole;
  /** Associated data bound into every message (SPEC §Associated data). */
  ad: Uint8Array;
  localIdentity: Uint8Array;
  remoteIdentity: Uint8Array;
  /** The initiator's PQXDH ephemeral public key: identifies the handshake. */
  baseKey: Uint8Array;
  rootKey: Uint8Array;
  /** DHs: our current ratchet key pair. */
  dhs: X25519KeyPair;
  /** DHr: their current ratchet public key. */
  dhr: Uint8Array | null;
  cks: Uint8Array | null;
  ckr: Uint8Array | null;
  ns: number;
  nr: number;
  pn: number;
  /** Initiator only: the encoded PQXDH header sent with every message until the first reply. */
  pendingPrekey: Uint8Array | null;
  /**
   * Responder only: SHA-256 of the handshake header that created the session, so a repeated
   * handshake message is accepted only if every one of its fields is the original's.
   */
  handshakeDigest: Uint8Array | null;
  /** Receiving ratchet keys we replaced, newest last (bounded by MAX_PREVIOUS_RECEIVING_KEYS). */
  previousDhr: Uint8Array[];
  skipped: SkippedKeys;
}

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

export interface SessionInfo {
  role: SessionRole;
  localIdentity: string;
  remoteIdentity: string;
  sendingCounter: number;
  receivingCounter: number;
  skippedKeys: number;
  awaitingReply: boolean;
}

export class Session {
  /** @internal */ readonly state: SessionState;
  private readonly env: CryptoEnv;
  /** u16 length || AD: the prefix of every message's AEAD associated data. */
  private readonly adPrefix: Uint8Array;

  /** @internal Use initiateSession / respondToSession / Session.restore. */
  constructor(env: CryptoEnv, state: SessionState) {
    this.env = env;
    this.state = state;
    this.adPrefix = new Writer(state.ad.length + 2).vec16(state.ad).finish();
  }

  /** Restores a session from `snapshot()` bytes; throws SnapshotInvalidError / UnsupportedVersionError. */
  static restore(env: CryptoEnv, snapshot: Uint8Array): Session {
    return new Session(env, decodeSnapshot(env, snapshot));
  }

  /** The full state as versioned bytes (SPEC §Snapshot). Secret: store it encrypted. */
  snapshot(): Uint8Array {
    return encodeSnapshot(this.state);
  }

  get role(): SessionRole {
    return this.state.role;
  }
  get localIdentity(): Uint8Array {
    return this.state.localIdentity.slice();
  }
  get remoteIdentity(): Uint8Array {
    return this.state.remoteIdentity.slice();
  }
  get baseKey(): Uint8Array {
    return this.state.baseKey.slice();
  }
  /** True while the initiator has not yet received a reply (its messages carry the PQXDH header). */
  get awaitingReply(): boolean {
    return this.state.pendingPrekey !== null;
  }

  /** Non-secret facts for logs and status pages. */
  info(): SessionInfo {
    const s = this.state;
    return {
      role: s.role,
      localIdentity: toHex(s.localIdentity),
      remoteIdentity: toHex(s.remoteIdentity),
      sendingCounter: s.ns,
      receivingCounter: s.nr,
      skippedKeys: s.skipped.size,
      awaitingReply: s.pendingPrekey !== null,
    };
  }

  toJSON(): SessionInfo {
    return this.info();
  }

  [INSPECT](): string {
    const i = this.info();
    return `Session { role: ${i.role}, remoteIdentity: ${i.remoteIdentity}, sent: ${i.sendingCounter}, secrets: <redacted> }`;
  }

  /** RatchetEncrypt (Double Ratchet §3.4), wrapped in the PQXDH header while awaiting a reply. */
  encrypt(plaintext: Uint8Array): Uint8Array {
    checkBytes('plaintext', plaintext);
    if (plaintext.length > MAX_PLAINTEXT_BYTES) {
      throw new InvalidArgumentError(`plaintext longer than ${MAX_PLAINTEXT_BYTES} bytes`);
    }
    const s = this.state;
    if (s.cks === null) throw new SessionMismatchError('session has no sending chain');
    if (s.ns >= MAX_MESSAGE_NUMBER) throw new SessionMismatchError('sending chain exhausted; start a new session');
    const { messageKeySeed, nextChainKey } = chainStep(this.env.provider, s.cks);
    const headerBytes = encodeRatchetHeader({ dh: s.dhs.publicKey, pn: s.pn, n: s.ns });
    const sealed = sealWithMessageKey(this.env.provider, messageKeySeed, plaintext, concat(this.adPrefix, headerBytes));
    messageKeySeed.fill(0);
    s.cks.fill(0);
    s.cks = nextChainKey;
    s.ns += 1;
    return s.pendingPrekey === null ? concat(headerBytes, sealed) : concat(s.pendingPrekey, headerBytes, sealed);
  }

  /**
   * RatchetDecrypt (Double Ratchet §3.5) with skipped-key handling. Throws a typed error and leaves
   * the session unchanged on any failure.
   */
  decrypt(message: Uint8Array): Uint8Array {
    const parsed = parseMessage(message);
    let msg: RatchetMessage;
    if (parsed.type === 'prekey') {
      // A repeat of the handshake message that created this session (same bytes in every handshake
      // field); then only the inner message counts.
      const digest = this.state.handshakeDigest;
      if (
        this.state.role !== 'responder' ||
        digest === null ||
        !equalBytes(parsed.prekey.baseKey, this.state.baseKey) ||
        !equalBytes(this.env.provider.sha256(parsed.prekeyBytes), digest)
      ) {
        throw new SessionMismatchError('handshake message does not belong to this session');
      }
      msg = parsed.inner;
    } else {
      msg = parsed;
    }
    return this.decryptRatchet(msg);
  }

  /** @internal Also used by respondToSession for the first message. */
  decryptRatchet(msg: RatchetMessage): Uint8Array {
    const s = this.state;
    const { provider } = this.env;
    const now = this.env.now();
    const { dh, pn, n } = msg.header;
    const aad = concat(this.adPrefix, msg.headerBytes);

    // 1. A key we stored when skipping (TrySkippedMessageKeys).
    const stored = s.skipped.find(dh, n, now);
    if (stored !== undefined) {
      const plaintext = openWithMessageKey(provider, stored.seed, msg.sealed, aad);
      if (plaintext === null) throw new DecryptFailedError();
      s.skipped.commit({ dh, n }, [], now);
      this.onFirstReply();
      return plaintext;
    }

    // 2. The current receiving chain.
    if (s.dhr !== null && equalBytes(dh, s.dhr)) {
      if (n < s.nr) throw new DuplicateMessageError(n);
      if (n - s.nr > MAX_SKIP) throw new TooManySkippedError(n - s.nr, MAX_SKIP);
      if (s.ckr === null) throw new DecryptFailedError();
      const walk = this.walkChain(s.ckr, dh, s.nr, n, now);
      const plaintext = openWithMessageKey(provider, walk.messageKeySeed, msg.sealed, aad);
      walk.messageKeySeed.fill(0);
      if (plaintext === null) {
        wipeSkipped(walk.skipped);
        throw new DecryptFailedError();
      }
      s.ckr.fill(0);
      s.ckr = walk.nextChainKey;
      s.nr = n + 1;
      s.skipped.commit(undefined, walk.skipped, now);
      this.onFirstReply();
      return plaintext;
    }

    // 3. A chain we have moved past: its remaining keys were stored; this one is used or expired.
    if (s.previousDhr.some((k) => equalBytes(k, dh))) throw new DuplicateMessageError(n);

    // 4. A new ratchet key: DH ratchet step (DHRatchet). Cheap checks first.
    if (s.ckr !== null && pn - s.nr > MAX_SKIP) throw new TooManySkippedError(pn - s.nr, MAX_SKIP);
    if (n > MAX_SKIP) throw new TooManySkippedError(n, MAX_SKIP);
    if (s.ckr !== null && pn < s.nr) throw new DecryptFailedError();
    checkX25519Public(dh, 'ratchet key');

    // 4a. Store the rest of the old receiving chain, numbers nr..pn-1 (SkipMessageKeys(state, header.pn)).
    let skipped: SkippedKey[] = [];
    if (s.ckr !== null && s.dhr !== null && pn > s.nr) {
      const old = this.walkChain(s.ckr, s.dhr, s.nr, pn - 1, now);
      old.nextChainKey.fill(0);
      skipped = old.skipped;
      skipped.push({ dh: s.dhr, n: pn - 1, seed: old.messageKeySeed, storedAt: now });
    }
    // 4b. New receiving chain from DH(DHs, DHr').
    const dhOut1 = provider.x25519(s.dhs.privateKey, dh);
    const recv = rootStep(provider, s.rootKey, dhOut1);
    dhOut1.fill(0);
    const walk = this.walkChain(recv.chainKey, dh, 0, n, now);
    const plaintext = openWithMessageKey(provider, walk.messageKeySeed, msg.sealed, aad);
    walk.messageKeySeed.fill(0);
    recv.chainKey.fill(0);
    if (plaintext === null) {
      recv.rootKey.fill(0);
      walk.nextChainKey.fill(0);
      wipeSkipped(skipped);
      wipeSkipped(walk.skipped);
      throw new DecryptFailedError();
    }
    // 4c. Authenticated: new sending ratchet key and chain, then commit everything.
    const dhsNew = generateX25519KeyPair(this.env);
    const dhOut2 = provider.x25519(dhsNew.privateKey, dh);
    const send = rootStep(provider, recv.rootKey, dhOut2);
    dhOut2.fill(0);
    recv.rootKey.fill(0);

    if (s.dhr !== null) {
      s.previousDhr.push(s.dhr);
      if (s.previousDhr.length > MAX_PREVIOUS_RECEIVING_KEYS) s.previousDhr.shift();
    }
    s.pn = s.ns;
    s.ns = 0;
    s.nr = n + 1;
    s.dhr = dh;
    s.rootKey.fill(0);
    s.rootKey = send.rootKey;
    s.ckr?.fill(0);
    s.ckr = walk.nextChainKey;
    s.cks?.fill(0);
    s.cks = send.chainKey;
    s.dhs.privateKey.fill(0);
    s.dhs = dhsNew;
    s.skipped.commit(undefined, skipped.concat(walk.skipped), now);
    this.onFirstReply();
    return plaintext;
  }

  /** Derives keys from position `from` up to `to` in a chain; keys before `to` are returned as skipped. */
  private walkChain(
    chainKey: Uint8Array,
    dh: Uint8Array,
    from: number,
    to: number,
    now: number,
  ): { messageKeySeed: Uint8Array; nextChainKey: Uint8Array; skipped: SkippedKey[] } {
    const { provider } = this.env;
    const skipped: SkippedKey[] = [];
    let ck = chainKey;
    for (let i = from; i < to; i++) {
      const step = chainStep(provider, ck);
      skipped.push({ dh, n: i, seed: step.messageKeySeed, storedAt: now });
      if (ck !== chainKey) ck.fill(0);
      ck = step.nextChainKey;
    }
    const last = chainStep(provider, ck);
    if (ck !== chainKey) ck.fill(0);
    return { messageKeySeed: last.messageKeySeed, nextChainKey: last.nextChainKey, skipped };
  }

  /** The initiator stops sending the PQXDH header once the responder has answered. */
  private onFirstReply(): void {
    if (this.state.role === 'initiator') this.state.pendingPrekey = null;
  }
}

function wipeSkipped(keys: SkippedKey[]): void {
  for (const k of keys) k.seed.fill(0);
}
