/**
 * One devnet node: the real daemon (`node --import tsx src/cli/main.ts start --json …`) as a child
 * process, on 127.0.0.1 only (libp2p TCP and WebSocket on ports the system picks, the API on an
 * ephemeral port), its standard error appended to `<devnet>/<name>.log`.
 *
 * Children are started in their own process group (`detached`), so a Ctrl-C in the terminal reaches
 * only the devnet, which then stops each node by its PID (SIGTERM: the daemon's graceful stop) and
 * waits for it, with a bound.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { API_TOKEN_FILE, readToken } from '../../src/api/token.js';
import { NodeApi } from './api.js';
import { DevnetError, poll, within } from './wait.js';

/** The repository (the daemon is run from its sources with tsx). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');

/** The only host a devnet node listens on, announces or dials (network-safety rule, TESTING.md). */
export const LOOPBACK = '127.0.0.1';
const LISTEN = [`/ip4/${LOOPBACK}/tcp/0`, `/ip4/${LOOPBACK}/tcp/0/ws`];

/** Lines of a node's log quoted in an error when it failed to start. */
const LOG_TAIL_LINES = 8;

/** What `sotto start --json` prints once the node and its API are up. */
export interface StartInfo {
  address: string;
  peerId: string;
  multiaddrs: string[];
  api: string;
  dataDir: string;
  pid: number;
  created: boolean;
}

export interface NodeSpec {
  /** 1-based position in the devnet. */
  index: number;
  name: string;
  dataDir: string;
  logFile: string;
  /** The bootstrap peer's multiaddr (with /p2p/); none for node 1. */
  bootstrap?: string;
  logLevel: string;
}

/** The environment for a node: ours without SOTTO_* (a developer's own settings must not leak in). */
export function nodeEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && !key.startsWith('SOTTO_')) clean[key] = value;
  }
  return clean;
}

/** `sotto start`'s arguments for a devnet node: loopback everything, explicit so config.json cannot widen it. */
export function startArgs(spec: NodeSpec): string[] {
  return [
    'start',
    '--json',
    '--data-dir',
    spec.dataDir,
    ...LISTEN.flatMap((ma) => ['--listen', ma]),
    '--api-host',
    LOOPBACK,
    '--api-port',
    '0',
    '--no-api-allow-remote',
    '--allow-private-addresses',
    '--dht-mode',
    'server',
    '--no-mailbox-enabled',
    '--log-format',
    'pretty',
    '--log-level',
    spec.logLevel,
    ...(spec.bootstrap === undefined ? [] : ['--bootstrap', spec.bootstrap]),
  ];
}

/** True when `ma` is a loopback IPv4 multiaddr (`/ip4/127.0.0.1/…`). */
export function isLoopback(ma: string): boolean {
  return ma.startsWith(`/ip4/${LOOPBACK}/`);
}

/**
 * A node's `config.json` must not point it anywhere else: `net.bootstrap` and `net.announce` are
 * not overridden by the devnet's flags for every node (node 1 has no --bootstrap), so a folder whose
 * config sets them is refused.
 */
export async function checkConfigFile(dataDir: string): Promise<void> {
  const path = join(dataDir, 'config.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return;
  }
  let net: Record<string, unknown> | undefined;
  try {
    net = (JSON.parse(text) as { net?: Record<string, unknown> } | null)?.net;
  } catch {
    return; // the daemon reports a broken config.json itself
  }
  for (const key of ['bootstrap', 'announce']) {
    const value = net?.[key];
    if (value !== undefined && !(Array.isArray(value) && value.length === 0)) {
      throw new DevnetError(`${path} sets net.${key}: a devnet node dials only the devnet (remove it)`);
    }
  }
}

/** Written to a node's log before each start, so an error can quote this start's lines only. */
const LOG_MARK = '--- devnet: starting';

/** The last lines this start wrote to the log, indented, on lines of their own. */
async function logTail(path: string): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const at = text.lastIndexOf(LOG_MARK);
  const lines = (at === -1 ? text : text.slice(text.indexOf('\n', at) + 1))
    .trimEnd()
    .split('\n')
    .filter((line) => line !== '')
    .slice(-LOG_TAIL_LINES);
  return lines.length === 0 ? ' (empty)' : `\n  ${lines.join('\n  ')}`;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running node process and, once it is up, what it printed and a client of its API. */
export class NodeProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Settles when the process has exited (never rejects). */
  readonly exited: Promise<Exit>;
  exit: Exit | undefined;
  info: StartInfo | undefined;
  api: NodeApi | undefined;
  tokenFile: string;
  private stdout = '';

  constructor(readonly spec: NodeSpec) {
    this.tokenFile = join(spec.dataDir, API_TOKEN_FILE);
    const log = openSync(spec.logFile, 'a', 0o600);
    try {
      writeSync(log, `${LOG_MARK} ${spec.name} at ${new Date().toISOString()} ---\n`);
      this.child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...startArgs(spec)], {
        cwd: ROOT,
        env: nodeEnv(),
        stdio: ['ignore', 'pipe', log],
        detached: true,
      });
    } finally {
      closeSync(log);
    }
    this.child.on('error', () => undefined); // a failed spawn shows as a missing pid, just below
    if (this.child.pid === undefined) throw new DevnetError(`${spec.name}: could not start ${process.execPath}`);
    this.pid = this.child.pid;
    this.exited = new Promise<Exit>((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
    this.child.stdout?.setEncoding('utf8');
    this.child.stdout?.on('data', (chunk: string) => {
      this.stdout += chunk;
    });
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  get name(): string {
    return this.spec.name;
  }

  /**
   * Waits for `sotto start --json`'s JSON (the node and its API are up), then for GET /health to
   * answer ready (with a bootstrap peer: the DHT has a peer). Bounded by `timeoutMs`.
   */
  async ready(timeoutMs: number, signal: AbortSignal): Promise<StartInfo> {
    const until = Date.now() + timeoutMs;
    const left = () => Math.max(0, until - Date.now());
    const started = new Promise<StartInfo>((resolve, reject) => {
      const check = () => {
        const info = this.parseStdout();
        if (info !== undefined) {
          this.child.stdout?.off('data', check);
          resolve(info);
        }
      };
      this.child.stdout?.on('data', check);
      check();
      void this.exited.then(async (exit) => {
        reject(
          new DevnetError(
            `${this.name} exited (${exit.signal ?? `code ${exit.code}`}) before it was up; ${this.spec.logFile}:` +
              (await logTail(this.spec.logFile)),
          ),
        );
      });
    });
    const info = await within(`${this.name} to start (see ${this.spec.logFile})`, left(), signal, started);
    for (const ma of info.multiaddrs) {
      if (!isLoopback(ma))
        throw new DevnetError(`${this.name} listens on ${ma}, not on ${LOOPBACK}: refusing to go on`);
    }
    if (new URL(info.api).hostname !== LOOPBACK) {
      throw new DevnetError(`${this.name}'s API is at ${info.api}, not on ${LOOPBACK}: refusing to go on`);
    }
    const token = await readToken(this.tokenFile);
    if (token === undefined) throw new DevnetError(`${this.name}: no API token in ${this.tokenFile}`);
    const api = new NodeApi(info.api, token);
    await poll(`${this.name} to be ready (GET /health; see ${this.spec.logFile})`, left(), signal, async () => {
      if (!this.running) throw new DevnetError(`${this.name} exited`);
      const health = await api.get<{ ready: boolean }>('/health', 5_000);
      return health.ready ? true : undefined;
    });
    this.info = info;
    this.api = api;
    return info;
  }

  /** The start JSON once it is complete on standard output. */
  private parseStdout(): StartInfo | undefined {
    try {
      const value = JSON.parse(this.stdout) as Partial<StartInfo> | null;
      if (value && typeof value.api === 'string' && typeof value.address === 'string') return value as StartInfo;
    } catch {
      // not complete yet
    }
    return undefined;
  }

  /** Sends `signal` to the process (by its PID) if it is still running. */
  signal(signal: NodeJS.Signals): void {
    if (!this.running) return;
    try {
      process.kill(this.pid, signal);
    } catch {
      // gone in the meantime
    }
  }
}
