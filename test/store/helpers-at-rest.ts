/** Helpers for the encryption-at-rest tests: fast KDF parameters, file snapshots, raw scans. */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Level } from 'level';
import type { KdfParams } from '../../src/store/index.js';

/** The cheapest parameters KDF_LIMITS allows: keeps the tests fast (defaults are tested where it matters). */
export const FAST_KDF: KdfParams = { memoryKiB: 64, iterations: 1, parallelism: 1 };

/** Every file under `dir` (recursively): path → sha256 of its bytes and its mode. */
export async function snapshotFiles(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) {
        out.set(`${path}/`, ((await stat(path)).mode & 0o777).toString(8));
        await walk(path);
      } else if (entry.isFile()) {
        const bytes = await readFile(path);
        const mode = ((await stat(path)).mode & 0o777).toString(8);
        out.set(path, `${createHash('sha256').update(bytes).digest('hex')} ${mode}`);
      }
    }
  };
  await walk(dir);
  return out;
}

/** Every raw LevelDB entry of the database in `path` (sublevel prefix included), with the store closed. */
export async function rawDbEntries(path: string): Promise<Array<[string, Uint8Array]>> {
  const db = new Level<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' });
  await db.open();
  try {
    const out: Array<[string, Uint8Array]> = [];
    for await (const [k, v] of db.iterator()) out.push([k, new Uint8Array(v)]);
    return out;
  } finally {
    await db.close();
  }
}

/** The bytes of every file directly in `dir`, concatenated. */
export async function fileBytes(dir: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isFile()) parts.push(await readFile(join(dir, entry.name)));
  }
  return Buffer.concat(parts);
}

/** Whether `needle` occurs in `haystack`. */
export function contains(haystack: Uint8Array, needle: Uint8Array | string): boolean {
  const n = typeof needle === 'string' ? Buffer.from(needle, 'utf8') : Buffer.from(needle);
  return Buffer.from(haystack.buffer, haystack.byteOffset, haystack.byteLength).indexOf(n) >= 0;
}

/** Mode bits of a path, as an octal string. */
export async function modeOf(path: string): Promise<string> {
  return ((await stat(path)).mode & 0o777).toString(8);
}

/** The legacy data dirs (test/store/legacy-v1/README.md): addresses of their identities. */
export const LEGACY_ADDRESSES = {
  alice: 'sotto1p6pm8pwzp86ur54f4a7rla0kmdvargmpq3htafmq805s00e3xyuksk8yed6',
  bob: 'sotto1pg8caxmljqcz52uk6p77devxx9lm6k2hmw5qszf394eacav9km00s8anefr',
} as const;

interface LegacyDump {
  peerKey: string;
  entries: Array<[string, string]>;
}

interface SealedV1Dump extends LegacyDump {
  address: string;
  keyFile: unknown;
}

/** Reads a dump (`./<folder>/<who>.json`) and writes its peer key and store entries into `dataDir`. */
async function restoreDump<T extends LegacyDump>(folder: string, who: string, dataDir: string): Promise<T> {
  const dump = JSON.parse(await readFile(new URL(`./${folder}/${who}.json`, import.meta.url), 'utf8')) as T;
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await writeFile(join(dataDir, 'peer-key'), Buffer.from(dump.peerKey, 'hex'), { mode: 0o600 });
  const db = new Level<string, Uint8Array>(join(dataDir, 'store'), { keyEncoding: 'utf8', valueEncoding: 'view' });
  await db.open();
  await db.batch(dump.entries.map(([key, hex]) => ({ type: 'put' as const, key, value: Buffer.from(hex, 'hex') })));
  await db.close();
  return dump;
}

/**
 * Rebuilds the data dir of `who` as the code of commit 3b0fcbd wrote it (every LevelDB entry of its
 * store, and its peer key) in `dataDir`. Returns the number of store entries.
 */
export async function legacyDataDir(who: 'alice' | 'bob', dataDir: string): Promise<number> {
  return (await restoreDump<LegacyDump>('legacy-v1', who, dataDir)).entries.length;
}

/**
 * Rebuilds the data dir of `who` as the code of commit dffc957 wrote it, values sealed in format 1
 * (test/store/sealed-v1/README.md): its store entries, key file and peer key. Returns its address
 * and the number of store entries.
 */
export async function sealedV1DataDir(
  who: 'alice' | 'bob',
  dataDir: string,
): Promise<{ address: string; entries: number }> {
  const dump = await restoreDump<SealedV1Dump>('sealed-v1', who, dataDir);
  await writeFile(join(dataDir, 'store', 'keys.json'), `${JSON.stringify(dump.keyFile)}\n`, { mode: 0o600 });
  return { address: dump.address, entries: dump.entries.length };
}
