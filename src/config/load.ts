/**
 * Reading the config file from disk and resolving the daemon config from the real process
 * environment. The rules themselves live in `config.ts` (pure, testable without a file system).
 */
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { homedir as osHomedir } from 'node:os';
import { join } from 'node:path';
import {
  CONFIG_FILE_NAME,
  type ConfigEnv,
  type ConfigFlags,
  MAX_CONFIG_FILE_BYTES,
  type ResolvedConfig,
  resolveConfig,
  resolveDataDir,
} from './config.js';
import { ConfigError } from './errors.js';

/** `position 17` in a `JSON.parse` message → `line 2 column 5`. */
function jsonErrorDetail(text: string, err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const m = /position (\d+)/.exec(message);
  if (m === null) return message;
  const position = Number(m[1]);
  const before = text.slice(0, position);
  const line = before.split('\n').length;
  const column = position - before.lastIndexOf('\n');
  return `${message.replace(/\s*\(line \d+ column \d+\)/, '')} (line ${line} column ${column})`;
}

/**
 * Reads and parses a config file. A missing file is `undefined`; an empty (whitespace-only) file
 * is `{}`. Throws `ConfigError` (`CONFIG_UNREADABLE`) when the file exists but cannot be read, is
 * not a regular file or is larger than `MAX_CONFIG_FILE_BYTES`, and (`CONFIG_INVALID`, `BAD_JSON`)
 * when it is not UTF-8 JSON. The value is not validated here: `resolveConfig` does that.
 */
export async function readConfigFile(path: string): Promise<unknown> {
  const unreadable = (detail: string, problem: 'UNREADABLE' | 'TOO_LARGE', cause?: unknown): ConfigError =>
    new ConfigError({ code: 'CONFIG_UNREADABLE', source: 'file', file: path, field: '', problem, detail, cause });
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw unreadable(`cannot open the file (${code ?? 'unknown error'})`, 'UNREADABLE', err);
  }
  let bytes: Buffer;
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw unreadable('not a regular file', 'UNREADABLE');
    if (stat.size > MAX_CONFIG_FILE_BYTES) {
      throw unreadable(
        `${stat.size} bytes, more than the ${MAX_CONFIG_FILE_BYTES} a config file may have`,
        'TOO_LARGE',
      );
    }
    bytes = await handle.readFile();
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw unreadable(
      `cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'unknown error'})`,
      'UNREADABLE',
      err,
    );
  } finally {
    await handle.close();
  }
  // A file that grew between stat and read.
  if (bytes.length > MAX_CONFIG_FILE_BYTES) {
    throw unreadable(`more than the ${MAX_CONFIG_FILE_BYTES} bytes a config file may have`, 'TOO_LARGE');
  }
  let text: string;
  try {
    // Strips a leading byte-order mark (some editors write one).
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (err) {
    throw new ConfigError({
      source: 'file',
      file: path,
      field: '',
      problem: 'BAD_JSON',
      detail: 'not valid UTF-8',
      cause: err,
    });
  }
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ConfigError({
      source: 'file',
      file: path,
      field: '',
      problem: 'BAD_JSON',
      detail: `invalid JSON: ${jsonErrorDetail(text, err)}`,
      cause: err,
    });
  }
}

export interface LoadConfigInput {
  readonly flags?: ConfigFlags;
  /** Default `process.env`. */
  readonly env?: ConfigEnv;
  /** Default: whether `process.stdout` is a terminal. */
  readonly isTty?: boolean;
  /** Default `os.homedir()`. */
  readonly homedir?: string;
  /** Default `process.cwd()`. */
  readonly cwd?: string;
  /** Extra `SOTTO_*` names to accept besides `ENV_ALLOW_LIST`. */
  readonly allowEnv?: readonly string[];
}

/**
 * Resolves the data dir, reads `<dataDir>/config.json` (a missing file is fine) and returns
 * `resolveConfig`'s result. Throws `ConfigError`.
 */
export async function loadConfig(input: LoadConfigInput = {}): Promise<ResolvedConfig> {
  const env = input.env ?? process.env;
  const homedir = input.homedir ?? osHomedir();
  const cwd = input.cwd ?? process.cwd();
  const { dataDir } = resolveDataDir({ flags: input.flags, env, homedir, cwd });
  const file = await readConfigFile(join(dataDir, CONFIG_FILE_NAME));
  return resolveConfig({
    flags: input.flags,
    env,
    file,
    isTty: input.isTty ?? process.stdout.isTTY === true,
    homedir,
    cwd,
    allowEnv: input.allowEnv,
  });
}
