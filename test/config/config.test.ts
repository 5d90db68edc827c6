/**
 * The daemon config: defaults, each source and its precedence (field by field), validation with
 * errors naming source and field, unknown keys/variables/flags, the loopback-only API rule, the
 * mailbox settings, reading the file and saving the mailbox list into it (temp dirs under
 * os.tmpdir()).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

/** The unprivileged user a root test run drops to (Debian's nobody). */
const NOBODY = 65534;

import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromString } from '@libp2p/peer-id';
import {
  CONFIG_FILE_NAME,
  CONTACT_REQUEST_POLICIES,
  ConfigError,
  type ConfigFlags,
  type ConfigProblem,
  type ConfigSource,
  configToJson,
  DAY_MS,
  type DaemonConfig,
  DEFAULT_API_HOST,
  DEFAULT_API_PORT,
  DEFAULT_FAIL_AFTER_DAYS,
  DEFAULT_MAILBOX,
  ENV_ALLOW_LIST,
  ENV_VARS,
  flagName,
  isLoopbackHost,
  loadConfig,
  MAX_CONFIG_FILE_BYTES,
  MAX_DAYS,
  MAX_MAILBOX_ENVELOPE_BYTES,
  MAX_MAILBOX_ENVELOPES_PER_IDENTITY,
  MAX_METRICS_TOKEN_FILE_BYTES,
  MAX_OWN_MAILBOXES,
  MIN_METRICS_TOKEN_CHARS,
  nodeMailboxOptions,
  type ResolveConfigInput,
  readConfigFile,
  readMetricsToken,
  redactedConfig,
  resolveConfig,
  SETTINGS,
  saveMailboxes,
  splitListen,
  updateConfigFile,
} from '../../src/config/index.js';
import { encodeAddress } from '../../src/identity/address.js';
import {
  DEFAULT_LIMITS,
  DEFAULT_LISTEN,
  DEFAULT_RELAY,
  MAX_RELAY_DURATION_MS,
  MIN_RELAY_DATA_BYTES,
  MIN_RELAY_DURATION_MS,
  parseNetConfig,
} from '../../src/net/index.js';

const peerId = (await generateKeyPair('Ed25519')).publicKey.toString();
const newPeerId = async () => (await generateKeyPair('Ed25519')).publicKey.toString();
const [P1, P2, P3] = [await newPeerId(), await newPeerId(), await newPeerId()];
/** One more than a record lists. */
const NINE_PEERS = await Promise.all(Array.from({ length: 9 }, () => newPeerId()));
const newAddress = () => encodeAddress(randomBytes(32));
const [A1, A2, A3] = [newAddress(), newAddress(), newAddress()];
/** The address with one character changed: the checksum catches it. */
const mistype = (address: string) => `${address.slice(0, 20)}${address[20] === 'q' ? 'p' : 'q'}${address.slice(21)}`;
const BOOT = `/ip4/127.0.0.1/tcp/4001/p2p/${peerId}`;
const PUBLIC_BOOT = `/dns4/friend.example.org/tcp/4001/p2p/${peerId}`;
const HOME = '/home/tester';
const DATA = '/srv/sotto';
const FILE = join(DATA, CONFIG_FILE_NAME);

/** resolveConfig with a fixed home and data dir unless the input says otherwise. */
function resolve(input: ResolveConfigInput = {}) {
  return resolveConfig({ homedir: HOME, ...input, flags: { dataDir: DATA, ...input.flags } });
}

interface Expected {
  source: ConfigSource;
  field: string;
  problem: ConfigProblem;
  message?: string | RegExp;
  code?: string;
}

function check(err: unknown, want: Expected): true {
  assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
  assert.equal(err.name, 'ConfigError');
  assert.equal(err.code, want.code ?? 'CONFIG_INVALID');
  assert.equal(err.source, want.source, err.message);
  assert.equal(err.field, want.field, err.message);
  assert.equal(err.problem, want.problem, err.message);
  assert.ok(!err.message.includes('\n'), 'one-line message');
  if (typeof want.message === 'string') assert.equal(err.message, want.message);
  else if (want.message !== undefined) assert.match(err.message, want.message);
  return true;
}

function rejects(input: ResolveConfigInput, want: Expected): void {
  assert.throws(
    () => resolve(input),
    (err: unknown) => check(err, want),
  );
}

describe('defaults', () => {
  it('are loopback-only and complete', () => {
    const { config, sources, file } = resolveConfig({ homedir: HOME });
    assert.equal(config.dataDir, '/home/tester/.local/share/sotto');
    assert.deepEqual(config.net, parseNetConfig(undefined));
    assert.deepEqual(config.net.listen, DEFAULT_LISTEN);
    assert.deepEqual(config.net.limits, DEFAULT_LIMITS);
    assert.deepEqual(config.api, { host: DEFAULT_API_HOST, port: DEFAULT_API_PORT, allowRemote: false });
    assert.equal(config.api.host, '127.0.0.1');
    assert.equal(config.api.port, 7373);
    assert.deepEqual(config.log, { level: 'info', format: 'json' });
    assert.deepEqual(config.mailbox, DEFAULT_MAILBOX);
    assert.equal(config.mailbox.enabled, false, 'the mailbox role is off unless asked for');
    assert.equal(config.mailbox.policy, 'allow-list');
    assert.deepEqual(config.mailboxes, []);
    assert.equal(config.failAfterDays, 7);
    assert.deepEqual(config.contacts, { requests: 'ask' }, "strangers' first messages are held as requests");
    assert.ok(Object.isFrozen(config.contacts));
    assert.ok(Object.isFrozen(config.mailbox) && Object.isFrozen(config.mailbox.allow));
    assert.ok(Object.isFrozen(config.mailboxes));
    assert.deepEqual(file, { path: '/home/tester/.local/share/sotto/config.json', present: false });
    for (const [field, source] of Object.entries(sources)) assert.equal(source, 'default', field);
    assert.equal(Object.keys(sources).length, SETTINGS.length + 1);
    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.api) && Object.isFrozen(config.log));
    assert.ok(Object.isFrozen(sources));
  });

  it('log format is pretty on a terminal, json otherwise', () => {
    assert.equal(resolve({ isTty: true }).config.log.format, 'pretty');
    assert.equal(resolve({ isTty: false }).config.log.format, 'json');
    assert.equal(resolve({ isTty: true, env: { SOTTO_LOG_FORMAT: 'json' } }).config.log.format, 'json');
  });
});

describe('data dir', () => {
  it('--data-dir > SOTTO_HOME > $XDG_DATA_HOME/sotto > ~/.local/share/sotto', () => {
    const env = { SOTTO_HOME: '/env/home', XDG_DATA_HOME: '/xdg' };
    let r = resolveConfig({ homedir: HOME, env, flags: { dataDir: '/flag/dir' } });
    assert.equal(r.config.dataDir, '/flag/dir');
    assert.equal(r.sources.dataDir, 'flag');
    assert.equal(r.file.path, '/flag/dir/config.json');
    r = resolveConfig({ homedir: HOME, env });
    assert.equal(r.config.dataDir, '/env/home');
    assert.equal(r.sources.dataDir, 'env');
    r = resolveConfig({ homedir: HOME, env: { XDG_DATA_HOME: '/xdg' } });
    assert.equal(r.config.dataDir, '/xdg/sotto');
    assert.equal(r.sources.dataDir, 'default');
    // A relative XDG_DATA_HOME is ignored (XDG spec), so is an empty one.
    assert.equal(
      resolveConfig({ homedir: HOME, env: { XDG_DATA_HOME: 'rel' } }).config.dataDir,
      `${HOME}/.local/share/sotto`,
    );
    assert.equal(
      resolveConfig({ homedir: HOME, env: { XDG_DATA_HOME: '' } }).config.dataDir,
      `${HOME}/.local/share/sotto`,
    );
  });

  it('normalises, expands ~/ and resolves relative paths against cwd', () => {
    assert.equal(resolveConfig({ flags: { dataDir: '/a/b/../c/' } }).config.dataDir, '/a/c');
    assert.equal(resolveConfig({ homedir: HOME, env: { SOTTO_HOME: '~/node1' } }).config.dataDir, `${HOME}/node1`);
    assert.equal(resolveConfig({ cwd: '/work', flags: { dataDir: 'devnet/n1' } }).config.dataDir, '/work/devnet/n1');
  });

  it('rejects bad data dirs', () => {
    const bad = (input: ResolveConfigInput, want: Expected) =>
      assert.throws(
        () => resolveConfig(input),
        (err: unknown) => check(err, want),
      );
    bad({ flags: { dataDir: 'relative' } }, { source: 'flag', field: '--data-dir', problem: 'NOT_ABSOLUTE' });
    bad({ env: { SOTTO_HOME: 'relative' } }, { source: 'env', field: 'SOTTO_HOME', problem: 'NOT_ABSOLUTE' });
    bad({ env: { SOTTO_HOME: '' } }, { source: 'env', field: 'SOTTO_HOME', problem: 'EMPTY' });
    bad({ env: { SOTTO_HOME: '~/x' } }, { source: 'env', field: 'SOTTO_HOME', problem: 'NOT_ABSOLUTE' });
    bad({ flags: { dataDir: '/a\0b' } }, { source: 'flag', field: '--data-dir', problem: 'BAD_VALUE' });
    bad(
      { flags: { dataDir: `/${'a'.repeat(5000)}` } },
      { source: 'flag', field: '--data-dir', problem: 'OUT_OF_RANGE' },
    );
    bad(
      { flags: { dataDir: 42 as unknown as string } },
      { source: 'flag', field: '--data-dir', problem: 'WRONG_TYPE' },
    );
    bad(
      {},
      { source: 'default', field: 'dataDir', problem: 'NO_DATA_DIR', message: /set SOTTO_HOME or pass --data-dir/ },
    );
  });

  it('cannot be set in the config file inside it', () => {
    rejects(
      { file: { dataDir: '/elsewhere' } },
      { source: 'file', field: 'dataDir', problem: 'NOT_ALLOWED_HERE', message: /--data-dir or SOTTO_HOME/ },
    );
  });
});

describe('precedence', () => {
  it('each source overrides the one below it, field by field', () => {
    const file = {
      net: {
        listen: ['/ip4/127.0.0.1/tcp/4100'],
        dhtMode: 'client',
        limits: { maxConnections: 10, dialTimeoutMs: 1_000 },
      },
      api: { host: '127.0.0.2', port: 1000 },
      log: { level: 'debug' },
    };
    const env = { SOTTO_API_PORT: '2000', SOTTO_MAX_CONNECTIONS: '20', SOTTO_LOG_FORMAT: 'pretty' };
    const flags: ConfigFlags = { apiPort: 3000 };
    const { config, sources } = resolve({ file, env, flags });
    assert.equal(config.api.port, 3000);
    assert.equal(sources['api.port'], 'flag');
    assert.equal(config.net.limits.maxConnections, 20);
    assert.equal(sources['net.limits.maxConnections'], 'env');
    assert.equal(config.net.limits.dialTimeoutMs, 1_000);
    assert.equal(sources['net.limits.dialTimeoutMs'], 'file');
    assert.equal(config.net.limits.inboundConnectionThreshold, DEFAULT_LIMITS.inboundConnectionThreshold);
    assert.equal(sources['net.limits.inboundConnectionThreshold'], 'default');
    assert.equal(config.api.host, '127.0.0.2');
    assert.equal(sources['api.host'], 'file');
    assert.deepEqual(config.net.listen, ['/ip4/127.0.0.1/tcp/4100']);
    assert.equal(config.net.dhtMode, 'client');
    assert.equal(config.log.level, 'debug');
    assert.equal(config.log.format, 'pretty');
    assert.equal(sources['log.format'], 'env');
    assert.equal(sources['net.announce'], 'default');
  });

  // One value per source for every setting; the highest source given must win.
  const values: Record<string, { file: unknown; env: string; flag: unknown; want: [unknown, unknown, unknown] }> = {
    'net.listen': {
      file: ['/ip4/127.0.0.1/tcp/1'],
      env: '/ip4/127.0.0.1/tcp/2',
      flag: ['/ip4/127.0.0.1/tcp/3'],
      want: [['/ip4/127.0.0.1/tcp/1'], ['/ip4/127.0.0.1/tcp/2'], ['/ip4/127.0.0.1/tcp/3']],
    },
    'net.announce': {
      file: ['/dns4/a.example/tcp/1'],
      env: '/dns4/b.example/tcp/1',
      flag: '/dns4/c.example/tcp/1',
      want: [['/dns4/a.example/tcp/1'], ['/dns4/b.example/tcp/1'], ['/dns4/c.example/tcp/1']],
    },
    'net.bootstrap': { file: [BOOT], env: '', flag: [PUBLIC_BOOT], want: [[BOOT], [], [PUBLIC_BOOT]] },
    'net.dhtMode': { file: 'client', env: 'server', flag: 'client', want: ['client', 'server', 'client'] },
    'net.allowPrivateAddresses': { file: false, env: '1', flag: false, want: [false, true, false] },
    'net.limits.maxConnections': { file: 11, env: '12', flag: 13, want: [11, 12, 13] },
    'net.limits.inboundConnectionThreshold': { file: 21, env: '22', flag: '23', want: [21, 22, 23] },
    'net.limits.maxIncomingPendingConnections': { file: 31, env: '32', flag: 33, want: [31, 32, 33] },
    'net.limits.dialTimeoutMs': { file: 1001, env: '1002', flag: 1003, want: [1001, 1002, 1003] },
    'net.relay.enabled': { file: true, env: '0', flag: 'true', want: [true, false, true] },
    'net.relay.maxReservations': { file: 4, env: '5', flag: 6, want: [4, 5, 6] },
    'net.relay.maxDurationMs': { file: 10_000, env: '20000', flag: '30000', want: [10_000, 20_000, 30_000] },
    'net.relay.maxDataBytes': { file: 200_000, env: '300000', flag: 400_000, want: [200_000, 300_000, 400_000] },
    'api.host': { file: '::1', env: 'localhost', flag: '127.0.0.9', want: ['::1', 'localhost', '127.0.0.9'] },
    'api.port': { file: 1, env: '2', flag: '3', want: [1, 2, 3] },
    'api.allowRemote': { file: true, env: 'false', flag: true, want: [true, false, true] },
    'metrics.listen': {
      file: '127.0.0.1:9464',
      env: '[::1]:9465',
      flag: 'LOCALHOST:0',
      want: ['127.0.0.1:9464', '[::1]:9465', 'localhost:0'],
    },
    'metrics.allowRemote': { file: true, env: 'false', flag: true, want: [true, false, true] },
    'metrics.tokenFile': { file: '/a/t', env: '/b/t', flag: '/c/../c/t', want: ['/a/t', '/b/t', '/c/t'] },
    'log.level': { file: 'warn', env: 'error', flag: 'silent', want: ['warn', 'error', 'silent'] },
    'log.format': { file: 'pretty', env: 'json', flag: 'pretty', want: ['pretty', 'json', 'pretty'] },
    'mailbox.enabled': { file: true, env: '0', flag: true, want: [true, false, true] },
    'mailbox.policy': { file: 'open', env: 'allow-list', flag: 'open', want: ['open', 'allow-list', 'open'] },
    'mailbox.allow': { file: [A1], env: `${A2},${A3}`, flag: [A3], want: [[A1], [A2, A3], [A3]] },
    'mailbox.maxEnvelopesPerIdentity': { file: 1, env: '2', flag: 3, want: [1, 2, 3] },
    'mailbox.maxBytesPerIdentity': { file: 4096, env: '8192', flag: '16384', want: [4096, 8192, 16384] },
    'mailbox.maxTotalBytes': { file: 1e6, env: '2000000', flag: 3e6, want: [1e6, 2e6, 3e6] },
    'mailbox.ttlDays': { file: 1, env: '2', flag: '3', want: [1, 2, 3] },
    'mailbox.maxEnvelopeBytes': { file: 1000, env: '2000', flag: 3000, want: [1000, 2000, 3000] },
    mailboxes: { file: [P1, P2], env: '', flag: [P3], want: [[P1, P2], [], [P3]] },
    failAfterDays: { file: 1, env: '2', flag: 3, want: [1, 2, 3] },
    'contacts.requests': { file: 'accept', env: 'ask', flag: 'accept', want: ['accept', 'ask', 'accept'] },
  };

  const get = (config: DaemonConfig, field: string): unknown =>
    field.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], config);
  const fileFor = (field: string, value: unknown): Record<string, unknown> => {
    const parts = field.split('.');
    const root: Record<string, unknown> = {};
    let node = root;
    parts.slice(0, -1).forEach((p) => {
      node[p] = {};
      node = node[p] as Record<string, unknown>;
    });
    node[parts[parts.length - 1] as string] = value;
    return root;
  };

  it('covers every setting', () => {
    assert.deepEqual(Object.keys(values).sort(), SETTINGS.map((s) => s.field).sort());
  });

  for (const spec of SETTINGS) {
    it(`${spec.field}: default < file < ${spec.env} < ${flagName(spec.flag)}`, () => {
      const v = values[spec.field];
      assert.ok(v !== undefined);
      const file = fileFor(spec.field, v.file);
      const env = { [spec.env]: v.env };
      const flags = { [spec.flag]: v.flag } as ConfigFlags;
      const steps: [ResolveConfigInput, ConfigSource, unknown][] = [
        [{ file }, 'file', v.want[0]],
        [{ file, env }, 'env', v.want[1]],
        [{ file, env, flags }, 'flag', v.want[2]],
        [{ flags }, 'flag', v.want[2]],
      ];
      for (const [input, source, want] of steps) {
        const { config, sources } = resolve(input);
        assert.deepEqual(get(config, spec.field), want, `${spec.field} from ${source}`);
        assert.equal(sources[spec.field], source);
      }
    });
  }
});

describe('environment', () => {
  it('documents every variable it reads, and the allow-list', () => {
    assert.deepEqual(
      ENV_VARS.map((v) => v.name),
      [
        'SOTTO_HOME',
        'SOTTO_LISTEN',
        'SOTTO_ANNOUNCE',
        'SOTTO_BOOTSTRAP',
        'SOTTO_DHT_MODE',
        'SOTTO_ALLOW_PRIVATE_ADDRESSES',
        'SOTTO_MAX_CONNECTIONS',
        'SOTTO_INBOUND_CONNECTION_THRESHOLD',
        'SOTTO_MAX_INCOMING_PENDING_CONNECTIONS',
        'SOTTO_DIAL_TIMEOUT_MS',
        'SOTTO_RELAY_ENABLED',
        'SOTTO_RELAY_MAX_RESERVATIONS',
        'SOTTO_RELAY_MAX_DURATION_MS',
        'SOTTO_RELAY_MAX_DATA_BYTES',
        'SOTTO_API_HOST',
        'SOTTO_API_PORT',
        'SOTTO_API_ALLOW_REMOTE',
        'SOTTO_METRICS_LISTEN',
        'SOTTO_METRICS_ALLOW_REMOTE',
        'SOTTO_METRICS_TOKEN_FILE',
        'SOTTO_LOG_LEVEL',
        'SOTTO_LOG_FORMAT',
        'SOTTO_MAILBOX_ENABLED',
        'SOTTO_MAILBOX_POLICY',
        'SOTTO_MAILBOX_ALLOW',
        'SOTTO_MAILBOX_MAX_ENVELOPES_PER_IDENTITY',
        'SOTTO_MAILBOX_MAX_BYTES_PER_IDENTITY',
        'SOTTO_MAILBOX_MAX_TOTAL_BYTES',
        'SOTTO_MAILBOX_TTL_DAYS',
        'SOTTO_MAILBOX_MAX_ENVELOPE_BYTES',
        'SOTTO_MAILBOXES',
        'SOTTO_FAIL_AFTER_DAYS',
        'SOTTO_CONTACT_REQUESTS',
      ],
    );
    assert.deepEqual(
      [...ENV_ALLOW_LIST].sort(),
      ['SOTTO_API_TOKEN', 'SOTTO_API_URL', 'SOTTO_DEBUG', 'SOTTO_PASSPHRASE', 'SOTTO_PASSPHRASE_FILE'].sort(),
    );
  });

  it('parses every variable', () => {
    const { config } = resolveConfig({
      homedir: HOME,
      env: {
        SOTTO_HOME: '/env/dir',
        SOTTO_LISTEN: '/ip4/127.0.0.1/tcp/4001, /ip6/::1/tcp/4002/ws',
        SOTTO_ANNOUNCE: '/dns4/node.example/tcp/4001',
        SOTTO_BOOTSTRAP: `${PUBLIC_BOOT},${BOOT}`,
        SOTTO_DHT_MODE: 'client',
        SOTTO_ALLOW_PRIVATE_ADDRESSES: 'TRUE',
        SOTTO_MAX_CONNECTIONS: '100',
        SOTTO_INBOUND_CONNECTION_THRESHOLD: '7',
        SOTTO_MAX_INCOMING_PENDING_CONNECTIONS: '8',
        SOTTO_DIAL_TIMEOUT_MS: '2500',
        SOTTO_RELAY_ENABLED: 'true',
        SOTTO_RELAY_MAX_RESERVATIONS: '50',
        SOTTO_RELAY_MAX_DURATION_MS: '300000',
        SOTTO_RELAY_MAX_DATA_BYTES: '4194304',
        SOTTO_API_HOST: '0.0.0.0',
        SOTTO_API_PORT: '0',
        SOTTO_API_ALLOW_REMOTE: '1',
        SOTTO_METRICS_LISTEN: '0.0.0.0:9464',
        SOTTO_METRICS_ALLOW_REMOTE: 'true',
        SOTTO_METRICS_TOKEN_FILE: '/run/secrets/metrics-token',
        SOTTO_LOG_LEVEL: 'debug',
        SOTTO_LOG_FORMAT: 'pretty',
        SOTTO_MAILBOX_ENABLED: 'true',
        SOTTO_MAILBOX_POLICY: 'allow-list',
        SOTTO_MAILBOX_ALLOW: ` ${A1.toUpperCase()}, ${A2}`,
        SOTTO_MAILBOX_MAX_ENVELOPES_PER_IDENTITY: '500',
        SOTTO_MAILBOX_MAX_BYTES_PER_IDENTITY: '1048576',
        SOTTO_MAILBOX_MAX_TOTAL_BYTES: '10485760',
        SOTTO_MAILBOX_TTL_DAYS: '14',
        SOTTO_MAILBOX_MAX_ENVELOPE_BYTES: '32768',
        SOTTO_MAILBOXES: `${P1},${P2}`,
        SOTTO_FAIL_AFTER_DAYS: '3',
        SOTTO_CONTACT_REQUESTS: 'accept',
      },
    });
    assert.deepEqual(JSON.parse(JSON.stringify(config)), {
      dataDir: '/env/dir',
      net: {
        listen: ['/ip4/127.0.0.1/tcp/4001', '/ip6/::1/tcp/4002/ws'],
        announce: ['/dns4/node.example/tcp/4001'],
        bootstrap: [PUBLIC_BOOT, BOOT],
        dhtMode: 'client',
        allowPrivateAddresses: true,
        limits: {
          maxConnections: 100,
          inboundConnectionThreshold: 7,
          maxIncomingPendingConnections: 8,
          dialTimeoutMs: 2500,
        },
        relay: { enabled: true, maxReservations: 50, maxDurationMs: 300_000, maxDataBytes: 4_194_304 },
      },
      api: { host: '0.0.0.0', port: 0, allowRemote: true },
      metrics: { listen: '0.0.0.0:9464', allowRemote: true, tokenFile: '/run/secrets/metrics-token' },
      log: { level: 'debug', format: 'pretty' },
      mailbox: {
        enabled: true,
        policy: 'allow-list',
        allow: [A1, A2],
        maxEnvelopesPerIdentity: 500,
        maxBytesPerIdentity: 1048576,
        maxTotalBytes: 10485760,
        ttlDays: 14,
        maxEnvelopeBytes: 32768,
      },
      mailboxes: [P1, P2],
      failAfterDays: 3,
      contacts: { requests: 'accept' },
    });
  });

  it('an empty list variable means "none"', () => {
    const { config } = resolve({
      file: { net: { bootstrap: [BOOT] } },
      env: { SOTTO_BOOTSTRAP: '', SOTTO_LISTEN: ' ' },
    });
    assert.deepEqual(config.net.bootstrap, []);
    assert.deepEqual(config.net.listen, []);
  });

  it('rejects bad values, naming the variable', () => {
    const env = (name: string, value: string, problem: ConfigProblem, message?: string | RegExp) =>
      rejects({ env: { [name]: value } }, { source: 'env', field: name, problem, message });
    env('SOTTO_API_PORT', 'abc', 'WRONG_TYPE', 'environment: SOTTO_API_PORT: expected an integer 0..65535, got "abc"');
    env('SOTTO_API_PORT', '70000', 'OUT_OF_RANGE', /expected an integer 0\.\.65535, got 70000/);
    env('SOTTO_API_PORT', '-1', 'WRONG_TYPE');
    env('SOTTO_API_PORT', '1e3', 'WRONG_TYPE');
    env('SOTTO_API_PORT', '99999999999999999999', 'OUT_OF_RANGE');
    env('SOTTO_API_PORT', '', 'EMPTY', 'environment: SOTTO_API_PORT: empty value (unset it to use the default)');
    env('SOTTO_API_ALLOW_REMOTE', '', 'EMPTY');
    env('SOTTO_API_HOST', 'example.com', 'BAD_VALUE', /expected an IP address/);
    env('SOTTO_API_HOST', '[::1]', 'BAD_VALUE');
    env('SOTTO_API_HOST', '', 'EMPTY');
    env('SOTTO_API_ALLOW_REMOTE', 'yes', 'WRONG_TYPE', /expected true, false, 1 or 0, got "yes"/);
    env('SOTTO_ALLOW_PRIVATE_ADDRESSES', 'on', 'WRONG_TYPE');
    env('SOTTO_DHT_MODE', 'full', 'BAD_VALUE', /SOTTO_DHT_MODE: expected "server" or "client", got "full"/);
    env('SOTTO_DHT_MODE', '', 'EMPTY');
    env('SOTTO_LOG_LEVEL', 'verbose', 'BAD_VALUE', /expected one of error, warn, info, debug, silent, got "verbose"/);
    env('SOTTO_LOG_FORMAT', 'xml', 'BAD_VALUE');
    env('SOTTO_MAX_CONNECTIONS', '0', 'OUT_OF_RANGE', /SOTTO_MAX_CONNECTIONS: expected 1\.\.10000, got 0/);
    env('SOTTO_INBOUND_CONNECTION_THRESHOLD', 'many', 'WRONG_TYPE');
    env('SOTTO_MAX_INCOMING_PENDING_CONNECTIONS', '100000', 'OUT_OF_RANGE');
    env('SOTTO_DIAL_TIMEOUT_MS', '10s', 'WRONG_TYPE', /SOTTO_DIAL_TIMEOUT_MS: expected an integer, got "10s"/);
    env('SOTTO_DIAL_TIMEOUT_MS', '50', 'OUT_OF_RANGE');
    env(
      'SOTTO_LISTEN',
      '/ip4/127.0.0.1/tcp/0,/ip4/999.1.1.1/tcp/0',
      'BAD_MULTIADDR',
      'environment: SOTTO_LISTEN: entry 2: not a valid multiaddr, got "/ip4/999.1.1.1/tcp/0"',
    );
    env('SOTTO_LISTEN', '/ip4/127.0.0.1/tcp/0,,/ip4/127.0.0.1/tcp/1', 'EMPTY', /entry 2 is empty/);
    env('SOTTO_LISTEN', '/ip4/127.0.0.1/udp/0/quic-v1', 'UNSUPPORTED_LISTEN_ADDRESS');
    env('SOTTO_ANNOUNCE', 'nope', 'BAD_MULTIADDR');
    env('SOTTO_BOOTSTRAP', '/ip4/127.0.0.1/tcp/4001', 'MISSING_PEER_ID', /SOTTO_BOOTSTRAP: entry 1: /);
    env('SOTTO_BOOTSTRAP', Array(65).fill(BOOT).join(','), 'OUT_OF_RANGE');
  });

  it('rejects unknown SOTTO_ variables without quoting their value', () => {
    assert.throws(
      () => resolve({ env: { SOTTO_PASSPHRSE: 'hunter2', SOTTO_LISTEN: '' } }),
      (err: unknown) => {
        check(err, {
          source: 'env',
          field: 'SOTTO_PASSPHRSE',
          problem: 'UNKNOWN_KEY',
          message: /unknown SOTTO_\* variable/,
        });
        assert.ok(!(err as Error).message.includes('hunter2'));
        return true;
      },
    );
    rejects({ env: { SOTTO_API_PROT: '1' } }, { source: 'env', field: 'SOTTO_API_PROT', problem: 'UNKNOWN_KEY' });
  });

  it('accepts allow-listed, caller-allowed and unrelated variables', () => {
    const env: Record<string, string> = { PATH: '/bin', HOME: '/x', sotto_lower: '1', SOTTO_EXTRA: '1' };
    for (const name of ENV_ALLOW_LIST) env[name] = 'secret';
    const { config } = resolve({ env, allowEnv: ['SOTTO_EXTRA'] });
    assert.equal(config.api.port, DEFAULT_API_PORT);
    rejects({ env }, { source: 'env', field: 'SOTTO_EXTRA', problem: 'UNKNOWN_KEY' });
    // An unset variable (undefined in the record) is not there at all.
    assert.doesNotThrow(() => resolve({ env: { SOTTO_NOPE: undefined } }));
  });
});

describe('config file', () => {
  it('rejects bad values, naming the file and the field', () => {
    const file = (input: unknown, field: string, problem: ConfigProblem, message?: string | RegExp) =>
      rejects({ file: input }, { source: 'file', field, problem, message });
    file(
      { api: { port: 'abc' } },
      'api.port',
      'WRONG_TYPE',
      `${FILE}: api.port: expected an integer 0..65535, got "abc"`,
    );
    file({ api: { port: 7373.5 } }, 'api.port', 'WRONG_TYPE');
    file({ api: { port: 65536 } }, 'api.port', 'OUT_OF_RANGE');
    file({ api: { host: 127 } }, 'api.host', 'WRONG_TYPE');
    file({ api: { allowRemote: 'true' } }, 'api.allowRemote', 'WRONG_TYPE');
    file({ log: { level: 'loud' } }, 'log.level', 'BAD_VALUE');
    file({ log: { format: 1 } }, 'log.format', 'WRONG_TYPE');
    file(
      { net: { listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/999.1.1.1/tcp/0'] } },
      'net.listen[1]',
      'BAD_MULTIADDR',
      `${FILE}: net.listen[1]: not a valid multiaddr, got "/ip4/999.1.1.1/tcp/0"`,
    );
    file({ net: { limits: { maxConnections: 0 } } }, 'net.limits.maxConnections', 'OUT_OF_RANGE', /got 0$/);
    file({ net: { dhtMode: 'full' } }, 'net.dhtMode', 'BAD_VALUE');
    file({ net: [] }, 'net', 'WRONG_TYPE');
    file({ api: 7373 }, 'api', 'WRONG_TYPE');
    file([], '', 'WRONG_TYPE', `${FILE}: expected a JSON object at the top level`);
    file(null, '', 'WRONG_TYPE');
  });

  it('rejects unknown keys at every level', () => {
    const unknown = (input: unknown, field: string) =>
      rejects(
        { file: input },
        { source: 'file', field, problem: 'UNKNOWN_KEY', message: `${FILE}: ${field}: unknown key` },
      );
    unknown({ nett: {} }, 'nett');
    unknown({ api: { prot: 1 } }, 'api.prot');
    unknown({ log: { colour: true } }, 'log.colour');
    unknown({ net: { listn: [] } }, 'net.listn');
    unknown({ net: { limits: { maxConns: 1 } } }, 'net.limits.maxConns');
    unknown(JSON.parse('{"__proto__": {"polluted": true}}'), '__proto__');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('a bad file value is an error even when a higher source overrides it', () => {
    rejects(
      { file: { api: { port: 'abc' } }, flags: { apiPort: 1 } },
      { source: 'file', field: 'api.port', problem: 'WRONG_TYPE' },
    );
  });
});

describe('flags', () => {
  it('accept typed values and their string forms', () => {
    const { config } = resolve({
      flags: {
        listen: ['/ip4/127.0.0.1/tcp/1,/ip4/127.0.0.1/tcp/2', '/ip4/127.0.0.1/tcp/3'],
        allowPrivateAddresses: 'false',
        apiPort: '8080',
        apiAllowRemote: true,
        apiHost: '::',
        maxConnections: '5',
      },
    });
    assert.deepEqual(config.net.listen, ['/ip4/127.0.0.1/tcp/1', '/ip4/127.0.0.1/tcp/2', '/ip4/127.0.0.1/tcp/3']);
    assert.equal(config.net.allowPrivateAddresses, false);
    assert.equal(config.api.port, 8080);
    assert.equal(config.api.host, '::');
    assert.equal(config.net.limits.maxConnections, 5);
  });

  it('reject bad values, naming the flag', () => {
    const flag = (flags: Record<string, unknown>, field: string, problem: ConfigProblem, message?: string | RegExp) =>
      rejects({ flags: flags as ConfigFlags }, { source: 'flag', field, problem, message });
    flag(
      { apiPort: 'abc' },
      '--api-port',
      'WRONG_TYPE',
      'command line: --api-port: expected an integer 0..65535, got "abc"',
    );
    flag({ apiPort: 1.5 }, '--api-port', 'WRONG_TYPE');
    flag({ apiPort: true }, '--api-port', 'WRONG_TYPE');
    flag({ listen: [1] }, '--listen', 'WRONG_TYPE');
    flag({ listen: ['/ip4/127.0.0.1/tcp/0', ''] }, '--listen', 'EMPTY');
    flag({ listen: 5 }, '--listen', 'WRONG_TYPE');
    flag({ bootstrap: ['garbage'] }, '--bootstrap', 'BAD_MULTIADDR', /--bootstrap: entry 1: not a valid multiaddr/);
    flag({ dhtMode: 'x' }, '--dht-mode', 'BAD_VALUE');
    flag({ allowPrivateAddresses: 'maybe' }, '--allow-private-addresses', 'WRONG_TYPE');
    flag({ dialTimeoutMs: 60_001 }, '--dial-timeout-ms', 'OUT_OF_RANGE');
    flag({ logLevel: 'trace' }, '--log-level', 'BAD_VALUE');
    flag({ logFormat: '' }, '--log-format', 'EMPTY');
    flag({ json: true }, '--json', 'UNKNOWN_KEY', 'command line: --json: unknown option');
  });

  it('names flags in kebab case', () => {
    assert.equal(flagName('apiPort'), '--api-port');
    assert.equal(flagName('maxIncomingPendingConnections'), '--max-incoming-pending-connections');
  });
});

describe('cross-field rules on the merged config', () => {
  it('a private bootstrap address from one source, allowPrivateAddresses=false from another', () => {
    rejects(
      { file: { net: { allowPrivateAddresses: false } }, env: { SOTTO_BOOTSTRAP: BOOT } },
      {
        source: 'env',
        field: 'SOTTO_BOOTSTRAP',
        problem: 'PRIVATE_ADDRESS_NOT_ALLOWED',
        message: new RegExp(`^environment: SOTTO_BOOTSTRAP: entry 1: .*from ${FILE}\\)$`),
      },
    );
    rejects(
      { file: { net: { bootstrap: [PUBLIC_BOOT, BOOT] } }, flags: { allowPrivateAddresses: false } },
      {
        source: 'file',
        field: 'net.bootstrap[1]',
        problem: 'PRIVATE_ADDRESS_NOT_ALLOWED',
        message: /from --allow-private-addresses\)$/,
      },
    );
    assert.deepEqual(
      resolve({ file: { net: { bootstrap: [PUBLIC_BOOT] } }, env: { SOTTO_ALLOW_PRIVATE_ADDRESSES: '0' } }).config.net
        .bootstrap,
      [PUBLIC_BOOT],
    );
  });
});

describe('the API host', () => {
  it('loopback hosts need nothing', () => {
    for (const host of [
      '127.0.0.1',
      '127.8.9.10',
      '::1',
      '0:0:0:0:0:0:0:1',
      '::ffff:127.0.0.1',
      'localhost',
      'LOCALHOST',
    ]) {
      assert.ok(isLoopbackHost(host), host);
      assert.doesNotThrow(() => resolve({ env: { SOTTO_API_HOST: host } }), host);
    }
    assert.equal(resolve({ env: { SOTTO_API_HOST: 'LocalHost' } }).config.api.host, 'localhost');
  });

  it('a non-loopback host is refused unless allowRemote says so', () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.10', '10.0.0.1', 'fe80::1', '::ffff:10.0.0.1']) {
      assert.ok(!isLoopbackHost(host), host);
      rejects(
        { env: { SOTTO_API_HOST: host } },
        {
          source: 'env',
          field: 'SOTTO_API_HOST',
          problem: 'REMOTE_API_NOT_ALLOWED',
          message: /not a loopback address.*api\.allowRemote: true/,
        },
      );
    }
    rejects(
      { file: { api: { host: '0.0.0.0' } } },
      { source: 'file', field: 'api.host', problem: 'REMOTE_API_NOT_ALLOWED' },
    );
    rejects(
      { flags: { apiHost: '0.0.0.0', apiAllowRemote: false }, file: { api: { allowRemote: true } } },
      { source: 'flag', field: '--api-host', problem: 'REMOTE_API_NOT_ALLOWED' },
    );
    assert.equal(resolve({ file: { api: { host: '0.0.0.0', allowRemote: true } } }).config.api.host, '0.0.0.0');
    assert.equal(
      resolve({ file: { api: { host: '0.0.0.0' } }, env: { SOTTO_API_ALLOW_REMOTE: 'true' } }).config.api.allowRemote,
      true,
    );
    assert.equal(resolve({ flags: { apiHost: '::', apiAllowRemote: true } }).config.api.host, '::');
  });

  it('port 0 means ephemeral and is allowed', () => {
    assert.equal(resolve({ file: { api: { port: 0 } } }).config.api.port, 0);
  });
});

describe('display', () => {
  it('redactedConfig is a plain JSON copy; configToJson adds sources', () => {
    const r = resolve({ env: { SOTTO_API_PORT: '1234' } });
    const plain = redactedConfig(r.config);
    assert.deepEqual(plain, JSON.parse(JSON.stringify(r.config)));
    const json = JSON.parse(configToJson(r.config, r.sources));
    assert.equal(json.api.port, 1234);
    assert.equal(json.sources['api.port'], 'env');
    assert.equal(json.sources.dataDir, 'flag');
    assert.ok(configToJson(r.config).endsWith('}\n'));
  });

  it('redacts anything secret-looking that ever gets into the config', () => {
    const base = resolve().config;
    const leaky = { ...base, api: { ...base.api, token: 't0ken' }, store: { passphrase: 'p', privateKey: 'k' } };
    const text = configToJson(leaky as DaemonConfig);
    for (const secret of ['t0ken', '"p"', '"k"']) assert.ok(!text.includes(secret), secret);
    assert.equal((redactedConfig(leaky as DaemonConfig).api as Record<string, unknown>).token, '[redacted]');
  });
});

describe('loadConfig and readConfigFile', () => {
  let root: string;
  let n = 0;
  const dir = async (): Promise<string> => {
    const d = join(root, `d${n++}`);
    await mkdir(d);
    return d;
  };

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'sotto-config-test-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('a missing file is fine', async () => {
    const d = await dir();
    const r = await loadConfig({ flags: { dataDir: d }, env: {}, isTty: false });
    assert.equal(r.file.present, false);
    assert.equal(r.file.path, join(d, 'config.json'));
    assert.equal(r.config.dataDir, d);
    assert.equal(r.config.api.port, DEFAULT_API_PORT);
    // The data dir need not exist either.
    assert.equal((await loadConfig({ env: { SOTTO_HOME: join(d, 'not-yet') } })).file.present, false);
  });

  it('reads the file and applies env and flags over it', async () => {
    const d = await dir();
    await writeFile(
      join(d, 'config.json'),
      `\uFEFF${JSON.stringify({ api: { port: 1000, host: '::1' }, log: { level: 'warn' }, net: { dhtMode: 'client' } })}`,
    );
    const r = await loadConfig({
      env: { SOTTO_HOME: d, SOTTO_API_PORT: '2000' },
      flags: { logLevel: 'error' },
      isTty: true,
    });
    assert.equal(r.file.present, true);
    assert.equal(r.sources.dataDir, 'env');
    assert.deepEqual(r.config.api, { host: '::1', port: 2000, allowRemote: false });
    assert.deepEqual(r.config.log, { level: 'error', format: 'pretty' });
    assert.equal(r.config.net.dhtMode, 'client');
    assert.equal(r.sources['net.dhtMode'], 'file');
  });

  it('relative --data-dir is resolved against cwd', async () => {
    const d = await dir();
    await writeFile(join(d, 'config.json'), '{"api":{"port":4242}}');
    const r = await loadConfig({ flags: { dataDir: '.' }, cwd: d, env: {} });
    assert.equal(r.config.api.port, 4242);
  });

  it('invalid JSON names the file, the position and the problem', async () => {
    const d = await dir();
    const path = join(d, 'config.json');
    await writeFile(path, '{\n  "api": { "port": 1, }\n}\n');
    await assert.rejects(loadConfig({ flags: { dataDir: d }, env: {} }), (err: unknown) =>
      check(err, {
        source: 'file',
        field: '',
        problem: 'BAD_JSON',
        message: new RegExp(
          `^${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: invalid JSON: .*\\(line 2 column \\d+\\)$`,
        ),
      }),
    );
    await writeFile(path, Buffer.from([0x7b, 0xff, 0x7d]));
    await assert.rejects(readConfigFile(path), (err: unknown) =>
      check(err, { source: 'file', field: '', problem: 'BAD_JSON', message: /not valid UTF-8/ }),
    );
  });

  it('an empty file is an empty config', async () => {
    const d = await dir();
    await writeFile(join(d, 'config.json'), '  \n');
    const r = await loadConfig({ flags: { dataDir: d }, env: {} });
    assert.equal(r.file.present, true);
    assert.equal(r.config.api.port, DEFAULT_API_PORT);
  });

  it('validation errors from the file name its path', async () => {
    const d = await dir();
    await writeFile(join(d, 'config.json'), '{"api":{"port":"abc"}}');
    await assert.rejects(loadConfig({ flags: { dataDir: d }, env: {} }), (err: unknown) =>
      check(err, {
        source: 'file',
        field: 'api.port',
        problem: 'WRONG_TYPE',
        message: `${join(d, 'config.json')}: api.port: expected an integer 0..65535, got "abc"`,
      }),
    );
  });

  it('unreadable, not a file, or too large: CONFIG_UNREADABLE', async () => {
    const d = await dir();
    const path = join(d, 'config.json');
    await mkdir(path);
    await assert.rejects(readConfigFile(path), (err: unknown) =>
      check(err, {
        code: 'CONFIG_UNREADABLE',
        source: 'file',
        field: '',
        problem: 'UNREADABLE',
        message: /not a regular file|EISDIR/,
      }),
    );
    const d2 = await dir();
    const big = join(d2, 'config.json');
    await writeFile(big, `{"x":"${'a'.repeat(MAX_CONFIG_FILE_BYTES)}"}`);
    await assert.rejects(readConfigFile(big), (err: unknown) =>
      check(err, { code: 'CONFIG_UNREADABLE', source: 'file', field: '', problem: 'TOO_LARGE' }),
    );
    // A data dir that is a file: the config path below it cannot be opened (works as root too).
    const d4 = await dir();
    await writeFile(join(d4, 'plain-file'), 'x');
    await assert.rejects(loadConfig({ flags: { dataDir: join(d4, 'plain-file') }, env: {} }), (err: unknown) =>
      check(err, { code: 'CONFIG_UNREADABLE', source: 'file', field: '', problem: 'UNREADABLE', message: /ENOTDIR/ }),
    );
    const d3 = await dir();
    const locked = join(d3, 'config.json');
    await writeFile(locked, '{}');
    await chmod(locked, 0o000);
    if (process.getuid?.() !== 0) {
      await assert.rejects(readConfigFile(locked), (err: unknown) =>
        check(err, { code: 'CONFIG_UNREADABLE', source: 'file', field: '', problem: 'UNREADABLE', message: /EACCES/ }),
      );
    }
    await chmod(locked, 0o600);
  });
});

describe('mailbox settings', () => {
  it('defaults and limits agree with the node', async () => {
    const node = await import('../../src/node/index.js');
    const { MAX_FRAME_BYTES } = await import('../../src/protocols/message/constants.js');
    assert.equal(DEFAULT_MAILBOX.maxEnvelopesPerIdentity, node.DEFAULT_MAILBOX_MAX_ENVELOPES_PER_IDENTITY);
    assert.equal(DEFAULT_MAILBOX.maxBytesPerIdentity, node.DEFAULT_MAILBOX_MAX_BYTES_PER_IDENTITY);
    assert.equal(DEFAULT_MAILBOX.maxTotalBytes, node.DEFAULT_MAILBOX_MAX_TOTAL_BYTES);
    assert.equal(DEFAULT_MAILBOX.ttlDays * DAY_MS, node.DEFAULT_MAILBOX_TTL_MS);
    assert.equal(DEFAULT_MAILBOX.maxEnvelopeBytes, MAX_FRAME_BYTES);
    assert.equal(MAX_MAILBOX_ENVELOPE_BYTES, MAX_FRAME_BYTES);
    assert.equal(MAX_OWN_MAILBOXES, node.MAX_MAILBOXES);
    assert.equal(DEFAULT_FAIL_AFTER_DAYS * DAY_MS, node.FAIL_AFTER_MS);
    // What the config accepts, the node accepts (its own validation runs again at start).
    const { mailbox } = nodeMailboxOptions(
      resolve({
        file: {
          mailbox: {
            enabled: true,
            allow: [A1],
            maxEnvelopesPerIdentity: MAX_MAILBOX_ENVELOPES_PER_IDENTITY,
            maxEnvelopeBytes: MAX_MAILBOX_ENVELOPE_BYTES,
            ttlDays: MAX_DAYS,
          },
        },
      }).config,
    );
    assert.ok(mailbox);
    assert.doesNotThrow(() => node.parseMailboxRole(mailbox));
  });

  it('a complete mailbox section, canonicalised: lower-case addresses, base58 peer ids', () => {
    const cid = peerIdFromString(P2).toCID().toString();
    const { config, sources } = resolve({
      file: {
        mailbox: {
          enabled: true,
          policy: 'allow-list',
          allow: [A1.toUpperCase(), ` ${A2}\n`, A1],
          maxEnvelopesPerIdentity: 100,
          maxBytesPerIdentity: 1_000_000,
          maxTotalBytes: 50_000_000,
          ttlDays: 7,
          maxEnvelopeBytes: 10_000,
        },
        mailboxes: [P1, cid],
        failAfterDays: 2,
      },
    });
    assert.deepEqual(JSON.parse(JSON.stringify(config.mailbox)), {
      enabled: true,
      policy: 'allow-list',
      allow: [A1, A2],
      maxEnvelopesPerIdentity: 100,
      maxBytesPerIdentity: 1_000_000,
      maxTotalBytes: 50_000_000,
      ttlDays: 7,
      maxEnvelopeBytes: 10_000,
    });
    assert.deepEqual(config.mailboxes, [P1, P2]);
    assert.equal(config.failAfterDays, 2);
    assert.equal(sources['mailbox.allow'], 'file');
    assert.equal(sources.mailboxes, 'file');
    assert.equal(sources['mailbox.ttlDays'], 'file');
    assert.equal(sources['mailbox.maxTotalBytes'], 'file');
  });

  it('the environment overrides the file field by field', () => {
    const { config, sources } = resolve({
      file: { mailbox: { enabled: true, allow: [A1], ttlDays: 10 }, mailboxes: [P1], failAfterDays: 2 },
      env: { SOTTO_MAILBOX_POLICY: 'open', SOTTO_MAILBOXES: '', SOTTO_MAILBOX_TTL_DAYS: '20' },
      flags: { failAfterDays: '4' },
    });
    assert.equal(config.mailbox.enabled, true);
    assert.equal(sources['mailbox.enabled'], 'file');
    assert.equal(config.mailbox.policy, 'open');
    assert.equal(sources['mailbox.policy'], 'env');
    assert.deepEqual(config.mailbox.allow, [A1]);
    assert.equal(config.mailbox.ttlDays, 20);
    assert.equal(sources['mailbox.ttlDays'], 'env');
    assert.deepEqual(config.mailboxes, [], 'an empty SOTTO_MAILBOXES means none');
    assert.equal(sources.mailboxes, 'env');
    assert.equal(config.failAfterDays, 4);
    assert.equal(sources.failAfterDays, 'flag');
    assert.equal(config.mailbox.maxTotalBytes, DEFAULT_MAILBOX.maxTotalBytes);
    assert.equal(sources['mailbox.maxTotalBytes'], 'default');
  });

  it('rejects every bad field in the file, naming the field', () => {
    const file = (input: unknown, field: string, problem: ConfigProblem, message?: string | RegExp) =>
      rejects({ file: input }, { source: 'file', field, problem, message });
    file({ mailbox: [] }, 'mailbox', 'WRONG_TYPE');
    file(
      { mailbox: { enabled: 'yes' } },
      'mailbox.enabled',
      'WRONG_TYPE',
      `${FILE}: mailbox.enabled: expected a boolean, got "yes"`,
    );
    file(
      { mailbox: { policy: 'closed' } },
      'mailbox.policy',
      'BAD_VALUE',
      `${FILE}: mailbox.policy: expected one of allow-list, open, got "closed"`,
    );
    file({ mailbox: { policy: 1 } }, 'mailbox.policy', 'WRONG_TYPE');
    file({ mailbox: { allow: A1 } }, 'mailbox.allow', 'WRONG_TYPE', /expected a list of addresses, got "sotto1/);
    file({ mailbox: { allow: [A1, 5] } }, 'mailbox.allow[1]', 'WRONG_TYPE', /expected an address, got 5$/);
    file(
      { mailbox: { allow: [A1, mistype(A2)] } },
      'mailbox.allow[1]',
      'BAD_ADDRESS',
      new RegExp(`^${FILE}: mailbox\\.allow\\[1\\]: not a valid address \\(.+\\), got "sotto1`),
    );
    file({ mailbox: { allow: ['bob'] } }, 'mailbox.allow[0]', 'BAD_ADDRESS');
    file({ mailbox: { maxEnvelopesPerIdentity: 0 } }, 'mailbox.maxEnvelopesPerIdentity', 'OUT_OF_RANGE', /got 0$/);
    file({ mailbox: { maxEnvelopesPerIdentity: 2 ** 32 } }, 'mailbox.maxEnvelopesPerIdentity', 'OUT_OF_RANGE');
    file({ mailbox: { maxEnvelopesPerIdentity: 1.5 } }, 'mailbox.maxEnvelopesPerIdentity', 'WRONG_TYPE');
    file({ mailbox: { maxBytesPerIdentity: '1' } }, 'mailbox.maxBytesPerIdentity', 'WRONG_TYPE');
    file(
      { mailbox: { maxTotalBytes: -1 } },
      'mailbox.maxTotalBytes',
      'OUT_OF_RANGE',
      `${FILE}: mailbox.maxTotalBytes: expected a positive integer, got -1`,
    );
    file({ mailbox: { ttlDays: 0 } }, 'mailbox.ttlDays', 'OUT_OF_RANGE', /expected an integer 1\.\.3650, got 0$/);
    file({ mailbox: { ttlDays: MAX_DAYS + 1 } }, 'mailbox.ttlDays', 'OUT_OF_RANGE');
    file({ mailbox: { ttlDays: 0.5 } }, 'mailbox.ttlDays', 'WRONG_TYPE');
    file(
      { mailbox: { maxEnvelopeBytes: MAX_MAILBOX_ENVELOPE_BYTES + 1 } },
      'mailbox.maxEnvelopeBytes',
      'OUT_OF_RANGE',
      /expected an integer 1\.\.66560/,
    );
    file({ mailboxes: {} }, 'mailboxes', 'WRONG_TYPE', /expected a list of peer ids/);
    file(
      { mailboxes: [P1, 'QmNotAPeer'] },
      'mailboxes[1]',
      'BAD_PEER_ID',
      `${FILE}: mailboxes[1]: not a libp2p peer id, got "QmNotAPeer"`,
    );
    file({ mailboxes: [P1, 7] }, 'mailboxes[1]', 'WRONG_TYPE');
    file(
      { mailboxes: [P1, P2, peerIdFromString(P1).toCID().toString()] },
      'mailboxes[2]',
      'DUPLICATE',
      /the same peer as entry 1/,
    );
    file({ mailboxes: NINE_PEERS }, 'mailboxes', 'OUT_OF_RANGE', `${FILE}: mailboxes: at most 8 mailboxes, got 9`);
    file({ failAfterDays: 0 }, 'failAfterDays', 'OUT_OF_RANGE');
    file({ failAfterDays: '7' }, 'failAfterDays', 'WRONG_TYPE');
    // unknown keys at both levels
    file({ mailbox: { ttlMs: 1 } }, 'mailbox.ttlMs', 'UNKNOWN_KEY', `${FILE}: mailbox.ttlMs: unknown key`);
    file({ mailboxs: [] }, 'mailboxs', 'UNKNOWN_KEY');
    file({ failAfterMs: 1 }, 'failAfterMs', 'UNKNOWN_KEY');
    file({ contacts: { requests: 'maybe' } }, 'contacts.requests', 'BAD_VALUE', /expected one of ask, accept/);
    file({ contacts: { requests: true } }, 'contacts.requests', 'WRONG_TYPE');
    file({ contacts: { policy: 'ask' } }, 'contacts.policy', 'UNKNOWN_KEY');
    file({ contacts: 'ask' }, 'contacts', 'WRONG_TYPE');
  });

  it('rejects bad variables, naming the variable and the entry', () => {
    const env = (name: string, value: string, problem: ConfigProblem, message?: string | RegExp) =>
      rejects({ env: { [name]: value } }, { source: 'env', field: name, problem, message });
    env('SOTTO_MAILBOX_ENABLED', 'yes', 'WRONG_TYPE');
    env('SOTTO_MAILBOX_ENABLED', '', 'EMPTY');
    env('SOTTO_MAILBOX_POLICY', 'closed', 'BAD_VALUE');
    env(
      'SOTTO_MAILBOX_ALLOW',
      `${A1},${mistype(A2)}`,
      'BAD_ADDRESS',
      /^environment: SOTTO_MAILBOX_ALLOW: entry 2: not a valid address \(.+\), got "sotto1[a-z0-9]+"$/,
    );
    env('SOTTO_MAILBOX_ALLOW', `${A1},,${A2}`, 'EMPTY', /entry 2 is empty/);
    env('SOTTO_MAILBOX_TTL_DAYS', '30d', 'WRONG_TYPE', /expected an integer 1\.\.3650, got "30d"/);
    env('SOTTO_MAILBOX_MAX_TOTAL_BYTES', '0', 'OUT_OF_RANGE');
    env('SOTTO_MAILBOX_MAX_ENVELOPES_PER_IDENTITY', '99999999999', 'OUT_OF_RANGE');
    env(
      'SOTTO_MAILBOXES',
      `${P1},hello`,
      'BAD_PEER_ID',
      'environment: SOTTO_MAILBOXES: entry 2: not a libp2p peer id, got "hello"',
    );
    env('SOTTO_MAILBOXES', `${P1},${P1}`, 'DUPLICATE', /entry 2: the same peer as entry 1/);
    env('SOTTO_MAILBOXES', NINE_PEERS.join(','), 'OUT_OF_RANGE');
    env('SOTTO_FAIL_AFTER_DAYS', '0', 'OUT_OF_RANGE');
    env('SOTTO_FAIL_AFTER_DAYS', '', 'EMPTY');
    env('SOTTO_CONTACT_REQUESTS', 'Ask', 'BAD_VALUE');
    env('SOTTO_CONTACT_REQUESTS', '', 'EMPTY');
  });

  it('rejects bad flags, naming the flag', () => {
    const flag = (flags: Record<string, unknown>, field: string, problem: ConfigProblem, message?: string | RegExp) =>
      rejects({ flags: flags as ConfigFlags }, { source: 'flag', field, problem, message });
    flag({ mailboxes: ['nope'] }, '--mailboxes', 'BAD_PEER_ID', /entry 1: not a libp2p peer id/);
    flag({ mailboxAllow: [5] }, '--mailbox-allow', 'WRONG_TYPE', /entry 1: expected an address string, got 5/);
    flag({ mailboxAllow: 5 }, '--mailbox-allow', 'WRONG_TYPE', /expected a list of addresses/);
    flag({ mailboxEnabled: 'maybe' }, '--mailbox-enabled', 'WRONG_TYPE');
    flag({ mailboxPolicy: 'everyone' }, '--mailbox-policy', 'BAD_VALUE');
    flag({ failAfterDays: 0 }, '--fail-after-days', 'OUT_OF_RANGE');
    flag({ mailboxTtlDays: '1.5' }, '--mailbox-ttl-days', 'WRONG_TYPE');
    flag({ contactRequests: 'reject' }, '--contact-requests', 'BAD_VALUE');
  });

  it('a bad file value is an error even when the environment overrides it', () => {
    rejects(
      { file: { mailboxes: ['x'] }, env: { SOTTO_MAILBOXES: P1 } },
      { source: 'file', field: 'mailboxes[0]', problem: 'BAD_PEER_ID' },
    );
  });

  it('nodeMailboxOptions: the role only when enabled, days as milliseconds', () => {
    const off = nodeMailboxOptions(resolve({ file: { mailboxes: [P1] } }).config);
    assert.deepEqual(off, { mailboxes: [P1], failAfterMs: 7 * DAY_MS, contactRequests: 'ask' });
    const on = nodeMailboxOptions(
      resolve({ file: { mailbox: { enabled: true, policy: 'open', ttlDays: 2 }, failAfterDays: 1 } }).config,
    );
    assert.deepEqual(on, {
      mailbox: {
        policy: 'open',
        allow: [],
        maxEnvelopesPerIdentity: DEFAULT_MAILBOX.maxEnvelopesPerIdentity,
        maxBytesPerIdentity: DEFAULT_MAILBOX.maxBytesPerIdentity,
        maxTotalBytes: DEFAULT_MAILBOX.maxTotalBytes,
        ttlMs: 2 * DAY_MS,
        maxEnvelopeBytes: DEFAULT_MAILBOX.maxEnvelopeBytes,
      },
      mailboxes: [],
      failAfterMs: DAY_MS,
      contactRequests: 'ask',
    });
  });

  it('contacts.requests agrees with the node and reaches it', async () => {
    const node = await import('../../src/node/index.js');
    assert.deepEqual([...CONTACT_REQUEST_POLICIES], [...node.CONTACT_REQUEST_POLICIES]);
    const accept = nodeMailboxOptions(resolve({ env: { SOTTO_CONTACT_REQUESTS: 'accept' } }).config);
    assert.equal(accept.contactRequests, 'accept');
  });
});

describe('saving the mailboxes into config.json', () => {
  let root: string;
  let n = 0;
  const dir = async (): Promise<string> => {
    const d = join(root, `s${n++}`);
    await mkdir(d);
    return d;
  };
  const read = async (d: string): Promise<unknown> => JSON.parse(await readFile(join(d, CONFIG_FILE_NAME), 'utf8'));
  /** No temporary files left behind. */
  const onlyConfig = async (d: string, others: string[] = []) =>
    assert.deepEqual((await readdir(d)).sort(), [CONFIG_FILE_NAME, ...others].sort());

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'sotto-config-write-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('creates the file (0600) when there is none; loadConfig then reads the list from it', async () => {
    const d = await dir();
    const result = await saveMailboxes(d, [P1, P2]);
    assert.deepEqual(result, { path: join(d, CONFIG_FILE_NAME), written: true });
    assert.deepEqual(await read(d), { mailboxes: [P1, P2] });
    assert.equal((await stat(join(d, CONFIG_FILE_NAME))).mode & 0o777, 0o600);
    await onlyConfig(d);
    const loaded = await loadConfig({ flags: { dataDir: d }, env: {} });
    assert.deepEqual(loaded.config.mailboxes, [P1, P2]);
    assert.equal(loaded.sources.mailboxes, 'file');
  });

  it('keeps every other key, their order and the file mode; an empty list removes the key', async () => {
    const d = await dir();
    const path = join(d, CONFIG_FILE_NAME);
    const original = {
      log: { level: 'warn' },
      mailboxes: [P1],
      mailbox: { enabled: true, allow: [A1] },
      api: { port: 0 },
    };
    await writeFile(path, JSON.stringify(original), { mode: 0o640 });
    await chmod(path, 0o640);
    await saveMailboxes(d, [P2, P3]);
    const text = await readFile(path, 'utf8');
    assert.deepEqual(JSON.parse(text), { ...original, mailboxes: [P2, P3] });
    assert.deepEqual(Object.keys(JSON.parse(text)), ['log', 'mailboxes', 'mailbox', 'api'], 'the order is kept');
    assert.ok(text.endsWith('}\n') && text.includes('\n  "log": {'), 'two-space JSON with a final newline');
    assert.equal((await stat(path)).mode & 0o777, 0o640);
    await saveMailboxes(d, []);
    assert.deepEqual(await read(d), {
      log: { level: 'warn' },
      mailbox: { enabled: true, allow: [A1] },
      api: { port: 0 },
    });
    await onlyConfig(d);
  });

  it('changes nothing when nothing changes', async () => {
    const d = await dir();
    assert.equal((await saveMailboxes(d, [])).written, false);
    assert.deepEqual(await readdir(d), [], 'no file is created for an empty list');
    await writeFile(join(d, CONFIG_FILE_NAME), `{"mailboxes":["${P1}"]}`);
    assert.equal((await saveMailboxes(d, [P1])).written, false);
    assert.equal(await readFile(join(d, CONFIG_FILE_NAME), 'utf8'), `{"mailboxes":["${P1}"]}`, 'not rewritten');
  });

  it('leaves a file alone that cannot be read, or would not validate', async () => {
    const d = await dir();
    const path = join(d, CONFIG_FILE_NAME);
    await writeFile(path, '{"api": {"port": 1,}}');
    await assert.rejects(saveMailboxes(d, [P1]), (err: unknown) =>
      check(err, { source: 'file', field: '', problem: 'BAD_JSON', message: /invalid JSON/ }),
    );
    assert.equal(await readFile(path, 'utf8'), '{"api": {"port": 1,}}');
    await writeFile(path, '{"api": {"port": "abc"}}');
    await assert.rejects(saveMailboxes(d, [P1]), (err: unknown) =>
      check(err, { source: 'file', field: 'api.port', problem: 'WRONG_TYPE' }),
    );
    await writeFile(path, '[]');
    await assert.rejects(saveMailboxes(d, [P1]), (err: unknown) =>
      check(err, { source: 'file', field: '', problem: 'WRONG_TYPE' }),
    );
    // a validator that knows the daemon's environment refuses what would not start
    await writeFile(path, '{}');
    const refusal = new ConfigError({ source: 'env', field: 'SOTTO_X', problem: 'BAD_VALUE', detail: 'no' });
    await assert.rejects(
      saveMailboxes(d, [P1], {
        validate: () => {
          throw refusal;
        },
      }),
      (err: unknown) => err === refusal,
    );
    assert.equal(await readFile(path, 'utf8'), '{}');
    await onlyConfig(d);
    // an update that makes the file invalid is refused as well
    await assert.rejects(
      updateConfigFile(d, (config) => ({ ...config, mailboxes: ['not-a-peer'] })),
      (err: unknown) => check(err, { source: 'file', field: 'mailboxes[0]', problem: 'BAD_PEER_ID' }),
    );
    assert.equal(await readFile(path, 'utf8'), '{}');
  });

  it('a config.json that is a symbolic link: its target is replaced, the link stays', async () => {
    const d = await dir();
    const elsewhere = await dir();
    const target = join(elsewhere, 'sotto.json');
    await writeFile(target, '{"log":{"level":"warn"}}');
    await symlink(target, join(d, CONFIG_FILE_NAME));
    await saveMailboxes(d, [P1]);
    assert.ok((await lstat(join(d, CONFIG_FILE_NAME))).isSymbolicLink());
    assert.deepEqual(JSON.parse(await readFile(target, 'utf8')), { log: { level: 'warn' }, mailboxes: [P1] });
    assert.deepEqual(await readdir(elsewhere), ['sotto.json'], 'no temporary file left next to the target');
  });

  it('a directory it cannot write to: CONFIG_UNWRITABLE, nothing left behind', async () => {
    const d = await dir();
    if (process.getuid?.() !== 0) {
      await chmod(d, 0o500);
      try {
        await assert.rejects(saveMailboxes(d, [P1]), (err: unknown) =>
          check(err, {
            code: 'CONFIG_UNWRITABLE',
            source: 'file',
            field: '',
            problem: 'UNWRITABLE',
            message: /EACCES/,
          }),
        );
      } finally {
        await chmod(d, 0o700);
      }
    } else {
      // root writes anywhere: the save runs as an unprivileged user (nobody) in a child process, on a
      // directory it may read but not write (and reach: the test root is opened for the run)
      await chmod(d, 0o755);
      await chmod(root, 0o755);
      const writeModule = new URL('../../src/config/write.ts', import.meta.url).href;
      const script = `import(${JSON.stringify(writeModule)}).then((m) => m.saveMailboxes(${JSON.stringify(d)}, [${JSON.stringify(P1)}])).then(() => console.log('{}'), (e) => console.log(JSON.stringify({ code: e.code, source: e.source, field: e.field, problem: e.problem, message: e.message })))`;
      const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        uid: NOBODY,
        gid: NOBODY,
        encoding: 'utf8',
        cwd: fileURLToPath(new URL('../..', import.meta.url)), // where `--import tsx` resolves
        timeout: 30_000,
      });
      const out = JSON.parse(child.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
      assert.equal(out.code, 'CONFIG_UNWRITABLE', child.stderr);
      assert.equal(out.problem, 'UNWRITABLE');
      assert.match(String(out.message), /EACCES/);
      await chmod(root, 0o700);
    }
    assert.deepEqual(await readdir(d), []);
  });
});

describe('relay settings (net.relay)', () => {
  it('are off by default, with the transport layer’s limits', () => {
    const { config, sources } = resolve({});
    assert.deepEqual(config.net.relay, DEFAULT_RELAY);
    assert.equal(config.net.relay.enabled, false, 'a node relays for others only when asked to');
    assert.equal(sources['net.relay.enabled'], 'default');
  });

  it('merge field by field across the file, the environment and the flags', () => {
    const { config, sources } = resolve({
      file: { net: { relay: { enabled: true, maxReservations: 8 } } },
      env: { SOTTO_RELAY_MAX_DURATION_MS: '60000' },
      flags: { relayMaxDataBytes: '2097152' },
    });
    assert.deepEqual(config.net.relay, {
      enabled: true,
      maxReservations: 8,
      maxDurationMs: 60_000,
      maxDataBytes: 2_097_152,
    });
    assert.equal(sources['net.relay.enabled'], 'file');
    assert.equal(sources['net.relay.maxDurationMs'], 'env');
    assert.equal(sources['net.relay.maxDataBytes'], 'flag');
  });

  it('reject bad values, naming the source and the field', () => {
    rejects(
      { file: { net: { relay: { maxDurationMs: MIN_RELAY_DURATION_MS - 1 } } } },
      { source: 'file', field: 'net.relay.maxDurationMs', problem: 'OUT_OF_RANGE' },
    );
    rejects(
      { file: { net: { relay: { enable: true } } } },
      { source: 'file', field: 'net.relay.enable', problem: 'UNKNOWN_KEY' },
    );
    rejects({ file: { net: { relay: true } } }, { source: 'file', field: 'net.relay', problem: 'WRONG_TYPE' });
    rejects(
      { env: { SOTTO_RELAY_ENABLED: 'yes' } },
      { source: 'env', field: 'SOTTO_RELAY_ENABLED', problem: 'WRONG_TYPE' },
    );
    rejects(
      { env: { SOTTO_RELAY_MAX_DATA_BYTES: String(MIN_RELAY_DATA_BYTES - 1) } },
      { source: 'env', field: 'SOTTO_RELAY_MAX_DATA_BYTES', problem: 'OUT_OF_RANGE' },
    );
    rejects(
      { flags: { relayMaxReservations: '0' } },
      { source: 'flag', field: '--relay-max-reservations', problem: 'OUT_OF_RANGE' },
    );
    rejects(
      { flags: { relayMaxDurationMs: String(MAX_RELAY_DURATION_MS + 1) } },
      { source: 'flag', field: '--relay-max-duration-ms', problem: 'OUT_OF_RANGE' },
    );
  });

  it('more reservations than connections is refused on the merged config', () => {
    rejects(
      { file: { net: { limits: { maxConnections: 10 } } }, flags: { relayMaxReservations: 11 } },
      {
        source: 'flag',
        field: '--relay-max-reservations',
        problem: 'OUT_OF_RANGE',
        message: /limits\.maxConnections \(10\)/,
      },
    );
  });
});

describe('metrics listener settings (metrics.*)', () => {
  it('are off by default', () => {
    const { config, sources } = resolve({});
    assert.deepEqual(config.metrics, { listen: null, allowRemote: false, tokenFile: null });
    assert.equal(sources['metrics.listen'], 'default');
  });

  it('metrics.listen is host:port, canonical; anything else is a clear error naming the source', () => {
    assert.equal(resolve({ env: { SOTTO_METRICS_LISTEN: '[::1]:9464' } }).config.metrics.listen, '[::1]:9464');
    assert.equal(resolve({ env: { SOTTO_METRICS_LISTEN: '127.0.0.1:0' } }).config.metrics.listen, '127.0.0.1:0');
    assert.deepEqual(splitListen('[::1]:9464'), { host: '::1', port: 9464 });
    assert.deepEqual(splitListen('localhost:1'), { host: 'localhost', port: 1 });
    rejects(
      { env: { SOTTO_METRICS_LISTEN: '9464' } },
      {
        source: 'env',
        field: 'SOTTO_METRICS_LISTEN',
        problem: 'BAD_VALUE',
        message: 'environment: SOTTO_METRICS_LISTEN: expected host:port (e.g. 127.0.0.1:9464), got "9464"',
      },
    );
    for (const bad of [
      '::1:9464',
      'metrics.example.org:9464',
      '127.0.0.1:65536',
      '127.0.0.1:',
      '[127.0.0.1]:1',
      '1.2.3:4',
    ]) {
      rejects(
        { flags: { metricsListen: bad } },
        { source: 'flag', field: '--metrics-listen', problem: 'BAD_VALUE', message: /got "/ },
      );
    }
    rejects({ env: { SOTTO_METRICS_LISTEN: '' } }, { source: 'env', field: 'SOTTO_METRICS_LISTEN', problem: 'EMPTY' });
    rejects(
      { file: { metrics: { listen: 9464 } } },
      {
        source: 'file',
        field: 'metrics.listen',
        problem: 'WRONG_TYPE',
        message: `${FILE}: metrics.listen: expected "host:port", got 9464`,
      },
    );
    rejects({ file: { metrics: { port: 9464 } } }, { source: 'file', field: 'metrics.port', problem: 'UNKNOWN_KEY' });
    rejects(
      { file: { metrics: { allowRemote: 'yes' } } },
      { source: 'file', field: 'metrics.allowRemote', problem: 'WRONG_TYPE' },
    );
  });

  it('a non-loopback listener is refused unless metrics.allowRemote says so (api.allowRemote does not count)', () => {
    rejects(
      { env: { SOTTO_METRICS_LISTEN: '0.0.0.0:9464' } },
      {
        source: 'env',
        field: 'SOTTO_METRICS_LISTEN',
        problem: 'REMOTE_METRICS_NOT_ALLOWED',
        message: /not a loopback address.*metrics\.allowRemote: true/,
      },
    );
    rejects(
      { file: { metrics: { listen: '[::]:9464' } }, flags: { apiHost: '0.0.0.0', apiAllowRemote: true } },
      { source: 'file', field: 'metrics.listen', problem: 'REMOTE_METRICS_NOT_ALLOWED' },
    );
    rejects(
      {
        flags: { metricsListen: '10.0.0.1:9464', metricsAllowRemote: false },
        file: { metrics: { allowRemote: true } },
      },
      { source: 'flag', field: '--metrics-listen', problem: 'REMOTE_METRICS_NOT_ALLOWED' },
    );
    const ok = resolve({ env: { SOTTO_METRICS_LISTEN: '0.0.0.0:9464', SOTTO_METRICS_ALLOW_REMOTE: 'true' } });
    assert.deepEqual(ok.config.metrics, { listen: '0.0.0.0:9464', allowRemote: true, tokenFile: null });
    assert.equal(ok.config.api.allowRemote, false, 'the API stays loopback-only');
    assert.equal(resolve({ flags: { metricsListen: '127.0.0.5:1' } }).config.metrics.listen, '127.0.0.5:1');
  });

  it('metrics.tokenFile must be an absolute path', () => {
    rejects(
      { env: { SOTTO_METRICS_TOKEN_FILE: 'token' } },
      {
        source: 'env',
        field: 'SOTTO_METRICS_TOKEN_FILE',
        problem: 'NOT_ABSOLUTE',
        message: 'environment: SOTTO_METRICS_TOKEN_FILE: expected an absolute path, got "token"',
      },
    );
    rejects({ file: { metrics: { tokenFile: '' } } }, { source: 'file', field: 'metrics.tokenFile', problem: 'EMPTY' });
    rejects(
      { flags: { metricsTokenFile: '/a\0b' } },
      { source: 'flag', field: '--metrics-token-file', problem: 'BAD_VALUE' },
    );
  });

  describe('readMetricsToken', () => {
    let root: string;
    before(async () => {
      root = await mkdtemp(join(tmpdir(), 'sotto-metrics-token-'));
    });
    after(async () => {
      await rm(root, { recursive: true, force: true });
    });
    const SECRET = 'c2VjcmV0LW1ldHJpY3MtdG9rZW4tZm9yLXRlc3Rz';
    const withEnv = (path: string) => resolve({ env: { SOTTO_METRICS_TOKEN_FILE: path } });
    const unreadable =
      (field: string, problem: ConfigProblem, message: RegExp, source: ConfigSource = 'env') =>
      (err: unknown) => {
        check(err, {
          code: problem === 'UNREADABLE' || problem === 'TOO_LARGE' ? 'CONFIG_UNREADABLE' : 'CONFIG_INVALID',
          source,
          field,
          problem,
          message,
        });
        assert.ok(!(err as Error).message.includes(SECRET.slice(0, 12)), 'the token never appears');
        return true;
      };

    it('is undefined without a token file, else the content without surrounding whitespace', async () => {
      assert.equal(await readMetricsToken(resolve({})), undefined);
      const path = join(root, 'token');
      await writeFile(path, `${SECRET}\n`);
      assert.equal(await readMetricsToken(withEnv(path)), SECRET);
      const shown = redactedConfig(withEnv(path).config).metrics as Record<string, unknown>;
      assert.equal(shown.tokenFile, path, 'the path is shown (sotto config), the token never is');
    });

    it('missing, not a file, too large, empty, too short or not one word: a config error naming the setting', async () => {
      await assert.rejects(
        readMetricsToken(withEnv(join(root, 'missing'))),
        unreadable('SOTTO_METRICS_TOKEN_FILE', 'UNREADABLE', /missing: cannot open the token file \(ENOENT\)/),
      );
      await assert.rejects(
        readMetricsToken(resolve({ flags: { metricsTokenFile: root } })),
        unreadable('--metrics-token-file', 'UNREADABLE', /not a regular file/, 'flag'),
      );
      const big = join(root, 'big');
      await writeFile(big, 'a'.repeat(MAX_METRICS_TOKEN_FILE_BYTES + 1));
      await assert.rejects(readMetricsToken(withEnv(big)), unreadable('SOTTO_METRICS_TOKEN_FILE', 'TOO_LARGE', /4096/));
      const empty = join(root, 'empty');
      await writeFile(empty, ' \n\n');
      await assert.rejects(
        readMetricsToken(resolve({ file: { metrics: { tokenFile: empty } } })),
        unreadable(
          'metrics.tokenFile',
          'EMPTY',
          new RegExp(`^${FILE}: metrics.tokenFile: .*the token file is empty`),
          'file',
        ),
      );
      const short = join(root, 'short');
      await writeFile(short, 'a'.repeat(MIN_METRICS_TOKEN_CHARS - 1));
      await assert.rejects(
        readMetricsToken(withEnv(short)),
        unreadable('SOTTO_METRICS_TOKEN_FILE', 'OUT_OF_RANGE', /shorter than 16/),
      );
      const spaced = join(root, 'spaced');
      await writeFile(spaced, `${SECRET} ${SECRET}\n`);
      await assert.rejects(
        readMetricsToken(withEnv(spaced)),
        unreadable('SOTTO_METRICS_TOKEN_FILE', 'BAD_VALUE', /one word/),
      );
    });
  });
});
