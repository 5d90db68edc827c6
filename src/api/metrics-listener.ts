/**
 * The metrics listener: a second HTTP listener, separate from the API, that serves only
 * `GET /metrics` (Prometheus text format, the registry the API's /metrics serves) and answers 404 to
 * every other method and path. It exists for a Prometheus that cannot hold each node's own API token
 * (a Compose devnet scraping scaled replicas): it can read the metrics and nothing else, never send,
 * never read a conversation. The daemon starts it when `metrics.listen` is set (src/config).
 *
 * - Optionally a bearer token (`metrics.tokenFile`): then every request needs
 *   `Authorization: Bearer <token>` (constant-time check, ./auth.ts) or gets 401, before the path is
 *   even looked at. Not in query strings, as for the API.
 * - Request bodies are never read; headers, idle connections and open connections are bounded by
 *   the constants below. Nothing is logged per request (a scrape every few seconds would flood the
 *   log); a failed collection is logged once per failure, without the request.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { bearerFromHeader, tokenChecker } from './auth.js';
import type { ApiLogger } from './types.js';

/** The only path served. */
export const METRICS_PATH = '/metrics';
/**
 * Largest request head accepted (request line and headers), bytes: a scrape sends a few hundred;
 * Node's default of 16 KiB is more than a read-only endpoint needs to accept from the network.
 */
export const METRICS_MAX_HEADER_BYTES = 8 * 1024;
/** A client must send its whole request head within this time (slowloris), ms. */
export const METRICS_HEADERS_TIMEOUT_MS = 10_000;
/** A whole request, answer included, must finish within this time, ms (Prometheus' scrape timeout is 10 s by default). */
export const METRICS_REQUEST_TIMEOUT_MS = 30_000;
/** An idle keep-alive connection is closed after this long, ms (Prometheus scrapes every 15 s by default). */
export const METRICS_KEEP_ALIVE_TIMEOUT_MS = 20_000;
/** Most connections open at once; more are refused by the server (a Prometheus needs one or two per node). */
export const METRICS_MAX_CONNECTIONS = 32;

export interface MetricsListenerOptions {
  readonly registry: Registry;
  readonly host: string;
  /** 0 = an ephemeral port. */
  readonly port: number;
  /** When set, every request needs `Authorization: Bearer <token>`. */
  readonly token?: string;
  readonly logger?: ApiLogger;
}

export interface MetricsListener {
  /** Where it listens (the actual port, also with port 0). */
  readonly host: string;
  readonly port: number;
  /** `http://host:port/metrics`. */
  readonly url: string;
  /** Stops listening and closes every connection. Idempotent. */
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(body);
}

/** Starts the listener; resolves once it listens, rejects (e.g. EADDRINUSE) if it cannot. */
export async function startMetricsListener(options: MetricsListenerOptions): Promise<MetricsListener> {
  const { registry, logger } = options;
  const check = options.token === undefined ? undefined : tokenChecker(options.token);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // A body is never read: drop whatever arrives, so the connection is not held by it.
    req.resume();
    if (check !== undefined && !check(bearerFromHeader(req.headers.authorization))) {
      send(res, 401, 'a valid bearer token is required\n', { 'www-authenticate': 'Bearer realm="sotto-metrics"' });
      return;
    }
    const path = (req.url ?? '').split('?', 1)[0];
    if (req.method !== 'GET' || path !== METRICS_PATH) {
      send(res, 404, 'not found: only GET /metrics is served here\n');
      return;
    }
    let text: string;
    try {
      text = await registry.metrics();
    } catch (err) {
      logger?.warn('metrics collection failed: %s', err instanceof Error ? err.message : String(err));
      send(res, 500, 'metrics collection failed\n');
      return;
    }
    send(res, 200, text, { 'content-type': registry.contentType });
  };

  const server: Server = createServer({ maxHeaderSize: METRICS_MAX_HEADER_BYTES }, (req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, 'internal error\n');
      else res.destroy();
    });
  });
  server.headersTimeout = METRICS_HEADERS_TIMEOUT_MS;
  server.requestTimeout = METRICS_REQUEST_TIMEOUT_MS;
  server.keepAliveTimeout = METRICS_KEEP_ALIVE_TIMEOUT_MS;
  server.maxConnections = METRICS_MAX_CONNECTIONS;

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen({ host: options.host, port: options.port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => logger?.warn('metrics listener error: %s', err.message));

  const port = (server.address() as AddressInfo).port;
  const shown = options.host.includes(':') ? `[${options.host}]` : options.host;
  let closed: Promise<void> | undefined;
  return {
    host: options.host,
    port,
    url: `http://${shown}:${port}${METRICS_PATH}`,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
