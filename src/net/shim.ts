/**
 * Node 20 shims for libp2p 3. Import this module before anything that loads libp2p.
 *
 * - libp2p 3 calls `Promise.withResolvers` (ES2024, Node 22+).
 * - `@libp2p/websockets` dials with the global `WebSocket` (Node 22+); the `ws` package provides a
 *   compatible class.
 *
 * Both installs are guarded: on Node >= 22 nothing is changed, and importing or calling this more
 * than once is harmless. Nothing is replaced that already exists.
 */
import { WebSocket as WsWebSocket } from 'ws';

interface Resolvers<T> {
  promise: Promise<T>;
  resolve: (value: T | PromiseLike<T>) => void;
  reject: (reason?: unknown) => void;
}

function withResolvers<T>(): Resolvers<T> {
  let resolve!: Resolvers<T>['resolve'];
  let reject!: Resolvers<T>['reject'];
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * `ws`'s WebSocket with an error listener of its own. A `ws` socket emits 'error' as a Node event,
 * and an 'error' nobody listens to is an uncaught exception. `@libp2p/websockets` removes its
 * listeners when a dial is aborted while the socket is still connecting, without closing it; the
 * socket's later connection error (ECONNRESET, EHOSTUNREACH) then killed the process. Node 22+'s
 * built-in WebSocket drops such an error (it is an EventTarget), and so does this class; the
 * failure still reaches every listener that is there (the dial's own error handling).
 */
class ShimWebSocket extends WsWebSocket {
  constructor(...args: ConstructorParameters<typeof WsWebSocket>) {
    super(...args);
    this.on('error', () => undefined);
  }
}

/** Installs the shims that are missing; returns which ones it installed (empty on Node >= 22). */
export function installNodeShims(): string[] {
  const installed: string[] = [];
  const promiseCtor = Promise as unknown as { withResolvers?: unknown };
  if (typeof promiseCtor.withResolvers !== 'function') {
    Object.defineProperty(Promise, 'withResolvers', { value: withResolvers, writable: true, configurable: true });
    installed.push('Promise.withResolvers');
  }
  const g = globalThis as unknown as { WebSocket?: unknown };
  if (typeof g.WebSocket !== 'function') {
    Object.defineProperty(globalThis, 'WebSocket', { value: ShimWebSocket, writable: true, configurable: true });
    installed.push('WebSocket');
  }
  return installed;
}

installNodeShims();
