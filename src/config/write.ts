/**
 * Writing `<dataDir>/config.json`: the daemon saves a setting changed at run time (today the list of
 * this identity's own mailboxes, changed through the API) so that it survives a restart.
 *
 * - Every other key stays as it is (values and order); the file is rewritten as two-space JSON.
 * - The new file is validated first (by default `resolveConfig` with the file alone; the daemon
 *   passes its own environment and flags, so the check is exactly "would the daemon start with
 *   this file"); a file that would not validate, or that cannot be read as JSON now, is left alone
 *   and the error says why.
 * - The write is atomic: a temporary file next to the target, fsync'd, renamed over it (and the
 *   directory fsync'd), so a crash leaves the old file or the new one, never a mix. A config.json
 *   that is a symbolic link has its target replaced, not the link; the file keeps its mode (a new
 *   one is 0600).
 */
import { randomBytes } from 'node:crypto';
import { type FileHandle, open, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { resolveConfig } from './config.js';
import { ConfigError } from './errors.js';
import { readConfigFile } from './load.js';
import { CONFIG_FILE_NAME, isPlainObject } from './settings.js';

/** Mode of a config file the daemon creates: owner-only, like everything in the data dir. */
export const NEW_CONFIG_FILE_MODE = 0o600;

export interface UpdateOptions {
  /**
   * Throws `ConfigError` when the daemon could not start with this file. Default: `resolveConfig`
   * with the file and the data dir only.
   */
  readonly validate?: (file: Record<string, unknown>) => void;
}

export interface UpdateResult {
  /** The config file's path (`<dataDir>/config.json`). */
  readonly path: string;
  /** False when the update changed nothing (the file was not touched). */
  readonly written: boolean;
}

function unwritable(path: string, detail: string, cause?: unknown): ConfigError {
  return new ConfigError({
    code: 'CONFIG_UNWRITABLE',
    source: 'file',
    file: path,
    field: '',
    problem: 'UNWRITABLE',
    detail,
    cause,
  });
}

async function writeAtomically(target: string, text: string, mode: number): Promise<void> {
  const temp = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let handle: FileHandle | undefined;
  try {
    handle = await open(temp, 'wx', mode);
    await handle.writeFile(text, 'utf8');
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temp, target);
  } catch (err) {
    await handle?.close().catch(() => undefined);
    await rm(temp, { force: true }).catch(() => undefined);
    throw unwritable(target, `cannot write the file (${(err as NodeJS.ErrnoException).code ?? 'unknown error'})`, err);
  }
  // The rename is durable once the directory is; not every file system lets a directory be fsync'd.
  try {
    const dir = await open(dirname(target), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch {
    // best effort
  }
}

/**
 * Reads the data dir's config file (`{}` when there is none), passes it to `update`, validates the
 * result and writes it atomically. `update` gets a copy it may change and returns the new content,
 * or `undefined` for "no change". Throws `ConfigError`: CONFIG_UNREADABLE / CONFIG_INVALID when the
 * current file cannot be read or the result does not validate, CONFIG_UNWRITABLE when the write fails.
 */
export async function updateConfigFile(
  dataDir: string,
  update: (current: Record<string, unknown>) => Record<string, unknown> | undefined,
  options: UpdateOptions = {},
): Promise<UpdateResult> {
  const validate =
    options.validate ?? ((file: Record<string, unknown>) => resolveConfig({ file, flags: { dataDir }, env: {} }));
  const path = join(dataDir, CONFIG_FILE_NAME);
  const current = await readConfigFile(path);
  if (current !== undefined && !isPlainObject(current)) {
    // resolveConfig says exactly this, naming the file.
    resolveConfig({ file: current, flags: { dataDir }, env: {} });
  }
  const before = (current ?? {}) as Record<string, unknown>;
  const next = update(structuredClone(before));
  if (next === undefined || isDeepStrictEqual(next, before)) return { path, written: false };
  validate(next);

  let target = path;
  let mode = NEW_CONFIG_FILE_MODE;
  if (current !== undefined) {
    try {
      target = await realpath(path);
      mode = (await stat(target)).mode & 0o777;
    } catch (err) {
      throw unwritable(path, `cannot find the file (${(err as NodeJS.ErrnoException).code ?? 'unknown error'})`, err);
    }
  }
  await writeAtomically(target, `${JSON.stringify(next, null, 2)}\n`, mode);
  return { path, written: true };
}

/**
 * Saves this identity's mailbox list as `mailboxes` in the data dir's config file (an empty list
 * removes the key). The peer ids must already be valid (the API checks them; the file is validated
 * again before it is written).
 */
export function saveMailboxes(
  dataDir: string,
  peers: readonly string[],
  options: UpdateOptions = {},
): Promise<UpdateResult> {
  return updateConfigFile(
    dataDir,
    (config) => {
      if (peers.length === 0) delete config.mailboxes;
      else config.mailboxes = [...peers];
      return config;
    },
    options,
  );
}
