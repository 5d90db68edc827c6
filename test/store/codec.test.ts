/** The value codec on its own (every kind, every truncation) and the key layout's ordering. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  binaryCodec,
  CodecError,
  FORMAT_VERSION,
  InvalidStoreArgumentError,
  KIND_TAGS,
  messageKey,
  prefixRange,
  prekeyIdOf,
  prekeyKey,
  prekeyRotationKey,
  StoreCodec,
  StoreCorruptError,
  type ValueKind,
  type ValueTypes,
} from '../../src/store/index.js';
import { ALICE, BOB, contact, directoryEntry, hexOf, keyFixtures, message, outboxEntry } from './fixtures.js';

function samples(): { [K in ValueKind]: ValueTypes[K] } {
  const k = keyFixtures();
  return {
    schema: 3,
    identity: k.alice,
    'signed-prekey': k.signed,
    'kem-prekey': k.kem,
    'one-time-prekey': k.oneTime[0]!,
    session: { snapshot: Uint8Array.of(1, 2, 3, 4), baseKey: hexOf('base') },
    'session-index': ALICE,
    contact: contact(BOB, { keyChangedAt: 9, previousKeys: [ALICE], verified: true }),
    message: message(ALICE, 3, 1_700_000_000_123),
    'message-index': 1_700_000_000_123,
    outbox: outboxEntry(2, { state: 'sending', attempts: 4 }),
    seen: Number.MAX_SAFE_INTEGER,
    'directory-record': directoryEntry(ALICE),
    'directory-sequence': 12,
    'prekey-rotation': ROTATION,
    'prekey-counter': 2 ** 32,
    'mailbox-entry': {
      identity: BOB,
      id: hexOf('id', 16),
      envelope: Uint8Array.of(8, 1, 2),
      storedAt: 1_700_000_000_777,
    },
    'mailbox-usage': { count: 3, bytes: 70_000 },
    'mailbox-prekey': { id: 7, publicKey: new Uint8Array(32).fill(7) },
    'contact-request': {
      identity: ALICE,
      address: 'sotto1example',
      firstAt: 1_700_000_000_001,
      lastAt: 1_700_000_000_002,
      held: 2,
      nextSeq: 2,
    },
    'held-message': {
      identity: ALICE,
      seq: 1,
      id: hexOf('held', 16),
      timestamp: 1_700_000_000_003,
      receivedAt: 1_700_000_000_004,
      body: 'hello 🐙',
      viaMailbox: true,
    },
    blocked: { identity: BOB, address: 'sotto1blocked', blockedAt: 1_700_000_000_005 },
  };
}

/** Id 1 from before rotation (age unknown), id 4 retired, id 9 current; ids 2, 3, 5..8 were deleted. */
const ROTATION: ValueTypes['prekey-rotation'] = {
  currentId: 9,
  highestId: 9,
  prekeys: [
    { id: 1, retiredAt: 1_700_000_000_000 },
    { id: 4, createdAt: 1_600_000_000_000, retiredAt: 1_700_000_000_500 },
    { id: 9, createdAt: 1_700_000_000_500 },
  ],
};

describe('binary codec', () => {
  it('round-trips every kind; every truncation, trailing byte, wrong tag or version is a CodecError', () => {
    const all = samples();
    for (const kind of Object.keys(all) as ValueKind[]) {
      const value = all[kind];
      const bytes = binaryCodec.encode(kind, value as never);
      assert.equal(bytes[0], FORMAT_VERSION);
      assert.equal(bytes[1], KIND_TAGS[kind]);
      const back = binaryCodec.decode(kind, bytes);
      if (kind === 'identity') {
        for (const f of ['signingKey', 'signingSeed', 'dhKey', 'dhPrivateKey', 'dhSignature'] as const) {
          assert.deepEqual((back as ValueTypes['identity'])[f], (value as ValueTypes['identity'])[f]);
        }
      } else {
        assert.deepEqual(back, value, kind);
      }
      for (let n = 0; n < bytes.length; n++) {
        assert.throws(() => binaryCodec.decode(kind, bytes.subarray(0, n)), CodecError, `${kind} cut at ${n}`);
      }
      assert.throws(() => binaryCodec.decode(kind, Uint8Array.of(...bytes, 0)), CodecError);
      assert.throws(
        () => binaryCodec.decode(kind, Uint8Array.of(FORMAT_VERSION + 1, ...bytes.subarray(1))),
        CodecError,
      );
      const other = kind === 'schema' ? 'seen' : 'schema';
      assert.throws(() => binaryCodec.decode(other, bytes), CodecError);
    }
  });

  it('rejects bad input at encode time with InvalidStoreArgumentError', () => {
    assert.throws(
      () => binaryCodec.encode('message', { ...message(ALICE, 1, 1), id: 'XYZ' }),
      InvalidStoreArgumentError,
    );
    assert.throws(() => binaryCodec.encode('message', message(ALICE, 1, 1.5)), InvalidStoreArgumentError);
    assert.throws(
      () => binaryCodec.encode('contact', { ...contact(ALICE), verified: 1 as never }),
      InvalidStoreArgumentError,
    );
    assert.throws(
      () => binaryCodec.encode('outbox', { ...outboxEntry(1), state: 'nope' as never }),
      InvalidStoreArgumentError,
    );
    assert.throws(() => binaryCodec.encode('session', undefined as never), InvalidStoreArgumentError);
  });

  it('prekey rotation records keep their invariants on encode and on decode', () => {
    const broken: Array<[string, ValueTypes['prekey-rotation']]> = [
      ['current not stored', { ...ROTATION, currentId: 5 }],
      ['current retired', { ...ROTATION, prekeys: [...ROTATION.prekeys.slice(0, 2), { id: 9, retiredAt: 1 }] }],
      ['retired without retiredAt', { ...ROTATION, prekeys: [{ id: 1 }, ...ROTATION.prekeys.slice(1)] }],
      [
        'ids out of order',
        { ...ROTATION, prekeys: [ROTATION.prekeys[1]!, ROTATION.prekeys[0]!, ROTATION.prekeys[2]!] },
      ],
      ['duplicate id', { ...ROTATION, prekeys: [ROTATION.prekeys[0]!, ...ROTATION.prekeys] }],
      ['highestId below an id', { ...ROTATION, highestId: 8 }],
      ['id above u32', { ...ROTATION, currentId: 2 ** 32, highestId: 2 ** 32 }],
      ['negative time', { ...ROTATION, prekeys: [...ROTATION.prekeys.slice(0, 2), { id: 9, createdAt: -1 }] }],
    ];
    for (const [why, record] of broken) {
      assert.throws(() => binaryCodec.encode('prekey-rotation', record), InvalidStoreArgumentError, why);
    }
    // The same records written past the encoder's checks (as corruption would) do not decode.
    const raw = (r: ValueTypes['prekey-rotation']): Uint8Array => {
      const out = [FORMAT_VERSION, KIND_TAGS['prekey-rotation']];
      const u32 = (n: number) => out.push(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
      const time = (t: number | undefined) => {
        if (t === undefined) out.push(0);
        else {
          const b = new Uint8Array(8);
          new DataView(b.buffer).setBigUint64(0, BigInt(t));
          out.push(1, ...b);
        }
      };
      u32(r.currentId);
      u32(r.highestId);
      u32(r.prekeys.length);
      for (const e of r.prekeys) {
        u32(e.id);
        time(e.createdAt);
        time(e.retiredAt);
      }
      return Uint8Array.from(out);
    };
    assert.deepEqual(binaryCodec.decode('prekey-rotation', raw(ROTATION)), ROTATION, 'the hand encoding matches');
    for (const [why, record] of broken.slice(0, 6)) {
      assert.throws(() => binaryCodec.decode('prekey-rotation', raw(record)), CodecError, why);
    }
  });

  it('rejects invalid UTF-8, enum values and flags on decode', () => {
    const bytes = binaryCodec.encode('message', message(ALICE, 1, 1, { body: 'ab' }));
    const badUtf8 = bytes.slice();
    badUtf8[badUtf8.length - 3] = 0xff; // first byte of the 2-byte body
    assert.throws(() => binaryCodec.decode('message', badUtf8), /not UTF-8/);
    const badState = bytes.slice();
    badState[badState.length - 1] = 200;
    assert.throws(() => binaryCodec.decode('message', badState), /unknown message state/);
  });

  it('StoreCodec turns decode and hook failures into StoreCorruptError with concern and key', async () => {
    const codec = new StoreCodec();
    const at = { concern: 'sessions' as const, key: `s/${ALICE}` };
    const err = await codec.fromDisk(at, 'session', Uint8Array.of(7)).catch((e: unknown) => e);
    assert.ok(err instanceof StoreCorruptError);
    assert.equal(err.concern, 'sessions');
    assert.equal(err.key, at.key);
    assert.ok(!err.message.includes(ALICE), 'the key stays out of the message');
    const refusing = new StoreCodec(binaryCodec, {
      seal: (p) => p,
      open: () => {
        throw new Error('wrong key');
      },
    });
    const sealed = await refusing.toDisk(at, 'session-index', BOB);
    await assert.rejects(refusing.fromDisk(at, 'session-index', sealed), StoreCorruptError);
  });
});

const ID1 = '01'.padStart(32, '0');
const ID2 = '02'.padStart(32, '0');

describe('key layout', () => {
  it('message keys sort by time numerically, then id', () => {
    const keys = [
      messageKey(ALICE, 0x100, ID1),
      messageKey(ALICE, 0xff, ID2),
      messageKey(ALICE, 2 ** 40, ID1),
      messageKey(ALICE, 0xff, ID1),
    ];
    assert.deepEqual([...keys].sort(), [keys[3], keys[1], keys[0], keys[2]]);
  });

  it('prekey ids are fixed-width and parse back; ranges bound a prefix', () => {
    assert.equal(prekeyKey('one-time', 0xffffffff), 'o/ffffffff');
    assert.equal(prekeyIdOf(prekeyKey('signed', 42)), 42);
    assert.ok(prekeyKey('one-time', 9) < prekeyKey('one-time', 10));
    assert.deepEqual(prefixRange('m/ab/'), { gte: 'm/ab/', lt: 'm/ab0' });
    assert.throws(() => prekeyKey('kem', 2 ** 32), InvalidStoreArgumentError);
    // Rotation records sit outside every prekey range, so counts and id listings never see them.
    assert.deepEqual([prekeyRotationKey('signed'), prekeyRotationKey('kem')], ['p/s', 'p/k']);
    for (const kind of ['signed', 'kem', 'one-time'] as const) {
      const { gte, lt } = prefixRange(prekeyKey(kind, 0).slice(0, 2));
      for (const key of ['p/s', 'p/k']) assert.ok(key < gte! || key >= lt!, `${key} outside ${kind}`);
    }
    assert.throws(() => prekeyRotationKey('one-time' as never), InvalidStoreArgumentError);
    assert.throws(() => messageKey(ALICE.toUpperCase(), 1, hexOf('a', 16)), InvalidStoreArgumentError);
  });
});
