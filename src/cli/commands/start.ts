/**
 * `sotto start`: runs the daemon in the foreground, the node and its local API, until SIGINT or
 * SIGTERM. Creates the identity on the first run. Prints the address, the peer id, every multiaddr,
 * the API URL and the data dir (one JSON object with `--json`); logs go to standard error.
 *
 * The first SIGINT/SIGTERM stops gracefully (the API closes, in-flight sends and store writes
 * finish, daemon.json is removed) and the process exits 0; a second signal during that stop exits
 * 130 at once. A second daemon on a data dir that one already runs on is refused (exit 6): the store
 * is locked, nothing is touched.
 *
 * The store's passphrase (encryption at rest) comes from `--passphrase-file`, SOTTO_PASSPHRASE_FILE
 * or SOTTO_PASSPHRASE, or is asked for on the terminal when the store needs one (../passphrase-source.ts).
 * A wrong or missing one exits 7 before anything is written.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { type ConfigFlags, flagName, SETTINGS } from '../../config/settings.js';
import { readDaemonFile } from '../client.js';
import type { CliContext } from '../context.js';
import { CliError, EXIT } from '../errors.js';
import { isAlive } from '../offline.js';
import { fields } from '../output.js';
import { unlockPassphrase } from '../passphrase-source.js';
import type { ActionRunner } from '../program.js';
import { stopSignals } from '../signals.js';

/**
 * After a graceful stop everything of ours is closed, but a library may still hold a timer (libp2p
 * leaves one of about a second): the process exits this long after the stop at the latest.
 */
export const EXIT_GRACE_MS = 200;

type Kind = 'list' | 'string' | 'boolean' | 'integer';

export interface StartOptionSpec {
  /** The ConfigFlags key (commander's camelCase option name). */
  readonly key: Exclude<keyof ConfigFlags, 'dataDir'>;
  readonly kind: Kind;
  /** The option's value name in the help, e.g. `port` for `--api-port <port>`. */
  readonly value?: string;
  readonly env: string;
  readonly description: string;
}

/** The value name shown in the help for each setting that takes a value (`--api-port <port>`). */
const VALUE_NAMES: Readonly<Partial<Record<StartOptionSpec['key'], string>>> = {
  dhtMode: 'mode',
  maxConnections: 'n',
  inboundConnectionThreshold: 'n',
  maxIncomingPendingConnections: 'n',
  dialTimeoutMs: 'ms',
  apiHost: 'host',
  apiPort: 'port',
  logLevel: 'level',
  logFormat: 'format',
  mailboxPolicy: 'policy',
  mailboxAllow: 'address',
  mailboxMaxEnvelopesPerIdentity: 'n',
  mailboxMaxBytesPerIdentity: 'bytes',
  mailboxMaxTotalBytes: 'bytes',
  mailboxTtlDays: 'days',
  mailboxMaxEnvelopeBytes: 'bytes',
  mailboxes: 'peer-id',
  failAfterDays: 'days',
  contactRequests: 'policy',
  metricsListen: 'host:port',
  metricsTokenFile: 'path',
};

/** One option per daemon setting, in the order of SETTINGS (src/config/settings.ts). */
export const START_OPTIONS: readonly StartOptionSpec[] = Object.freeze(
  SETTINGS.map((s) => {
    const key = s.flag as StartOptionSpec['key'];
    const value = VALUE_NAMES[key];
    return { key, kind: s.kind, env: s.env, description: s.description, ...(value === undefined ? {} : { value }) };
  }),
);

/** What `sotto start`'s options parse to (commander's camelCase keys, the same as ConfigFlags'). */
export type StartOptions = Partial<Record<StartOptionSpec['key'], string | string[] | boolean>>;

/** `apiPort` → `--api-port`. */
export const optionName = flagName;

/**
 * The daemon's ConfigFlags from `sotto start`'s options and the global `--data-dir`: only settings
 * that were given, as given (the config layer validates them and names the flag in its errors).
 */
export function toConfigFlags(dataDir: string | undefined, options: StartOptions): ConfigFlags {
  const flags: Record<string, unknown> = {};
  if (dataDir !== undefined) flags.dataDir = dataDir;
  for (const spec of START_OPTIONS) {
    const value = options[spec.key];
    if (value !== undefined) flags[spec.key] = value;
  }
  return flags as ConfigFlags;
}

/** Every multiaddr with the peer id (`/p2p/<id>`), ready to be someone's `--bootstrap`. */
export function withPeerId(multiaddrs: readonly string[], peerId: string): string[] {
  return multiaddrs.map((ma) => (ma.includes('/p2p/') ? ma : `${ma}/p2p/${peerId}`));
}

async function start(ctx: CliContext, options: StartOptions, passphraseFile: string | undefined): Promise<number> {
  const flags = toConfigFlags(ctx.options.dataDir, options);
  const dataDir = await ctx.dataDir();
  const passphrase = await unlockPassphrase(ctx, join(dataDir, 'store'), passphraseFile, dataDir);
  // Installed before the (slow) start: a signal during it stops the daemon as soon as it is up.
  // A signal after the stop finished is ignored: the process is exiting with 0 anyway.
  let stopped = false;
  const signals = stopSignals(() => {
    if (stopped) return;
    ctx.out.note('sotto: stop forced');
    process.exit(EXIT.FORCED);
  });
  try {
    const { startDaemon } = await import('../../daemon/daemon.js');
    const fresh = !existsSync(join(dataDir, 'store'));
    let handle: Awaited<ReturnType<typeof startDaemon>>;
    try {
      handle = await startDaemon({ flags, env: ctx.env, ...(passphrase === undefined ? {} : { passphrase }) });
    } catch (err) {
      if ((err as { code?: unknown }).code === 'DATA_DIR_LOCKED') {
        const info = await readDaemonFile(dataDir);
        // daemon.json names the holder only if its process is alive (a crashed daemon leaves a stale one).
        if (info !== undefined && isAlive(info.pid)) {
          throw new CliError(
            EXIT.LOCKED,
            `a sotto daemon is already running for ${dataDir}: pid ${info.pid}, API ${info.api}`,
            'stop it first, or pass another --data-dir',
            { cause: err },
          );
        }
      }
      throw err;
    }
    const { info, config } = handle;
    const multiaddrs = withPeerId(handle.node.multiaddrs(), info.peerId);
    ctx.out.result(
      {
        address: info.address,
        peerId: info.peerId,
        multiaddrs,
        api: info.api,
        dataDir: config.dataDir,
        pid: info.pid,
        startedAt: info.startedAt,
        created: fresh,
      },
      () => [
        fresh ? `sotto is running (new identity created in ${config.dataDir})` : 'sotto is running',
        ...fields([
          ['address', info.address],
          ['peer id', info.peerId],
          ['multiaddrs', multiaddrs],
          ['api', info.api],
          ['data dir', config.dataDir],
        ]),
      ],
    );
    if (!ctx.out.json) ctx.out.note('press Ctrl-C to stop');
    const signal = await signals.stopRequested;
    ctx.out.note(`sotto: ${signal}: stopping (again to force)`);
    await handle.stop();
    stopped = true;
    ctx.out.note('sotto: stopped');
    // Everything is closed; a timer a library still holds is not worth waiting for.
    setTimeout(() => process.exit(process.exitCode ?? EXIT.OK), EXIT_GRACE_MS).unref();
    return EXIT.OK;
  } catch (err) {
    signals.dispose();
    throw err;
  }
}

export function registerStart(program: Command, runner: ActionRunner): void {
  const cmd = program
    .command('start')
    .description('run the node and its local API in the foreground (Ctrl-C or SIGTERM stops it)');
  for (const spec of START_OPTIONS) {
    const name = optionName(spec.key);
    const description = `${spec.description} (${spec.env})`;
    if (spec.kind === 'boolean') {
      cmd.option(name, description);
      cmd.option(`--no-${name.slice(2)}`, `turn ${name} off`);
    } else if (spec.kind === 'list') {
      cmd.option(`${name} <${spec.value ?? 'multiaddr'}...>`, `${description}; repeat or comma-separate`);
    } else {
      cmd.option(`${name} <${spec.value ?? 'value'}>`, description);
    }
  }
  cmd.option(
    '--passphrase-file <file>',
    "a file holding the store's passphrase (SOTTO_PASSPHRASE_FILE; or SOTTO_PASSPHRASE; asked for on a terminal)",
  );
  cmd
    .addHelpText(
      'after',
      `
Settings: defaults < <data dir>/config.json < SOTTO_* variables < these flags.
Passphrase: --passphrase-file > SOTTO_PASSPHRASE_FILE > SOTTO_PASSPHRASE > asked on a terminal. A new data
          dir started with one has its data key wrapped by it; without one the key is stored unwrapped
          (file permissions only; a warning is logged). See: sotto passphrase --help.
Defaults: listen on /ip4/127.0.0.1/tcp/0 and /ip4/127.0.0.1/tcp/0/ws (loopback, any port),
          API on 127.0.0.1:7373, DHT server mode, log level info, no mailbox role, no mailboxes,
          an undeliverable message fails after 7 days.

Examples:
  sotto start
  sotto start --listen /ip4/0.0.0.0/tcp/4001 --listen /ip4/0.0.0.0/tcp/4002/ws
  sotto start --mailbox-enabled --mailbox-allow sotto1... --mailbox-allow sotto1...
  sotto start --data-dir ./node2 --api-port 7374 --bootstrap /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW...`,
    )
    .action(
      runner.action((ctx, command) => {
        const { passphraseFile, ...options } = command.opts<StartOptions & { passphraseFile?: string }>();
        return start(ctx, options, passphraseFile);
      }),
    );
}
