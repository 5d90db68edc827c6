/**
 * The daemon: one sotto node plus its local API, from a validated configuration. `startDaemon`
 * loads the config (defaults < config.json < SOTTO_* < flags), starts the node, serves the API on
 * 127.0.0.1 with the bearer token of the data dir, writes `daemon.json` (how the CLI finds it), and
 * returns a handle whose `stop()` ends everything in order. Signals are the caller's business
 * (`runDaemon` in the CLI wires SIGINT/SIGTERM).
 *
 * The node gets the mailbox settings (`mailbox`, `mailboxes`, `failAfterDays`; see
 * `nodeMailboxOptions`). When this identity's mailbox list changes through the API (PUT
 * /v1/mailboxes), the daemon saves it into `<dataDir>/config.json` (atomically, keeping every other
 * key; src/config/write.ts) so that a restart keeps it, unless SOTTO_MAILBOXES or --mailboxes set
 * the list: those win at every start, so the change then lasts until the daemon stops, and the API
 * says so.
 *
 * With `metrics.listen` set, the daemon also serves GET /metrics (only) on that address, from the
 * registry the API's /metrics serves (src/api/metrics-listener.ts), with the bearer token of
 * `metrics.tokenFile` when one is configured; it starts after the API and closes first.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { prometheusMetrics } from '@libp2p/prometheus-metrics';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createApiServer, createNodeMetrics, loadOrCreateToken, type MailboxesSaved } from '../api/index.js';
import { type MetricsListener, startMetricsListener } from '../api/metrics-listener.js';
import {
  type ConfigEnv,
  ConfigError,
  type ConfigFlags,
  configToJson,
  type DaemonConfig,
  loadConfig,
  nodeMailboxOptions,
  type ResolvedConfig,
  readMetricsToken,
  resolveConfig,
  saveMailboxes,
  splitListen,
} from '../config/index.js';
import { createLogger, type SottoLogger } from '../log/index.js';
import { createNode, type SottoNode } from '../node/node.js';
import { StoreOpenError } from '../store/errors.js';
import { DAEMON_FILE, DAEMON_FILE_MODE, type DaemonInfo } from './info.js';

export * from './info.js';

/** The data dir holds keys: owner-only (the node creates it with the same mode). */
export const DATA_DIR_MODE = 0o700;

export interface DaemonHandle {
  readonly node: SottoNode;
  readonly api: FastifyInstance;
  readonly config: DaemonConfig;
  readonly resolved: ResolvedConfig;
  readonly info: DaemonInfo;
  readonly logger: SottoLogger;
  /** The metrics listener (`metrics.listen`), or undefined when it is off. */
  readonly metricsListener: MetricsListener | undefined;
  /** Stops the metrics listener and the API, then the node (in-flight writes finish), removes daemon.json. Idempotent. */
  stop(): Promise<void>;
}

export interface StartDaemonOptions {
  flags?: ConfigFlags;
  env?: ConfigEnv;
  /** Where log lines go (default: standard error, so standard output carries only results). */
  logDestination?: pino.DestinationStream;
  /** The store's passphrase (encryption at rest; `createNode({ passphrase })`). `sotto start` reads it. */
  passphrase?: string | Uint8Array;
}

/** The daemon could not start; `message` is one line for the terminal. */
export class DaemonError extends Error {
  constructor(
    readonly code: 'DATA_DIR_LOCKED' | 'API_ADDRESS_IN_USE' | 'METRICS_ADDRESS_IN_USE' | 'START_FAILED',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DaemonError';
  }
}

function apiUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * GET /health: not ready while stopping, or while bootstrap peers are configured but the DHT has no
 * peer yet (the node can neither publish its record nor look anyone up).
 */
function readiness(stopping: boolean, config: DaemonConfig, node: SottoNode): { ready: boolean; reason?: string } {
  if (stopping) return { ready: false, reason: 'stopping' };
  if (config.net.bootstrap.length > 0 && node.dhtPeers === 0) {
    return { ready: false, reason: 'no DHT peers yet (bootstrap peers unreachable?)' };
  }
  return { ready: true };
}

/** Runs `fn` calls one after another (the saves of the mailbox list must not interleave). */
function serial<A extends unknown[], T>(fn: (...args: A) => Promise<T>): (...args: A) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return (...args) => {
    const run = tail.then(
      () => fn(...args),
      () => fn(...args),
    );
    tail = run.catch(() => undefined);
    return run;
  };
}

/** The served configuration (GET /v1/config) with the saved mailbox list, now coming from the file. */
function withSavedMailboxes(served: Record<string, unknown>, peers: readonly string[]): Record<string, unknown> {
  const sources = (served.sources ?? {}) as Record<string, unknown>;
  return { ...served, mailboxes: [...peers], sources: { ...sources, mailboxes: 'file' } };
}

export async function startDaemon(options: StartDaemonOptions = {}): Promise<DaemonHandle> {
  const env = options.env ?? process.env;
  const resolved = await loadConfig({ flags: options.flags, env });
  const { config } = resolved;
  const logger = createLogger({
    level: config.log.level,
    format: config.log.format,
    destination: options.logDestination ?? pino.destination({ fd: 2, sync: true }),
  });
  const log = logger.child('daemon');
  await mkdir(config.dataDir, { recursive: true, mode: DATA_DIR_MODE });
  const token = await loadOrCreateToken(config.dataDir);
  // Read before anything starts: a bad token file is a config error, not a half-started daemon.
  const metricsToken = await readMetricsToken(resolved);
  if (config.metrics.tokenFile !== null && config.metrics.listen === null) {
    log.warn('metrics.tokenFile is set but metrics.listen is not: there is no metrics listener');
  }

  if (config.mailbox.enabled && config.mailbox.policy === 'allow-list' && config.mailbox.allow.length === 0) {
    log.warn('the mailbox role is on with policy allow-list but mailbox.allow is empty: it serves nobody');
  }

  const registry = new Registry();
  const node = createNode({
    dataDir: config.dataDir,
    net: config.net,
    logger: logger.child('node'),
    ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }),
    libp2pMetrics: prometheusMetrics({ registry, preserveExistingMetrics: true }),
    ...nodeMailboxOptions(config),
  });
  const metrics = createNodeMetrics(node, registry);
  try {
    await node.start();
  } catch (err) {
    metrics.dispose();
    if (err instanceof StoreOpenError) {
      throw new DaemonError(
        'DATA_DIR_LOCKED',
        `cannot open the store in ${config.dataDir}: is another sotto daemon running with this data dir?`,
        { cause: err },
      );
    }
    throw err;
  }

  const startedAt = Date.now();
  let stopping = false;
  let served = JSON.parse(configToJson(config, resolved.sources)) as Record<string, unknown>;
  const pinnedBy =
    resolved.sources.mailboxes === 'env'
      ? 'SOTTO_MAILBOXES'
      : resolved.sources.mailboxes === 'flag'
        ? '--mailboxes'
        : undefined;
  const save = serial(async (peers: readonly string[]): Promise<MailboxesSaved> => {
    if (pinnedBy !== undefined) {
      return {
        saved: false,
        reason: `${pinnedBy} sets the mailboxes at every start: this change lasts until the daemon stops`,
      };
    }
    try {
      const { path, written } = await saveMailboxes(config.dataDir, peers, {
        // Exactly what the next start will check: this file with this environment and these flags.
        validate: (file) => {
          resolveConfig({ flags: options.flags, env, file, homedir: homedir(), cwd: process.cwd() });
        },
      });
      if (written) log.info('saved %d mailbox(es) to %s', peers.length, path);
    } catch (err) {
      log.warn('cannot save the mailboxes: %s', err instanceof ConfigError ? err.message : String(err));
      throw err instanceof ConfigError ? err : new Error('cannot save config.json (see the daemon log)');
    }
    served = withSavedMailboxes(served, peers);
    return { saved: true };
  });
  const api = await createApiServer({
    node,
    token,
    config: () => served,
    saveMailboxes: save,
    startedAt,
    ready: () => readiness(stopping, config, node),
    metrics: { registry },
    logger: logger.child('api'),
  });
  /** A listener failed to start: undo what started; the error says whether its address was taken. */
  const listenFailed = async (
    err: unknown,
    inUseCode: 'API_ADDRESS_IN_USE' | 'METRICS_ADDRESS_IN_USE',
    inUseMessage: string,
    otherMessage: string,
  ): Promise<DaemonError> => {
    await api.close().catch(() => undefined);
    await node.stop();
    metrics.dispose();
    const inUse = (err as { code?: string }).code === 'EADDRINUSE';
    return new DaemonError(inUse ? inUseCode : 'START_FAILED', inUse ? inUseMessage : otherMessage, { cause: err });
  };
  try {
    await api.listen({ host: config.api.host, port: config.api.port });
  } catch (err) {
    throw await listenFailed(
      err,
      'API_ADDRESS_IN_USE',
      `the API address ${config.api.host}:${config.api.port} is in use (set api.port, SOTTO_API_PORT or --api-port)`,
      `the API could not listen on ${config.api.host}:${config.api.port}`,
    );
  }
  let metricsListener: MetricsListener | undefined;
  if (config.metrics.listen !== null) {
    const { host, port: metricsPort } = splitListen(config.metrics.listen);
    try {
      metricsListener = await startMetricsListener({
        registry,
        host,
        port: metricsPort,
        ...(metricsToken === undefined ? {} : { token: metricsToken }),
        logger: logger.child('metrics'),
      });
    } catch (err) {
      throw await listenFailed(
        err,
        'METRICS_ADDRESS_IN_USE',
        `the metrics address ${config.metrics.listen} is in use (set metrics.listen, SOTTO_METRICS_LISTEN or --metrics-listen)`,
        `the metrics listener could not listen on ${config.metrics.listen}`,
      );
    }
    log.info(
      'metrics listener on %s (%s)',
      metricsListener.url,
      metricsToken === undefined ? 'no token' : 'bearer token required',
    );
  }
  const address = api.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.api.port;
  const info: DaemonInfo = {
    pid: process.pid,
    api: apiUrl(config.api.host, port),
    address: node.address,
    peerId: node.peerId,
    startedAt,
  };
  const daemonFile = join(config.dataDir, DAEMON_FILE);
  await writeFile(daemonFile, `${JSON.stringify(info, null, 2)}\n`, { mode: DAEMON_FILE_MODE });
  log.info('started: api %s, peer %s', info.api, info.peerId);

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      stopping = true;
      log.info('stopping');
      await metricsListener?.close();
      await api.close().catch((err: unknown) => log.warn('api close failed: %s', String(err)));
      await node.stop();
      metrics.dispose();
      await rm(daemonFile, { force: true });
      log.info('stopped');
      logger.flush();
    })();
    return stopped;
  };
  return { node, api, config, resolved, info, logger, metricsListener, stop };
}
