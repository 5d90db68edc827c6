/**
 * Parent ↔ child-process plumbing shared by the benchmarks: the parent forks a TypeScript child and
 * calls named commands over IPC (`BenchChild`); the child answers them (`serveCommands`). Every call
 * is bounded in time and a child is ended by its PID only.
 */
import { type ChildProcess, fork } from 'node:child_process';

/** Rejects when `p` does not settle within `ms`. */
export async function withTimeout<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer within ${Math.round(ms)} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A forked benchmark child answering `{ id, cmd, args }` messages with `{ id, ok, result | error }`. */
export interface BenchChildOptions {
  /** IPC serialization ('advanced' keeps NaN, Maps…); default 'json'. */
  serialization?: 'json' | 'advanced';
  /** The command that makes the child stop and exit; default 'stop'. */
  stopCommand?: string;
}

export class BenchChild {
  /** Children still running, so that a failing parent can end them all by PID (`killAll`). */
  static readonly running = new Set<BenchChild>();
  private readonly proc: ChildProcess;
  private readonly stopCommand: string;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  /** Resolves when the child has sent its `ready` message (id 0). */
  readonly ready: Promise<unknown>;

  constructor(
    readonly name: string,
    script: string,
    args: string[] = [],
    options: BenchChildOptions = {},
  ) {
    this.stopCommand = options.stopCommand ?? 'stop';
    this.proc = fork(script, args, {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: options.serialization ?? 'json',
    });
    BenchChild.running.add(this);
    this.ready = new Promise((resolve, reject) => this.pending.set(0, { resolve, reject }));
    this.proc.on('message', (raw) => {
      const msg = raw as { id: number; ok: boolean; result?: unknown; error?: string };
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(`${this.name}: ${msg.error}`));
    });
    this.proc.on('exit', (code, signal) => {
      BenchChild.running.delete(this);
      for (const p of this.pending.values()) p.reject(new Error(`${this.name} exited (${code ?? signal})`));
      this.pending.clear();
    });
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  call<T>(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<T> {
    const id = this.nextId++;
    const p = new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
    });
    if (!this.proc.connected) return Promise.reject(new Error(`${this.name} is not running`));
    this.proc.send({ id, cmd, args });
    return withTimeout(`${this.name} ${cmd}`, timeoutMs, p);
  }

  /** Asks the child to stop cleanly, then ends it by PID if it is still there. */
  async stop(): Promise<void> {
    if (this.alive() && this.proc.connected) {
      const exited = new Promise((resolve) => (this.alive() ? this.proc.once('exit', resolve) : resolve(null)));
      await this.call(this.stopCommand, {}, 15_000).catch(() => {});
      await withTimeout(`${this.name} exit`, 3_000, exited).catch(() => {});
    }
    this.kill();
  }

  /** Ends the child by its PID (SIGKILL) if it is still running. */
  kill(): void {
    if (this.alive() && this.proc.pid !== undefined) {
      try {
        process.kill(this.proc.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  private alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Ends every child still running, by PID. */
  static killAll(): void {
    for (const c of BenchChild.running) c.kill();
  }
}

export type CommandHandler = (args: Record<string, unknown>) => Promise<unknown>;

/**
 * The child side: answers the parent's commands with `handlers`, exits after `stop` (which should be
 * one of them; its name is `stopCommand`) and when the parent goes away, and tells the parent it is ready.
 */
export function serveCommands(handlers: Record<string, CommandHandler>, stopCommand = 'stop'): void {
  if (!process.send) throw new Error('run me with fork()');
  process.on('message', (raw) => {
    const { id, cmd, args } = raw as { id: number; cmd: string; args: Record<string, unknown> };
    const handler = handlers[cmd];
    const reply = (msg: object) => process.send?.({ id, ...msg });
    if (!handler) {
      reply({ ok: false, error: `unknown command ${cmd}` });
      return;
    }
    handler(args ?? {}).then(
      (result) => {
        reply({ ok: true, result });
        if (cmd === stopCommand) setImmediate(() => process.exit(0));
      },
      (err: unknown) => reply({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
    );
  });
  // The parent going away ends us too.
  process.on('disconnect', () => process.exit(0));
  process.send({ id: 0, ok: true, result: 'ready' });
}
