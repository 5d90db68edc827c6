/**
 * `sotto passphrase set|change|remove`: re-wraps the store's data key (encryption at rest) under a
 * new passphrase, or stores it unwrapped. No stored value is rewritten: only `<data dir>/store/
 * keys.json` is replaced, atomically. The old passphrase is required for `change` and `remove`; a
 * wrong one changes nothing (exit 7). Works on a stopped node only (exit 6 while a daemon runs).
 *
 * `set` on a data dir from before encryption at rest also encrypts its values (once).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { CliError, EXIT } from '../errors.js';
import { refuseWhileRunning } from '../offline.js';
import { fields } from '../output.js';
import { newPassphrase, unlockPassphrase } from '../passphrase-source.js';
import type { ActionRunner } from '../program.js';

type Action = 'set' | 'change' | 'remove';

interface PassphraseOptions {
  passphraseFile?: string;
  newPassphraseFile?: string;
}

const DONE: Record<Action, string> = {
  set: 'passphrase set: the data key is now wrapped with a key derived from it (Argon2id)',
  change: 'passphrase changed: the data key is wrapped under the new one; the old one no longer opens the store',
  remove: 'passphrase removed: the data key is stored unwrapped, protected by file permissions only',
};

async function run(ctx: CliContext, action: Action, options: PassphraseOptions): Promise<number> {
  const dataDir = await ctx.dataDir();
  const storeDir = join(dataDir, 'store');
  if (!existsSync(storeDir)) {
    throw new CliError(EXIT.NOT_FOUND, `no store in ${dataDir}`, 'create one with: sotto init');
  }
  await refuseWhileRunning(dataDir, `sotto passphrase ${action}`);
  const store = await import('../../store/index.js');
  const status = await store.keyFileStatus(storeDir);
  // Refuse before asking anything the store's state makes pointless.
  if (action === 'set' && status.protection === 'passphrase') throw new store.PassphraseAlreadySetError();
  if (action !== 'set' && status.protection !== 'passphrase') throw new store.PassphraseNotSetError();
  const current = action === 'set' ? undefined : await unlockPassphrase(ctx, storeDir, options.passphraseFile, dataDir);
  if (action !== 'set' && current === undefined) throw new store.PassphraseRequiredError();
  const next =
    action === 'remove'
      ? undefined
      : await newPassphrase(ctx, {
          flagFile: options.newPassphraseFile,
          flag: '--new-passphrase-file',
          what: 'new passphrase',
        });
  try {
    await store.changeStorePassphrase({ path: storeDir, action, passphrase: current, newPassphrase: next });
  } catch (err) {
    if (err instanceof store.NoStoreError) {
      throw new CliError(EXIT.NOT_FOUND, `no store in ${dataDir}`, 'create one with: sotto init');
    }
    throw err;
  }
  const protection = action === 'remove' ? 'none' : 'passphrase';
  ctx.out.result({ dataDir, protection }, () => [
    DONE[action],
    ...fields([
      ['data dir', dataDir],
      ['key file', join(storeDir, store.KEY_FILE_NAME)],
    ]),
  ]);
  return EXIT.OK;
}

export function registerPassphrase(program: Command, runner: ActionRunner): void {
  const cmd = program
    .command('passphrase')
    .description("set, change or remove the passphrase that protects the store's data key (node stopped)")
    .addHelpText(
      'after',
      `
The store's values are encrypted with a random data key (AES-256-GCM, a fresh key per value). A
passphrase wraps that key (Argon2id); these commands only re-wrap it: nothing else is rewritten.
The current passphrase comes from --passphrase-file, SOTTO_PASSPHRASE_FILE, SOTTO_PASSPHRASE or a
prompt; the new one from --new-passphrase-file or a prompt (typed twice). Forgetting the passphrase
loses the data: there is no recovery (keep a backup: sotto backup export).`,
    );
  const current = [
    '--passphrase-file <file>',
    'a file holding the current passphrase (SOTTO_PASSPHRASE_FILE)',
  ] as const;
  const next = ['--new-passphrase-file <file>', 'a file holding the new passphrase (else: asked twice)'] as const;
  cmd
    .command('set')
    .description('protect a store that has no passphrase with one')
    .option(...next)
    .action(runner.action((ctx, c) => run(ctx, 'set', c.opts<PassphraseOptions>())));
  cmd
    .command('change')
    .description('replace the passphrase (the current one is required)')
    .option(...current)
    .option(...next)
    .action(runner.action((ctx, c) => run(ctx, 'change', c.opts<PassphraseOptions>())));
  cmd
    .command('remove')
    .description('store the data key unwrapped again (the current passphrase is required)')
    .option(...current)
    .action(runner.action((ctx, c) => run(ctx, 'remove', c.opts<PassphraseOptions>())));
}
