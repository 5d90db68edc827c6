/**
 * `sotto send <contact|address> <text...>`: sends a message and waits for one delivery attempt.
 * Prints the message id and `delivered` (exit 0), `stored at a mailbox` (exit 0: the recipient's
 * node was unreachable and one of its mailboxes holds the message until that node fetches it), or
 * `queued (will retry)` (exit 75, EX_TEMPFAIL): the message is stored and the daemon's outbox keeps
 * retrying; `sotto watch` shows the delivery.
 */
import type { Command } from 'commander';
import type { SendResult } from '../api-types.js';
import { SEND_TIMEOUT_MS } from '../client.js';
import type { CliContext } from '../context.js';
import { CliError, EXIT } from '../errors.js';
import { clean } from '../output.js';
import type { ActionRunner } from '../program.js';

/** The human line for a send result. */
export function sendLine(result: SendResult): string {
  switch (result.state) {
    case 'delivered':
      return `${result.id} delivered`;
    case 'stored-at-mailbox':
      return `${result.id} stored at a mailbox`;
    default:
      return `${result.id} queued (will retry)`;
  }
}

async function send(ctx: CliContext, to: string, words: readonly string[]): Promise<number> {
  const text = words.join(' ');
  if (text.trim() === '') throw new CliError(EXIT.USAGE, 'the message is empty');
  const api = await ctx.client();
  const { body } = await api.request<SendResult>('POST', '/v1/messages', {
    body: { to, text },
    timeoutMs: SEND_TIMEOUT_MS,
  });
  ctx.out.result(body, () => [sendLine(body)]);
  if (body.state === 'stored-at-mailbox' && !ctx.out.json) {
    ctx.out.note(`sotto: ${clean(to)} is not reachable now; one of their mailboxes holds the message for them`);
  } else if (body.state === 'queued' && !ctx.out.json) {
    ctx.out.note(`sotto: ${clean(to)} is not reachable now; the daemon keeps the message and retries`);
  }
  return body.state === 'queued' ? EXIT.QUEUED : EXIT.OK;
}

export function registerSend(program: Command, runner: ActionRunner): void {
  program
    .command('send')
    .description(
      'send a message; prints its id and "delivered" or "stored at a mailbox" (exit 0), or "queued (will retry)" (exit 75)',
    )
    .argument('<contact>', 'a contact name or a sotto1… address')
    .argument('<text...>', 'the message (several words are joined with spaces)')
    .addHelpText(
      'after',
      `
Examples:
  sotto send alice "see you at 8"
  sotto send sotto1qv… hello`,
    )
    .action(runner.action((ctx, cmd) => send(ctx, cmd.processedArgs[0] as string, cmd.processedArgs[1] as string[])));
}
