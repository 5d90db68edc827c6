/**
 * `sotto watch`: live events until Ctrl-C (exit 0): incoming messages, delivery updates of
 * outgoing ones, and identity key changes of contacts. Human lines, or with `--json` one JSON
 * object per line, exactly as the API's events stream sends it. When the daemon goes away the
 * command fails with exit 3 (no automatic reconnect).
 */
import type { Command } from 'commander';
import type { Contact, StreamEvent } from '../api-types.js';
import type { ApiClient } from '../client.js';
import type { CliContext } from '../context.js';
import { CliError, EXIT } from '../errors.js';
import { clean, formatTime } from '../output.js';
import type { ActionRunner } from '../program.js';
import { stopSignals } from '../signals.js';

/** Contact names by address, refreshed when an address shows up that is not in it. */
class Names {
  private byAddress = new Map<string, string>();
  private refreshedAt = 0;
  constructor(private readonly api: ApiClient) {}

  async refresh(): Promise<void> {
    this.refreshedAt = Date.now();
    const { contacts } = await this.api.get<{ contacts: Contact[] }>('/v1/contacts');
    this.byAddress = new Map(contacts.map((c) => [c.address, c.name]));
  }

  /** The contact's name, or the address itself. */
  async of(address: string): Promise<string> {
    if (!this.byAddress.has(address) && Date.now() - this.refreshedAt > 1000) {
      await this.refresh().catch(() => undefined);
    }
    const name = this.byAddress.get(address);
    return name === undefined ? address : clean(name);
  }
}

/** One event as human lines; `who` turns an address into a display name. */
export async function eventLines(
  event: StreamEvent,
  who: (address: string) => Promise<string>,
  now = Date.now(),
): Promise<string[]> {
  switch (event.type) {
    case 'message': {
      const prefix = `${formatTime(event.timestamp, { timeOnly: true })} ← ${await who(event.from)}: `;
      const [first = '', ...rest] = clean(event.text, { multiline: true }).split('\n');
      return [`${prefix}${first}`, ...rest.map((line) => `${' '.repeat(prefix.length)}${line}`)];
    }
    case 'request': {
      const prefix = `${formatTime(event.timestamp, { timeOnly: true })} ? request from ${event.from}: `;
      const [first = '', ...rest] = clean(event.text, { multiline: true }).split('\n');
      return [
        `${prefix}${first}`,
        ...rest.map((line) => `${' '.repeat(prefix.length)}${line}`),
        ...(event.first ? [`  (accept: sotto requests accept ${event.from} <name>; or reject, block)`] : []),
      ];
    }
    case 'delivery':
      return [`${formatTime(now, { timeOnly: true })} → ${event.id} to ${await who(event.to)}: ${event.state}`];
    case 'key-change': {
      const name = clean(event.name);
      return [
        `${formatTime(now, { timeOnly: true })} ! the identity key of ${name} (${event.address}) changed: ` +
          `compare safety numbers again (sotto verify ${name})`,
      ];
    }
    default:
      return [];
  }
}

function isEvent(value: unknown): value is StreamEvent {
  const type = (value as { type?: unknown } | null)?.type;
  return type === 'message' || type === 'delivery' || type === 'key-change' || type === 'request';
}

async function watch(ctx: CliContext): Promise<number> {
  // Installed first: Ctrl-C while connecting ends the command cleanly too.
  const signals = stopSignals(() => process.exit(EXIT.FORCED));
  try {
    const api = await ctx.client();
    const names = new Names(api);
    if (!ctx.out.json) await names.refresh();
    const socket = await api.events();
    ctx.out.note(`watching ${api.baseUrl}/v1/events (Ctrl-C to stop)`);
    return await new Promise<number>((resolve, reject) => {
      let stopping = false;
      // Events are printed strictly in arrival order, even while a name is being looked up.
      let printed: Promise<void> = Promise.resolve();
      socket.on('message', (data, isBinary) => {
        if (isBinary) return;
        let event: unknown;
        try {
          event = JSON.parse(data.toString()) as unknown;
        } catch {
          return;
        }
        if (!isEvent(event)) return;
        printed = printed.then(async () => {
          if (ctx.out.json) ctx.out.jsonLine(event);
          else ctx.out.lines(await eventLines(event, (address) => names.of(address)));
        });
      });
      socket.on('error', () => {
        // 'close' follows and decides
      });
      socket.on('close', () => {
        void printed.then(() => {
          if (stopping) resolve(EXIT.OK);
          else {
            reject(
              new CliError(
                EXIT.NO_DAEMON,
                `the daemon at ${api.baseUrl} closed the event stream`,
                'did it stop? sotto status',
              ),
            );
          }
        });
      });
      void signals.stopRequested.then(() => {
        stopping = true;
        socket.close(1000);
        setTimeout(() => socket.terminate(), 1000).unref();
      });
    });
  } finally {
    signals.dispose();
  }
}

export function registerWatch(program: Command, runner: ActionRunner): void {
  program
    .command('watch')
    .description('print incoming messages, deliveries and key changes as they happen, until Ctrl-C')
    .action(runner.action((ctx) => watch(ctx)));
}
