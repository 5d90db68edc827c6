/**
 * Where the CLI gets passphrases (encryption at rest, src/store/encrypted-store.ts).
 *
 * The store's current passphrase, first found wins:
 *   1. `--passphrase-file <file>` (the command's flag),
 *   2. `SOTTO_PASSPHRASE_FILE` (a file, e.g. a Docker or systemd secret),
 *   3. `SOTTO_PASSPHRASE`,
 *   4. a prompt without echo, only when standard input is a terminal and the store needs one.
 * Setting both variables is a configuration error. A passphrase file is read as UTF-8 with one
 * trailing newline removed (`echo secret > file` works); an empty one is refused.
 *
 * A new passphrase (`passphrase set|change`, `backup export|import`) never comes from the
 * environment (SOTTO_PASSPHRASE always means the current one): from `--new-passphrase-file` /
 * `--backup-passphrase-file`, or typed twice at a prompt.
 *
 * Passphrases are passed on as strings and never printed, logged or put into an error message.
 */
import { readFile } from 'node:fs/promises';
import type { CliContext } from './context.js';
import { CliError, EXIT } from './errors.js';

/** Largest passphrase file read. */
export const MAX_PASSPHRASE_FILE_BYTES = 64 * 1024;

function isNotFound(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'ENOENT';
}

/** Reads a passphrase file: UTF-8, one trailing `\n` or `\r\n` removed, not empty. CliError (CONFIG) otherwise. */
export async function readPassphraseFile(path: string, source: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new CliError(
      EXIT.CONFIG,
      `${source}: cannot read the passphrase file ${path}${isNotFound(err) ? ' (no such file)' : ''}`,
      undefined,
      { cause: err },
    );
  }
  if (bytes.length > MAX_PASSPHRASE_FILE_BYTES) {
    throw new CliError(EXIT.CONFIG, `${source}: ${path} is too large for a passphrase file`);
  }
  const text = bytes.toString('utf8').replace(/\r?\n$/, '');
  if (text.length === 0) throw new CliError(EXIT.CONFIG, `${source}: the passphrase file ${path} is empty`);
  return text;
}

/** The current passphrase from the flag or the environment (steps 1–3), or undefined. */
export async function configuredPassphrase(ctx: CliContext, flagFile: string | undefined): Promise<string | undefined> {
  if (flagFile !== undefined) return readPassphraseFile(flagFile, '--passphrase-file');
  const file = ctx.env.SOTTO_PASSPHRASE_FILE;
  const value = ctx.env.SOTTO_PASSPHRASE;
  const hasFile = file !== undefined && file !== '';
  const hasValue = value !== undefined && value !== '';
  if (hasFile && hasValue) {
    throw new CliError(EXIT.CONFIG, 'SOTTO_PASSPHRASE and SOTTO_PASSPHRASE_FILE are both set: set one of them');
  }
  if (hasFile) return readPassphraseFile(file, 'SOTTO_PASSPHRASE_FILE');
  return hasValue ? value : undefined;
}

/**
 * The passphrase to open the store in `storeDir`: steps 1–3, else a prompt when the store's key
 * is wrapped and there is a terminal to ask on, else undefined (the store then reports what it needs).
 */
export async function unlockPassphrase(
  ctx: CliContext,
  storeDir: string,
  flagFile: string | undefined,
  dataDir: string,
): Promise<string | undefined> {
  const configured = await configuredPassphrase(ctx, flagFile);
  if (configured !== undefined) return configured;
  const prompt = ctx.environment.prompt;
  if (prompt === undefined) return undefined;
  const { keyFileStatus } = await import('../store/encrypted-store.js');
  const status = await keyFileStatus(storeDir);
  if (status.protection !== 'passphrase') return undefined;
  const answer = await prompt(`passphrase for ${dataDir}: `);
  return answer === '' ? undefined : answer;
}

/**
 * A new passphrase: from `flagFile` (read as above), or typed twice at a prompt (`allowEmpty`: an
 * empty answer means none, returned as undefined). Without either: CliError (USAGE) naming the flag.
 */
export async function newPassphrase(
  ctx: CliContext,
  options: { flagFile: string | undefined; flag: string; what: string; allowEmpty?: boolean },
): Promise<string | undefined> {
  if (options.flagFile !== undefined) return readPassphraseFile(options.flagFile, options.flag);
  const prompt = ctx.environment.prompt;
  if (prompt === undefined) {
    throw new CliError(EXIT.USAGE, `${options.what}: no terminal to ask on`, `pass ${options.flag} <file>`);
  }
  const first = await prompt(`${options.what}${options.allowEmpty ? ' (empty for none)' : ''}: `);
  if (first === '') {
    if (options.allowEmpty) return undefined;
    throw new CliError(EXIT.USAGE, `${options.what}: a passphrase must not be empty`);
  }
  const again = await prompt(`${options.what}, again: `);
  if (again !== first) throw new CliError(EXIT.USAGE, `${options.what}: the two entries differ; nothing was changed`);
  return first;
}
