/**
 * The devnet: N sotto daemons on 127.0.0.1 in one folder. Node 1 (alice) starts first and is every
 * other node's bootstrap peer; then every pair of nodes become contacts of each other (through the
 * local APIs), and the table of nodes is printed. Optionally Prometheus (`--prometheus`) and the demo
 * (`--demo`). `stop()` ends every process it started, by PID, with a bound.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { NodeApiError } from './api.js';
import { EventWatch, runDemo } from './demo.js';
import { checkConfigFile, type Exit, isLoopback, NodeProcess, type NodeSpec } from './node-process.js';
import type { DevnetOptions } from './options.js';
import { fields, type Reporter, table } from './output.js';
import { findOnPath, type PrometheusProcess, startPrometheus } from './prometheus.js';
import { DevnetError, pool, seconds, within } from './wait.js';

/** Names of the nodes' identities, in order; past the 26th they repeat with a number (alice2, …). */
export const NAMES = Object.freeze([
  'alice',
  'bob',
  'carol',
  'dave',
  'erin',
  'frank',
  'grace',
  'heidi',
  'ivan',
  'judy',
  'kevin',
  'laura',
  'mallory',
  'niaj',
  'olivia',
  'peggy',
  'quentin',
  'rupert',
  'sybil',
  'trent',
  'ursula',
  'victor',
  'walter',
  'xavier',
  'yvonne',
  'zoe',
]);

/** The name of the node at `index` (0-based). */
export function nodeName(index: number): string {
  const base = NAMES[index % NAMES.length]!;
  const round = Math.floor(index / NAMES.length);
  return round === 0 ? base : `${base}${round + 1}`;
}

/** Nodes starting at the same time (after the bootstrap node): starting is mostly CPU (tsx, keys). */
export const START_CONCURRENCY = Math.min(8, Math.max(4, availableParallelism()));
/** Contact pairs added at the same time. */
const CONTACT_CONCURRENCY = 8;
/** After SIGTERM, how long the processes get to stop before they are killed. */
export const STOP_TIMEOUT_MS = 15_000;
/** After SIGKILL, how long to wait for the exits to be reported. */
const KILL_TIMEOUT_MS = 5_000;

interface Stoppable {
  readonly name: string;
  readonly pid: number;
  readonly running: boolean;
  readonly exited: Promise<Exit>;
  signal(signal: NodeJS.Signals): void;
}

/** Resolves true when `promise` settled within `ms`, false otherwise. */
async function settledWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export class Devnet {
  readonly nodes: NodeProcess[] = [];
  prometheus: PrometheusProcess | undefined;
  private watch: EventWatch | undefined;
  private stopping = false;
  private bootstrap = '';

  constructor(
    readonly options: DevnetOptions,
    readonly dir: string,
    readonly temporary: boolean,
    readonly reporter: Reporter,
  ) {}

  private spec(index: number, bootstrap?: string): NodeSpec {
    const name = nodeName(index);
    return {
      index: index + 1,
      name,
      dataDir: join(this.dir, name),
      logFile: join(this.dir, `${name}.log`),
      ...(bootstrap === undefined ? {} : { bootstrap }),
      logLevel: this.options.logLevel,
    };
  }

  /** Starts one node and waits until it is ready; it is in `nodes` (so `stop` ends it) from its spawn on. */
  private async startNode(spec: NodeSpec, signal: AbortSignal): Promise<NodeProcess> {
    await checkConfigFile(spec.dataDir);
    const node = new NodeProcess(spec);
    this.nodes.push(node);
    void node.exited.then((exit) => {
      if (this.stopping || node.info === undefined) return; // stopping, or ready() reports it
      this.reporter.emit(
        { event: 'exited', name: node.name, pid: node.pid, code: exit.code, signal: exit.signal },
        () => [
          `${node.name} (pid ${node.pid}) exited unexpectedly (${exit.signal ?? `code ${exit.code}`}); see ${spec.logFile}`,
        ],
      );
    });
    await node.ready(this.options.timeoutMs, signal);
    return node;
  }

  /** Starts every node, makes every pair contacts and prints the table. */
  async start(signal: AbortSignal): Promise<void> {
    const started = Date.now();
    const n = this.options.nodes;
    this.reporter.lines([
      `sotto devnet: ${n} node${n === 1 ? '' : 's'} on 127.0.0.1 in ${this.dir}` +
        (this.temporary ? ' (temporary: removed when it stops, kept after a failure)' : ''),
    ]);
    this.reporter.progress(`starting 1/${n} ${nodeName(0)} (bootstrap) …`);
    const first = await this.startNode(this.spec(0), signal);
    const bootstrap = first.info!.multiaddrs.find((ma) => isLoopback(ma) && !ma.includes('/ws'));
    if (bootstrap === undefined) throw new DevnetError(`${first.name} has no TCP multiaddr on 127.0.0.1`);
    this.bootstrap = bootstrap;
    const rest = Array.from({ length: n - 1 }, (_, i) => this.spec(i + 1, bootstrap));
    // The first node that fails ends the other waits at once (not at their deadlines).
    const failed = new AbortController();
    const starting = AbortSignal.any([signal, failed.signal]);
    await pool(rest, START_CONCURRENCY, async (spec) => {
      this.reporter.progress(`starting ${spec.index}/${n} ${spec.name} …`);
      await this.startNode(spec, starting).catch((err: unknown) => {
        if (!failed.signal.aborted) failed.abort(err);
        throw err;
      });
    });
    this.reporter.progress(`nodes up ${n}/${n} in ${seconds(Date.now() - started)}`);
    await this.addContacts(signal);
    this.printTable();
    this.reporter.emit(
      { event: 'ready', dir: this.dir, temporary: this.temporary, nodes: n, bootstrap, ms: Date.now() - started },
      () => [`ready in ${seconds(Date.now() - started)}`],
    );
  }

  /** Every pair of nodes become contacts of each other (a second run finds them there already). */
  private async addContacts(signal: AbortSignal): Promise<void> {
    const pairs: [NodeProcess, NodeProcess][] = [];
    for (let i = 0; i < this.nodes.length; i++) {
      for (let j = i + 1; j < this.nodes.length; j++) pairs.push([this.nodes[i]!, this.nodes[j]!]);
    }
    if (pairs.length === 0) return;
    const step = Math.max(1, Math.ceil(pairs.length / 5));
    let done = 0;
    const add = async (node: NodeProcess, other: NodeProcess) => {
      try {
        await node.api!.request('POST', '/v1/contacts', { body: { name: other.name, address: other.info!.address } });
      } catch (err) {
        if (err instanceof NodeApiError && err.status === 409) {
          throw new DevnetError(
            `${node.name} already has a contact named ${other.name} with another address, or ${other.name}'s ` +
              `address under another name (${err.message}): was ${this.dir} made with other identities? Use a fresh --dir`,
          );
        }
        throw err;
      }
    };
    const all = pool(pairs, CONTACT_CONCURRENCY, async ([a, b]) => {
      await Promise.all([add(a, b), add(b, a)]);
      done += 1;
      if (done % step === 0 || done === pairs.length) this.reporter.progress(`contacts ${done}/${pairs.length}`);
    });
    await within('the contacts to be added', this.options.timeoutMs, signal, all);
  }

  private printTable(): void {
    for (const node of this.nodes) {
      const info = node.info!;
      this.reporter.emit(
        {
          event: 'node',
          name: node.name,
          index: node.spec.index,
          address: info.address,
          peerId: info.peerId,
          api: info.api,
          pid: node.pid,
          dataDir: node.spec.dataDir,
          log: node.spec.logFile,
          multiaddrs: info.multiaddrs,
          created: info.created,
        },
        () => [],
      );
    }
    const [first, second] = this.nodes;
    const cli = 'npm run -s sotto --';
    this.reporter.lines([
      '',
      ...table(
        ['NAME', 'ADDRESS', 'PEER ID', 'API', 'PID'],
        this.nodes.map((node) => [node.name, node.info!.address, node.info!.peerId, node.info!.api, String(node.pid)]),
      ),
      '',
      ...fields([
        ['folder', `${this.dir}${this.temporary ? ' (temporary)' : ''}`],
        ['bootstrap', this.bootstrap],
        ['data dirs', join(this.dir, '<name>')],
        ['logs', join(this.dir, '<name>.log')],
        [
          'try',
          second === undefined
            ? [`${cli} --data-dir ${first!.spec.dataDir} status`]
            : [
                `${cli} --data-dir ${first!.spec.dataDir} send ${second.name} "hello ${second.name}"`,
                `${cli} --data-dir ${second.spec.dataDir} watch`,
              ],
        ],
      ]),
      '',
    ]);
  }

  /** `--prometheus`: runs it when it is on PATH, else says so and goes on. */
  async startPrometheus(signal: AbortSignal): Promise<void> {
    const binary = await findOnPath('prometheus');
    if (binary === undefined) {
      this.reporter.emit({ event: 'prometheus', skipped: 'not found' }, () => ['prometheus not found: skipped']);
      return;
    }
    this.reporter.progress(`starting prometheus (${binary}) …`);
    const started = await startPrometheus({
      binary,
      dir: this.dir,
      port: this.options.prometheusPort,
      targets: this.nodes.map((node) => ({ name: node.name, api: node.info!.api, tokenFile: node.tokenFile })),
      timeoutMs: this.options.timeoutMs,
      signal,
      onSpawn: (process) => {
        this.prometheus = process;
      },
    });
    const { url } = started.process;
    this.reporter.emit(
      {
        event: 'prometheus',
        url,
        pid: started.process.pid,
        config: started.config,
        targets: started.targets,
        up: started.up,
      },
      () => [
        ...fields([
          ['prometheus', `${url} (pid ${started.process.pid}; ${started.up}/${started.targets} targets up)`],
          ['config', started.config],
          ['try', `${url}/graph?g0.expr=${encodeURIComponent('sum by (node) (sotto_peers)')}`],
        ]),
        '',
      ],
    );
  }

  /** `--demo`: watch every node's events, send a message from each node to the next, wait for them all. */
  async demo(signal: AbortSignal): Promise<void> {
    this.watch = await EventWatch.open(this.nodes, this.reporter, this.options.timeoutMs);
    await runDemo(this.nodes, this.watch, this.reporter, this.options.timeoutMs, signal);
  }

  private processes(): Stoppable[] {
    return [...this.nodes, ...(this.prometheus ? [this.prometheus] : [])];
  }

  /**
   * Stops every process: SIGTERM to each by its PID (the daemons stop gracefully), then waits up to
   * STOP_TIMEOUT_MS; whatever still runs gets SIGKILL. Resolves with how many had to be killed and
   * how many are (as far as we know) still running.
   */
  async stop(reason: string): Promise<{ killed: number; left: Stoppable[] }> {
    this.stopping = true;
    const started = Date.now();
    this.watch?.close();
    const running = this.processes().filter((p) => p.running);
    this.reporter.emit({ event: 'stopping', reason }, () =>
      running.length === 0
        ? []
        : [`${reason}: stopping ${running.length} process${running.length === 1 ? '' : 'es'} …`],
    );
    for (const p of running) p.signal('SIGTERM');
    const all = Promise.all(running.map((p) => p.exited));
    let killed = 0;
    if (!(await settledWithin(all, STOP_TIMEOUT_MS))) {
      for (const p of running.filter((p) => p.running)) {
        this.reporter.error(`${p.name} (pid ${p.pid}) did not stop within ${seconds(STOP_TIMEOUT_MS)}: killing it`);
        p.signal('SIGKILL');
        killed += 1;
      }
      await settledWithin(all, KILL_TIMEOUT_MS);
    }
    const left = running.filter((p) => p.running);
    const ms = Date.now() - started;
    this.reporter.emit({ event: 'stopped', nodes: this.nodes.length, killed, ms }, () =>
      running.length === 0
        ? []
        : [
            `stopped ${running.length} process${running.length === 1 ? '' : 'es'} in ${seconds(ms)}` +
              (killed > 0 ? ` (${killed} killed)` : ''),
          ],
    );
    return { killed, left };
  }

  /** SIGKILL to every process still running (a second Ctrl-C, or the devnet itself is exiting). Synchronous. */
  kill(): void {
    this.stopping = true;
    for (const p of this.processes()) p.signal('SIGKILL');
  }
}
