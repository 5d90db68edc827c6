/**
 * Fuzz targets (issue 7, "Fuzzing"): every decoder that reads bytes or values from outside — each
 * protocol's frames, DHT records, session messages and snapshots read from disk, stored values, the
 * config file, addresses — with what counts as a *typed refusal* for it. A target passes an input
 * when it returns normally or throws an expected, typed error; anything else (a TypeError, a
 * RangeError, an error without a code) is a finding. Seeds are valid encodings; the campaign
 * mutates them (test/fuzz/mutate.ts) as well as feeding random bytes.
 */
import fc from 'fast-check';
import { resolveConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/config/errors.js';
import {
  createEnv,
  deterministicRng,
  generateIdentity,
  generateKemPrekey,
  generatePrekeys,
  generateSignedPrekey,
  initiateSession,
  manualClock,
  respondToSession,
  Session,
  SottoCryptoError,
} from '../../src/crypto/index.js';
import { parseMessage } from '../../src/crypto/ratchet/messages.js';
import { decodeSnapshot } from '../../src/crypto/snapshot.js';
import { DirectoryError } from '../../src/directory/errors.js';
import {
  createIdentityRecord,
  decodeIdentityRecord,
  encodeIdentityRecord,
  recordKey,
  validateRecordBytes,
} from '../../src/directory/record.js';
import { decodeAddress, encodeAddress } from '../../src/identity/address.js';
import { createDeviceBinding } from '../../src/identity/device-binding.js';
import { IdentityError } from '../../src/identity/errors.js';
import { decodeDhtRecord } from '../../src/net/record-guard.js';
import { ContentError, decodeContent, encodeReceipt, encodeText } from '../../src/node/content.js';
import {
  decodeClientFrame,
  decodeServerFrame,
  encodeClientFrame,
  encodeServerFrame,
  MailboxStatus,
} from '../../src/protocols/mailbox/validate.js';
import {
  AckStatus,
  decodeAck,
  decodeEnvelope,
  encodeEnvelope,
  openSealedEnvelope,
  sealEnvelope,
} from '../../src/protocols/message/index.js';
import { encodeAck } from '../../src/protocols/message/validate.js';
import {
  ClaimStatus,
  decodeClaimRequest,
  decodeClaimResponse,
  encodeClaimRequest,
  encodeClaimResponse,
} from '../../src/protocols/prekeys/validate.js';
import { binaryCodec, CodecError, KIND_TAGS, type ValueKind } from '../../src/store/codec.js';

/** A decoder under test. */
export interface FuzzTarget<T = Uint8Array> {
  readonly name: string;
  /** Where inputs come from: bytes (random + mutated seeds) or values of an arbitrary. */
  readonly input: { kind: 'bytes'; seeds: readonly Uint8Array[] } | { kind: 'value'; arbitrary: fc.Arbitrary<T> };
  /** Decodes one input; returns normally or throws. */
  run(input: T): unknown;
  /** True when `err` is a typed refusal this decoder is allowed to throw. */
  expected(err: unknown): boolean;
}

/** An Error carrying a stable string `code` (every sotto error class has one). */
export function hasCode(err: unknown): boolean {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'string';
}

const env = createEnv({ rng: deterministicRng(new Uint8Array(32).fill(7)), clock: manualClock(1_700_000_000_000) });
const provider = env.provider;
const NOW = 1_700_000_000_000;

// ── Seeds ───────────────────────────────────────────────────────────────────────────────────

const alice = generateIdentity(env);
const bob = generateIdentity(env);
const { bundle, store } = generatePrekeys(env, bob, { signedPrekeyId: 1, kemPrekeyId: 2, oneTimePrekeyIds: [3] });
const context = { initiator: 'a', responder: 'b' };
const aliceSession = initiateSession(env, { identity: alice, bundle, context });
const first = aliceSession.encrypt(encodeText('first'));
const bobSession = respondToSession(env, { identity: bob, prekeys: store, message: first, context }).session;
const ratchetMessage = bobSession.encrypt(encodeText('a reply'));
const bobSeal = provider.ed25519SeedToX25519(bob.signingSeed);
const bobSessionSnapshot = bobSession.snapshot();

const plainEnvelope = {
  id: new Uint8Array(16).fill(1),
  sender: alice.signingKey,
  recipient: bob.signingKey,
  timestamp: NOW,
  body: ratchetMessage,
};
const sealedEnvelope = sealEnvelope(env, plainEnvelope);

const spk = generateSignedPrekey(env, bob, 1);
const kem = generateKemPrekey(env, bob, 2);
const identityRecord = encodeIdentityRecord(
  createIdentityRecord(env, bob, {
    signedPrekey: { id: spk.id, publicKey: spk.publicKey, signature: spk.signature },
    kemPrekey: { id: kem.id, publicKey: kem.publicKey, signature: kem.signature },
    devices: [createDeviceBinding(provider, bob, new Uint8Array(38).fill(0x24), NOW)],
    mailboxes: [new Uint8Array(38).fill(0x25)],
    sequence: 7,
    expiresAt: NOW + 3_600_000,
  }),
);
const bobKey = recordKey(bob.signingKey);

/** libp2p's DHT `Record { key = 1; value = 2; timeReceived = 5 }`, encoded by hand (protobuf). */
function dhtRecord(key: Uint8Array, value: Uint8Array): Uint8Array {
  const field = (n: number, bytes: Uint8Array) => [(n << 3) | 2, ...varint(bytes.length), ...bytes];
  return Uint8Array.from([...field(1, key), ...field(2, value), ...field(5, new TextEncoder().encode('2026'))]);
}
function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

const STORE_KINDS = Object.keys(KIND_TAGS) as ValueKind[];

// ── Targets ─────────────────────────────────────────────────────────────────────────────────

const codeOnly = hasCode;

export const targets: FuzzTarget<never>[] = [
  {
    name: 'msg: Envelope frame',
    input: { kind: 'bytes', seeds: [encodeEnvelope(plainEnvelope), encodeEnvelope(sealedEnvelope)] },
    run: (b: Uint8Array) => decodeEnvelope(b),
    expected: codeOnly,
  },
  {
    name: 'msg: Ack frame',
    input: {
      kind: 'bytes',
      seeds: [encodeAck({ id: plainEnvelope.id, status: AckStatus.REJECTED, reason: 'no-session' })],
    },
    run: (b: Uint8Array) => decodeAck(b, plainEnvelope.id),
    expected: codeOnly,
  },
  {
    name: 'msg: sealed envelope opened by the recipient',
    input: { kind: 'bytes', seeds: [sealedEnvelope.sealed] },
    run: (b: Uint8Array) =>
      openSealedEnvelope(provider, bobSeal, { id: sealedEnvelope.id, recipient: bob.signingKey, sealed: b }),
    expected: codeOnly,
  },
  {
    name: 'mailbox: ClientFrame',
    input: {
      kind: 'bytes',
      seeds: [
        encodeClientFrame({ type: 'hello', identity: bob.signingKey }),
        encodeClientFrame({
          type: 'auth',
          signature: new Uint8Array(64).fill(9),
          prekeys: [{ id: 5, publicKey: spk.publicKey }],
        }),
        encodeClientFrame({ type: 'ack', ids: [plainEnvelope.id, new Uint8Array(16).fill(2)] }),
      ],
    },
    run: (b: Uint8Array) => decodeClientFrame(b),
    expected: codeOnly,
  },
  {
    name: 'mailbox: ServerFrame',
    input: {
      kind: 'bytes',
      seeds: [
        encodeServerFrame({ type: 'challenge', nonce: new Uint8Array(32).fill(3) }),
        encodeServerFrame({
          type: 'batch',
          batch: {
            status: MailboxStatus.OK,
            entries: [{ id: sealedEnvelope.id, envelope: encodeEnvelope(sealedEnvelope) }],
            remaining: 2,
            prekeys: 4,
          },
        }),
        encodeServerFrame({ type: 'batch', batch: { status: MailboxStatus.RATE_LIMITED, retryAfterMs: 500 } }),
      ],
    },
    run: (b: Uint8Array) => decodeServerFrame(b),
    expected: codeOnly,
  },
  {
    name: 'prekeys: ClaimRequest',
    input: { kind: 'bytes', seeds: [encodeClaimRequest({ identity: bob.signingKey })] },
    run: (b: Uint8Array) => decodeClaimRequest(b),
    expected: codeOnly,
  },
  {
    name: 'prekeys: ClaimResponse',
    input: {
      kind: 'bytes',
      seeds: [
        encodeClaimResponse({ status: ClaimStatus.OK, prekey: { id: 3, publicKey: spk.publicKey } }),
        encodeClaimResponse({ status: ClaimStatus.RATE_LIMITED, retryAfterMs: 1000 }),
      ],
    },
    run: (b: Uint8Array) => decodeClaimResponse(b),
    expected: codeOnly,
  },
  {
    name: 'content: decrypted Content',
    input: { kind: 'bytes', seeds: [encodeText('hello there'), encodeReceipt('read', [plainEnvelope.id])] },
    run: (b: Uint8Array) => decodeContent(b),
    expected: (err) => err instanceof ContentError,
  },
  {
    name: 'directory: identity record (decode + verify)',
    input: { kind: 'bytes', seeds: [identityRecord] },
    run: (b: Uint8Array) => validateRecordBytes(provider, bobKey, b, NOW),
    expected: (err) => err instanceof DirectoryError || err instanceof IdentityError || hasCode(err),
  },
  {
    name: 'directory: identity record (decode only)',
    input: { kind: 'bytes', seeds: [identityRecord] },
    run: (b: Uint8Array) => decodeIdentityRecord(b),
    expected: (err) => err instanceof DirectoryError || err instanceof IdentityError || hasCode(err),
  },
  {
    name: 'dht: libp2p Record envelope (record guard)',
    input: { kind: 'bytes', seeds: [dhtRecord(bobKey, identityRecord)] },
    run: (b: Uint8Array) => decodeDhtRecord(b),
    expected: codeOnly,
  },
  {
    name: 'session: message (prekey and ratchet)',
    input: { kind: 'bytes', seeds: [first, ratchetMessage] },
    run: (b: Uint8Array) => parseMessage(b),
    expected: (err) => err instanceof SottoCryptoError,
  },
  {
    name: 'session: decrypt by an established session',
    input: { kind: 'bytes', seeds: [aliceSession.encrypt(encodeText('x')), aliceSession.encrypt(encodeText('y'))] },
    // a copy of Bob's session each time: a fuzz input must not change the state the next one sees
    run: (b: Uint8Array) => Session.restore(env, bobSessionSnapshot).decrypt(b),
    expected: (err) => err instanceof SottoCryptoError,
  },
  {
    name: 'session: snapshot read from disk',
    input: { kind: 'bytes', seeds: [bobSession.snapshot(), aliceSession.snapshot()] },
    run: (b: Uint8Array) => decodeSnapshot(env, b),
    expected: (err) => err instanceof SottoCryptoError,
  },
  {
    name: 'store: value codec, every kind',
    input: {
      kind: 'bytes',
      seeds: [
        binaryCodec.encode('schema', 1),
        binaryCodec.encode('seen', 12345),
        binaryCodec.encode('identity', bob),
        binaryCodec.encode('contact', {
          identityKey: 'ab'.repeat(32),
          name: 'bob',
          address: encodeAddress(bob.signingKey),
          verified: true,
          addedAt: NOW,
          previousKeys: ['cd'.repeat(32)],
        }),
        binaryCodec.encode('session', { snapshot: bobSession.snapshot(), baseKey: 'ef'.repeat(32) }),
      ],
    },
    // every kind reads the bytes; a typed refusal by all of them is a refusal, one untyped throw a finding
    run: (b: Uint8Array) => {
      let refusal: unknown;
      let accepted = false;
      for (const kind of STORE_KINDS) {
        try {
          binaryCodec.decode(kind, b);
          accepted = true;
        } catch (err) {
          if (!(err instanceof CodecError || hasCode(err))) throw err;
          refusal = err;
        }
      }
      if (!accepted) throw refusal;
    },
    expected: (err) => err instanceof CodecError || hasCode(err),
  },
  {
    name: 'identity: address text',
    input: {
      kind: 'value',
      arbitrary: fc.oneof(
        fc.string({ maxLength: 120 }),
        fc
          .constantFrom(encodeAddress(bob.signingKey))
          .chain((a) =>
            fc.tuple(fc.nat(a.length), fc.string({ maxLength: 3 })).map(([i, s]) => a.slice(0, i) + s + a.slice(i + 1)),
          ),
      ),
    },
    run: (s: string) => decodeAddress(s),
    expected: (err) => err instanceof IdentityError,
  },
  {
    name: 'config: config.json content, environment and flags',
    input: {
      kind: 'value',
      arbitrary: fc.record({
        file: fc.oneof(
          fc.jsonValue({ maxDepth: 3 }),
          fc.dictionary(
            fc.constantFrom('net', 'api', 'log', 'mailbox', 'mailboxes', 'failAfterDays', 'x'),
            fc.jsonValue({ maxDepth: 2 }),
          ),
        ),
        env: fc.dictionary(
          fc.constantFrom('SOTTO_LISTEN', 'SOTTO_API_PORT', 'SOTTO_MAILBOX_TTL_DAYS', 'SOTTO_BOOTSTRAP', 'SOTTO_X'),
          fc.string({ maxLength: 40 }),
        ),
      }),
    },
    run: (input: { file: unknown; env: Record<string, string> }) =>
      resolveConfig({ file: input.file, env: input.env, flags: {}, homedir: '/nonexistent-home', cwd: '/' }),
    expected: (err) => err instanceof ConfigError,
  },
] as FuzzTarget<never>[];
