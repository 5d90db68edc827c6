/**
 * Contact requests and the block list. With `contacts.requests` "ask" (the default), a message from
 * an identity that is neither a contact nor in a conversation is held as a contact request:
 *
 * - `sotto requests [list]`: the pending requests, oldest first;
 * - `sotto requests show <address>`: one request with its held messages;
 * - `sotto requests accept <address> <name>`: the requester becomes contact <name>, its messages
 *   join the conversation;
 * - `sotto requests reject <address>`: the request and its messages are deleted;
 * - `sotto requests block <address>`: like reject, and its later messages are dropped unread.
 *
 * `sotto block <contact>` blocks a contact (by name) or any address, `sotto unblock <contact>` takes
 * it off the list, `sotto blocked` lists it. Exit codes: 0, 2 (a malformed address or name), 4 (no
 * such request; not blocked; unknown contact), 5 (name taken, block list full), 3 (no daemon).
 */
import type { Command } from 'commander';
import type { BlockedView, Contact, RequestSummary, RequestView } from '../api-types.js';
import type { CliContext } from '../context.js';
import { EXIT } from '../errors.js';
import { clean, formatTime, table } from '../output.js';
import type { ActionRunner } from '../program.js';
import { contactPath } from './contacts.js';

/** The pending requests as a table (address, messages, first and latest arrival). */
export function requestsTable(requests: readonly RequestSummary[]): string[] {
  if (requests.length === 0) return ['no contact requests'];
  return table(
    ['ADDRESS', 'MESSAGES', 'FIRST', 'LATEST'],
    requests.map((r) => [r.address, String(r.held), formatTime(r.firstAt), formatTime(r.lastAt)]),
  );
}

export function requestLines(view: RequestView): string[] {
  return [
    `contact request from ${view.address} (${view.held} message${view.held === 1 ? '' : 's'})`,
    ...view.messages.map((m) => {
      const prefix = `${formatTime(m.timestamp)}  ← `;
      const [first = '', ...rest] = clean(m.text, { multiline: true }).split('\n');
      return [`${prefix}${first}`, ...rest.map((line) => `${' '.repeat(prefix.length)}${line}`)].join('\n');
    }),
    `accept: sotto requests accept ${view.address} <name>   reject: sotto requests reject ${view.address}   block: sotto requests block ${view.address}`,
  ];
}

export function blockedTable(blocked: readonly BlockedView[]): string[] {
  if (blocked.length === 0) return ['nobody is blocked'];
  return table(
    ['NAME', 'ADDRESS', 'BLOCKED'],
    blocked.map((b) => [b.name === undefined ? '-' : clean(b.name), b.address, formatTime(b.blockedAt)]),
  );
}

async function list(ctx: CliContext): Promise<number> {
  const api = await ctx.client();
  const { requests } = await api.get<{ requests: RequestSummary[] }>('/v1/requests');
  ctx.out.result({ requests }, () => requestsTable(requests));
  return EXIT.OK;
}

async function show(ctx: CliContext, address: string): Promise<number> {
  const api = await ctx.client();
  const view = await api.get<RequestView>(`/v1/requests/${contactPath(address)}`);
  ctx.out.result(view, () => requestLines(view));
  return EXIT.OK;
}

async function accept(ctx: CliContext, address: string, name: string): Promise<number> {
  const api = await ctx.client();
  const { body } = await api.request<Contact>('POST', `/v1/requests/${contactPath(address)}/accept`, {
    body: { name },
  });
  ctx.out.result(body, () => [
    `accepted: ${clean(body.name)} (${body.address}) is a contact; sotto chat ${clean(body.name)} shows the messages`,
  ]);
  return EXIT.OK;
}

async function reject(ctx: CliContext, address: string): Promise<number> {
  const api = await ctx.client();
  await api.request('POST', `/v1/requests/${contactPath(address)}/reject`);
  ctx.out.result({ rejected: address }, () => [
    `rejected the request from ${clean(address)}; its messages are deleted`,
  ]);
  return EXIT.OK;
}

async function blockRequest(ctx: CliContext, address: string): Promise<number> {
  const api = await ctx.client();
  const { body } = await api.request<BlockedView>('POST', `/v1/requests/${contactPath(address)}/block`);
  ctx.out.result(body, () => [`blocked ${body.address}: the request is deleted, later messages are dropped unread`]);
  return EXIT.OK;
}

async function block(ctx: CliContext, ref: string): Promise<number> {
  const api = await ctx.client();
  const { status, body } = await api.request<BlockedView>('POST', '/v1/blocked', { body: { contact: ref } });
  const who = body.name === undefined ? body.address : `${clean(body.name)} (${body.address})`;
  ctx.out.result({ ...body, created: status === 201 }, () => [
    status === 201
      ? `blocked ${who}: its messages are dropped unread, nothing is sent to it`
      : `${who} was already blocked`,
  ]);
  return EXIT.OK;
}

async function unblock(ctx: CliContext, ref: string): Promise<number> {
  const api = await ctx.client();
  await api.request('DELETE', `/v1/blocked/${contactPath(ref)}`);
  ctx.out.result({ unblocked: ref }, () => [`unblocked ${clean(ref)}`]);
  return EXIT.OK;
}

async function blockedList(ctx: CliContext): Promise<number> {
  const api = await ctx.client();
  const { blocked } = await api.get<{ blocked: BlockedView[] }>('/v1/blocked');
  ctx.out.result({ blocked }, () => blockedTable(blocked));
  return EXIT.OK;
}

export function registerRequests(program: Command, runner: ActionRunner): void {
  const requests = program
    .command('requests')
    .description('contact requests: first messages from unknown identities, held until you decide (default: list)');
  requests
    .command('list', { isDefault: true })
    .alias('ls')
    .description('list the pending requests, oldest first')
    .action(runner.action((ctx) => list(ctx)));
  requests
    .command('show')
    .description('show one request with its messages')
    .argument('<address>', 'the sotto1… address of the requester')
    .action(runner.action((ctx, cmd) => show(ctx, cmd.args[0]!)));
  requests
    .command('accept')
    .description('accept: the requester becomes a contact and its messages join the conversation')
    .argument('<address>', 'the sotto1… address of the requester')
    .argument('<name>', 'the contact name to give it (1-64 characters, not starting with sotto1)')
    .action(runner.action((ctx, cmd) => accept(ctx, cmd.args[0]!, cmd.args[1]!)));
  requests
    .command('reject')
    .description('reject: the request and its messages are deleted (the sender is not told)')
    .argument('<address>', 'the sotto1… address of the requester')
    .action(runner.action((ctx, cmd) => reject(ctx, cmd.args[0]!)));
  requests
    .command('block')
    .description('reject and block: its later messages are dropped unread')
    .argument('<address>', 'the sotto1… address of the requester')
    .action(runner.action((ctx, cmd) => blockRequest(ctx, cmd.args[0]!)));
  program
    .command('block')
    .description('block a contact or an address: its messages are dropped unread, nothing is sent to it')
    .argument('<contact>', 'a contact name or a sotto1… address')
    .action(runner.action((ctx, cmd) => block(ctx, cmd.args[0]!)));
  program
    .command('unblock')
    .description('take a contact or an address off the block list')
    .argument('<contact>', 'a contact name or a sotto1… address')
    .action(runner.action((ctx, cmd) => unblock(ctx, cmd.args[0]!)));
  program
    .command('blocked')
    .description('list the blocked identities')
    .action(runner.action((ctx) => blockedList(ctx)));
}
