/**
 * The CLI without a daemon: argument parsing and the mapping of `sotto start`'s options to
 * ConfigFlags, errors to exit codes and one line, output formatting (no escape sequences, safe
 * display of untrusted text), API discovery and the API client's error handling.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Command } from 'commander';
import { ApiError, TokenPermissionsError } from '../../src/api/errors.js';
import { createApiServer } from '../../src/api/server.js';
import type { MailboxesSaved } from '../../src/api/types.js';
import { ApiClient, apiUrlFor, DAEMON_INFO_FILE, discoverApi, parseApiUrl } from '../../src/cli/client.js';
import { conversationLines, parseCursor, parseLimit } from '../../src/cli/commands/chat.js';
import { flatten } from '../../src/cli/commands/config.js';
import { contactsTable } from '../../src/cli/commands/contacts.js';
import { fetchLine, MAX_MAILBOXES, mailboxLines } from '../../src/cli/commands/mailbox.js';
import { parseMessageId } from '../../src/cli/commands/retry.js';
import { sendLine } from '../../src/cli/commands/send.js';
import { optionName, START_OPTIONS, toConfigFlags, withPeerId } from '../../src/cli/commands/start.js';
import { peersLines, statusLines } from '../../src/cli/commands/status.js';
import { safetyNumberLines, safetyNumberRows } from '../../src/cli/commands/verify.js';
import { eventLines } from '../../src/cli/commands/watch.js';
import { quickDataDir } from '../../src/cli/data-dir.js';
import {
  ApiCallError,
  ApiUnreachableError,
  CliError,
  describeError,
  EXIT,
  EXIT_CODE_TABLE,
  noDaemonMessage,
} from '../../src/cli/errors.js';
import { clean, fields, formatBytes, formatDuration, Output, table } from '../../src/cli/output.js';
import { buildProgram } from '../../src/cli/program.js';
import { ConfigError, resolveConfig, resolveDataDir, SETTINGS } from '../../src/config/index.js';
import { StoreOpenError } from '../../src/store/errors.js';
import { FakeNode, randomAddress, randomPeerId } from '../api/fake-node.js';
import { cleanEnv, runInProcess } from './helpers.js';

// biome-ignore lint/suspicious/noControlCharactersInRegex: looking for escape sequences is the point
const ESC = /[\u001b\u009b]/;

const PEER = await randomPeerId();

const dirs: string[] = [];
const servers: Server[] = [];
after(async () => {
  for (const s of servers) s.close();
  await Promise.allSettled(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sotto-cli-'));
  dirs.push(dir);
  return dir;
}

/** Parses `args` with the real command tree; returns the command that would run, without running it. */
async function parse(args: string[]): Promise<Command> {
  let chosen: Command | undefined;
  const program = buildProgram(
    { streams: { stdout: () => {}, stderr: () => {} }, env: {}, cwd: '/', homedir: '/home/u' },
    {
      action:
        () =>
        async (...params: unknown[]) => {
          chosen = params.at(-1) as Command;
        },
    },
  );
  await program.parseAsync(args, { from: 'user' });
  assert.ok(chosen, `no command ran for ${args.join(' ')}`);
  return chosen;
}

describe('sotto start options → ConfigFlags', () => {
  it('has exactly one option per daemon setting, with the same flag, variable and kind', () => {
    assert.deepEqual(
      START_OPTIONS.map((o) => [o.key, o.env, o.kind, o.description]),
      SETTINGS.map((s) => [s.flag, s.env, s.kind, s.description]),
    );
  });

  it('maps the given options (and the global --data-dir) and nothing else', async () => {
    const cmd = await parse([
      'start',
      '--data-dir',
      '/tmp/x',
      '--listen',
      '/ip4/127.0.0.1/tcp/4001',
      '/ip4/127.0.0.1/tcp/4002/ws',
      '--bootstrap',
      '/ip4/127.0.0.1/tcp/4003/p2p/12D3KooWGC6TvWhfapngX6wvJHMYvKpDMXPb3ZnCZ6dMq4hJ87ws',
      '--dht-mode',
      'client',
      '--allow-private-addresses',
      '--api-port',
      '0',
      '--log-level',
      'warn',
    ]);
    assert.equal(cmd.name(), 'start');
    const flags = toConfigFlags(cmd.optsWithGlobals<{ dataDir?: string }>().dataDir, cmd.opts());
    assert.deepEqual(flags, {
      dataDir: '/tmp/x',
      listen: ['/ip4/127.0.0.1/tcp/4001', '/ip4/127.0.0.1/tcp/4002/ws'],
      bootstrap: ['/ip4/127.0.0.1/tcp/4003/p2p/12D3KooWGC6TvWhfapngX6wvJHMYvKpDMXPb3ZnCZ6dMq4hJ87ws'],
      dhtMode: 'client',
      allowPrivateAddresses: true,
      apiPort: '0',
      logLevel: 'warn',
    });
    // the config layer accepts every key and turns the values into the daemon config
    const { config, sources } = resolveConfig({ flags, homedir: '/home/u' });
    assert.deepEqual(config.net.listen, ['/ip4/127.0.0.1/tcp/4001', '/ip4/127.0.0.1/tcp/4002/ws']);
    assert.equal(config.net.dhtMode, 'client');
    assert.equal(config.api.port, 0);
    assert.equal(config.log.level, 'warn');
    assert.equal(sources['api.port'], 'flag');
    assert.equal(sources['net.announce'], 'default');
  });

  it('repeated list options add up; --no-… gives false; nothing given gives {}', async () => {
    const cmd = await parse([
      'start',
      '--listen',
      '/ip4/127.0.0.1/tcp/1',
      '--listen',
      '/ip4/127.0.0.1/tcp/2',
      '--no-allow-private-addresses',
    ]);
    assert.deepEqual(toConfigFlags(undefined, cmd.opts()), {
      listen: ['/ip4/127.0.0.1/tcp/1', '/ip4/127.0.0.1/tcp/2'],
      allowPrivateAddresses: false,
    });
    assert.deepEqual(toConfigFlags(undefined, (await parse(['start'])).opts()), {});
  });

  it('every setting has its option, named like the config layer names it in errors', async () => {
    for (const spec of START_OPTIONS) {
      const name = optionName(spec.key);
      const args = spec.kind === 'boolean' ? [name] : [name, spec.kind === 'list' ? '/ip4/127.0.0.1/tcp/1' : '7'];
      const cmd = await parse(['start', ...args]);
      assert.ok(spec.key in toConfigFlags(undefined, cmd.opts()), name);
    }
  });

  it('a bad value is the config layer’s one-line error, exit 7', () => {
    assert.throws(
      () => resolveConfig({ flags: toConfigFlags(undefined, { apiPort: 'abc' }), homedir: '/home/u' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        const { exitCode, message } = describeError(err);
        assert.equal(exitCode, EXIT.CONFIG);
        assert.equal(message, 'command line: --api-port: expected an integer 0..65535, got "abc"');
        return true;
      },
    );
  });

  it('withPeerId appends /p2p/<id> where it is missing', () => {
    assert.deepEqual(withPeerId(['/ip4/127.0.0.1/tcp/1', '/ip4/127.0.0.1/tcp/2/p2p/X'], 'X'), [
      '/ip4/127.0.0.1/tcp/1/p2p/X',
      '/ip4/127.0.0.1/tcp/2/p2p/X',
    ]);
  });
});

describe('parsing of the other commands', () => {
  it('global options go before or after the command', async () => {
    for (const args of [
      ['--json', '--data-dir', '/d', 'status'],
      ['status', '--json', '--data-dir', '/d'],
    ]) {
      const cmd = await parse(args);
      assert.equal(cmd.name(), 'status');
      assert.deepEqual(cmd.optsWithGlobals(), { json: true, dataDir: '/d' });
    }
  });

  it('send joins the words of the message; chat parses --limit and --before', async () => {
    const send = await parse(['send', 'bob', 'see', 'you', 'at', '8']);
    assert.deepEqual(send.processedArgs, ['bob', ['see', 'you', 'at', '8']]);
    const chat = await parse(['chat', 'bob', '--limit', '10', '--before', `1700000000000:${'ab'.repeat(16)}`]);
    assert.deepEqual(chat.opts(), { limit: 10, before: { beforeTimestamp: 1700000000000, beforeId: 'ab'.repeat(16) } });
    assert.throws(() => parseLimit('0'));
    assert.throws(() => parseLimit('201'));
    assert.throws(() => parseLimit('1e2'));
    assert.throws(() => parseCursor('17:xyz'));
  });

  it('contacts defaults to list; contacts subcommands take their arguments', async () => {
    assert.equal((await parse(['contacts'])).name(), 'list');
    assert.equal((await parse(['contacts', 'ls'])).name(), 'list');
    const add = await parse(['contacts', 'add', 'bob', 'sotto1abc']);
    assert.deepEqual([add.name(), ...add.args], ['add', 'bob', 'sotto1abc']);
    const rename = await parse(['contacts', 'rename', 'bob', 'robert']);
    assert.deepEqual([rename.name(), ...rename.args], ['rename', 'bob', 'robert']);
    assert.equal((await parse(['contacts', 'rm', 'bob'])).name(), 'remove');
    assert.equal((await parse(['mailbox'])).name(), 'list');
    assert.equal((await parse(['mailbox', 'ls'])).name(), 'list');
    assert.deepEqual((await parse(['mailbox', 'add', '12D3KooWx'])).args, ['12D3KooWx']);
    assert.equal((await parse(['mailbox', 'rm', '12D3KooWx'])).name(), 'remove');
    assert.equal((await parse(['mailbox', 'fetch'])).name(), 'fetch');
    assert.deepEqual((await parse(['retry', 'ab'.repeat(16)])).args, ['ab'.repeat(16)]);
    assert.deepEqual((await parse(['verify', 'bob', '--confirm'])).opts(), { confirm: true });
    assert.deepEqual((await parse(['id', '--qr'])).opts(), { qr: true });
  });
});

describe('runCli: usage, help, exit codes, one-line errors', () => {
  it('usage errors: exit 2 and one line naming the help to read', async () => {
    const cases: [string[], RegExp][] = [
      [['frob'], /^sotto: unknown command 'frob' \(see sotto --help\)\n$/],
      [['status', '--frob'], /^sotto: unknown option '--frob' \(see sotto status --help\)\n$/],
      [['contacts', 'add', 'bob'], /^sotto: missing required argument 'address' \(see sotto contacts add --help\)\n$/],
      [
        ['chat', 'bob', '--limit', 'x'],
        /^sotto: option '--limit <n>' argument 'x' is invalid\. .*\(see sotto chat --help\)\n$/,
      ],
      [['send', 'bob'], /^sotto: missing required argument 'text' \(see sotto send --help\)\n$/],
      [['mailbox', 'add'], /^sotto: missing required argument 'peer-id' \(see sotto mailbox add --help\)\n$/],
      [['retry'], /^sotto: missing required argument 'message-id' \(see sotto retry --help\)\n$/],
    ];
    for (const [args, expected] of cases) {
      const r = await runInProcess(args);
      assert.equal(r.code, EXIT.USAGE, args.join(' '));
      assert.match(r.stderr, expected);
      assert.equal(r.stdout, '');
    }
  });

  it('--help documents the exit codes and exits 0; every command has --help', async () => {
    const r = await runInProcess(['--help']);
    assert.equal(r.code, 0);
    for (const { code, meaning } of EXIT_CODE_TABLE) assert.ok(r.stdout.includes(`${code}  ${meaning}`), meaning);
    for (const command of [
      'init',
      'start',
      'id',
      'contacts',
      'send',
      'chat',
      'watch',
      'verify',
      'status',
      'peers',
      'config',
      'mailbox',
      'retry',
    ]) {
      assert.ok(r.stdout.includes(`  ${command}`), command);
      const sub = await runInProcess([command, '--help']);
      assert.equal(sub.code, 0, command);
      assert.match(sub.stdout, new RegExp(`^Usage: sotto ${command}`));
    }
    const add = await runInProcess(['contacts', 'add', '--help']);
    assert.match(add.stdout, /^Usage: sotto contacts add \[options\] <name> <address>/);
    assert.equal((await runInProcess([])).code, 0);
  });

  it('version and --json version', async () => {
    const r = await runInProcess(['version']);
    assert.match(r.stdout, /^\d+\.\d+\.\d+\n$/);
    const j = await runInProcess(['version', '--json']);
    assert.match((JSON.parse(j.stdout) as { version: string }).version, /^\d+\.\d+\.\d+$/);
    assert.equal((await runInProcess(['--version'])).stdout, r.stdout);
  });

  it('no daemon: exit 3 and the one-line hint, for every command that needs one', async () => {
    const dir = await tempDir();
    for (const args of [
      ['status'],
      ['peers'],
      ['contacts', 'list'],
      ['send', 'bob', 'hi'],
      ['chat', 'bob'],
      ['watch'],
      ['mailbox'],
      ['mailbox', 'add', PEER],
      ['mailbox', 'remove', PEER],
      ['mailbox', 'fetch'],
      ['retry', 'ab'.repeat(16)],
    ]) {
      const r = await runInProcess([...args, '--data-dir', dir]);
      assert.equal(r.code, EXIT.NO_DAEMON, args.join(' '));
      assert.equal(r.stderr, `sotto: no daemon is running for ${dir} (start one with: sotto start)\n`);
    }
    // an explicit URL that nothing answers: named instead of the data dir
    await writeFile(join(dir, 'api-token'), `${'A'.repeat(42)}A\n`, { mode: 0o600 });
    const r = await runInProcess(['status', '--data-dir', dir, '--api-url', 'http://127.0.0.1:9']);
    assert.equal(r.code, EXIT.NO_DAEMON);
    assert.equal(r.stderr, 'sotto: no daemon answers at http://127.0.0.1:9 (start one with: sotto start)\n');
  });

  it('--debug adds the stack; without it there is none', async () => {
    const dir = await tempDir();
    const plain = await runInProcess(['status', '--data-dir', dir]);
    assert.doesNotMatch(plain.stderr, /\n\s+at /);
    const debug = await runInProcess(['status', '--data-dir', dir, '--debug']);
    assert.match(debug.stderr, /^sotto: no daemon is running/);
    assert.match(debug.stderr, /ApiUnreachableError: .*\n\s+at /);
    const env = await runInProcess(['status', '--data-dir', dir], { env: cleanEnv({ SOTTO_DEBUG: '1' }) });
    assert.match(env.stderr, /\n\s+at /);
  });

  it('id without an identity: exit 4, nothing created; config works without a daemon', async () => {
    const dir = join(await tempDir(), 'nothing-here');
    const r = await runInProcess(['id', '--data-dir', dir]);
    assert.equal(r.code, EXIT.NOT_FOUND);
    assert.equal(r.stderr, `sotto: no identity in ${dir} (create one with: sotto init)\n`);
    const c = await runInProcess(['config', '--json', '--data-dir', dir]);
    assert.equal(c.code, 0, c.stderr);
    const config = JSON.parse(c.stdout) as { dataDir: string; api: { port: number }; sources: Record<string, string> };
    assert.equal(config.dataDir, dir);
    assert.equal(config.api.port, 7373);
    assert.equal(config.sources.dataDir, 'flag');
    const bad = await runInProcess(['config', '--data-dir', dir], { env: cleanEnv({ SOTTO_API_PORT: 'abc' }) });
    assert.equal(bad.code, EXIT.CONFIG);
    assert.equal(bad.stderr, 'sotto: environment: SOTTO_API_PORT: expected an integer 0..65535, got "abc"\n');
  });

  it('a bad --api-url is a usage error', async () => {
    const r = await runInProcess(['status', '--api-url', 'ftp://x', '--data-dir', await tempDir()]);
    assert.equal(r.code, EXIT.USAGE);
    assert.equal(r.stderr, 'sotto: --api-url: expected an http:// or https:// URL, got ftp:\n');
  });
});

describe('errors → exit code and one line', () => {
  it('maps every API error code', () => {
    const expected: Record<string, number> = {
      UNKNOWN_CONTACT: EXIT.NOT_FOUND,
      RECIPIENT_NOT_FOUND: EXIT.NOT_FOUND,
      CONTACT_NAME_TAKEN: EXIT.CONFLICT,
      CONTACT_EXISTS: EXIT.CONFLICT,
      AMBIGUOUS_CONTACT: EXIT.CONFLICT,
      INVALID_ADDRESS: EXIT.USAGE,
      INVALID_MESSAGE: EXIT.USAGE,
      INVALID_REQUEST: EXIT.USAGE,
      BODY_TOO_LARGE: EXIT.USAGE,
      NOT_READY: EXIT.NO_DAEMON,
      UNAUTHORIZED: EXIT.FAILURE,
      DIRECTORY_ERROR: EXIT.FAILURE,
      INTERNAL: EXIT.FAILURE,
      NOT_FOUND: EXIT.FAILURE,
      INVALID_PEER_ID: EXIT.USAGE,
      FAILED_MESSAGE_NOT_FOUND: EXIT.NOT_FOUND,
      CONFIG_NOT_SAVED: EXIT.FAILURE,
    };
    for (const [code, exit] of Object.entries(expected)) {
      const api = new ApiError(code as ApiError['code'], 'x');
      const { exitCode, message } = describeError(new ApiCallError(api.statusCode, code, `some\nmessage for ${code}`));
      assert.equal(exitCode, exit, code);
      assert.doesNotMatch(message, /\n/);
    }
    assert.equal(
      describeError(new ApiCallError(404, 'UNKNOWN_CONTACT', 'unknown contact "bob"')).message,
      'unknown contact "bob" (see sotto contacts list)',
    );
  });

  it('maps the CLI’s, the config’s, the daemon’s and the store’s errors', () => {
    assert.deepEqual(describeError(new ApiUnreachableError('http://x', noDaemonMessage({ dataDir: '/d' }))), {
      exitCode: EXIT.NO_DAEMON,
      message: 'no daemon is running for /d (start one with: sotto start)',
    });
    assert.deepEqual(describeError(new CliError(EXIT.NOT_FOUND, 'no identity in /d', 'create one with: sotto init')), {
      exitCode: EXIT.NOT_FOUND,
      message: 'no identity in /d (create one with: sotto init)',
    });
    const config = new ConfigError({ source: 'flag', field: '--api-port', problem: 'WRONG_TYPE', detail: 'bad' });
    assert.deepEqual(describeError(config), { exitCode: EXIT.CONFIG, message: 'command line: --api-port: bad' });
    // DaemonError is matched by name and code (the CLI does not load the daemon to map errors)
    const locked = Object.assign(new Error('cannot open the store in /d: is another sotto daemon running?'), {
      name: 'DaemonError',
      code: 'DATA_DIR_LOCKED',
    });
    assert.equal(describeError(locked).exitCode, EXIT.LOCKED);
    assert.equal(
      describeError(Object.assign(new Error('x'), { name: 'DaemonError', code: 'API_ADDRESS_IN_USE' })).exitCode,
      EXIT.FAILURE,
    );
    const store = describeError(new StoreOpenError('lock held'), { dataDir: '/d' });
    assert.equal(store.exitCode, EXIT.LOCKED);
    assert.match(store.message, /^\/d is in use by another sotto process/);
    assert.equal(describeError(new TokenPermissionsError('/d/api-token', 0o644)).exitCode, EXIT.FAILURE);
    assert.deepEqual(describeError(new Error('line one\nline two')), {
      exitCode: EXIT.FAILURE,
      message: 'line one line two',
    });
    assert.deepEqual(describeError('weird'), { exitCode: EXIT.FAILURE, message: 'weird' });
  });

  it('exit codes are distinct and documented', () => {
    const codes = Object.values(EXIT);
    assert.equal(new Set(codes).size, codes.length);
    assert.deepEqual(
      EXIT_CODE_TABLE.map((e) => e.code),
      [0, 1, 2, 3, 4, 5, 6, 7, 75, 130],
    );
  });
});

describe('output', () => {
  it('clean escapes control characters, escape sequences and bidi overrides', () => {
    assert.equal(clean('hi \u001b[31mred\u001b[0m'), 'hi \\u{1b}[31mred\\u{1b}[0m');
    assert.equal(clean('a\u202eb\u2066c'), 'a\\u{202e}b\\u{2066}c');
    assert.equal(clean('one\ntwo'), 'one\\ntwo');
    assert.equal(clean('one\r\ntwo', { multiline: true }), 'one\ntwo');
    assert.equal(clean('tab\there'), 'tab\there');
    assert.equal(clean('héllo 👋'), 'héllo 👋');
  });

  it('JSON output carries no escape sequences, and human mode prints no JSON', () => {
    let stdout = '';
    const json = new Output({ stdout: (t) => (stdout += t), stderr: () => {} }, true);
    json.result({ text: 'x\u001b[2Jy\u009b' }, () => ['never']);
    json.line('never either');
    assert.doesNotMatch(stdout, ESC);
    assert.deepEqual(JSON.parse(stdout), { text: 'x\u001b[2Jy\u009b' });
    stdout = '';
    const human = new Output({ stdout: (t) => (stdout += t), stderr: () => {} }, false);
    human.result({ a: 1 }, () => ['line']);
    assert.equal(stdout, 'line\n');
  });

  it('formats durations, tables and fields', () => {
    assert.equal(formatDuration(0), '0s');
    assert.equal(formatDuration(65_000), '1m 05s');
    assert.equal(formatDuration(3_723_000), '1h 02m 03s');
    assert.equal(formatDuration(3 * 86_400_000 + 4 * 3_600_000 + 5 * 60_000), '3d 04h 05m');
    assert.deepEqual(
      table(
        ['A', 'BB'],
        [
          ['xxx', 'y'],
          ['z', ''],
        ],
      ),
      ['A    BB', 'xxx  y', 'z'],
    );
    assert.deepEqual(
      fields([
        ['a', 'x'],
        ['long', ['1', '2']],
        ['e', []],
      ]),
      ['a     x', 'long  1', '      2', 'e     (none)'],
    );
  });

  it('conversation: oldest first, arrows, untrusted text cleaned, continuation lines indented, the older-page cursor', () => {
    const id = (n: number) => String(n).repeat(32);
    const lines = conversationLines(
      {
        address: 'sotto1xyz',
        name: 'bob',
        messages: [
          { id: id(3), direction: 'in', timestamp: 3000, text: 'third\u001b[2J\nsecond line', state: 'received' },
          { id: id(2), direction: 'out', timestamp: 2000, text: 'second', state: 'queued' },
          { id: id(4), direction: 'out', timestamp: 1500, text: 'lost', state: 'failed' },
          { id: id(1), direction: 'out', timestamp: 1000, text: 'first', state: 'delivered' },
        ],
        next: { beforeTimestamp: 1000, beforeId: id(1) },
      },
      'bob',
    );
    assert.equal(lines[0], 'conversation with bob (sotto1xyz)');
    assert.match(lines[1]!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}→ first$/);
    assert.equal(lines[2]!.slice(21), `→ lost  (failed: sotto retry ${id(4)})`);
    assert.match(lines[3]!, /→ second {2}\(queued\)$/);
    assert.match(lines[4]!, /← third\\u\{1b\}\[2J$/);
    assert.match(lines[5]!, /^ {23}second line$/);
    assert.equal(lines[6], `older messages: sotto chat bob --before 1000:${id(1)}`);
    for (const line of lines) assert.doesNotMatch(line, ESC);
  });

  it('events, safety numbers, status, peers, contacts, send results', async () => {
    const who = async (a: string) => (a === 'sotto1a' ? 'alice' : a);
    const [msg] = await eventLines({ type: 'message', id: 'i', from: 'sotto1a', text: 'hi', timestamp: 0 }, who);
    assert.match(msg!, /^\d\d:\d\d:\d\d ← alice: hi$/);
    const [delivery] = await eventLines({ type: 'delivery', id: 'i', to: 'sotto1b', state: 'delivered' }, who);
    assert.match(delivery!, /→ i to sotto1b: delivered$/);
    const [change] = await eventLines(
      { type: 'key-change', address: 'sotto1a', name: 'alice', previousKey: 'aa', currentKey: 'bb' },
      who,
    );
    assert.match(change!, /identity key of alice \(sotto1a\) changed: .*\(sotto verify alice\)$/);

    const sn = Array.from({ length: 12 }, (_, i) => String(i).padStart(5, '0')).join(' ');
    assert.deepEqual(safetyNumberRows(sn), [
      '00000 00001 00002 00003',
      '00004 00005 00006 00007',
      '00008 00009 00010 00011',
    ]);
    const verified = safetyNumberLines(
      { address: 'sotto1a', name: 'alice', safetyNumber: sn, verified: true },
      'alice',
    );
    assert.equal(verified.at(-1), 'alice is verified');
    const unverified = safetyNumberLines({ address: 'sotto1a', safetyNumber: sn, verified: false }, 'sotto1a');
    assert.match(unverified.at(-1)!, /sotto verify sotto1a --confirm$/);

    const status = statusLines(
      {
        peers: 2,
        routingTable: 3,
        outbox: 1,
        oneTimePrekeys: { available: 20, claimed: 0, claimsServed: 4 },
        startedAt: 0,
        uptimeMs: 3_723_000,
        version: '0.1.0',
      },
      'http://127.0.0.1:7373',
    );
    assert.ok(status.some((l) => /^uptime\s+1h 02m 03s/.test(l)));
    assert.ok(status.some((l) => /^routing table\s+3 peers$/.test(l)));
    assert.ok(!status.some((l) => l.startsWith('mailbox')), 'no mailbox line when the node is not one');
    const mailboxStatus = statusLines(
      {
        peers: 0,
        routingTable: 0,
        outbox: 0,
        oneTimePrekeys: { available: 0, claimed: 0, claimsServed: 0 },
        mailbox: { held: 3, bytes: 3 * 1024 * 1024 },
        startedAt: 0,
        uptimeMs: 0,
        version: '0.1.0',
      },
      'http://127.0.0.1:7373',
    );
    assert.ok(
      mailboxStatus.some((l) => /^mailbox\s+holding 3 envelopes \(3\.0 MiB\) for others$/.test(l)),
      mailboxStatus.join('\n'),
    );
    assert.deepEqual(peersLines([]), ['no connected peers']);
    assert.deepEqual(peersLines([{ peerId: 'P', addresses: ['/ip4/127.0.0.1/tcp/1'] }]), [
      '1 connected peer',
      'P',
      '  /ip4/127.0.0.1/tcp/1',
    ]);
    assert.match(contactsTable([])[0]!, /^no contacts yet/);
    const rows = contactsTable([
      {
        name: 'evil\u001b]0;x\u0007',
        address: 'sotto1a',
        identityKey: '00',
        verified: true,
        addedAt: 0,
        previousKeys: [],
      },
    ]);
    assert.match(rows[0]!, /^NAME\s+VERIFIED\s+ADDRESS\s+ADDED$/);
    assert.doesNotMatch(rows[1]!, ESC);
    assert.equal(sendLine({ id: 'abc', to: 'x', state: 'delivered' }), 'abc delivered');
    assert.equal(sendLine({ id: 'abc', to: 'x', state: 'queued' }), 'abc queued (will retry)');
    assert.equal(sendLine({ id: 'abc', to: 'x', state: 'stored-at-mailbox' }), 'abc stored at a mailbox');
    assert.deepEqual(mailboxLines([]), ['no mailboxes (add one with: sotto mailbox add <peer-id>)']);
    assert.deepEqual(mailboxLines(['P1', 'P2']), ['2 mailboxes (senders try them in this order)', '  P1', '  P2']);
    assert.equal(
      fetchLine({ fetched: 0, mailboxes: 0 }),
      'no mailboxes to fetch from (add one with: sotto mailbox add <peer-id>)',
    );
    assert.equal(fetchLine({ fetched: 1, mailboxes: 1 }), 'fetched 1 new message from 1 mailbox');
    assert.equal(fetchLine({ fetched: 5, mailboxes: 2 }), 'fetched 5 new messages from 2 mailboxes');
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(1023), '1023 B');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(64 * 1024 * 1024), '64.0 MiB');
    assert.equal(formatBytes(1024 ** 3), '1.0 GiB');
    assert.equal(parseMessageId(` ${'AB'.repeat(16)}\n`), 'ab'.repeat(16));
    assert.throws(
      () => parseMessageId('xyz\u001b[2J'),
      (err: unknown) => err instanceof CliError && err.exitCode === EXIT.USAGE && !ESC.test(err.message),
    );
    assert.throws(() => parseMessageId('ab'.repeat(15)), CliError);
    assert.deepEqual(flatten({ a: { b: 1, c: [1, 2] }, d: 'x' }), [
      ['a.b', 1],
      ['a.c', [1, 2]],
      ['d', 'x'],
    ]);
  });
});

describe('API discovery and client', () => {
  it('the data dir agrees with src/config for ordinary and unusual inputs', () => {
    const cases: { dataDir?: string; env: Record<string, string>; homedir: string }[] = [
      { dataDir: '/abs/dir', env: {}, homedir: '/home/u' },
      { dataDir: 'rel/dir', env: {}, homedir: '/home/u' },
      { dataDir: '~/x', env: {}, homedir: '/home/u' },
      { dataDir: '~', env: {}, homedir: '/home/u' },
      { dataDir: '/a/../b/', env: { SOTTO_HOME: '/ignored' }, homedir: '/home/u' },
      { env: { SOTTO_HOME: '/env/home' }, homedir: '/home/u' },
      { env: { SOTTO_HOME: 'relative' }, homedir: '/home/u' },
      { env: { XDG_DATA_HOME: '/xdg' }, homedir: '/home/u' },
      { env: { XDG_DATA_HOME: 'relative-xdg' }, homedir: '/home/u' },
      { env: { XDG_DATA_HOME: '' }, homedir: '/home/u' },
      { env: {}, homedir: '/home/u' },
    ];
    for (const c of cases) {
      const expected = resolveDataDir({
        flags: c.dataDir === undefined ? {} : { dataDir: c.dataDir },
        env: c.env,
        homedir: c.homedir,
        cwd: '/work',
      }).dataDir;
      assert.equal(quickDataDir({ ...c, cwd: '/work' }), expected, JSON.stringify(c));
    }
    // the unusual ones are left to src/config (which reports the error)
    assert.equal(quickDataDir({ dataDir: '', env: {}, homedir: '/home/u', cwd: '/work' }), undefined);
    assert.equal(quickDataDir({ env: {}, homedir: '', cwd: '/work' }), undefined);
    assert.equal(quickDataDir({ dataDir: '~/x', env: {}, homedir: '', cwd: '/work' }), undefined);
  });

  it('daemon.json is the file the daemon writes', async () => {
    const { DAEMON_FILE } = await import('../../src/daemon/daemon.js');
    assert.equal(DAEMON_INFO_FILE, DAEMON_FILE);
  });

  it('order: --api-url > SOTTO_API_URL > daemon.json > configured host/port', async () => {
    const dir = await tempDir();
    const configured = async () => ({ host: '0.0.0.0', port: 7373 });
    const input = { dataDir: dir, env: {}, configured };
    assert.deepEqual(await discoverApi(input), { baseUrl: 'http://127.0.0.1:7373', source: 'config' });
    await writeFile(join(dir, DAEMON_INFO_FILE), JSON.stringify({ api: 'http://127.0.0.1:4000' }));
    assert.deepEqual(await discoverApi(input), { baseUrl: 'http://127.0.0.1:4000', source: 'daemon.json' });
    assert.deepEqual(await discoverApi({ ...input, env: { SOTTO_API_URL: 'http://127.0.0.1:5000/' } }), {
      baseUrl: 'http://127.0.0.1:5000',
      source: 'env',
    });
    assert.deepEqual(
      await discoverApi({ ...input, apiUrl: 'http://[::1]:6000', env: { SOTTO_API_URL: 'http://127.0.0.1:5000' } }),
      { baseUrl: 'http://[::1]:6000', source: 'flag' },
    );
    assert.equal(apiUrlFor('::', 1), 'http://[::1]:1');
    assert.equal(apiUrlFor('::1', 1), 'http://[::1]:1');
    assert.throws(() => parseApiUrl('http://u:p@x', '--api-url'), CliError);
    assert.throws(() => parseApiUrl('not a url', '--api-url'), CliError);
  });

  it('the client turns API error bodies into ApiCallError, and foreign answers into BAD_RESPONSE', async () => {
    const server = createServer((req, res) => {
      if (req.headers.authorization !== 'Bearer t') {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'UNAUTHORIZED', message: 'a valid bearer token is required' } }));
      } else if (req.url === '/v1/contacts/bob') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'UNKNOWN_CONTACT', message: 'unknown contact "bob"' } }));
      } else if (req.url === '/gone') {
        res.writeHead(204);
        res.end();
      } else if (req.url === '/ok') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      } else if (req.url === '/echo') {
        let text = '';
        req.setEncoding('utf8');
        req.on('data', (chunk: string) => {
          text += chunk;
        });
        req.on('end', () => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ method: req.method, type: req.headers['content-type'], got: JSON.parse(text) }));
        });
      } else if (req.url === '/moved') {
        res.writeHead(302, { location: '/ok' });
        res.end();
      } else if (req.url === '/silent') {
        // never answers: the client's timeout ends it
      } else {
        res.writeHead(404, { 'content-type': 'text/html' });
        res.end('<html>not here</html>');
      }
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const client = new ApiClient(url, 't', 'no daemon');
    // node:http, not the global fetch (whose WebAssembly parser held every command's exit ≈ 200 ms)
    const realFetch = globalThis.fetch;
    globalThis.fetch = () => Promise.reject(new Error('the CLI client must not use fetch'));
    try {
      assert.deepEqual(await client.get('/ok'), { ok: true });
    } finally {
      globalThis.fetch = realFetch;
    }
    assert.deepEqual(await client.request('POST', '/echo', { body: { text: 'hé ✓' } }), {
      status: 200,
      body: { method: 'POST', type: 'application/json', got: { text: 'hé ✓' } },
    });
    await assert.rejects(
      client.get('/moved'),
      (err: unknown) => err instanceof ApiCallError && err.code === 'BAD_RESPONSE' && err.status === 302,
      'a redirect is not followed',
    );
    await assert.rejects(client.get('/silent', { timeoutMs: 300 }), (err: unknown) => {
      assert.ok(err instanceof ApiUnreachableError, String(err));
      assert.match(err.message, /did not answer within/);
      return true;
    });
    assert.deepEqual(await client.request('DELETE', '/gone'), { status: 204, body: undefined });
    await assert.rejects(client.get('/v1/contacts/bob'), (err: unknown) => {
      assert.ok(err instanceof ApiCallError);
      assert.equal(err.status, 404);
      assert.equal(err.code, 'UNKNOWN_CONTACT');
      assert.equal(describeError(err).exitCode, EXIT.NOT_FOUND);
      return true;
    });
    await assert.rejects(
      client.get('/elsewhere'),
      (err: unknown) => err instanceof ApiCallError && err.code === 'BAD_RESPONSE',
    );
    await assert.rejects(new ApiClient(url, 'wrong', 'x').get('/ok'), (err: unknown) => {
      assert.ok(err instanceof ApiCallError);
      assert.equal(err.code, 'UNAUTHORIZED');
      return true;
    });
    await assert.rejects(new ApiClient(url, 'wrong', 'x').events(), (err: unknown) => {
      assert.ok(err instanceof ApiCallError, String(err));
      assert.equal(err.code, 'UNAUTHORIZED');
      return true;
    });
    server.close();
    await assert.rejects(
      client.get('/ok'),
      (err: unknown) => err instanceof ApiUnreachableError && err.message === 'no daemon',
    );
  });
});

describe('mailbox and retry against an API (in-memory node)', () => {
  const node = new FakeNode();
  const saves: string[][] = [];
  let saveResult: MailboxesSaved = { saved: true };
  let dir: string;
  let app: Awaited<ReturnType<typeof createApiServer>>;
  const run = (...args: string[]) => runInProcess([...args, '--data-dir', dir]);

  /** One line on stderr, `sotto: …`, and nothing on stdout. */
  const failure = (r: { code: number; stdout: string; stderr: string }, code: number, line: string) => {
    assert.equal(r.code, code, r.stderr);
    assert.equal(r.stderr, `sotto: ${line}\n`);
    assert.equal(r.stdout, '');
  };

  after(async () => {
    await app?.close();
  });

  it('starts an API for the commands to find (daemon.json and api-token in the data dir)', async () => {
    dir = await tempDir();
    const token = randomBytes(32).toString('base64url');
    app = await createApiServer({
      node,
      token,
      startedAt: Date.now(),
      ready: () => ({ ready: true }),
      saveMailboxes: async (peers) => {
        saves.push([...peers]);
        return saveResult;
      },
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    await writeFile(join(dir, 'api-token'), `${token}\n`, { mode: 0o600 });
    await writeFile(join(dir, DAEMON_INFO_FILE), JSON.stringify({ api: `http://127.0.0.1:${port}` }));
    const r = await run('mailbox');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'no mailboxes (add one with: sotto mailbox add <peer-id>)\n');
  });

  it('mailbox add: appends, canonical; again is a no-op; a bad peer id is a usage error', async () => {
    const [p1, p2] = [await randomPeerId(), await randomPeerId()];
    let r = await run('mailbox', 'add', p1);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `added mailbox ${p1} (1 in all); your identity record is republished\n`);
    assert.equal(r.stderr, '');
    const { peerIdFromString } = await import('@libp2p/peer-id');
    r = await run('mailbox', 'add', peerIdFromString(p2).toCID().toString(), '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { peers: [p1, p2], saved: true, added: true });
    assert.deepEqual(node.mailboxList, [p1, p2]);
    assert.deepEqual(saves.at(-1), [p1, p2]);
    const count = saves.length;
    r = await run('mailbox', 'add', p1);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `${p1} is already one of your mailboxes\n`);
    assert.equal(saves.length, count, 'nothing saved');
    failure(
      await run('mailbox', 'add', 'QmNope\u001b[2J'),
      EXIT.USAGE,
      'not a libp2p peer id: "QmNope\\u{1b}[2J" (a mailbox is named by its node\'s peer id, 12D3KooW… (sotto id on that node))',
    );
    const list = await run('mailbox', 'list', '--json');
    assert.deepEqual(JSON.parse(list.stdout), { peers: [p1, p2] });
    const human = await run('mailbox', 'ls');
    assert.equal(human.stdout, `2 mailboxes (senders try them in this order)\n  ${p1}\n  ${p2}\n`);
  });

  it('mailbox add: a note on stderr when the daemon cannot save the list; a full list is a conflict', async () => {
    saveResult = { saved: false, reason: 'SOTTO_MAILBOXES sets the mailboxes at every start' };
    try {
      const r = await run('mailbox', 'add', await randomPeerId());
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^added mailbox 12D3KooW\w+ \(3 in all\)/);
      assert.equal(
        r.stderr,
        'sotto: note: not saved to config.json: SOTTO_MAILBOXES sets the mailboxes at every start\n',
      );
      const json = await run('mailbox', 'add', await randomPeerId(), '--json');
      assert.equal(json.stderr, '', 'no note with --json: the result says it');
      assert.equal(JSON.parse(json.stdout).saved, false);
    } finally {
      saveResult = { saved: true };
    }
    while (node.mailboxList.length < MAX_MAILBOXES) {
      assert.equal((await run('mailbox', 'add', await randomPeerId())).code, 0);
    }
    failure(
      await run('mailbox', 'add', await randomPeerId()),
      EXIT.CONFLICT,
      'you have 8 mailboxes, the most an identity lists (remove one first: sotto mailbox remove <peer-id>)',
    );
  });

  it('mailbox remove: by peer id; one that is not a mailbox is not found (exit 4)', async () => {
    const [first, second] = node.mailboxList as [string, string];
    let r = await run('mailbox', 'remove', first);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `removed mailbox ${first} (7 left); your identity record is republished\n`);
    r = await run('mailbox', 'rm', second, '--json');
    assert.deepEqual(JSON.parse(r.stdout).removed, second);
    assert.equal(node.mailboxList.length, 6);
    assert.ok(!node.mailboxList.includes(first) && !node.mailboxList.includes(second));
    failure(
      await run('mailbox', 'remove', first),
      EXIT.NOT_FOUND,
      `${first} is not one of your mailboxes (see sotto mailbox list)`,
    );
    failure(
      await run('mailbox', 'remove', 'nope'),
      EXIT.USAGE,
      `not a libp2p peer id: "nope" (a mailbox is named by its node's peer id, 12D3KooW… (sotto id on that node))`,
    );
  });

  it('mailbox fetch: how many messages from how many mailboxes', async () => {
    node.fetchCount = 2;
    let r = await run('mailbox', 'fetch');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'fetched 2 new messages from 6 mailboxes\n');
    r = await run('mailbox', 'fetch', '--json');
    assert.deepEqual(JSON.parse(r.stdout), { fetched: 2, mailboxes: 6 });
  });

  it('retry: a failed message is queued (exit 0); otherwise not found (4) or a usage error (2)', async () => {
    const failed = node.outgoing(randomAddress(), 'lost', 'failed');
    let r = await run('retry', failed.id.toUpperCase());
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${failed.id} queued (will retry)\n`);
    assert.equal(node.messages.find((m) => m.id === failed.id)?.state, 'queued');
    const again = node.outgoing(randomAddress(), 'lost again', 'failed');
    r = await run('retry', again.id, '--json');
    assert.deepEqual(JSON.parse(r.stdout), { id: again.id, state: 'queued' });
    failure(
      await run('retry', failed.id),
      EXIT.NOT_FOUND,
      `no failed outgoing message with id ${failed.id} ` +
        '(only a failed outgoing message can be retried; sotto chat <contact> shows the state of each)',
    );
    failure(
      await run('retry', 'xyz'),
      EXIT.USAGE,
      'not a message id: "xyz" (a message id is 32 hex characters, as sotto send and sotto chat print it)',
    );
  });

  it('status shows what the node holds as a mailbox', async () => {
    node.statusValue = { ...node.statusValue, mailbox: { held: 12, bytes: 2048 } };
    const r = await run('status');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^mailbox +holding 12 envelopes \(2\.0 KiB\) for others$/m);
    const json = JSON.parse((await run('status', '--json')).stdout);
    assert.deepEqual(json.mailbox, { held: 12, bytes: 2048 });
  });
});
