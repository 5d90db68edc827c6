/**
 * The events stream over a real socket: the server listens on 127.0.0.1 (port 0) and a `ws` client
 * connects the way the CLI (header) and a browser (subprotocol) would.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { EVENTS_SUBPROTOCOL } from '../../src/api/auth.js';
import { messageId, randomAddress } from './fake-node.js';
import { type Harness, harness } from './helpers.js';

const EVENT_NAMES = ['message', 'delivery', 'key-change'] as const;

describe('API events stream (WebSocket on 127.0.0.1)', () => {
  let h: Harness;
  let url: string;
  /** Listeners the server holds without any stream open (its own metrics). */
  let baseline: Record<string, number>;

  before(async () => {
    h = await harness();
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = h.app.server.address() as AddressInfo;
    url = `ws://127.0.0.1:${port}/v1/events`;
    baseline = Object.fromEntries(EVENT_NAMES.map((e) => [e, h.node.listenerCount(e)]));
  });
  after(() => h.app.close());

  /** Opens a stream; resolves with the socket and every message it receives. */
  async function connect(
    options: { headers?: Record<string, string>; protocols?: string[] } = {},
  ): Promise<{ socket: WebSocket; received: unknown[] }> {
    const socket = new WebSocket(url, options.protocols ?? [], { headers: options.headers ?? {} });
    const received: unknown[] = [];
    socket.on('message', (data, isBinary) => {
      assert.equal(isBinary, false);
      received.push(JSON.parse(data.toString()));
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    // the server attaches its listeners right after the upgrade
    await waitFor(() => h.node.listenerCount('message') > (baseline.message ?? 0));
    return { socket, received };
  }

  /** Expects the upgrade to be refused; returns the HTTP status. */
  async function refused(options: { headers?: Record<string, string>; protocols?: string[]; path?: string }) {
    const socket = new WebSocket(
      options.path ? url.replace('/v1/events', options.path) : url,
      options.protocols ?? [],
      {
        headers: options.headers ?? {},
      },
    );
    return new Promise<number>((resolve, reject) => {
      socket.once('unexpected-response', (_request, response) => {
        resolve(response.statusCode ?? 0);
        socket.terminate();
      });
      socket.once('open', () => reject(new Error('the upgrade was accepted')));
      socket.once('error', () => undefined);
    });
  }

  async function waitFor(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error('timed out');
      await sleep(5);
    }
  }

  function emitAll() {
    const message = {
      id: messageId(),
      from: randomAddress(),
      text: 'hello over the stream',
      timestamp: 1_700_000_000_000,
    };
    const delivery = { id: messageId(), to: randomAddress(), state: 'delivered' as const };
    const keyChange = {
      address: randomAddress(),
      name: 'bob',
      previousKey: 'aa'.repeat(32),
      currentKey: 'bb'.repeat(32),
    };
    h.node.emit('lookup', { ok: true, cached: false, durationMs: 12 });
    h.node.emit('message', message);
    h.node.emit('handshake', { role: 'initiator' });
    h.node.emit('delivery', delivery);
    h.node.emit('key-change', keyChange);
    return [
      { type: 'message', ...message },
      { type: 'delivery', ...delivery },
      { type: 'key-change', ...keyChange },
    ];
  }

  it('authenticated by the Authorization header: receives message, delivery and key-change, nothing else', async () => {
    const { socket, received } = await connect({ headers: { authorization: `Bearer ${h.token}` } });
    assert.equal(socket.protocol, '');
    const expected = emitAll();
    await waitFor(() => received.length >= 3);
    await sleep(50);
    assert.deepEqual(received, expected);
    socket.close();
    await waitFor(() => h.node.listenerCount('message') === baseline.message);
  });

  it('authenticated by the subprotocol (browsers): the server selects sotto.events.v1, never the token', async () => {
    const { socket, received } = await connect({ protocols: [EVENTS_SUBPROTOCOL, `sotto.bearer.${h.token}`] });
    assert.equal(socket.protocol, EVENTS_SUBPROTOCOL);
    const expected = emitAll();
    await waitFor(() => received.length >= 3);
    assert.deepEqual(received, expected);
    socket.close();
    await waitFor(() => h.node.listenerCount('message') === baseline.message);
  });

  it('refuses the upgrade with 401 without the token, with a wrong one, or with it in the query', async () => {
    const wrong = `${h.token.slice(0, -2)}zz`;
    assert.equal(await refused({}), 401);
    assert.equal(await refused({ headers: { authorization: `Bearer ${wrong}` } }), 401);
    assert.equal(await refused({ protocols: [EVENTS_SUBPROTOCOL, `sotto.bearer.${wrong}`] }), 401);
    assert.equal(await refused({ path: `/v1/events?token=${h.token}` }), 401);
    assert.equal(await refused({ path: `/v1/events?access_token=${h.token}` }), 401);
    // a wrong header is not rescued by a right subprotocol
    assert.equal(
      await refused({
        headers: { authorization: `Bearer ${wrong}` },
        protocols: [EVENTS_SUBPROTOCOL, `sotto.bearer.${h.token}`],
      }),
      401,
    );
    // the subprotocol authenticates the events stream only
    assert.equal(await refused({ path: '/v1/nothing', protocols: [`sotto.bearer.${h.token}`] }), 401);
    assert.deepEqual(
      Object.fromEntries(EVENT_NAMES.map((e) => [e, h.node.listenerCount(e)])),
      baseline,
      'no listeners were attached',
    );
  });

  it('sends nothing after the client closes, and drops its listeners', async () => {
    const a = await connect({ headers: { authorization: `Bearer ${h.token}` } });
    const b = await connect({ headers: { authorization: `Bearer ${h.token}` } });
    assert.equal(h.node.listenerCount('message'), (baseline.message ?? 0) + 2);
    a.socket.close();
    await waitFor(() => h.node.listenerCount('message') === (baseline.message ?? 0) + 1);
    for (const e of EVENT_NAMES) assert.equal(h.node.listenerCount(e), (baseline[e] ?? 0) + 1);
    const expected = emitAll();
    await waitFor(() => b.received.length >= 3);
    assert.deepEqual(b.received, expected);
    assert.equal(a.received.length, 0, 'the closed stream got nothing');
    b.socket.close();
    await waitFor(() => h.node.listenerCount('message') === baseline.message);
    h.node.emit('message', { id: messageId(), from: randomAddress(), text: 'late', timestamp: 1 });
    await sleep(20);
    assert.equal(b.received.length, 3);
  });

  it('ignores what a client sends, and closing the server closes open streams', async () => {
    const { socket, received } = await connect({ headers: { authorization: `Bearer ${h.token}` } });
    socket.send('{"type":"message","text":"from the client"}');
    await sleep(20);
    assert.equal(received.length, 0);
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    await h.app.close();
    assert.ok((await closed) > 0);
    await waitFor(() => h.node.listenerCount('message') === 0);
  });
});
