/**
 * `sotto init`: creates the identity, prekeys and peer key in the data dir without going online
 * (or loads them: running it again changes nothing). Works without a daemon; while a daemon holds
 * the data dir it reports that daemon's identity instead.
 */
import { mkdir } from 'node:fs/promises';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { ApiUnreachableError, EXIT } from '../errors.js';
import { fields } from '../output.js';
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
export async function initializeOffline(dataDir: string): Promise<LocalIdentity> {
  await mkdir(dataDir, { recursive: true, mode: DATA_DIR_MODE });
  const { createNode } = await import('../../node/node.js');
  return createNode({ dataDir }).initialize();
}

function isStoreLocked(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'STORE_OPEN_FAILED';
}

async function init(ctx: CliContext): Promise<number> {
  const dataDir = await ctx.dataDir();
  let identity: LocalIdentity;
  let running = false;
  try {
    identity = await initializeOffline(dataDir);
  } catch (err) {
    if (!isStoreLocked(err)) throw err;
    // A daemon holds the data dir: it has an identity; ask it.
    try {
      const api = await ctx.client();
      const id = await api.get<{ address: string; peerId: string }>('/v1/identity');
      identity = { address: id.address, peerId: id.peerId, created: false };
      running = true;
    } catch (apiErr) {
      if (apiErr instanceof ApiUnreachableError) throw err;
      throw apiErr;
    }
  }
  ctx.out.result({ ...identity, dataDir, daemonRunning: running }, () => [
    identity.created
      ? `created a new identity in ${dataDir}`
      : `identity already exists in ${dataDir}${running ? ' (its daemon is running)' : ''}`,
    ...fields([
      ['address', identity.address],
      ['peer id', identity.peerId],
      ['data dir', dataDir],
    ]),
    ...(running ? [] : ['', 'next: sotto start']),
  ]);
  return EXIT.OK;
}

export function registerInit(program: Command, runner: ActionRunner): void {
  program
    .command('init')
    .description("create this node's identity in the data dir (offline; safe to run again)")
    .action(runner.action((ctx) => init(ctx)));
}
