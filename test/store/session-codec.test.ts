/** The stored session value with its previous sessions (crossed handshakes), old and new layouts. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  binaryCodec,
  CodecError,
  FORMAT_VERSION,
  InvalidStoreArgumentError,
  KIND_TAGS,
  MAX_PREVIOUS_SESSIONS,
  type SessionRecord,
} from '../../src/store/index.js';
import { hexOf } from './fixtures.js';

const previous = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ snapshot: Uint8Array.of(9, i), baseKey: hexOf(`old${i}`) }));

describe('session value', () => {
  it('round-trips the previous sessions, newest first', () => {
    const record: SessionRecord = { snapshot: Uint8Array.of(1, 2, 3), baseKey: hexOf('base'), previous: previous(3) };
    assert.deepEqual(binaryCodec.decode('session', binaryCodec.encode('session', record)), record);
  });

  it('reads a value of the layout before previous sessions (kind tag 0x06) as none', () => {
    const record: SessionRecord = { snapshot: Uint8Array.of(1, 2, 3), baseKey: hexOf('base') };
    const now = binaryCodec.encode('session', record);
    assert.equal(now[1], KIND_TAGS.session);
    // the old layout: version, tag 0x06, snapshot, base key, and nothing after
    const old = Uint8Array.of(FORMAT_VERSION, 0x06, ...now.subarray(2, now.length - 1));
    assert.deepEqual(binaryCodec.decode('session', old), record);
    assert.deepEqual(binaryCodec.decode('session', now), record);
    assert.throws(() => binaryCodec.decode('session', Uint8Array.of(...old, 0)), CodecError);
    // the old tag is not a layout of any other kind
    assert.throws(() => binaryCodec.decode('contact', old), CodecError);
  });

  it(`refuses more than MAX_PREVIOUS_SESSIONS (${MAX_PREVIOUS_SESSIONS}) on write and on read`, () => {
    const over: SessionRecord = {
      snapshot: Uint8Array.of(1),
      baseKey: hexOf('base'),
      previous: previous(MAX_PREVIOUS_SESSIONS + 1),
    };
    assert.throws(() => binaryCodec.encode('session', over), InvalidStoreArgumentError);
    const max = binaryCodec.encode('session', { ...over, previous: previous(MAX_PREVIOUS_SESSIONS) });
    // version, kind tag, snapshot (u32 length + 1 byte), base key (u32 length + 32 bytes), count
    const countAt = 2 + 4 + 1 + 4 + 32;
    assert.equal(max[countAt], MAX_PREVIOUS_SESSIONS);
    const forged = Uint8Array.from(max);
    forged[countAt] = MAX_PREVIOUS_SESSIONS + 1;
    assert.throws(() => binaryCodec.decode('session', forged), CodecError);
  });

  it('refuses a truncated previous session and trailing bytes', () => {
    const bytes = binaryCodec.encode('session', {
      snapshot: Uint8Array.of(1),
      baseKey: hexOf('base'),
      previous: previous(2),
    });
    for (const cut of [1, 5, 20]) {
      assert.throws(() => binaryCodec.decode('session', bytes.subarray(0, bytes.length - cut)), CodecError);
    }
    assert.throws(() => binaryCodec.decode('session', Uint8Array.of(...bytes, 0)), CodecError);
  });
});
