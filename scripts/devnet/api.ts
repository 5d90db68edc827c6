/**
 * A client of one node's local API for the devnet: JSON over node:http with the bearer token, and
 * the events WebSocket.
 *
 * Unlike the CLI's ApiClient (global fetch, keep-alive), every request here uses its own connection
 * and asks the daemon to close it (`Connection: close`). The devnet is a long-lived client: a
 * keep-alive connection that was busy when a daemon began to stop would stay open afterwards and
 * hold the daemon's graceful stop (the API waits for its connections) for as long as the client
 * keeps it — up to fastify's 72 s keep-alive timeout.
 */
import { request } from 'node:http';
import WebSocket from 'ws';

/** Bound of a request unless the caller gives another. */
export const REQUEST_TIMEOUT_MS = 30_000;

/** The API answered with an error status; `code` is its error code (`RECIPIENT_NOT_FOUND`, …). */
export class NodeApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'NodeApiError';
  }
}

function errorOf(status: number, body: unknown): NodeApiError {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  return typeof error?.code === 'string' && typeof error.message === 'string'
    ? new NodeApiError(status, error.code, error.message)
    : new NodeApiError(status, `HTTP_${status}`, `HTTP ${status}`);
}

export class NodeApi {
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
  ) {}

  /** One request; resolves with the status and the parsed JSON body, rejects with NodeApiError for a status ≥ 400. */
  request<T>(
    method: string,
    path: string,
    options: { body?: unknown; timeoutMs?: number } = {},
  ): Promise<{ status: number; body: T }> {
    const url = new URL(path, this.baseUrl);
    const timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
    const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          agent: false,
          headers: {
            authorization: `Bearer ${this.token}`,
            accept: 'application/json',
            connection: 'close',
            ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': payload.length }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            clearTimeout(timer);
            const status = res.statusCode ?? 0;
            let body: unknown;
            try {
              body = chunks.length === 0 ? undefined : (JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown);
            } catch {
              body = undefined;
            }
            if (status >= 400) reject(errorOf(status, body));
            else resolve({ status, body: body as T });
          });
        },
      );
      const timer = setTimeout(
        () => req.destroy(new Error(`${url.origin} did not answer ${method} ${path} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      req.end(payload);
    });
  }

  async get<T>(path: string, timeoutMs?: number): Promise<T> {
    return (await this.request<T>('GET', path, timeoutMs === undefined ? {} : { timeoutMs })).body;
  }

  /** Opens the events WebSocket (GET /v1/events); resolves once it is open, bounded by `timeoutMs`. */
  events(timeoutMs = REQUEST_TIMEOUT_MS): Promise<WebSocket> {
    const url = `${this.baseUrl.replace(/^http/, 'ws')}/v1/events`;
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, {
        headers: { authorization: `Bearer ${this.token}` },
        handshakeTimeout: timeoutMs,
        perMessageDeflate: false,
      });
      const fail = (err: Error) => {
        socket.removeAllListeners('open');
        socket.terminate();
        reject(err);
      };
      socket.once('open', () => {
        socket.removeAllListeners('unexpected-response');
        socket.removeAllListeners('error');
        resolve(socket);
      });
      socket.once('unexpected-response', (_req, res) => {
        res.resume();
        fail(new NodeApiError(res.statusCode ?? 0, `HTTP_${res.statusCode}`, `${url} answered HTTP ${res.statusCode}`));
      });
      socket.once('error', fail);
    });
  }
}
