/**
 * The Node 20 WebSocket shim (src/net/shim.ts): a socket whose connection fails after everyone
 * stopped listening (as @libp2p/websockets leaves an aborted dial) must not crash the process, and
 * a listener that is there still gets the error. Without the shim's own error listener, `ws` throws
 * the 'error' event as an uncaught exception (seen: daemons in Docker exiting when a peer vanished).
 */
import '../../src/net/shim.js';
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';

let server: net.Server;
let url: string;

before(async () => {
  server = net.createServer((socket) => socket.resetAndDestroy()); // the peer resets every connection
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `ws://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
});

after(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('WebSocket shim', () => {
  it('a failing connection with no error listener closes quietly', async () => {
    const ws = new globalThis.WebSocket(url);
    const code = await new Promise<number>((resolve) => ws.addEventListener('close', (e) => resolve(e.code)));
    assert.equal(code, 1006, 'closed abnormally, and the process is still here');
  });

  it('an error listener that is there still gets the error', async () => {
    const ws = new globalThis.WebSocket(url);
    const got = await new Promise<string>((resolve) => ws.addEventListener('error', (e) => resolve(e.type)));
    assert.equal(got, 'error');
  });
});
