/**
 * The shared stream helpers (src/protocols/common/stream.ts): varintLength, and strictLengthDecoder
 * as lpStream drives it (a byte at a time): complete prefixes decode, an incomplete one asks for more
 * with one shared RangeError, and a prefix longer than the largest frame's is refused at once.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Uint8ArrayList } from 'uint8arraylist';
import { strictLengthDecoder, varintLength } from '../../../src/protocols/common/stream.js';
import { varint as encodeVarint } from '../message/helpers.js';

class TooLarge extends Error {}
const MAX = 70_000;
const decode = strictLengthDecoder(MAX, () => new TooLarge('prefix too long'));

/** Feeds `bytes` one at a time, as lpStream does; returns the length and the errors seen on the way. */
function feed(bytes: Uint8Array): { length: number | undefined; errors: unknown[] } {
  const list = new Uint8ArrayList();
  const errors: unknown[] = [];
  for (const b of bytes) {
    list.append(Uint8Array.of(b));
    try {
      return { length: decode(list), errors };
    } catch (err) {
      errors.push(err);
      if (!(err instanceof RangeError)) return { length: undefined, errors };
    }
  }
  return { length: undefined, errors };
}

describe('protocol stream helpers', () => {
  it('varintLength matches the unsigned-varint encoding', () => {
    const known: [number, number][] = [
      [0, 1],
      [1, 1],
      [127, 1],
      [128, 2],
      [16_383, 2],
      [16_384, 3],
      [MAX, 3],
      [2 ** 31, 5],
    ];
    for (const [n, bytes] of known) {
      assert.equal(varintLength(n), bytes, `n = ${n}`);
      assert.equal(encodeVarint(n).length, bytes, `encoding of ${n}`);
    }
  });

  it('strictLengthDecoder decodes complete prefixes up to the largest frame', () => {
    for (const n of [0, 1, 127, 128, 2400, MAX]) {
      const { length, errors } = feed(encodeVarint(n));
      assert.equal(length, n);
      assert.equal(errors.length, varintLength(n) - 1, 'one "need more" per missing byte');
    }
  });

  it('an incomplete prefix asks for more with one and the same RangeError, never a new one', () => {
    const first = feed(Uint8Array.of(0x80, 0x80)).errors;
    const second = feed(Uint8Array.of(0xff)).errors;
    assert.ok(first[0] instanceof RangeError);
    for (const err of [...first, ...second]) assert.equal(err, first[0]);
  });

  it('a prefix longer than the largest frame needs is refused with the typed error', () => {
    const { length, errors } = feed(Uint8Array.of(0x80, 0x80, 0x80, 0x80));
    assert.equal(length, undefined);
    assert.ok(errors.at(-1) instanceof TooLarge);
    assert.equal(errors.length, varintLength(MAX), 'refused as soon as the prefix reaches its longest form');
  });
});
