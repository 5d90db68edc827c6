/** The ban list (src/node/ban-list.ts) with an injected clock. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BAN_DURATION_MS,
  BanList,
  MAX_TRACKED_OFFENDERS,
  MISBEHAVIOUR_THRESHOLD,
  MISBEHAVIOUR_WINDOW_MS,
  VIOLATION_CODES,
} from '../../src/node/ban-list.js';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('ban list', () => {
  it('bans a peer at the threshold of violations within the window, for BAN_DURATION_MS', () => {
    const c = clock();
    const bans = new BanList(c.now);
    for (let i = 1; i < MISBEHAVIOUR_THRESHOLD; i++) assert.equal(bans.report('p', 'ERR_MALFORMED_FRAME'), false);
    assert.equal(bans.isBanned('p'), false);
    assert.equal(bans.report('p', 'ERR_FRAME_TOO_LARGE'), true, 'the threshold-th violation bans');
    assert.equal(bans.isBanned('p'), true);
    assert.deepEqual(bans.banned(), [{ peer: 'p', until: c.now() + BAN_DURATION_MS, reason: 'ERR_FRAME_TOO_LARGE' }]);
    assert.equal(bans.report('p', 'ERR_MALFORMED_FRAME'), false, 'already banned: not banned again');
    c.advance(BAN_DURATION_MS - 1);
    assert.equal(bans.isBanned('p'), true);
    c.advance(1);
    assert.equal(bans.isBanned('p'), false, 'the ban ends');
    assert.deepEqual(bans.banned(), []);
    assert.equal(bans.report('p', 'ERR_MALFORMED_FRAME'), false, 'after a ban, counting starts afresh');
  });

  it('violations older than the window do not count; other peers are unaffected', () => {
    const c = clock();
    const bans = new BanList(c.now);
    for (let i = 0; i < 2 * MISBEHAVIOUR_THRESHOLD; i++) {
      assert.equal(bans.report('slow', 'ERR_MALFORMED_FRAME'), false);
      c.advance(MISBEHAVIOUR_WINDOW_MS / (MISBEHAVIOUR_THRESHOLD - 1) + 1);
    }
    assert.equal(bans.isBanned('slow'), false, 'never THRESHOLD within one window');
    for (let i = 0; i < MISBEHAVIOUR_THRESHOLD; i++) bans.report('fast', 'ERR_MALFORMED_FRAME');
    assert.equal(bans.isBanned('fast'), true);
    assert.equal(bans.isBanned('slow'), false);
    assert.equal(bans.isBanned('never-seen'), false);
  });

  it('read timeouts and our own shutdown are not misbehaviour', () => {
    const bans = new BanList(clock().now);
    for (let i = 0; i < 3 * MISBEHAVIOUR_THRESHOLD; i++) {
      bans.report('p', 'ERR_READ_TIMEOUT');
      bans.report('p', 'ERR_HANDLER_STOPPED');
    }
    assert.equal(bans.isBanned('p'), false);
  });

  it('only protocol violations count: stream caps, remote resets and unknown codes do not', () => {
    const bans = new BanList(clock().now);
    for (let i = 0; i < 3 * MISBEHAVIOUR_THRESHOLD; i++) {
      for (const code of [
        'ERR_TOO_MANY_STREAMS',
        'ERR_STREAM_RESET',
        'ERR_STREAM',
        'ERR_ACK_TIMEOUT',
        'ERR_RATE_LIMITED',
      ]) {
        assert.equal(bans.report('p', code), false, code);
      }
    }
    assert.equal(bans.isBanned('p'), false);
    assert.equal(bans.total, 0);
    for (const code of ['ERR_READ_TIMEOUT', 'ERR_HANDLER_STOPPED', 'ERR_TOO_MANY_STREAMS']) {
      assert.equal(VIOLATION_CODES.has(code), false, code);
    }
    // every violation code counts, from any of the three protocols
    const codes = [...VIOLATION_CODES];
    assert.ok(codes.includes('ERR_FRAME_TOO_LARGE') && codes.includes('ERR_UNEXPECTED_FRAME'));
    for (let i = 0; i < MISBEHAVIOUR_THRESHOLD; i++) bans.report('q', codes[i % codes.length] as string);
    assert.equal(bans.isBanned('q'), true);
    assert.equal(bans.total, 1);
  });

  it('unban lifts a ban; tracking is bounded (the least recently seen is forgotten)', () => {
    const bans = new BanList(clock().now);
    for (let i = 0; i < MISBEHAVIOUR_THRESHOLD; i++) bans.report('p', 'ERR_MALFORMED_FRAME');
    assert.equal(bans.unban('p'), true);
    assert.equal(bans.isBanned('p'), false);
    assert.equal(bans.unban('p'), false);
    for (let i = 0; i < MISBEHAVIOUR_THRESHOLD; i++) bans.report('old', 'ERR_MALFORMED_FRAME');
    for (let i = 0; i < MAX_TRACKED_OFFENDERS; i++) bans.report(`x${i}`, 'ERR_MALFORMED_FRAME');
    assert.equal(bans.isBanned('old'), false, 'forgotten after MAX_TRACKED_OFFENDERS newer peers');
  });
});
