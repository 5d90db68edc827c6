/**
 * `sotto retry <message-id>`: queues a failed outgoing message again. A message the daemon could
 * neither deliver nor leave at one of the recipient's mailboxes within `failAfterDays` is marked
 * failed (`sotto chat` shows it with the command to retry it; `sotto watch` prints the change);
 * this gives it a fresh deadline and tries it at once. Exit 0 once it is queued (`sotto watch`
 * shows the delivery), 4 when there is no failed outgoing message with this id.
 */
import type { Command } from 'commander';
import type { RetryResult } from '../api-types.js';
import type { CliContext } from '../context.js';
import { CliError, EXIT } from '../errors.js';
import { clean } from '../output.js';
import type { ActionRunner } from '../program.js';

const MESSAGE_ID = /^[0-9a-f]{32}$/;

/** A message id as typed (surrounding spaces and upper case are forgiven); a usage error otherwise. */
export function parseMessageId(text: string): string {
  const id = text.trim().toLowerCase();
  if (!MESSAGE_ID.test(id)) {
    const shown = text.length > 100 ? `${text.slice(0, 100)}…` : text;
    throw new CliError(
      EXIT.USAGE,
      `not a message id: "${clean(shown)}"`,
      'a message id is 32 hex characters, as sotto send and sotto chat print it',
    );
  }
  return id;
}

async function retry(ctx: CliContext, text: string): Promise<number> {
  const id = parseMessageId(text);
  const api = await ctx.client();
  const { body } = await api.request<RetryResult>('POST', `/v1/messages/${id}/retry`);
  ctx.out.result(body, () => [`${body.id} queued (will retry)`]);
  return EXIT.OK;
}

export function registerRetry(program: Command, runner: ActionRunner): void {
  program
    .command('retry')
    .description('queue a failed outgoing message again (exit 0 once queued; sotto watch shows the delivery)')
    .argument('<message-id>', 'the id of the failed message (32 hex characters)')
    .action(runner.action((ctx, cmd) => retry(ctx, cmd.args[0]!)));
}
