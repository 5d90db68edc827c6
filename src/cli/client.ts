/**
 * The CLI's client of the daemon's local API: where the API is, the bearer token, JSON requests
 * over node:http (`httpRequest`), and the events WebSocket (`ws`).
 *
 * Where the API is, first match wins:
 *   1. `--api-url <url>`
 *   2. `SOTTO_API_URL`
 *   3. `<dataDir>/daemon.json` (written by the running daemon: its actual URL, even with port 0)
 *   4. the configured `api.host`/`api.port` (config.json < SOTTO_API_HOST/PORT; default 127.0.0.1:7373)
 *
 * The token: `SOTTO_API_TOKEN`, else `<dataDir>/api-token` (created by the daemon on its first start;
 * refused when the group or others can read it).
 */
import { readFile } from 'node:fs/promises';
import { request as httpRequestRaw } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import type WebSocket from 'ws';
import { API_TOKEN_FILE, readToken } from '../api/token.js';
import type { ConfigEnv } from '../config/settings.js';
import { DAEMON_FILE as DAEMON_INFO_FILE } from '../daemon/info.js';
import { ApiCallError, ApiUnreachableError, CliError, EXIT, noDaemonMessage } from './errors.js';

/** The daemon's info file in the data dir (src/daemon/info.ts). */
export { DAEMON_FILE as DAEMON_INFO_FILE } from '../daemon/info.js';

/** Requests that do not answer within this time count as "the daemon does not answer". */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/**
 * A send waits for one delivery attempt: a directory lookup (node LOOKUP_TIMEOUT_MS, 20 s) and the
 * attempt itself (SEND_ATTEMPT_TIMEOUT_MS, 15 s), plus margin.
 */
export const SEND_TIMEOUT_MS = 60_000;

export type ApiUrlSource = 'flag' | 'env' | 'daemon.json' | 'config';

export interface ApiTarget {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:7373`. */
  baseUrl: string;
  source: ApiUrlSource;
}

/** What the running daemon wrote to `<dataDir>/daemon.json` (DaemonInfo in src/daemon/info.ts, read defensively). */
export interface DaemonFileInfo {
  pid?: number;
  api: string;
  address?: string;
  peerId?: string;
  startedAt?: number;
}

/** A base URL from `--api-url`/`SOTTO_API_URL`: http(s), no credentials, no query; trailing slash dropped. */
export function parseApiUrl(text: string, origin: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CliError(EXIT.USAGE, `${origin}: not a URL: ${JSON.stringify(text.slice(0, 100))}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CliError(EXIT.USAGE, `${origin}: expected an http:// or https:// URL, got ${url.protocol}`);
  }
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw new CliError(EXIT.USAGE, `${origin}: expected a base URL such as http://127.0.0.1:7373`);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** `http://host:port` to reach an API bound to `host`: a wildcard bind is reached over loopback. */
export function apiUrlFor(host: string, port: number): string {
  const reach = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${reach.includes(':') ? `[${reach}]` : reach}:${port}`;
}

/** `<dataDir>/daemon.json`, or undefined when there is none (or it is not readable JSON with an `api`). */
export async function readDaemonFile(dataDir: string): Promise<DaemonFileInfo | undefined> {
  let text: string;
  try {
    text = await readFile(join(dataDir, DAEMON_INFO_FILE), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const info = JSON.parse(text) as Partial<DaemonFileInfo> | null;
    if (info === null || typeof info !== 'object' || typeof info.api !== 'string') return undefined;
    return info as DaemonFileInfo;
  } catch {
    return undefined;
  }
}

export interface DiscoverInput {
  apiUrl?: string | undefined;
  dataDir: string;
  env: ConfigEnv;
  /** The configured API address (loaded lazily: only when nothing earlier matched). */
  configured: () => Promise<{ host: string; port: number }>;
}

/** Where the API is (see the module comment for the order). */
export async function discoverApi(input: DiscoverInput): Promise<ApiTarget> {
  if (input.apiUrl !== undefined) return { baseUrl: parseApiUrl(input.apiUrl, '--api-url'), source: 'flag' };
  const fromEnv = input.env.SOTTO_API_URL;
  if (fromEnv !== undefined && fromEnv !== '') return { baseUrl: parseApiUrl(fromEnv, 'SOTTO_API_URL'), source: 'env' };
  const info = await readDaemonFile(input.dataDir);
  if (info !== undefined) {
    try {
      return { baseUrl: parseApiUrl(info.api, DAEMON_INFO_FILE), source: 'daemon.json' };
    } catch {
      // a damaged daemon.json: fall through to the configured address
    }
  }
  const { host, port } = await input.configured();
  return { baseUrl: apiUrlFor(host, port), source: 'config' };
}

/** The token: `SOTTO_API_TOKEN`, else `<dataDir>/api-token`; undefined when there is neither. */
export async function findToken(dataDir: string, env: ConfigEnv): Promise<string | undefined> {
  const fromEnv = env.SOTTO_API_TOKEN;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv.trim();
  return readToken(join(dataDir, API_TOKEN_FILE));
}

export interface RequestOptions {
  body?: unknown;
  timeoutMs?: number;
}

function isErrorBody(body: unknown): body is { error: { code: string; message: string; field?: string } } {
  const error = (body as { error?: unknown } | null)?.error as { code?: unknown; message?: unknown } | undefined;
  return (
    typeof error === 'object' && error !== null && typeof error.code === 'string' && typeof error.message === 'string'
  );
}

class RequestTimeoutError extends Error {
  override name = 'TimeoutError';
}

/**
 * One HTTP(S) request with node:http: the status and the body as text. Not the global `fetch`: its
 * HTTP parser is WebAssembly that V8 recompiles in the background, and the process cannot exit
 * before that is done — every command took ≈ 200 ms longer than its answer (measured here:
 * `sotto contacts list` 0.41 s with fetch, 0.2 s without). Redirects are not followed.
 */
function httpRequest(
  url: string,
  options: { method: string; headers: Record<string, string>; body: string | undefined; timeoutMs: number },
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequestRaw;
    const headers = { ...options.headers };
    if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));
    const req = send(target, { method: options.method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    // the whole exchange, as AbortSignal.timeout bounded fetch (not an idle timeout)
    const timer = setTimeout(
      () => req.destroy(new RequestTimeoutError(`no answer within ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
    req.on('close', () => clearTimeout(timer));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** A small client of the local API: JSON in, JSON out, typed errors. */
export class ApiClient {
  /**
   * @param unreachable the one-line message when the daemon cannot be reached (names the data dir
   *   or the explicit URL; see `noDaemonMessage`)
   */
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
    private readonly unreachable: string,
  ) {}

  /**
   * One request. Resolves with the status and the parsed JSON body (undefined for 204); throws
   * `ApiCallError` for an error response and `ApiUnreachableError` when nothing answers in time.
   */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<{ status: number; body: T }> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, accept: 'application/json' };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    let response: { status: number; text: string };
    try {
      response = await httpRequest(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        timeoutMs,
      });
    } catch (err) {
      if (err instanceof RequestTimeoutError) {
        throw new ApiUnreachableError(
          this.baseUrl,
          `the daemon at ${this.baseUrl} did not answer within ${Math.round(timeoutMs / 1000)} s`,
          { cause: err },
        );
      }
      throw new ApiUnreachableError(this.baseUrl, this.unreachable, { cause: err });
    }
    const { text } = response;
    let body: unknown;
    if (text !== '') {
      try {
        body = JSON.parse(text) as unknown;
      } catch {
        body = undefined;
      }
    }
    if (response.status < 200 || response.status > 299) {
      if (isErrorBody(body)) {
        throw new ApiCallError(response.status, body.error.code, body.error.message, body.error.field);
      }
      throw new ApiCallError(
        response.status,
        'BAD_RESPONSE',
        `${this.baseUrl} answered HTTP ${response.status}, not like a sotto daemon`,
      );
    }
    if (body === undefined && response.status !== 204) {
      throw new ApiCallError(
        response.status,
        'BAD_RESPONSE',
        `${this.baseUrl} answered without JSON, not like a sotto daemon`,
      );
    }
    return { status: response.status, body: body as T };
  }

  async get<T>(path: string, options?: RequestOptions): Promise<T> {
    return (await this.request<T>('GET', path, options)).body;
  }

  /**
   * Opens the events WebSocket (`GET /v1/events`). Resolves once it is open; rejects with
   * `ApiCallError` (the daemon refused, e.g. a wrong token) or `ApiUnreachableError`.
   */
  async events(timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<WebSocket> {
    const url = `${this.baseUrl.replace(/^http/, 'ws')}/v1/events`;
    // Loaded here: only `watch` needs it.
    const { WebSocket } = await import('ws');
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
      socket.once('unexpected-response', (_request, response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          let body: unknown;
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
          } catch {
            body = undefined;
          }
          const status = response.statusCode ?? 0;
          fail(
            isErrorBody(body)
              ? new ApiCallError(status, body.error.code, body.error.message)
              : new ApiCallError(status, 'BAD_RESPONSE', `${url} answered HTTP ${status}, not like a sotto daemon`),
          );
        });
        response.on('error', (err) => fail(new ApiUnreachableError(this.baseUrl, this.unreachable, { cause: err })));
      });
      socket.once('error', (err) => fail(new ApiUnreachableError(this.baseUrl, this.unreachable, { cause: err })));
    });
  }
}

/** The "no daemon" message for a discovered target. */
export function unreachableMessage(target: ApiTarget, dataDir: string): string {
  return target.source === 'flag' || target.source === 'env'
    ? noDaemonMessage({ explicitApiUrl: target.baseUrl })
    : noDaemonMessage({ dataDir });
}
