/**
 * `sotto chat <contact>`: the conversation with a contact or address, one page (newest `--limit`
 * messages, or those before `--before <timestamp>:<id>`), shown oldest to newest:
 *
 *     2025-05-04 18:02:11  → see you at 8              (delivered)
 *     2025-05-04 18:03:40  ← great
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import type { Conversation, MessageView } from '../api-types.js';
import type { CliContext } from '../context.js';
import { EXIT } from '../errors.js';
import { clean, formatTime } from '../output.js';
import type { ActionRunner } from '../program.js';
import { contactPath } from './contacts.js';

export const CHAT_MAX_LIMIT = 200;
export const CHAT_DEFAULT_LIMIT = 50;

/** `--limit`: an integer 1..200. */
export function parseLimit(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > CHAT_MAX_LIMIT) {
    throw new InvalidArgumentError(`expected an integer 1..${CHAT_MAX_LIMIT}`);
  }
  return Number(text);
}

/** `--before <timestamp>:<id>`: the `next` cursor of a page. */
export function parseCursor(text: string): { beforeTimestamp: number; beforeId: string } {
  const m = /^(\d{1,15}):([0-9a-f]{32})$/.exec(text);
  if (m === null) throw new InvalidArgumentError('expected <timestamp>:<id>, as printed after a page');
  return { beforeTimestamp: Number(m[1]), beforeId: m[2]! };
}

/** One message as display lines: time, arrow, text (continuation lines indented), state of outgoing ones. */
export function messageLines(m: MessageView): string[] {
  const prefix = `${formatTime(m.timestamp)}  ${m.direction === 'out' ? '→' : '←'} `;
  const [first = '', ...rest] = clean(m.text, { multiline: true }).split('\n');
  const state =
    m.direction !== 'out' || m.state === 'delivered' || m.state === 'read'
      ? ''
      : m.state === 'failed'
        ? `  (failed: sotto retry ${m.id})`
        : `  (${m.state})`;
  return [`${prefix}${first}${state}`, ...rest.map((line) => `${' '.repeat(prefix.length)}${line}`)];
}

/** A page as display lines: a header, the messages oldest first, and how to get the older page. */
export function conversationLines(conversation: Conversation, ref: string): string[] {
  const who =
    conversation.name === undefined ? conversation.address : `${clean(conversation.name)} (${conversation.address})`;
  const lines = [`conversation with ${who}`];
  if (conversation.messages.length === 0) lines.push('no messages');
  for (const m of [...conversation.messages].reverse()) lines.push(...messageLines(m));
  if (conversation.next) {
    const { beforeTimestamp, beforeId } = conversation.next;
    lines.push(`older messages: sotto chat ${clean(ref)} --before ${beforeTimestamp}:${beforeId}`);
  }
  return lines;
}

async function chat(
  ctx: CliContext,
  ref: string,
  options: { limit?: number; before?: { beforeTimestamp: number; beforeId: string } },
): Promise<number> {
  const api = await ctx.client();
  const query = new URLSearchParams({ limit: String(options.limit ?? CHAT_DEFAULT_LIMIT) });
  if (options.before) {
    query.set('beforeTimestamp', String(options.before.beforeTimestamp));
    query.set('beforeId', options.before.beforeId);
  }
  const conversation = await api.get<Conversation>(`/v1/conversations/${contactPath(ref)}?${query}`);
  ctx.out.result(conversation, () => conversationLines(conversation, ref));
  return EXIT.OK;
}

export function registerChat(program: Command, runner: ActionRunner): void {
  program
    .command('chat')
    .description('show the conversation with a contact (oldest to newest; --json: the API page, newest first)')
    .argument('<contact>', 'a contact name or a sotto1… address')
    .option('--limit <n>', `messages per page, 1..${CHAT_MAX_LIMIT} (default ${CHAT_DEFAULT_LIMIT})`, parseLimit)
    .option('--before <timestamp:id>', 'show the page before this cursor (printed after a page)', parseCursor)
    .action(runner.action((ctx, cmd) => chat(ctx, cmd.args[0]!, cmd.opts())));
}
