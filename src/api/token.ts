/**
 * The local API's bearer token: 32 random bytes, base64url, in `<dataDir>/api-token` with mode 0600.
 * Whoever can read the file can drive the node (send as us, read every conversation), so an existing
 * file that the group or others may access is refused instead of used. The daemon creates the file
 * once; the CLI reads it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { link, lstat, mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { TokenMalformedError, TokenNotAFileError, TokenPermissionsError } from './errors.js';

/** File name of the token inside the data dir. */
export const API_TOKEN_FILE = 'api-token';
/** Owner read/write only. */
export const API_TOKEN_FILE_MODE = 0o600;
/** Random bytes in a token. */
export const API_TOKEN_BYTES = 32;
/** Owner only, as for the peer key (src/net/peer-key.ts). */
const DATA_DIR_MODE = 0o700;
/** 32 bytes in base64url without padding are 43 characters. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

function errorCode(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
}

/** True when `text` is a token this module could have written (canonical base64url of 32 bytes). */
export function isWellFormedToken(text: string): boolean {
  return TOKEN_PATTERN.test(text) && Buffer.from(text, 'base64url').toString('base64url') === text;
}

/** Reads and checks the token file; undefined when there is none. */
export async function readToken(path: string): Promise<string | undefined> {
  let info: Awaited<ReturnType<typeof lstat>>;
  try {
    info = await lstat(path);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  // lstat first: opening a FIFO would block, and a symlink could point anywhere.
  if (!info.isFile()) throw new TokenNotAFileError(path);
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  } catch (err) {
    if (errorCode(err) === 'ELOOP') throw new TokenNotAFileError(path);
    throw err;
  }
  try {
    // Checked on the open handle, so the file cannot be swapped between the check and the read.
    const stat = await handle.stat();
    if (!stat.isFile()) throw new TokenNotAFileError(path);
    // Windows has no POSIX permission bits; there the data dir's ACL protects the file.
    if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
      throw new TokenPermissionsError(path, stat.mode & 0o7777);
    }
    if (stat.size > 1024) throw new TokenMalformedError(path);
    const text = await handle.readFile('utf8');
    // A trailing newline (someone edited the file) is tolerated; nothing else is.
    const token = text.endsWith('\n') ? text.slice(0, -1) : text;
    if (!isWellFormedToken(token)) throw new TokenMalformedError(path);
    return token;
  } finally {
    await handle.close();
  }
}

/**
 * Returns the API token from `<dataDir>/api-token`, creating the data dir (0700) and a new token
 * (0600) when there is none. Creation is atomic: the token is written to a temporary file opened
 * with `wx` and mode 0600, then hard-linked into place without replacing, so a reader never sees a
 * half-written token and two concurrent creators agree on one. Throws TokenPermissionsError when
 * the existing file is accessible to the group or others, TokenMalformedError when it does not hold
 * a token, TokenNotAFileError when it is a link or not a regular file.
 */
export async function loadOrCreateToken(dataDir: string): Promise<string> {
  const path = join(dataDir, API_TOKEN_FILE);
  const existing = await readToken(path);
  if (existing !== undefined) return existing;

  await mkdir(dataDir, { recursive: true, mode: DATA_DIR_MODE });
  const token = randomBytes(API_TOKEN_BYTES).toString('base64url');
  const tmp = `${path}.tmp-${randomUUID()}`;
  try {
    const handle = await open(tmp, 'wx', API_TOKEN_FILE_MODE);
    try {
      // The mode given to open() is reduced by the umask; make sure it is exactly 0600.
      await handle.chmod(API_TOKEN_FILE_MODE);
      await handle.writeFile(token, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await linkNoReplace(tmp, path);
  } finally {
    await rm(tmp, { force: true });
  }
  // Whoever linked first owns the token: return what is actually on disk.
  const stored = await readToken(path);
  if (stored === undefined) throw new TokenMalformedError(path);
  return stored;
}

/** Moves `from` to `to` only if `to` does not exist (hard link + unlink; rename would replace). */
async function linkNoReplace(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch (err) {
    const code = errorCode(err);
    if (code === 'EEXIST') return;
    if (code === 'EPERM' || code === 'ENOTSUP') {
      // File systems without hard links: fall back to rename, accepting a (tiny) race window.
      await rename(from, to);
      return;
    }
    throw err;
  }
}
