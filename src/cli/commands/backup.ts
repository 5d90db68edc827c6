/**
 * `sotto backup export <file>` / `sotto backup import <file>`: an encrypted backup of this node's
 * identity (its keys) with its contacts (src/store/backup.ts: not sessions, not history, not
 * one-time prekeys). Both work on a stopped node's data dir (exit 6 while a daemon runs).
 *
 * export: opens the store (its passphrase as for `start`), asks for a backup passphrase
 * (`--backup-passphrase-file`, or typed twice), writes `<file>` (0600; an existing file is never
 * overwritten: exit 5).
 * import: opens `<file>` with its passphrase (wrong: exit 7, not a backup: exit 2, nothing written)
 * into a data dir without a store (else exit 5); the new store's passphrase comes from
 * `--passphrase-file`, SOTTO_PASSPHRASE_FILE, SOTTO_PASSPHRASE, or a prompt (empty: none).
 */
import { constants } from 'node:fs';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { CliError, EXIT } from '../errors.js';
import { refuseWhileRunning } from '../offline.js';
import { fields } from '../output.js';
import { configuredPassphrase, newPassphrase, unlockPassphrase } from '../passphrase-source.js';
import type { ActionRunner } from '../program.js';
import { DATA_DIR_MODE } from './init.js';

interface BackupOptions {
  passphraseFile?: string;
  backupPassphraseFile?: string;
}

/** Writes `bytes` to a new file (0600); an existing file is a conflict, never overwritten. */
async function writeNewFile(path: string, bytes: Uint8Array): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (err) {
    if ((err as { code?: unknown }).code === 'EEXIST') {
      throw new CliError(EXIT.CONFLICT, `${path} exists`, 'choose another file name; a backup never overwrites one');
    }
    throw err;
  }
  try {
    await handle.writeFile(bytes);
    await handle.sync();
    await handle.close();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await rm(path, { force: true });
    throw err;
  }
}

async function exportCommand(ctx: CliContext, file: string, options: BackupOptions): Promise<number> {
  const dataDir = await ctx.dataDir();
  const storeDir = join(dataDir, 'store');
  const store = await import('../../store/index.js');
  if ((await store.keyFileStatus(storeDir)).exists === false) {
    throw new CliError(EXIT.NOT_FOUND, `no identity in ${dataDir}`, 'create one with: sotto init');
  }
  await refuseWhileRunning(dataDir, 'sotto backup export');
  const passphrase = await unlockPassphrase(ctx, storeDir, options.passphraseFile, dataDir);
  const opened = await store.openEncryptedStore({ path: storeDir, passphrase });
  let bytes: Uint8Array;
  let contacts: number;
  let address: string;
  try {
    const identity = await opened.store.identity.get();
    if (identity === undefined) {
      throw new CliError(EXIT.NOT_FOUND, `no identity in ${dataDir}`, 'create one with: sotto init');
    }
    const { encodeAddress } = await import('../../identity/address.js');
    address = encodeAddress(identity.signingKey);
    contacts = (await opened.store.contacts.list()).length;
    const backupPassphrase = await newPassphrase(ctx, {
      flagFile: options.backupPassphraseFile,
      flag: '--backup-passphrase-file',
      what: 'backup passphrase',
    });
    bytes = await store.exportBackup(opened.store, backupPassphrase as string);
  } finally {
    await opened.store.close();
  }
  await writeNewFile(file, bytes);
  ctx.out.result({ file, address, contacts, bytes: bytes.length }, () => [
    `backup written: the identity and ${contacts} ${contacts === 1 ? 'contact' : 'contacts'}, encrypted under the backup passphrase`,
    ...fields([
      ['file', file],
      ['address', address],
    ]),
    '',
    'Keep the file and its passphrase apart. It holds no sessions and no history (see sotto backup --help).',
  ]);
  return EXIT.OK;
}

async function importCommand(ctx: CliContext, file: string, options: BackupOptions): Promise<number> {
  const dataDir = await ctx.dataDir();
  const storeDir = join(dataDir, 'store');
  await refuseWhileRunning(dataDir, 'sotto backup import');
  let backup: Uint8Array;
  try {
    backup = new Uint8Array(await readFile(file));
  } catch (err) {
    throw new CliError(EXIT.NOT_FOUND, `cannot read ${file}`, undefined, { cause: err });
  }
  const store = await import('../../store/index.js');
  const status = await store.keyFileStatus(storeDir);
  if (status.protection !== undefined) throw new store.ImportTargetNotEmptyError(storeDir);
  const backupPassphrase = await backupPassphraseFor(ctx, options.backupPassphraseFile);
  // Open the backup before asking for the new store's passphrase: a wrong one is told at once.
  const contents = await store.openBackup(backup, backupPassphrase);
  const passphrase =
    (await configuredPassphrase(ctx, options.passphraseFile)) ??
    (ctx.environment.prompt === undefined
      ? undefined
      : await newPassphrase(ctx, {
          flagFile: undefined,
          flag: '--passphrase-file',
          what: `passphrase for ${dataDir}`,
          allowEmpty: true,
        }));
  await mkdir(dataDir, { recursive: true, mode: DATA_DIR_MODE });
  const imported = await store.importBackupContents({ path: storeDir, contents, passphrase });
  const { encodeAddress } = await import('../../identity/address.js');
  const identity = contents.identities.find((e) => e.name === 'default');
  const address = identity === undefined ? '' : encodeAddress(identity.keyPair.signingKey);
  ctx.out.result({ dataDir, address, contacts: contents.contacts.length, protection: imported.protection }, () => [
    `imported the identity and ${contents.contacts.length} ${contents.contacts.length === 1 ? 'contact' : 'contacts'}`,
    ...fields([
      ['address', address],
      ['data dir', dataDir],
      ['encryption', imported.protection === 'passphrase' ? 'passphrase (Argon2id)' : 'no passphrase'],
    ]),
    '',
    'next: sotto start. This node has a new peer id and no sessions: your first message to each',
    'contact starts a new one (messages they send on the old session before that are refused).',
  ]);
  return EXIT.OK;
}

/** The backup's passphrase: from the file flag, else asked once (it already exists: no confirmation). */
async function backupPassphraseFor(ctx: CliContext, flagFile: string | undefined): Promise<string> {
  if (flagFile !== undefined) {
    const { readPassphraseFile } = await import('../passphrase-source.js');
    return readPassphraseFile(flagFile, '--backup-passphrase-file');
  }
  if (ctx.environment.prompt === undefined) {
    throw new CliError(EXIT.USAGE, 'backup passphrase: no terminal to ask on', 'pass --backup-passphrase-file <file>');
  }
  const answer = await ctx.environment.prompt('backup passphrase: ');
  if (answer === '') throw new CliError(EXIT.USAGE, 'backup passphrase: a passphrase must not be empty');
  return answer;
}

export function registerBackup(program: Command, runner: ActionRunner): void {
  const cmd = program
    .command('backup')
    .description('export or import an encrypted backup of the identity and its contacts (node stopped)')
    .addHelpText(
      'after',
      `
A backup holds the identity keys, the signed prekeys and the contacts, encrypted under its own
passphrase (Argon2id + AES-256-GCM). It holds no ratchet sessions (restoring one would reuse message
keys), no one-time prekeys and no history. After an import the node has the same address and
contacts, a new peer id, and no sessions: its first message to each contact starts a new one.`,
    );
  const backupFile = [
    '--backup-passphrase-file <file>',
    "a file holding the backup's passphrase (else: asked; twice for export)",
  ] as const;
  cmd
    .command('export')
    .description('write an encrypted backup of the identity and contacts to <file> (never overwrites)')
    .argument('<file>', 'the backup file to create')
    .option('--passphrase-file <file>', "a file holding the store's passphrase (SOTTO_PASSPHRASE_FILE)")
    .option(...backupFile)
    .action(runner.action((ctx, c) => exportCommand(ctx, c.args[0] as string, c.opts<BackupOptions>())));
  cmd
    .command('import')
    .description('create this data dir from a backup (only into a data dir without a store)')
    .argument('<file>', 'the backup file')
    .option(
      '--passphrase-file <file>',
      'a file holding the passphrase for the new store (SOTTO_PASSPHRASE_FILE; else asked, empty for none)',
    )
    .option(...backupFile)
    .action(runner.action((ctx, c) => importCommand(ctx, c.args[0] as string, c.opts<BackupOptions>())));
}
