import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromHex, nobleProvider, nodeProvider, SottoCryptoError, safetyNumber } from '../../src/crypto/index.js';

const A = fromHex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
const B = fromHex('3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c');
/** Computed once when the format was fixed (v1); a change here is a format change. */
const PINNED = '43443 39284 74767 71908 87826 50139 46738 01427 56379 16598 59803 87789';

describe('safety numbers', () => {
  it('are 60 digits in 12 groups of 5, the same from both sides and with both providers', () => {
    const ab = safetyNumber(nodeProvider, A, B);
    assert.match(ab, /^(\d{5} ){11}\d{5}$/);
    assert.equal(safetyNumber(nodeProvider, B, A), ab);
    assert.equal(safetyNumber(nobleProvider, A, B), ab);
  });

  it('are stable across releases (pinned value)', () => {
    assert.equal(safetyNumber(nodeProvider, A, B), PINNED);
  });

  it('change when either key changes', () => {
    const c = A.slice();
    c[0] = (c[0] as number) ^ 1;
    assert.notEqual(safetyNumber(nodeProvider, c, B), safetyNumber(nodeProvider, A, B));
    assert.notEqual(safetyNumber(nodeProvider, A, c), safetyNumber(nodeProvider, A, B));
  });

  it('reject a key of the wrong size with a typed error', () => {
    assert.throws(() => safetyNumber(nodeProvider, new Uint8Array(31), B), SottoCryptoError);
  });
});
