/**
 * `--prometheus`: when a `prometheus` binary is on PATH, writes `<devnet>/prometheus/prometheus.yml`
 * scraping every node's GET /metrics on 127.0.0.1 with the node's bearer token
 * (`authorization.credentials_file` = the node's `api-token`), starts Prometheus listening on
 * 127.0.0.1 only with its storage in the devnet folder, and waits until it has scraped every node
 * (`up == 1` for each target).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import type { Exit } from './node-process.js';
import { LOOPBACK } from './node-process.js';
import { DevnetError, poll } from './wait.js';

/** How often Prometheus scrapes each node. */
export const SCRAPE_INTERVAL_S = 2;

export interface ScrapeTarget {
  name: string;
  /** The node's API base URL, e.g. http://127.0.0.1:40073 */
  api: string;
  /** The node's `api-token` file (Prometheus reads the bearer token from it). */
  tokenFile: string;
}

/** The executable `name` in one of PATH's folders, or undefined. */
export async function findOnPath(name: string, path = process.env.PATH ?? ''): Promise<string | undefined> {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** A free TCP port on 127.0.0.1 (the system's choice; closed again before it is returned). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** prometheus.yml: one job per node (each has its own token file), labelled `node="<name>"`. */
export function prometheusConfig(targets: readonly ScrapeTarget[]): string {
  const q = (text: string) => JSON.stringify(text); // a JSON string is a YAML double-quoted scalar
  const lines = [
    '# Written by scripts/devnet.ts for this run: the nodes get new API ports at every start.',
    'global:',
    `  scrape_interval: ${SCRAPE_INTERVAL_S}s`,
    `  scrape_timeout: ${SCRAPE_INTERVAL_S}s`,
    `  evaluation_interval: ${SCRAPE_INTERVAL_S}s`,
    'scrape_configs:',
  ];
  for (const t of targets) {
    const url = new URL(t.api);
    if (url.hostname !== LOOPBACK) throw new DevnetError(`${t.name}'s API ${t.api} is not on ${LOOPBACK}`);
    lines.push(
      `  - job_name: ${q(`sotto-${t.name}`)}`,
      '    metrics_path: /metrics',
      '    scheme: http',
      '    authorization:',
      '      type: Bearer',
      `      credentials_file: ${q(t.tokenFile)}`,
      '    static_configs:',
      `      - targets: [${q(url.host)}]`,
      '        labels:',
      `          node: ${q(t.name)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export class PrometheusProcess {
  readonly name = 'prometheus';
  readonly child: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<Exit>;
  exit: Exit | undefined;

  constructor(
    binary: string,
    readonly url: string,
    readonly folder: string,
    port: number,
  ) {
    const log = openSync(join(folder, 'prometheus.log'), 'a', 0o600);
    try {
      this.child = spawn(
        binary,
        [
          `--config.file=${join(folder, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(folder, 'data')}`,
          `--web.listen-address=${LOOPBACK}:${port}`,
        ],
        { cwd: folder, stdio: ['ignore', log, log], detached: true },
      );
    } finally {
      closeSync(log);
    }
    this.child.on('error', () => undefined); // a failed spawn shows as a missing pid, just below
    if (this.child.pid === undefined) throw new DevnetError(`could not start ${binary}`);
    this.pid = this.child.pid;
    this.exited = new Promise<Exit>((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.running) return;
    try {
      process.kill(this.pid, signal);
    } catch {
      // gone in the meantime
    }
  }

  /** The `up` series: how many targets Prometheus knows and how many are up. */
  async up(): Promise<{ targets: number; up: number }> {
    const response = await fetch(`${this.url}/api/v1/query?query=up`, { signal: AbortSignal.timeout(5_000) });
    const body = (await response.json()) as { data?: { result?: { value?: [number, string] }[] } };
    const result = body.data?.result ?? [];
    return { targets: result.length, up: result.filter((r) => r.value?.[1] === '1').length };
  }
}

export interface StartedPrometheus {
  process: PrometheusProcess;
  config: string;
  targets: number;
  up: number;
}

/**
 * Writes the config, starts Prometheus and waits (bounded) until every target is up. The returned
 * process is the caller's to stop; `onSpawn` hands it over as soon as it exists, so a failure or a
 * Ctrl-C while waiting still stops it.
 */
export async function startPrometheus(options: {
  binary: string;
  dir: string;
  port: number;
  targets: readonly ScrapeTarget[];
  timeoutMs: number;
  signal: AbortSignal;
  onSpawn: (process: PrometheusProcess) => void;
}): Promise<StartedPrometheus> {
  const folder = join(options.dir, 'prometheus');
  await mkdir(join(folder, 'data'), { recursive: true, mode: 0o700 });
  const config = join(folder, 'prometheus.yml');
  await writeFile(config, prometheusConfig(options.targets), { mode: 0o600 });
  const port = options.port === 0 ? await freePort() : options.port;
  const url = `http://${LOOPBACK}:${port}`;
  const prom = new PrometheusProcess(options.binary, url, folder, port);
  options.onSpawn(prom);
  const log = join(folder, 'prometheus.log');
  const want = options.targets.length;
  const state = await poll(
    `Prometheus to scrape all ${want} nodes (up == 1; see ${log})`,
    options.timeoutMs,
    options.signal,
    async () => {
      if (!prom.running)
        throw new DevnetError(`prometheus exited (${prom.exit?.signal ?? prom.exit?.code}); see ${log}`);
      const state = await prom.up();
      return state.targets === want && state.up === want ? state : undefined;
    },
    500,
  );
  return { process: prom, config, ...state };
}
