/**
 * `sotto init`: creates the identity, prekeys and peer key in the data dir without going online
 * (or loads them: running it again changes nothing). Works without a daemon; while a daemon holds
 * the data dir it reports that daemon's identity instead.
 *
 * Encryption at rest: with a passphrase (--passphrase-file, SOTTO_PASSPHRASE_FILE, SOTTO_PASSPHRASE)
 * the new store's data key is wrapped by it; without one it is stored unwrapped and init says so.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { readDaemonFile } from '../client.js';
import type { CliContext } from '../context.js';
import { ApiUnreachableError, EXIT } from '../errors.js';
import { isAlive } from '../offline.js';
import { fields } from '../output.js';
import { unlockPassphrase } from '../passphrase-source.js';
import type { ActionRunner } from '../program.js';

/** The data dir holds keys: owner-only (as DATA_DIR_MODE in src/daemon/daemon.ts). */
export const DATA_DIR_MODE = 0o700;

export interface LocalIdentity {
  address: string;
  peerId: string;
  created: boolean;
}

/**
 * Creates or loads the identity offline (`SottoNode.initialize`). Throws the store's
 * StoreOpenError (code STORE_OPEN_FAILED) while another process holds the data dir.
 */
export async function initializeOffline(dataDir: string, passphrase?: string): Promise<LocalIdentity> {
  await mkdir(dataDir, { recursive: true, mode: DATA_DIR_MODE });
  const { createNode } = await import('../../node/node.js');
  return createNode({ dataDir, ...(passphrase === undefined ? {} : { passphrase }) }).initialize();
}

/** The store's key protection after an offline open, for the output of `init` and `id`. */
export async function protectionOf(dataDir: string): Promise<'passphrase' | 'none' | undefined> {
  const { keyFileStatus } = await import('../../store/encrypted-store.js');
  return (await keyFileStatus(join(dataDir, 'store'))).protection;
}

/** One line on what protects the data key (standard error: a note, not a result). */
export function protectionNote(protection: 'passphrase' | 'none' | undefined): string | undefined {
  return protection === 'none'
    ? 'note: no passphrase protects this data dir: its data key is stored unwrapped (file permissions only); set one with: sotto passphrase set'
    : undefined;
}

function isStoreLocked(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'STORE_OPEN_FAILED';
}

async function init(ctx: CliContext, passphraseFile: string | undefined): Promise<number> {
  const dataDir = await ctx.dataDir();
  let identity: LocalIdentity | undefined;
  // A live daemon holds the store (and its key): ask it, and nobody for a passphrase.
  const info = await readDaemonFile(dataDir);
  if (info !== undefined && isAlive(info.pid)) identity = await identityFromDaemon(ctx);
  const running = identity !== undefined;
  if (identity === undefined) {
    try {
      const passphrase = await unlockPassphrase(ctx, join(dataDir, 'store'), passphraseFile, dataDir);
      identity = await initializeOffline(dataDir, passphrase);
    } catch (err) {
      if (!isStoreLocked(err)) throw err;
      // A daemon holds the data dir after all: it has an identity; ask it.
      identity = await identityFromDaemon(ctx);
      if (identity === undefined) throw err;
      return report(ctx, dataDir, identity, true);
    }
  }
  return report(ctx, dataDir, identity, running);
}

/** The running daemon's identity, or undefined when its API does not answer. */
async function identityFromDaemon(ctx: CliContext): Promise<LocalIdentity | undefined> {
  try {
    const api = await ctx.client();
    const id = await api.get<{ address: string; peerId: string }>('/v1/identity');
    return { address: id.address, peerId: id.peerId, created: false };
  } catch (err) {
    if (err instanceof ApiUnreachableError) return undefined;
    throw err;
  }
}

async function report(ctx: CliContext, dataDir: string, identity: LocalIdentity, running: boolean): Promise<number> {
  const protection = running ? undefined : await protectionOf(dataDir);
  ctx.out.result({ ...identity, dataDir, daemonRunning: running, ...(protection ? { protection } : {}) }, () => [
    identity.created
      ? `created a new identity in ${dataDir}`
      : `identity already exists in ${dataDir}${running ? ' (its daemon is running)' : ''}`,
    ...fields([
      ['address', identity.address],
      ['peer id', identity.peerId],
      ['data dir', dataDir],
      ...(protection === undefined
        ? []
        : [['encryption', protection === 'passphrase' ? 'passphrase (Argon2id)' : 'no passphrase'] as const]),
    ]),
    ...(running ? [] : ['', 'next: sotto start']),
  ]);
  const note = protectionNote(protection);
  if (note !== undefined) ctx.out.note(note);
  return EXIT.OK;
}

export function registerInit(program: Command, runner: ActionRunner): void {
  program
    .command('init')
    .description("create this node's identity in the data dir (offline; safe to run again)")
    .option(
      '--passphrase-file <file>',
      "a file holding the store's passphrase (SOTTO_PASSPHRASE_FILE, SOTTO_PASSPHRASE)",
    )
    .action(runner.action((ctx, cmd) => init(ctx, cmd.opts<{ passphraseFile?: string }>().passphraseFile)));
}
