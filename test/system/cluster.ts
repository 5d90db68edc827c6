/**
 * Shared parts of the multi-host system tests: `NodeProcess` (one sotto node as a child process
 * inside a network namespace, test/system/node-child.ts, driven over IPC), `Cluster` (the nodes,
 * the namespaces and the data dirs of one test, torn down children first), and `pollUntil`.
 *
 * This process starts no node and opens no socket: it creates identities offline
 * (`initialize()`), builds namespaces with `ip`, and talks to the children over the IPC channel,
 * which survives `ip netns exec`. The test networks' addresses are only ever dialled by the
 * children, from inside their namespaces.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNode } from '../../src/index.js';
import type { ConnectionReport } from '../../src/net/index.js';
import { destroyNetwork, leftoverNamespaces, netnsExec, type TestNetwork } from './netns.js';

export const CHILD = fileURLToPath(new URL('./node-child.ts', import.meta.url));
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Bounds. */
export const START_TIMEOUT_MS = 60_000;
export const CALL_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;
export const POLL_MS = 250;

export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
export const seconds = (ms: number) => (ms / 1000).toFixed(1);

export interface Received {
  id: string;
  text: string;
  from: string;
  at: number;
  /** The receiving node's connections when the message arrived. */
  connections: ConnectionReport[];
}

export interface LogLine {
  at: number;
  line: string;
}

export interface NodeProcessOptions {
  /** Extra environment for the child, e.g. `DEBUG` for libp2p's logs. */
  env?: Record<string, string>;
  /** stderr lines matching this are kept in `logs` (and not echoed); the rest go to our stderr. */
  captureLog?: RegExp;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** One node, a child process inside its namespace, driven over IPC. */
export class NodeProcess extends EventEmitter {
  proc?: ChildProcess;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  /** 'message' events in arrival order. */
  readonly received: Received[] = [];
  /** Captured log lines (see `captureLog`). */
  readonly logs: LogLine[] = [];

  constructor(
    readonly name: string,
    private readonly net: TestNetwork,
    private readonly args: object,
    private readonly options: NodeProcessOptions = {},
  ) {
    super();
  }

  start(): Promise<void> {
    const [command, argv] = netnsExec(this.net, this.name, process.execPath, [
      '--import',
      'tsx',
      CHILD,
      JSON.stringify(this.args),
    ]);
    const capture = this.options.captureLog;
    const proc = spawn(command, argv, {
      cwd: ROOT,
      env: { ...process.env, ...this.options.env },
      stdio: ['ignore', 'ignore', capture ? 'pipe' : 'inherit', 'ipc'],
    });
    this.proc = proc;
    if (capture && proc.stderr) {
      let rest = '';
      proc.stderr.setEncoding('utf8');
      proc.stderr.on('data', (chunk: string) => {
        const lines = (rest + chunk).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) {
          if (capture.test(line)) this.logs.push({ at: Date.now(), line });
          else if (line.trim() !== '') process.stderr.write(`[${this.name}] ${line}\n`);
        }
      });
    }
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.name} not ready in ${START_TIMEOUT_MS} ms`)),
        START_TIMEOUT_MS,
      );
      proc.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`${this.name}: could not spawn ${command}: ${err.message}`));
      });
      proc.on('message', (raw) => {
        const msg = raw as {
          type: string;
          seq?: number;
          value?: unknown;
          error?: string;
          id?: string;
          text?: string;
          from?: string;
          connections?: ConnectionReport[];
        };
        if (msg.type === 'ready') {
          clearTimeout(timer);
          resolve();
        } else if (msg.type === 'failed') {
          clearTimeout(timer);
          reject(new Error(`${this.name} failed to start: ${msg.error}`));
        } else if (msg.type === 'message') {
          const m: Received = {
            id: msg.id as string,
            text: msg.text as string,
            from: msg.from as string,
            at: Date.now(),
            connections: msg.connections ?? [],
          };
          this.received.push(m);
          this.emit('received', m);
        } else if (msg.type === 'reply' && msg.seq !== undefined) {
          const p = this.pending.get(msg.seq);
          if (!p) return;
          this.pending.delete(msg.seq);
          clearTimeout(p.timer);
          if (msg.error) p.reject(new Error(msg.error));
          else p.resolve(msg.value);
        }
      });
      proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited (${code ?? signal}) before it was ready`));
        for (const [seq, p] of this.pending) {
          clearTimeout(p.timer);
          p.reject(new Error(`${this.name} exited (${code ?? signal})`));
          this.pending.delete(seq);
        }
      });
    });
  }

  call<T>(op: string, extra: object = {}, timeoutMs = CALL_TIMEOUT_MS): Promise<T> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) {
      return Promise.reject(new Error(`${this.name} is not running`));
    }
    const seq = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(seq);
        reject(new Error(`${this.name} ${op} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(seq, { resolve: resolve as (v: unknown) => void, reject, timer });
      proc.send({ op, seq, ...extra });
    });
  }

  /** Resolves once every id in `ids` has been received (at least once); rejects after `timeoutMs`. */
  waitFor(ids: Iterable<string>, timeoutMs: number): Promise<void> {
    const missing = new Set(ids);
    for (const m of this.received) missing.delete(m.id);
    if (missing.size === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const on = (m: Received): void => {
        missing.delete(m.id);
        if (missing.size > 0) return;
        clearTimeout(timer);
        this.off('received', on);
        resolve();
      };
      const timer = setTimeout(() => {
        this.off('received', on);
        reject(new Error(`${this.name}: ${missing.size} messages missing after ${timeoutMs} ms`));
      }, timeoutMs);
      this.on('received', on);
    });
  }

  /** SIGKILL (only this child, by its handle) and wait for it to exit, bounded. */
  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGKILL');
    await Promise.race([
      exited,
      delay(STOP_TIMEOUT_MS).then(() => {
        throw new Error(`${this.name} (pid ${proc.pid}) did not exit`);
      }),
    ]);
  }
}

/** Polls `check` until it returns true, at most `timeoutMs`; errors thrown by `check` count as false. */
export async function pollUntil(label: string, timeoutMs: number, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  let last: unknown;
  while (Date.now() - started < timeoutMs) {
    try {
      if (await check()) return Date.now() - started;
    } catch (err) {
      last = err;
    }
    await delay(POLL_MS);
  }
  throw new Error(`${label}: not within ${timeoutMs} ms${last ? ` (last error: ${(last as Error).message})` : ''}`);
}

/** The nodes, the network and the data dirs of one test; `cleanup()` in a finally (and in `after`). */
export class Cluster {
  network?: TestNetwork;
  readonly procs: NodeProcess[] = [];
  private readonly dirs: string[] = [];

  /** A fresh data dir with an identity and a peer key made offline (nothing goes on any network). */
  async identity(label: string): Promise<{ dataDir: string; address: string; peerId: string }> {
    const dataDir = await mkdtemp(join(tmpdir(), `sotto-sys-${label}-`));
    this.dirs.push(dataDir);
    const { address, peerId } = await createNode({ dataDir }).initialize();
    return { dataDir, address, peerId };
  }

  add(proc: NodeProcess): NodeProcess {
    this.procs.push(proc);
    return proc;
  }

  /** Children first (a namespace lives on while a process is in it), then the namespaces, then the data. */
  async cleanup(): Promise<void> {
    const errors: unknown[] = [];
    for (const r of await Promise.allSettled(this.procs.splice(0).map((p) => p.stop()))) {
      if (r.status === 'rejected') errors.push(r.reason);
    }
    const network = this.network;
    if (network) {
      try {
        await destroyNetwork(network);
        const left = await leftoverNamespaces(network);
        if (left.length > 0) throw new Error(`namespaces left behind: ${left.join(' ')}`);
        this.network = undefined;
      } catch (err) {
        errors.push(err);
      }
    }
    await Promise.allSettled(this.dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
    if (errors.length > 0) throw new AggregateError(errors, 'system test cleanup failed');
  }
}
