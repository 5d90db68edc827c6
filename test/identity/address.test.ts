import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fromHex } from '../../src/crypto/bytes.js';
import { decodeAddress, encodeAddress, isAddress } from '../../src/identity/address.js';
import { InvalidAddressError } from '../../src/identity/errors.js';

/** Fixed when the format was defined (version 1); a change here breaks every printed address. */
const PINNED = 'sotto1p6adfsqvzky9t042tlmfujeq88g8wzuhnm2nzxfd0qgdx3ac82ydqywx6um';
const KEY = fromHex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');

function reason(text: string): string {
  try {
    decodeAddress(text);
  } catch (err) {
    assert.ok(err instanceof InvalidAddressError, `expected InvalidAddressError, got ${String(err)}`);
    assert.equal(err.code, 'INVALID_ADDRESS');
    return err.reason;
  }
  assert.fail(`"${text}" was accepted`);
}

describe('addresses', () => {
  it('round-trip, 65 characters, "sotto1" prefix, pinned encoding', () => {
    const a = encodeAddress(KEY);
    assert.equal(a.length, 65);
    assert.ok(a.startsWith('sotto1'));
    assert.deepEqual(decodeAddress(a), KEY);
    assert.equal(a, PINNED);
  });

  it('accept upper case and surrounding whitespace (QR codes, pasting)', () => {
    const a = encodeAddress(KEY);
    assert.deepEqual(decodeAddress(` ${a.toUpperCase()}\n`), KEY);
  });

  it('reject every single-character typo and every swap of neighbours with a checksum error', () => {
    const a = encodeAddress(KEY);
    const alphabet = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
    let tried = 0;
    for (let i = 6; i < a.length; i++) {
      for (const c of alphabet) {
        if (c === a[i]) continue;
        const typo = a.slice(0, i) + c + a.slice(i + 1);
        assert.equal(reason(typo), 'checksum', typo);
        tried++;
      }
      if (i + 1 < a.length && a[i] !== a[i + 1]) {
        const swapped = a.slice(0, i) + a[i + 1] + a[i] + a.slice(i + 2);
        assert.equal(reason(swapped), 'checksum', swapped);
        tried++;
      }
    }
    assert.ok(tried > 1800, `tried ${tried}`);
  });

  it('say what is wrong: prefix, characters, length, empty', () => {
    const a = encodeAddress(KEY);
    assert.equal(reason(`bitcoin1${a.slice(6)}`), 'prefix');
    assert.equal(reason(`${a.slice(0, 10)}b${a.slice(11)}`), 'format'); // 'b' is not in the bech32 alphabet
    assert.equal(reason(''), 'length');
    assert.equal(reason('x'.repeat(200)), 'length');
    assert.equal(isAddress(a), true);
    assert.equal(isAddress(a.slice(0, -1)), false);
  });

  it('any 32-byte key round-trips; random strings never decode to a key silently', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (key) => {
        assert.deepEqual(decodeAddress(encodeAddress(key)), key);
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 100 }), (s) => {
        try {
          decodeAddress(s);
        } catch (err) {
          assert.ok(err instanceof InvalidAddressError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
