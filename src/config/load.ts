/**
 * Reading the config file from disk and resolving the daemon config from the real process
 * environment. The rules themselves live in `config.ts` (pure, testable without a file system).
 */
import type { FileHandle } from 'node:fs/promises';
import { open, stat } from 'node:fs/promises';
import { homedir as osHomedir } from 'node:os';
import { join } from 'node:path';
import {
  CONFIG_FILE_NAME,
  type ConfigEnv,
  type ConfigFlags,
  flagName,
  MAX_CONFIG_FILE_BYTES,
  MAX_METRICS_TOKEN_FILE_BYTES,
  MIN_METRICS_TOKEN_CHARS,
  type ResolvedConfig,
  resolveConfig,
  resolveDataDir,
  settingSpec,
} from './config.js';
import { ConfigError, type ConfigProblem } from './errors.js';

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

/** What a metrics token may hold: visible ASCII, no spaces (it travels in an HTTP header). */
const METRICS_TOKEN_RE = /^[\x21-\x7e]+$/;

/**
 * The bearer token of the metrics listener: the content of `metrics.tokenFile` with surrounding
 * whitespace (a trailing newline) removed, or `undefined` when no token file is configured. Read
 * once, at start. Throws `ConfigError` naming the setting where it was set (`metrics.tokenFile` in
 * the file, `SOTTO_METRICS_TOKEN_FILE`, `--metrics-token-file`): `CONFIG_UNREADABLE` when the file
 * is missing, unreadable, not a regular file or larger than `MAX_METRICS_TOKEN_FILE_BYTES`;
 * `CONFIG_INVALID` when it is empty, shorter than `MIN_METRICS_TOKEN_CHARS` or holds anything but
 * visible ASCII. The token itself never appears in a message.
 */
export async function readMetricsToken(resolved: ResolvedConfig): Promise<string | undefined> {
  const path = resolved.config.metrics.tokenFile;
  if (path === null) return undefined;
  const source = resolved.sources['metrics.tokenFile'];
  const spec = settingSpec('metrics.tokenFile');
  const field = source === 'env' ? spec.env : source === 'flag' ? flagName(spec.flag) : spec.field;
  const error = (problem: ConfigProblem, detail: string, cause?: unknown): ConfigError =>
    new ConfigError({
      code: problem === 'UNREADABLE' || problem === 'TOO_LARGE' ? 'CONFIG_UNREADABLE' : 'CONFIG_INVALID',
      source,
      ...(source === 'file' ? { file: resolved.file.path } : {}),
      field,
      problem,
      detail: `${path}: ${detail}`,
      cause,
    });
  let handle: FileHandle;
  try {
    // Checked before opening: opening a FIFO would block the start.
    if (!(await stat(path)).isFile()) throw error('UNREADABLE', 'not a regular file');
    handle = await open(path, 'r');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw error(
      'UNREADABLE',
      `cannot open the token file (${(err as NodeJS.ErrnoException).code ?? 'unknown error'})`,
      err,
    );
  }
  let bytes: Buffer;
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw error('UNREADABLE', 'not a regular file');
    if (info.size > MAX_METRICS_TOKEN_FILE_BYTES) {
      throw error(
        'TOO_LARGE',
        `${info.size} bytes, more than the ${MAX_METRICS_TOKEN_FILE_BYTES} a token file may have`,
      );
    }
    // One byte more than allowed is enough to tell a file that grew since the stat.
    const buffer = Buffer.alloc(MAX_METRICS_TOKEN_FILE_BYTES + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    bytes = buffer.subarray(0, bytesRead);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw error(
      'UNREADABLE',
      `cannot read the token file (${(err as NodeJS.ErrnoException).code ?? 'unknown error'})`,
      err,
    );
  } finally {
    await handle.close();
  }
  if (bytes.length > MAX_METRICS_TOKEN_FILE_BYTES) {
    throw error('TOO_LARGE', `more than the ${MAX_METRICS_TOKEN_FILE_BYTES} bytes a token file may have`);
  }
  const token = bytes.toString('latin1').trim();
  if (token === '') throw error('EMPTY', 'the token file is empty');
  if (!METRICS_TOKEN_RE.test(token)) {
    throw error('BAD_VALUE', 'the token must be one word of visible ASCII characters (no spaces or other bytes)');
  }
  if (token.length < MIN_METRICS_TOKEN_CHARS) {
    throw error('OUT_OF_RANGE', `the token is shorter than ${MIN_METRICS_TOKEN_CHARS} characters`);
  }
  return token;
}
