/**
 * `sotto id`: this node's address (what others add as a contact), peer id, multiaddrs (with a
 * running daemon) and fingerprint: our half of every safety number. Asks the running daemon; with
 * none, reads the identity from the data dir offline. `--qr` also draws the address as a QR code.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { renderUnicodeCompact } from 'uqr';
import type { CliContext } from '../context.js';
import { ApiUnreachableError, CliError, EXIT } from '../errors.js';
import { fields } from '../output.js';
import { unlockPassphrase } from '../passphrase-source.js';
import type { ActionRunner } from '../program.js';
import { initializeOffline } from './init.js';

export interface IdentityView {
  address: string;
  peerId: string;
  /** Only from a running daemon. */
  multiaddrs?: string[];
  /** Our 30-digit half of every safety number, in groups of five. */
  fingerprint: string;
  online: boolean;
  dataDir: string;
}

/** Our half of every safety number for an address, grouped like the API's `fingerprint`. */
export async function fingerprintOf(address: string): Promise<string> {
  const [{ fingerprintHalf }, { nobleProvider }, { decodeAddress }] = await Promise.all([
    import('../../crypto/safety-number.js'),
    import('../../crypto/provider-noble.js'),
    import('../../identity/address.js'),
  ]);
  return fingerprintHalf(nobleProvider, decodeAddress(address)).match(/\d{5}/g)!.join(' ');
}

/** The address as a QR code of Unicode half blocks (no escape sequences), dark on light. */
export function addressQr(address: string): string[] {
  return renderUnicodeCompact(address, { border: 2, ecc: 'M' }).split('\n');
}

async function identity(ctx: CliContext, passphraseFile: string | undefined): Promise<IdentityView> {
  const dataDir = await ctx.dataDir();
  try {
    const api = await ctx.client();
    const id = await api.get<{ address: string; peerId: string; multiaddrs: string[]; fingerprint: string }>(
      '/v1/identity',
    );
    return { ...id, online: true, dataDir };
  } catch (err) {
    if (!(err instanceof ApiUnreachableError) || ctx.explicitApi) throw err;
  }
  // No daemon: the identity on disk (never create one here: a typo in --data-dir is not a new node).
  if (!existsSync(join(dataDir, 'store'))) {
    throw new CliError(EXIT.NOT_FOUND, `no identity in ${dataDir}`, 'create one with: sotto init');
  }
  const passphrase = await unlockPassphrase(ctx, join(dataDir, 'store'), passphraseFile, dataDir);
  const local = await initializeOffline(dataDir, passphrase);
  return {
    address: local.address,
    peerId: local.peerId,
    fingerprint: await fingerprintOf(local.address),
    online: false,
    dataDir,
  };
}

async function id(ctx: CliContext, options: { qr?: boolean; passphraseFile?: string }): Promise<number> {
  const view = await identity(ctx, options.passphraseFile);
  ctx.out.result(view, () => [
    ...(options.qr ? [...addressQr(view.address), ''] : []),
    ...fields([
      ['address', view.address],
      ['peer id', view.peerId],
      ...(view.multiaddrs === undefined ? [] : [['multiaddrs', view.multiaddrs] as const]),
      ['fingerprint', view.fingerprint],
      ['daemon', view.online ? 'running' : 'not running'],
    ]),
    '',
    'Give your address to a contact (sotto contacts add <name> <address>); compare safety numbers with sotto verify.',
  ]);
  return EXIT.OK;
}

export function registerId(program: Command, runner: ActionRunner): void {
  program
    .command('id')
    .description("show this node's address, peer id, multiaddrs and safety-number fingerprint (works without a daemon)")
    .option('--qr', 'also draw the address as a QR code (human output only)')
    .option(
      '--passphrase-file <file>',
      "without a daemon: a file holding the store's passphrase (SOTTO_PASSPHRASE_FILE)",
    )
    .action(runner.action((ctx, cmd) => id(ctx, cmd.opts<{ qr?: boolean; passphraseFile?: string }>())));
}
