// Makes an npm cache that holds exactly what `npm ci --offline` needs for one package-lock.json,
// copied out of an existing npm cache (docker/make-local-base.sh bakes it into the offline build
// base, so the Dockerfile's unchanged `npm ci` installs without any network):
//
//   node docker/npm-offline-cache.mjs PACKAGE_LOCK FROM_CACHE TO_CACHE
//
// For every package in the lockfile it copies the cached registry document ("packument": the
// lockfile has no `resolved` URLs, so npm looks the tarball's URL up there) and the cached tarball,
// both under the keys npm's fetcher (make-fetch-happen) uses, by copying cacache's index lines and
// content files as they are (its on-disk layout: index-v5/, content-v2/). Packages for another OS
// or CPU, which npm skips, are left out. FROM_CACHE is only read. It prints, one per line on stdout, the `name@version` of every package it
// could not copy: the caller fetches those with `npm cache add --cache TO_CACHE …` (the npm
// registry, as any `npm ci` would) and the result is checked by the offline `npm ci` itself.
// Needs: npm on the PATH; the registry from NPM_REGISTRY (default: npm config get registry).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const [lockPath, from, to] = process.argv.slice(2);
if (!lockPath || !from || !to) {
  process.stderr.write('usage: node npm-offline-cache.mjs PACKAGE_LOCK FROM_CACHE TO_CACHE\n');
  process.exit(2);
}

const registry = (
  process.env.NPM_REGISTRY || execFileSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8' }).trim()
).replace(/\/?$/, '/');

/** make-fetch-happen's cache key for a GET of this URL (npm-registry-fetch's packument request). */
const keyOf = (url) => `make-fetch-happen:request-cache:${url}`;
/** The registry path of a name: `@scope/name` → `@scope%2fname`. */
const escaped = (name) => (name.startsWith('@') ? name.replace('/', '%2f') : name);
/**
 * npm skips an optional package built for another platform (esbuild's and biome's per-platform
 * binaries): it is not needed. The image has this machine's OS and CPU and glibc.
 */
function otherPlatform(entry) {
  const fits = (list, value) => {
    if (!Array.isArray(list) || list.length === 0) return true;
    if (list.includes(`!${value}`)) return false;
    const allowed = list.filter((v) => !v.startsWith('!'));
    return allowed.length === 0 || allowed.includes(value);
  };
  return !fits(entry.os, process.platform) || !fits(entry.cpu, process.arch) || !fits(entry.libc, 'glibc');
}

const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
const packages = new Map(); // name@version → { name, integrity }
for (const [path, entry] of Object.entries(lock.packages ?? {})) {
  if (path === '' || entry.link || entry.version === undefined) continue;
  if ((entry.optional || entry.devOptional) && otherPlatform(entry)) continue;
  const name = entry.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
  packages.set(`${name}@${entry.version}`, { name, version: entry.version });
}

const missing = new Set();
const packuments = new Map(); // name → parsed packument
let copied = 0;

/** cacache's index bucket of a key: index-v5/<sha256(key) as aa/bb/rest> (cacache's layout). */
function bucketOf(cache, key) {
  const hex = createHash('sha256').update(key).digest('hex');
  return join(cache, 'index-v5', hex.slice(0, 2), hex.slice(2, 4), hex.slice(4));
}

/** cacache's content path of an integrity: content-v2/<algorithm>/aa/bb/rest. */
function contentOf(cache, integrity) {
  const [algorithm, base64] = integrity.split(/-(.*)/s);
  const hex = Buffer.from(base64, 'base64').toString('hex');
  return join(cache, 'content-v2', algorithm, hex.slice(0, 2), hex.slice(2, 4), hex.slice(4));
}

/** What `npm ci` asks the registry for: the abbreviated ("corgi") packument. */
const CORGI = 'application/vnd.npm.install-v1+json';

/**
 * Copies every index entry of a key and the content it names, byte for byte. A key can have
 * several entries, told apart by the request's headers: the full packument (`npm view`) does not
 * answer `npm ci`'s request for the abbreviated one, so with `accept` given only an entry whose
 * request accepted that counts. Returns the newest counting entry's content, or undefined.
 */
function copyEntries(key, accept) {
  let text;
  try {
    text = readFileSync(bucketOf(from, key), 'utf8');
  } catch {
    return undefined;
  }
  const lines = [];
  let newest;
  for (const line of text.split('\n')) {
    const json = line.slice(line.indexOf('\t') + 1);
    let entry;
    try {
      entry = JSON.parse(json);
    } catch {
      continue;
    }
    if (entry.key !== key || typeof entry.integrity !== 'string') continue;
    const source = contentOf(from, entry.integrity);
    if (!existsSync(source)) continue;
    const target = contentOf(to, entry.integrity);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(source, target);
    lines.push(line);
    if (accept === undefined || String(entry.metadata?.reqHeaders?.accept ?? '').includes(accept)) newest = source;
  }
  if (lines.length === 0) return undefined;
  const bucket = bucketOf(to, key);
  mkdirSync(dirname(bucket), { recursive: true });
  appendFileSync(bucket, `${lines.join('\n')}\n`);
  return newest === undefined ? undefined : readFileSync(newest);
}

for (const [spec, { name, version }] of packages) {
  try {
    let packument = packuments.get(name);
    if (packument === undefined) {
      const data = copyEntries(keyOf(`${registry}${escaped(name)}`), CORGI);
      if (data === undefined) throw new Error('no packument');
      packument = JSON.parse(data.toString('utf8'));
      packuments.set(name, packument);
    }
    const tarball = packument.versions?.[version]?.dist?.tarball;
    if (typeof tarball !== 'string') throw new Error('version not in the packument');
    if (copyEntries(keyOf(tarball)) === undefined) throw new Error('no tarball');
    copied += 1;
  } catch {
    missing.add(spec);
  }
}
process.stderr.write(
  `npm-offline-cache: ${packages.size} packages in the lockfile, ${copied} copied, ${missing.size} to fetch\n`,
);
for (const spec of missing) process.stdout.write(`${spec}\n`);
