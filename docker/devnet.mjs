// Devnet helpers for the container entrypoint (docker/entrypoint.sh), run just before `sotto start`.
// Prints `NAME=value` lines (SOTTO_* settings only) for the entrypoint to export; logs go to stderr.
//
// Variables (all optional; docker/compose.yaml sets them):
//   DEVNET_PUBLISH_MULTIADDR=<file>  write this node's bootstrap multiaddr there,
//                                    /dns4/<DEVNET_PUBLISH_HOST>/tcp/<tcp listen port>/p2p/<peer id>
//   DEVNET_PUBLISH_HOST=<name>       the DNS name others reach this container by (its Compose service)
//   DEVNET_PUBLISH_PEER_ID=<file>    write this node's peer id there (a mailbox's, for SOTTO_MAILBOXES)
//   DEVNET_BOOTSTRAP_FROM=<file>     wait for that file, then add its multiaddr to SOTTO_BOOTSTRAP
//   DEVNET_MAILBOXES_FROM=<file>     wait for that file, then add its peer id to SOTTO_MAILBOXES
//   DEVNET_ANNOUNCE_CONTAINER_IP=true
//                                    unless SOTTO_ANNOUNCE is set: announce the wildcard listen
//                                    addresses (0.0.0.0) as this container's own IPv4 addresses
//   DEVNET_WAIT_SECONDS=<n>          longest wait for a file (default 120); then exit 1
//
// The identity and peer key are created offline with `sotto init` (the same as the daemon's first
// start would), so the peer id is known before the daemon listens. Files are written atomically
// (temp file + rename), so a reader never sees half a line. No private key leaves the data dir.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const env = process.env;
const SOTTO = '/app/dist/src/cli/main.js';
/** What a printed value may contain: multiaddrs, peer ids, commas. Nothing a shell would interpret. */
const SAFE_VALUE = /^[A-Za-z0-9/._:,+=-]*$/;
const PEER_ID = /^[1-9A-HJ-NP-Za-km-z]{46,60}$/;
const MULTIADDR = /^\/[A-Za-z0-9/._:-]+\/p2p\/[1-9A-HJ-NP-Za-km-z]{46,60}$/;

function log(message) {
  process.stderr.write(`devnet: ${message}\n`);
}

function fail(message) {
  log(message);
  process.exit(1);
}

function list(value) {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function truthy(value) {
  return ['1', 'true', 'yes', 'on'].includes((value ?? '').toLowerCase());
}

/** The peer id, creating the identity and peer key offline on first use. */
function peerId() {
  const out = execFileSync(process.execPath, [SOTTO, 'init', '--json'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const id = JSON.parse(out).peerId;
  if (typeof id !== 'string' || !PEER_ID.test(id)) fail(`sotto init printed no peer id: ${out.slice(0, 200)}`);
  return id;
}

function writeAtomically(file, text) {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  writeFileSync(tmp, `${text}\n`, { mode: 0o644 });
  renameSync(tmp, file);
  log(`wrote ${file}: ${text}`);
}

async function waitForLine(file, pattern, what) {
  const seconds = Number(env.DEVNET_WAIT_SECONDS ?? '120');
  const deadline = Date.now() + (Number.isFinite(seconds) && seconds > 0 ? seconds : 120) * 1000;
  let logged = false;
  for (;;) {
    if (existsSync(file)) {
      const line = readFileSync(file, 'utf8').trim();
      if (pattern.test(line)) return line;
      if (line !== '') fail(`${file}: not a ${what}: ${JSON.stringify(line.slice(0, 200))}`);
    }
    if (Date.now() > deadline) fail(`gave up waiting for ${file} (the ${what}) after ${seconds} s`);
    if (!logged) log(`waiting for ${file} (the ${what})`);
    logged = true;
    await sleep(250);
  }
}

/** The first TCP (not WebSocket) listen port of SOTTO_LISTEN. */
function tcpListenPort(listen) {
  for (const ma of listen) {
    const m = /^\/ip[46]\/[^/]+\/tcp\/(\d+)$/.exec(ma);
    if (m !== null && m[1] !== '0') return m[1];
  }
  return fail(`DEVNET_PUBLISH_MULTIADDR needs a fixed TCP port in SOTTO_LISTEN, got ${JSON.stringify(listen)}`);
}

function containerIPv4s() {
  const ips = [];
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) ips.push(a.address);
  }
  return ips;
}

const settings = new Map();
const listen = list(env.SOTTO_LISTEN);

if (env.DEVNET_PUBLISH_MULTIADDR || env.DEVNET_PUBLISH_PEER_ID) {
  const id = peerId();
  if (env.DEVNET_PUBLISH_MULTIADDR) {
    const host = env.DEVNET_PUBLISH_HOST;
    if (!host || !/^[A-Za-z0-9.-]+$/.test(host)) {
      fail('DEVNET_PUBLISH_MULTIADDR needs DEVNET_PUBLISH_HOST (a DNS name)');
    }
    writeAtomically(env.DEVNET_PUBLISH_MULTIADDR, `/dns4/${host}/tcp/${tcpListenPort(listen)}/p2p/${id}`);
  }
  if (env.DEVNET_PUBLISH_PEER_ID) writeAtomically(env.DEVNET_PUBLISH_PEER_ID, id);
}

if (env.DEVNET_BOOTSTRAP_FROM) {
  const ma = await waitForLine(env.DEVNET_BOOTSTRAP_FROM, MULTIADDR, 'bootstrap multiaddr');
  settings.set('SOTTO_BOOTSTRAP', [...new Set([...list(env.SOTTO_BOOTSTRAP), ma])].join(','));
}

if (env.DEVNET_MAILBOXES_FROM) {
  const id = await waitForLine(env.DEVNET_MAILBOXES_FROM, PEER_ID, 'mailbox peer id');
  settings.set('SOTTO_MAILBOXES', [...new Set([...list(env.SOTTO_MAILBOXES), id])].join(','));
}

if (truthy(env.DEVNET_ANNOUNCE_CONTAINER_IP) && !env.SOTTO_ANNOUNCE) {
  const ips = containerIPv4s();
  if (ips.length === 0) fail('DEVNET_ANNOUNCE_CONTAINER_IP: this container has no IPv4 address');
  const announce = [];
  for (const ma of listen) {
    if (ma.startsWith('/ip4/0.0.0.0/')) for (const ip of ips) announce.push(ma.replace('/ip4/0.0.0.0/', `/ip4/${ip}/`));
    else announce.push(ma);
  }
  settings.set('SOTTO_ANNOUNCE', announce.join(','));
}

for (const [name, value] of settings) {
  if (!SAFE_VALUE.test(value)) fail(`refusing to set ${name} to ${JSON.stringify(value)}`);
  log(`${name}=${value}`);
  process.stdout.write(`${name}=${value}\n`);
}
