/**
 * Encryption at rest on the command line: `init`/`id`/`start` with SOTTO_PASSPHRASE,
 * SOTTO_PASSPHRASE_FILE and --passphrase-file; `passphrase set|change|remove`; `backup export|import`;
 * their exit codes and one-line errors, with the real `sotto` binary as child processes (no
 * terminal: passphrases from files and the environment). The no-echo prompt and the prompt paths
 * run in process with a fake terminal. Every child is killed by PID in `after`.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CliEnvironment } from '../../src/cli/context.js';
import { CliError, EXIT } from '../../src/cli/errors.js';
import { runCli } from '../../src/cli/program.js';
import { promptHidden } from '../../src/cli/prompt.js';
import { openEncryptedStore } from '../../src/store/index.js';
import { cleanEnv, cli, collect, exited, killAll, oneErrorLine, spawnCli, waitFor } from './helpers.js';

let root: string;
let count = 0;
const newDir = (name: string): string => join(root, `${name}-${count++}`);

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'sotto-cli-at-rest-'));
});
after(async () => {
  killAll();
  await rm(root, { recursive: true, force: true });
});

async function secretFile(name: string, text: string): Promise<string> {
  const path = join(root, `${name}-${count++}.txt`);
  await writeFile(path, text, { mode: 0o600 });
  return path;
}

const withPassphrase = (passphrase: string) => ({ env: cleanEnv({ SOTTO_PASSPHRASE: passphrase }) });

function json<T>(result: { stdout: string; stderr: string; code: number | null }): T {
  assert.equal(result.code, 0, `exit ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

describe('sotto init / id / start with a passphrase', () => {
  it('init with SOTTO_PASSPHRASE wraps the key; id needs it (none: 7, wrong: 7, right: 0); both variables: 7', async () => {
    const dir = newDir('init');
    const init = json<{ address: string; protection: string }>(
      await cli(['init', '--json', '--data-dir', dir], withPassphrase('open sesame')),
    );
    assert.equal(init.protection, 'passphrase');
    const keyFile = JSON.parse(await readFile(join(dir, 'store', 'keys.json'), 'utf8')) as { protection: string };
    assert.equal(keyFile.protection, 'passphrase');

    const none = await cli(['id', '--data-dir', dir]);
    assert.equal(none.code, EXIT.CONFIG);
    assert.match(
      oneErrorLine(none),
      /^sotto: the store in .* is protected by a passphrase \(give it with SOTTO_PASSPHRASE/,
    );
    const wrong = await cli(['id', '--data-dir', dir], withPassphrase('open sesame!'));
    assert.equal(wrong.code, EXIT.CONFIG);
    assert.equal(oneErrorLine(wrong), `sotto: wrong passphrase for the store in ${dir}; nothing was changed`);
    assert.equal(wrong.stdout, '');
    const file = await secretFile('pw', 'open sesame\n'); // one trailing newline is not part of it
    const right = json<{ address: string }>(await cli(['id', '--json', '--data-dir', dir, '--passphrase-file', file]));
    assert.equal(right.address, init.address);
    const both = await cli(['id', '--data-dir', dir], {
      env: cleanEnv({ SOTTO_PASSPHRASE: 'open sesame', SOTTO_PASSPHRASE_FILE: file }),
    });
    assert.equal(both.code, EXIT.CONFIG);
    assert.equal(oneErrorLine(both), 'sotto: SOTTO_PASSPHRASE and SOTTO_PASSPHRASE_FILE are both set: set one of them');
    for (const r of [none, wrong, both]) assert.equal(r.stderr.includes('open sesame'), false);
  });

  it('init without a passphrase says so; the data dir is 0700 and its files 0600', async () => {
    const dir = newDir('plain');
    const r = await cli(['init', '--data-dir', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^encryption +no passphrase$/m);
    assert.match(r.stderr, /no passphrase protects this data dir/);
    assert.equal(((await stat(dir)).mode & 0o777).toString(8), '700');
    for (const name of await readdir(join(dir, 'store'))) {
      assert.equal(((await stat(join(dir, 'store', name))).mode & 0o777).toString(8), '600', name);
    }
    // a passphrase for a store that has none: refused, pointing at `passphrase set`
    const extra = await cli(['id', '--data-dir', dir], withPassphrase('surprise'));
    assert.equal(extra.code, EXIT.CONFIG);
    assert.match(oneErrorLine(extra), /has no passphrase \(set one with: sotto passphrase set/);
  });

  it('start: a wrong passphrase exits 7 at once; the right one (--passphrase-file) runs; passphrase commands refuse while it runs (6)', async () => {
    const dir = newDir('start');
    json(await cli(['init', '--json', '--data-dir', dir], withPassphrase('daemon pw')));
    const args = ['start', '--json', '--data-dir', dir, '--api-port', '0', '--listen', '/ip4/127.0.0.1/tcp/0'];
    args.push('--log-level', 'warn');
    const wrong = await cli(args, withPassphrase('not the daemon pw'));
    assert.equal(wrong.code, EXIT.CONFIG);
    assert.equal(oneErrorLine(wrong), `sotto: wrong passphrase for the store in ${dir}; nothing was changed`);

    const file = await secretFile('daemon', 'daemon pw');
    const child = spawnCli([...args, '--passphrase-file', file]);
    const out = collect(child.stdout);
    const err = collect(child.stderr);
    await waitFor(() => out.text().includes('"address"') || child.exitCode !== null, 'the daemon to start', 30_000);
    assert.equal(child.exitCode, null, err.text());
    assert.equal(err.text().includes('no passphrase'), false, 'no warning: a passphrase protects it');
    const change = await cli(['passphrase', 'change', '--data-dir', dir], withPassphrase('daemon pw'));
    assert.equal(change.code, EXIT.LOCKED);
    assert.match(
      oneErrorLine(change),
      /^sotto: a sotto daemon is running for .*: sotto passphrase change works on a stopped node/,
    );
    const exported = await cli(['backup', 'export', join(root, 'while-running.bak'), '--data-dir', dir]);
    assert.equal(exported.code, EXIT.LOCKED);
    assert.equal(existsSync(join(root, 'while-running.bak')), false);
    child.kill('SIGTERM');
    assert.deepEqual(await exited(child, 15_000), { code: 0, signal: null });
  });
});

describe('sotto passphrase', () => {
  it('set → change → remove end to end, with exit codes; a wrong current passphrase changes nothing', async () => {
    const dir = newDir('pp');
    const address = json<{ address: string }>(await cli(['init', '--json', '--data-dir', dir])).address;
    const first = await secretFile('first', 'first passphrase');
    const second = await secretFile('second', 'second passphrase');

    const noTerminal = await cli(['passphrase', 'set', '--data-dir', dir]);
    assert.equal(noTerminal.code, EXIT.USAGE);
    assert.equal(
      oneErrorLine(noTerminal),
      'sotto: new passphrase: no terminal to ask on (pass --new-passphrase-file <file>)',
    );

    const set = json<{ protection: string }>(
      await cli(['passphrase', 'set', '--json', '--data-dir', dir, '--new-passphrase-file', first]),
    );
    assert.equal(set.protection, 'passphrase');
    const again = await cli(['passphrase', 'set', '--data-dir', dir, '--new-passphrase-file', first]);
    assert.equal(again.code, EXIT.CONFLICT);
    assert.match(oneErrorLine(again), /already has a passphrase \(change it with: sotto passphrase change\)/);

    const keyBefore = await readFile(join(dir, 'store', 'keys.json'), 'utf8');
    const wrong = await cli(['passphrase', 'change', '--data-dir', dir, '--new-passphrase-file', second], {
      env: cleanEnv({ SOTTO_PASSPHRASE: 'not the first' }),
    });
    assert.equal(wrong.code, EXIT.CONFIG);
    assert.equal(oneErrorLine(wrong), `sotto: wrong passphrase for the store in ${dir}; nothing was changed`);
    assert.equal(await readFile(join(dir, 'store', 'keys.json'), 'utf8'), keyBefore);
    const missing = await cli(['passphrase', 'change', '--data-dir', dir, '--new-passphrase-file', second]);
    assert.equal(missing.code, EXIT.CONFIG);

    const change = await cli([
      'passphrase',
      'change',
      '--data-dir',
      dir,
      '--passphrase-file',
      first,
      '--new-passphrase-file',
      second,
    ]);
    assert.equal(change.code, 0, change.stderr);
    assert.match(change.stdout, /^passphrase changed/);
    const old = await cli(['id', '--data-dir', dir], { env: cleanEnv({ SOTTO_PASSPHRASE_FILE: first }) });
    assert.equal(old.code, EXIT.CONFIG, 'the old passphrase no longer opens the store');
    const now = json<{ address: string }>(
      await cli(['id', '--json', '--data-dir', dir], { env: cleanEnv({ SOTTO_PASSPHRASE_FILE: second }) }),
    );
    assert.equal(now.address, address);

    const remove = await cli(['passphrase', 'remove', '--data-dir', dir, '--passphrase-file', second]);
    assert.equal(remove.code, 0, remove.stderr);
    const removeAgain = await cli(['passphrase', 'remove', '--data-dir', dir, '--passphrase-file', second]);
    assert.equal(removeAgain.code, EXIT.CONFIG);
    assert.match(oneErrorLine(removeAgain), /has no passphrase/);
    assert.equal(json<{ address: string }>(await cli(['id', '--json', '--data-dir', dir])).address, address);

    const nothing = await cli(['passphrase', 'set', '--data-dir', newDir('none'), '--new-passphrase-file', first]);
    assert.equal(nothing.code, EXIT.NOT_FOUND);
    assert.match(oneErrorLine(nothing), /^sotto: no store in .* \(create one with: sotto init\)$/);
  });
});

describe('sotto backup', () => {
  it('export and import end to end: same address and contacts in a new data dir; refusals with their exit codes', async () => {
    const dir = newDir('orig');
    const address = json<{ address: string }>(
      await cli(['init', '--json', '--data-dir', dir], withPassphrase('store pw')),
    ).address;
    // a contact, written offline (contacts add needs a daemon; the store is the same)
    const { store } = await openEncryptedStore({ path: join(dir, 'store'), passphrase: 'store pw' });
    await store.contacts.put({
      identityKey: 'ab'.repeat(32),
      name: 'Backup Contact',
      address: 'sotto1backupcontact',
      verified: true,
      addedAt: 1,
      previousKeys: [],
    });
    await store.close();

    const backupPw = await secretFile('backup', 'backup passphrase');
    const file = join(root, `id-${count++}.sottobak`);
    const exported = json<{ file: string; address: string; contacts: number }>(
      await cli(['backup', 'export', file, '--json', '--data-dir', dir, '--backup-passphrase-file', backupPw], {
        env: cleanEnv({ SOTTO_PASSPHRASE: 'store pw' }),
      }),
    );
    assert.deepEqual([exported.address, exported.contacts], [address, 1]);
    assert.equal(((await stat(file)).mode & 0o777).toString(8), '600');
    const bytes = await readFile(file);
    assert.equal(bytes.includes('Backup Contact'), false);
    const twice = await cli(['backup', 'export', file, '--data-dir', dir, '--backup-passphrase-file', backupPw], {
      env: cleanEnv({ SOTTO_PASSPHRASE: 'store pw' }),
    });
    assert.equal(twice.code, EXIT.CONFLICT);
    assert.deepEqual(await readFile(file), bytes, 'never overwritten');

    const target = newDir('restored');
    const wrongPw = await secretFile('wrong', 'not the backup passphrase');
    const wrong = await cli(['backup', 'import', file, '--data-dir', target, '--backup-passphrase-file', wrongPw]);
    assert.equal(wrong.code, EXIT.CONFIG);
    assert.equal(
      oneErrorLine(wrong),
      'sotto: wrong passphrase for this backup (or the file was changed); nothing was written',
    );
    assert.equal(existsSync(join(target, 'store')), false);

    const notBackup = await secretFile('junk', 'this is not a backup file at all, just text');
    const junk = await cli(['backup', 'import', notBackup, '--data-dir', target, '--backup-passphrase-file', backupPw]);
    assert.equal(junk.code, EXIT.USAGE);
    assert.match(oneErrorLine(junk), /not a sotto backup/);

    const occupied = await cli(['backup', 'import', file, '--data-dir', dir, '--backup-passphrase-file', backupPw]);
    assert.equal(occupied.code, EXIT.CONFLICT);
    assert.match(oneErrorLine(occupied), /already has a store: a backup is imported only into an empty data dir/);

    const imported = json<{ address: string; contacts: number; protection: string }>(
      await cli(['backup', 'import', file, '--json', '--data-dir', target, '--backup-passphrase-file', backupPw], {
        env: cleanEnv({ SOTTO_PASSPHRASE: 'new store pw' }),
      }),
    );
    assert.deepEqual(imported, { dataDir: target, address, contacts: 1, protection: 'passphrase' });
    const id = json<{ address: string }>(
      await cli(['id', '--json', '--data-dir', target], withPassphrase('new store pw')),
    );
    assert.equal(id.address, address);
    const opened = await openEncryptedStore({ path: join(target, 'store'), passphrase: 'new store pw' });
    assert.deepEqual(
      (await opened.store.contacts.list()).map((c) => c.name),
      ['Backup Contact'],
    );
    await opened.store.close();
  });
});

/** A fake terminal for promptHidden: what the user types arrives as data events. */
class FakeTty extends EventEmitter {
  isTTY = true;
  raw: boolean[] = [];
  setRawMode(mode: boolean) {
    this.raw.push(mode);
    return this;
  }
  resume() {
    return this;
  }
  pause() {
    return this;
  }
  type(text: string) {
    setImmediate(() => this.emit('data', Buffer.from(text)));
  }
}

describe('the passphrase prompt', () => {
  it('reads without echo, handles backspace, restores the terminal; Ctrl-C cancels', async () => {
    const tty = new FakeTty();
    let written = '';
    const answer = promptHidden('passphrase: ', tty, (t) => {
      written += t;
    });
    tty.type('sec');
    tty.type('x\u007fret\r');
    assert.equal(await answer, 'secret');
    assert.equal(written, 'passphrase: \n', 'nothing typed is echoed');
    assert.deepEqual(tty.raw, [true, false]);
    assert.equal(tty.listenerCount('data'), 0);

    const cancelled = promptHidden('again: ', tty, () => undefined);
    tty.type('abc\u0003');
    await assert.rejects(cancelled, (e: unknown) => e instanceof CliError && e.exitCode === EXIT.FORCED);
    assert.deepEqual(tty.raw, [true, false, true, false]);
  });

  it('commands ask on a terminal: set asks twice (a mismatch changes nothing), id asks to unlock', async () => {
    const dir = newDir('prompted');
    const answers: string[] = [];
    const asked: string[] = [];
    const run = async (args: string[]) => {
      let stdout = '';
      let stderr = '';
      const environment: CliEnvironment = {
        streams: {
          stdout: (t) => {
            stdout += t;
          },
          stderr: (t) => {
            stderr += t;
          },
        },
        env: cleanEnv(),
        cwd: root,
        homedir: '/nonexistent-home',
        prompt: async (question) => {
          asked.push(question);
          const next = answers.shift();
          if (next === undefined) throw new Error(`unexpected question ${question}`);
          return next;
        },
      };
      const code = await runCli([...args, '--data-dir', dir], environment);
      return { code, stdout, stderr };
    };
    assert.equal((await run(['init'])).code, 0);
    answers.push('typed once', 'typed twice');
    const mismatch = await run(['passphrase', 'set']);
    assert.equal(mismatch.code, EXIT.USAGE);
    assert.equal(mismatch.stderr, 'sotto: new passphrase: the two entries differ; nothing was changed\n');
    assert.equal(JSON.parse(await readFile(join(dir, 'store', 'keys.json'), 'utf8')).protection, 'none');
    answers.push('typed right', 'typed right');
    assert.equal((await run(['passphrase', 'set'])).code, 0);
    asked.length = 0;
    answers.push('typed right');
    const id = await run(['id', '--json']);
    assert.equal(id.code, 0, id.stderr);
    assert.deepEqual(asked, [`passphrase for ${dir}: `]);
    answers.push('typed wrong');
    assert.equal((await run(['id'])).code, EXIT.CONFIG);
  });
});
