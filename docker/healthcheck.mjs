// The image's HEALTHCHECK: GET /health on the local API with the bearer token from the data dir.
// Exit 0 when the daemon answers 200 {ready: true}; 1 otherwise, with one line saying why (Docker
// keeps it: `docker inspect --format '{{json .State.Health}}' <container>`).
//
// The API URL comes from <data dir>/daemon.json (written by the running daemon, so a changed
// SOTTO_API_PORT is followed), else SOTTO_API_HOST/SOTTO_API_PORT, else 127.0.0.1:7373; a wildcard
// bind address is asked on loopback. The token is <data dir>/api-token (or SOTTO_API_TOKEN).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const TIMEOUT_MS = 4000;
const dataDir = process.env.SOTTO_HOME || '/data';

function done(code, message) {
  process.stdout.write(`${message}\n`);
  process.exit(code);
}

function readOrUndefined(file) {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function apiUrl() {
  const daemon = readOrUndefined(join(dataDir, 'daemon.json'));
  let url;
  if (daemon !== undefined) {
    try {
      url = new URL(JSON.parse(daemon).api);
    } catch {
      // half-written or stale: fall back to the configuration
    }
  }
  if (url === undefined) {
    const host = process.env.SOTTO_API_HOST || '127.0.0.1';
    url = new URL(`http://${host.includes(':') ? `[${host}]` : host}:${process.env.SOTTO_API_PORT || '7373'}`);
  }
  if (url.hostname === '0.0.0.0' || url.hostname === 'localhost') url.hostname = '127.0.0.1';
  if (url.hostname === '[::]') url.hostname = '[::1]';
  return new URL('/health', url);
}

const token = (process.env.SOTTO_API_TOKEN || readOrUndefined(join(dataDir, 'api-token')) || '').trim();
if (token === '') done(1, `no API token in ${join(dataDir, 'api-token')} (daemon not started yet?)`);

const url = apiUrl();
try {
  const response = await fetch(url, {
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const body = await response.text();
  if (response.status === 200) done(0, `ready (${url.host})`);
  done(1, `not ready: HTTP ${response.status} ${body.slice(0, 200)}`);
} catch (err) {
  done(1, `no answer from ${url.origin}: ${err?.cause?.code ?? err?.name ?? err}`);
}
