/**
 * The relay STOP guard (src/net/relay-stop-guard.ts) on a stand-in registrar: only the STOP handler
 * is wrapped; a STOP stream from a peer we hold no reservation on is aborted unread with
 * UnexpectedRelayStopError and never reaches the library's handler. The same on real hosts is in
 * test/net/relay.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RELAY_V2_HOP_CODEC, RELAY_V2_STOP_CODEC } from '@libp2p/circuit-relay-v2';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Connection, PeerId, Stream, StreamHandler } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { findReservationCheck, guardRelayStop, UnexpectedRelayStopError } from '../../src/net/index.js';

async function peer(): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'));
}

function standIn(): { stream: Stream; aborted: () => Error | undefined } {
  let error: Error | undefined;
  const stream = { abort: (err: Error) => (error = err) } as unknown as Stream;
  return { stream, aborted: () => error };
}

function registrar(): { handle: (p: string, h: StreamHandler) => Promise<void>; handlers: Map<string, StreamHandler> } {
  const handlers = new Map<string, StreamHandler>();
  return {
    handlers,
    handle: async (p, h) => {
      handlers.set(p, h);
    },
  };
}

describe('relay STOP guard', () => {
  it('passes a STOP stream from a reserved relay, aborts one from any other peer unread; other protocols untouched', async () => {
    const reserved = await peer();
    const stranger = await peer();
    const reg = registrar();
    const refused: string[] = [];
    guardRelayStop(
      { registrar: reg },
      (p) => p.equals(reserved),
      (p) => refused.push(p.toString()),
    );
    const seen: string[] = [];
    const libraryStop: StreamHandler = (_s, c) => {
      seen.push(c.remotePeer.toString());
    };
    const libraryHop: StreamHandler = () => {};
    await reg.handle(RELAY_V2_STOP_CODEC, libraryStop);
    await reg.handle(RELAY_V2_HOP_CODEC, libraryHop);
    assert.equal(reg.handlers.get(RELAY_V2_HOP_CODEC), libraryHop, 'HOP is not wrapped');
    const stop = reg.handlers.get(RELAY_V2_STOP_CODEC) as StreamHandler;
    assert.notEqual(stop, libraryStop);

    const ok = standIn();
    await stop(ok.stream, { remotePeer: reserved } as Connection);
    assert.deepEqual(seen, [reserved.toString()]);
    assert.equal(ok.aborted(), undefined);

    const bad = standIn();
    await stop(bad.stream, { remotePeer: stranger } as Connection);
    assert.deepEqual(seen, [reserved.toString()], 'the library never saw the stranger’s stream');
    const err = bad.aborted();
    assert.ok(err instanceof UnexpectedRelayStopError);
    assert.equal(err.code, 'RELAY_STOP_UNEXPECTED');
    assert.equal(err.relay, stranger.toString());
    assert.deepEqual(refused, [stranger.toString()]);
  });

  it('a throwing onRefused listener changes nothing', async () => {
    const reg = registrar();
    guardRelayStop(
      { registrar: reg },
      () => false,
      () => {
        throw new Error('listener bug');
      },
    );
    let reached = false;
    await reg.handle(RELAY_V2_STOP_CODEC, () => {
      reached = true;
    });
    const s = standIn();
    await (reg.handlers.get(RELAY_V2_STOP_CODEC) as StreamHandler)(s.stream, {
      remotePeer: await peer(),
    } as Connection);
    assert.ok(s.aborted() instanceof UnexpectedRelayStopError);
    assert.equal(reached, false);
  });

  it('finds the reservation store among the transports, and says so when there is none', async () => {
    const held = await peer();
    const other = await peer();
    const store = { hasReservation: (p: PeerId) => p.equals(held) };
    const check = findReservationCheck({ getTransports: () => [{}, { reservationStore: store }] });
    assert.ok(check);
    assert.equal(check(held), true);
    assert.equal(check(other), false);
    for (const shape of [
      undefined,
      {},
      { getTransports: () => [] },
      { getTransports: () => [{ reservationStore: {} }] },
    ]) {
      assert.equal(findReservationCheck(shape), undefined);
    }
  });
});
