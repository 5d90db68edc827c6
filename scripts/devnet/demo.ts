/**
 * `--demo`: every node's event stream (GET /v1/events, a WebSocket) is watched and each incoming
 * message printed as `bob ← alice: hi bob`; then each node sends one message to the next one
 * (alice → bob → carol → … → alice) through its local API, and the demo waits, bounded, until all
 * of them arrived. The streams stay open afterwards, so messages sent with the CLI while the devnet
 * runs show up too.
 */
import type WebSocket from 'ws';
import type { StreamEvent } from '../../src/cli/api-types.js';
import { SEND_TIMEOUT_MS } from '../../src/cli/client.js';
import { NodeApiError } from './api.js';
import type { NodeProcess } from './node-process.js';
import { clean, type Reporter } from './output.js';
import { DevnetError, poll, seconds, within } from './wait.js';

type Listener = (arrival: { to: string; from: string; text: string; id: string }) => void;

/** The event streams of every node; reports each incoming message and tells listeners. */
export class EventWatch {
  private readonly sockets: WebSocket[] = [];
  private readonly listeners = new Set<Listener>();
  private closing = false;

  /** Opens one event stream per node (bounded by `timeoutMs` each). */
  static async open(nodes: readonly NodeProcess[], reporter: Reporter, timeoutMs: number): Promise<EventWatch> {
    const watch = new EventWatch();
    const names = new Map(nodes.map((n) => [n.info!.address, n.name]));
    try {
      for (const node of nodes) {
        const socket = await node.api!.events(timeoutMs);
        watch.sockets.push(socket);
        socket.on('message', (data, isBinary) => {
          if (isBinary) return;
          let event: StreamEvent;
          try {
            event = JSON.parse(data.toString()) as StreamEvent;
          } catch {
            return;
          }
          if (event.type !== 'message') return;
          const arrival = { to: node.name, from: names.get(event.from) ?? event.from, text: event.text, id: event.id };
          reporter.emit({ event: 'message', ...arrival }, () => [
            `${arrival.to} ← ${clean(arrival.from)}: ${clean(arrival.text)}`,
          ]);
          for (const listener of watch.listeners) listener(arrival);
        });
        socket.on('error', () => {
          // 'close' follows
        });
        socket.on('close', () => {
          if (!watch.closing && node.running) reporter.error(`${node.name}'s event stream closed`);
        });
      }
    } catch (err) {
      watch.close();
      throw err;
    }
    return watch;
  }

  /** Calls `listener` for every message arriving from now on; returns the function that stops it. */
  onMessage(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.closing = true;
    for (const socket of this.sockets) socket.terminate();
    this.sockets.length = 0;
  }
}

/** Sends one message through a node's API; tries again (bounded) while the directory has no record of the recipient yet. */
async function send(from: NodeProcess, to: NodeProcess, text: string, until: number, signal: AbortSignal) {
  return poll(
    `${from.name}'s message to ${to.name} to be accepted`,
    Math.max(0, until - Date.now()),
    signal,
    async () => {
      try {
        const { body } = await from.api!.request<{ id: string; state: string }>('POST', '/v1/messages', {
          body: { to: to.info!.address, text },
          timeoutMs: Math.max(1, Math.min(SEND_TIMEOUT_MS, until - Date.now())),
        });
        return body;
      } catch (err) {
        // Not in the directory yet (its record is still spreading), or not ready: try again. Anything
        // else may have been sent already (a timeout) or will not get better: give up.
        if (err instanceof NodeApiError && (err.code === 'RECIPIENT_NOT_FOUND' || err.status === 503)) throw err;
        const why = err instanceof NodeApiError ? `${err.code}: ${err.message}` : String(err);
        throw new DevnetError(`${from.name} → ${to.name}: ${why}`, { cause: err });
      }
    },
    500,
  );
}

/** Each node sends `hi <next>` to the next; resolves once every message arrived (bounded by `timeoutMs`). */
export async function runDemo(
  nodes: readonly NodeProcess[],
  watch: EventWatch,
  reporter: Reporter,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<void> {
  if (nodes.length < 2) {
    reporter.progress('demo: needs at least 2 nodes: skipped');
    return;
  }
  const started = Date.now();
  const until = started + timeoutMs;
  const plan = nodes.map((from, i) => {
    const to = nodes[(i + 1) % nodes.length]!;
    return { from, to, text: `hi ${to.name}` };
  });
  const key = (to: string, from: string, text: string) => `${to}\u0000${from}\u0000${text}`;
  const missing = new Set(plan.map((p) => key(p.to.name, p.from.name, p.text)));
  let allArrived!: () => void;
  const arrived = new Promise<void>((resolve) => {
    allArrived = resolve;
  });
  const stop = watch.onMessage((a) => {
    if (missing.delete(key(a.to, a.from, a.text)) && missing.size === 0) allArrived();
  });
  try {
    reporter.progress(`demo: each node sends a message to the next (${plan.length} messages)`);
    await Promise.all(
      plan.map(async ({ from, to, text }) => {
        const result = await send(from, to, text, until, signal);
        reporter.emit({ event: 'sent', from: from.name, to: to.name, text, id: result.id, state: result.state }, () => [
          `${from.name} → ${to.name}: ${text} (${result.state})`,
        ]);
      }),
    );
    await within(`the demo's messages to arrive`, Math.max(0, until - Date.now()), signal, arrived).catch((err) => {
      if (!(err instanceof DevnetError)) throw err;
      const late = plan.filter((p) => missing.has(key(p.to.name, p.from.name, p.text)));
      throw new DevnetError(
        `demo: ${late.length} of ${plan.length} messages did not arrive within ${seconds(timeoutMs)}: ` +
          late.map((p) => `${p.from.name} → ${p.to.name}`).join(', '),
      );
    });
    const ms = Date.now() - started;
    reporter.emit({ event: 'demo', sent: plan.length, arrived: plan.length, ms }, () => [
      `demo: ${plan.length}/${plan.length} messages arrived in ${seconds(ms)}`,
    ]);
  } finally {
    stop();
  }
}
