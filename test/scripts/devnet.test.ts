/**
 * scripts/devnet.ts. In process: the options (help, every kind of bad argument: one line, exit 2),
 * node names, the loopback-only `sotto start` arguments and the generated prometheus.yml. As a child
 * process: a bad argument (exit 2), a 3-node devnet with --demo that runs until SIGINT (the table
 * lists 3 nodes, the demo's messages arrive, SIGINT leaves no node process and no temporary folder),
 * and --dir reuse with --exit --json (the same identity comes back; with --prometheus, which must
 * scrape the node when a prometheus binary is on PATH). Every wait is bounded; every process the
 * devnet reported is killed by PID in `after` if it is still there.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { nodeName } from '../../scripts/devnet/devnet.js';
import { nodeEnv, startArgs } from '../../scripts/devnet/node-process.js';
import { parseOptions } from '../../scripts/devnet/options.js';
import { findOnPath, prometheusConfig } from '../../scripts/devnet/prometheus.js';
import { cleanEnv, collect, exited, ROOT, waitFor } from '../cli/helpers.js';

const SCRIPT = 'scripts/devnet.ts';

/** Every devnet started here, and every PID it reported: killed in `after` if still running. */
const devnets = new Set<ChildProcess>();
const reportedPids = new Set<number>();
const folders = new Set<string>();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

function devnet(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, ...args], {
    cwd: ROOT,
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  devnets.add(child);
  const out = collect(child.stdout);
  const err = collect(child.stderr);
  return { child, out: out.text, err: err.text };
}

async function run(args: string[], timeoutMs = 20_000) {
  const d = devnet(args);
  const { code } = await exited(d.child, timeoutMs);
  return { code, stdout: d.out(), stderr: d.err() };
}

/** The rows under the table's header (up to the first empty line), split on runs of spaces. */
function tableRows(stdout: string): string[][] {
  const lines = stdout.split('\n');
  const header = lines.findIndex((l) => /^NAME\s+ADDRESS\s+PEER ID\s+API\s+PID$/.test(l));
  assert.notEqual(header, -1, `no table header in:\n${stdout}`);
  const rows: string[][] = [];
  for (const line of lines.slice(header + 1)) {
    if (line.trim() === '') break;
    rows.push(line.trim().split(/\s+/));
  }
  return rows;
}

function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

after(async () => {
  for (const child of devnets) if (child.exitCode === null && child.pid !== undefined) kill(child.pid);
  for (const pid of reportedPids) if (isAlive(pid)) kill(pid);
  await Promise.allSettled([...folders].map((f) => rm(f, { recursive: true, force: true })));
});

/** parseOptions with captured output. */
function parse(args: string[]) {
  let out = '';
  let err = '';
  const result = parseOptions(args, { out: (t) => (out += t), err: (t) => (err += t) });
  return { result, out, err };
}

describe('devnet options', () => {
  it('--help prints the usage and every option (exit 0)', () => {
    const { result, out } = parse(['--help']);
    assert.deepEqual(result, { exitCode: 0 });
    assert.match(out, /^Usage: devnet /);
    for (const flag of ['--nodes', '--dir', '--demo', '--exit', '--prometheus', '--json', '--timeout']) {
      assert.ok(out.includes(flag), `--help mentions ${flag}`);
    }
  });

  it('refuses bad values, unknown options and arguments: one line, exit 2', () => {
    const cases: [string[], RegExp][] = [
      [
        ['--nodes', '0'],
        /^devnet: option '-n, --nodes <n>' argument '0' is invalid\. expected an integer 1\.\.50, got "0"/,
      ],
      [['--nodes', '51'], /argument '51' is invalid\. expected an integer 1\.\.50/],
      [['-n', '2.5'], /argument '2\.5' is invalid/],
      [['--nodes', 'x'], /argument 'x' is invalid/],
      [['--timeout', '0'], /^devnet: option '--timeout <seconds>' argument '0' is invalid/],
      [['--prometheus-port', '70000'], /expected an integer 0\.\.65535/],
      [['--log-level', 'loud'], /expected one of error, warn, info, debug, silent/],
      [['--dir', ''], /^devnet: option --dir: expected a path/],
      [['--frob'], /^devnet: unknown option '--frob' \(see --help\)\n$/],
      [['now'], /^devnet: too many arguments/],
    ];
    for (const [args, message] of cases) {
      const { result, out, err } = parse(args);
      assert.deepEqual(result, { exitCode: 2 }, args.join(' '));
      assert.equal(out, '');
      assert.match(err, message);
      assert.equal(err.split('\n').filter((l) => l !== '').length, 1, err);
    }
  });

  it('defaults: 3 nodes, a temporary folder, 60 s waits', () => {
    assert.deepEqual(parse([]).result, {
      run: {
        nodes: 3,
        dir: undefined,
        demo: false,
        exit: false,
        prometheus: false,
        prometheusPort: 0,
        json: false,
        logLevel: 'info',
        timeoutMs: 60_000,
      },
    });
    const { result } = parse(['-n', '50', '--dir', 'x', '--demo', '--exit', '--json', '--timeout', '5']);
    assert.ok('run' in result);
    assert.equal(result.run.nodes, 50);
    assert.equal(result.run.timeoutMs, 5_000);
  });
});

describe('devnet helpers', () => {
  it('names the nodes alice, bob, carol, … and numbers them past the 26th', () => {
    assert.deepEqual([0, 1, 2, 3, 4].map(nodeName), ['alice', 'bob', 'carol', 'dave', 'erin']);
    assert.equal(nodeName(25), 'zoe');
    assert.equal(nodeName(26), 'alice2');
    assert.equal(new Set(Array.from({ length: 50 }, (_, i) => nodeName(i))).size, 50);
  });

  it('starts every node on 127.0.0.1 only, API included', () => {
    const args = startArgs({
      index: 2,
      name: 'bob',
      dataDir: '/d/bob',
      logFile: '/d/bob.log',
      logLevel: 'info',
      bootstrap: '/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWx',
    });
    const values = (flag: string) => args.flatMap((a, i) => (a === flag ? [args[i + 1]!] : []));
    assert.deepEqual(values('--listen'), ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws']);
    assert.deepEqual(values('--api-host'), ['127.0.0.1']);
    assert.deepEqual(values('--bootstrap'), ['/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWx']);
    assert.ok(args.includes('--no-api-allow-remote'));
    assert.deepEqual(Object.keys(nodeEnv({ SOTTO_BOOTSTRAP: '/ip4/127.0.0.1/tcp/1', PATH: '/bin' })), ['PATH']);
  });

  it('writes a prometheus.yml that scrapes each node on 127.0.0.1 with its token file', () => {
    const yml = prometheusConfig([
      { name: 'alice', api: 'http://127.0.0.1:7373', tokenFile: '/d/alice/api-token' },
      { name: 'bob', api: 'http://127.0.0.1:7374', tokenFile: '/d/bob/api-token' },
    ]);
    assert.match(yml, /- job_name: "sotto-alice"\n(.*\n)*? {6}credentials_file: "\/d\/alice\/api-token"\n/);
    assert.match(yml, /- targets: \["127\.0\.0\.1:7374"\]\n {8}labels:\n {10}node: "bob"\n/);
    assert.equal(yml.match(/job_name/g)?.length, 2);
    assert.throws(
      () => prometheusConfig([{ name: 'x', api: 'http://10.0.0.1:7373', tokenFile: '/t' }]),
      /not on 127\.0\.0\.1/,
    );
  });
});

describe('scripts/devnet.ts', { timeout: 120_000, concurrency: true }, () => {
  it('refuses a bad argument with one line on stderr and exit code 2 (the real process)', async () => {
    const r = await run(['--nodes', '0']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.equal(
      r.stderr,
      `devnet: option '-n, --nodes <n>' argument '0' is invalid. expected an integer 1..50, got "0" (see --help)\n`,
    );
  });

  it('--nodes 3 --demo: table of 3 nodes, messages arrive, SIGINT stops every node', async () => {
    const d = devnet(['--nodes', '3', '--demo']);
    await waitFor(
      () => d.out().includes('\nrunning: ') || d.child.exitCode !== null,
      'the devnet to be running after the demo',
      60_000,
    );
    const stdout = d.out();
    assert.equal(d.child.exitCode, null, `the devnet exited early:\n${stdout}\n${d.err()}`);

    const rows = tableRows(stdout);
    for (const row of rows) reportedPids.add(Number(row.at(-1)));
    assert.deepEqual(
      rows.map((r) => r[0]),
      ['alice', 'bob', 'carol'],
    );
    for (const [, address, peerId, api, pid] of rows) {
      assert.match(address!, /^sotto1[02-9ac-hj-np-z]+$/);
      assert.match(peerId!, /^12D3KooW\w+$/);
      assert.match(api!, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.match(pid!, /^\d+$/);
      assert.ok(isAlive(Number(pid)), `node ${pid} runs`);
    }
    assert.equal(new Set(rows.map((r) => r[1])).size, 3, 'three identities');
    const folder = /^folder\s+(\S+) \(temporary\)$/m.exec(stdout)?.[1];
    assert.ok(folder !== undefined && existsSync(folder), 'the temporary folder is named and exists');
    folders.add(folder);
    assert.match(stdout, /^bootstrap\s+\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3KooW\w+$/m);

    // progress while it started
    assert.match(stdout, /^starting 1\/3 alice \(bootstrap\) …$/m);
    assert.match(stdout, /^starting 3\/3 carol …$/m);
    assert.match(stdout, /^contacts 3\/3$/m);
    // the demo: each node to the next, every message shown arriving
    for (const line of ['bob ← alice: hi bob', 'carol ← bob: hi carol', 'alice ← carol: hi alice']) {
      assert.ok(stdout.split('\n').includes(line), `"${line}" in:\n${stdout}`);
    }
    assert.match(stdout, /^demo: 3\/3 messages arrived in \d+\.\d s$/m);

    d.child.kill('SIGINT');
    const { code } = await exited(d.child, 30_000);
    assert.equal(code, 0, d.err());
    assert.match(d.out(), /^SIGINT: stopping 3 processes …$/m);
    assert.match(d.out(), /^stopped 3 processes in \d+\.\d s$/m);
    assert.equal(d.err(), '');
    for (const [name, , , , pid] of rows) assert.equal(isAlive(Number(pid)), false, `${name} (pid ${pid}) is gone`);
    assert.equal(existsSync(folder), false, 'the temporary folder is removed');
  });

  it('--dir is kept and a second run reuses the identity (--exit --json; --prometheus when on PATH)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sotto-devnet-test-'));
    folders.add(dir);
    const prometheus = await findOnPath('prometheus');
    const runs = [];
    for (let i = 0; i < 2; i++) {
      const args = ['--nodes', '1', '--dir', dir, '--exit', '--json', '--demo', ...(i === 1 ? ['--prometheus'] : [])];
      const r = await run(args, 60_000);
      const events = jsonLines(r.stdout);
      const nodes = events.filter((e) => e.event === 'node');
      for (const n of nodes) reportedPids.add(n.pid as number);
      const prom = events.find((e) => e.event === 'prometheus');
      if (typeof prom?.pid === 'number') reportedPids.add(prom.pid);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(nodes.length, 1);
      assert.ok(events.some((e) => e.event === 'progress' && e.text === 'demo: needs at least 2 nodes: skipped'));
      assert.deepEqual(events.at(-1), { ...events.at(-1), event: 'stopped', nodes: 1, killed: 0 });
      assert.equal(isAlive(nodes[0]!.pid as number), false, 'the node is gone');
      if (i === 1 && prometheus === undefined) assert.deepEqual(prom, { event: 'prometheus', skipped: 'not found' });
      if (i === 1 && prometheus !== undefined) {
        // It scraped the node (up == 1), listened on 127.0.0.1 only, and stopped with it.
        assert.equal(prom?.up, 1, JSON.stringify(prom));
        assert.equal(prom?.targets, 1);
        assert.match(String(prom?.url), /^http:\/\/127\.0\.0\.1:\d+$/);
        assert.equal(isAlive(prom?.pid as number), false, 'prometheus is gone');
      }
      runs.push(nodes[0]!);
    }
    assert.equal(runs[0]!.created, true);
    assert.equal(runs[1]!.created, false);
    assert.equal(runs[1]!.address, runs[0]!.address, 'the same identity');
    assert.equal(runs[1]!.dataDir, join(dir, 'alice'));
    assert.ok(existsSync(join(dir, 'alice', 'api-token')) && existsSync(join(dir, 'alice.log')), 'the folder is kept');
  });
});
