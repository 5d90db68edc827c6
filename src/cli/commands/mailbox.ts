/**
 * `sotto mailbox`: this identity's mailboxes, nodes that hold its messages while it is offline
 * (their peer ids are published in its record; a sender that cannot reach this node deposits the
 * message at one of them, and the daemon fetches from them). `list` (the default), `add <peer-id>`,
 * `remove <peer-id>`, `fetch`.
 *
 * Changes go through the running daemon: it republishes the record and saves the list into
 * `<data dir>/config.json` (`mailboxes`), so a restart keeps it. When SOTTO_MAILBOXES or
 * `--mailboxes` set the list, the daemon cannot save it (they win at every start): the change then
 * lasts until the daemon stops, and a note on standard error says so.
 */
import type { Command } from 'commander';
import type { FetchResult, MailboxList, SetMailboxesResult } from '../api-types.js';
import { SEND_TIMEOUT_MS } from '../client.js';
import type { CliContext } from '../context.js';
import { CliError, EXIT } from '../errors.js';
import { clean } from '../output.js';
import type { ActionRunner } from '../program.js';

/** Most mailboxes an identity lists (MAX_MAILBOXES of src/directory/record.ts; the API's limit). */
export const MAX_MAILBOXES = 8;

/**
 * Changing the list republishes the identity record: a DHT put, which waits for the peers it asks
 * (up to 30 s) — the same margin as a send.
 */
export const MAILBOX_CHANGE_TIMEOUT_MS = SEND_TIMEOUT_MS;
/** A fetch asks every mailbox in turn and stores what they hold. */
export const MAILBOX_FETCH_TIMEOUT_MS = SEND_TIMEOUT_MS;

/** A peer id as the user typed it, in its canonical form; a usage error when it is not one. */
export async function canonicalPeerId(text: string): Promise<string> {
  // Loaded here: only these commands need it.
  const { peerIdFromString } = await import('@libp2p/peer-id');
  try {
    return peerIdFromString(text.trim()).toString();
  } catch {
    const shown = text.length > 100 ? `${text.slice(0, 100)}…` : text;
    throw new CliError(
      EXIT.USAGE,
      `not a libp2p peer id: "${clean(shown)}"`,
      "a mailbox is named by its node's peer id, 12D3KooW… (sotto id on that node)",
    );
  }
}

/** The list as human lines. */
export function mailboxLines(peers: readonly string[]): string[] {
  if (peers.length === 0) return ['no mailboxes (add one with: sotto mailbox add <peer-id>)'];
  return [
    `${peers.length} ${peers.length === 1 ? 'mailbox' : 'mailboxes'} (senders try them in this order)`,
    ...peers.map((p) => `  ${clean(p)}`),
  ];
}

/** The human line for a fetch. */
export function fetchLine(result: FetchResult): string {
  if (result.mailboxes === 0) return 'no mailboxes to fetch from (add one with: sotto mailbox add <peer-id>)';
  const messages = `${result.fetched} new ${result.fetched === 1 ? 'message' : 'messages'}`;
  const from = `${result.mailboxes} ${result.mailboxes === 1 ? 'mailbox' : 'mailboxes'}`;
  return `fetched ${messages} from ${from}`;
}

async function current(ctx: CliContext): Promise<string[]> {
  const api = await ctx.client();
  return (await api.get<MailboxList>('/v1/mailboxes')).peers;
}

async function put(ctx: CliContext, peers: string[]): Promise<SetMailboxesResult> {
  const api = await ctx.client();
  const { body } = await api.request<SetMailboxesResult>('PUT', '/v1/mailboxes', {
    body: { peers },
    timeoutMs: MAILBOX_CHANGE_TIMEOUT_MS,
  });
  if (!body.saved && !ctx.out.json) {
    ctx.out.note(`sotto: note: not saved to config.json: ${clean(body.reason ?? 'no reason given')}`);
  }
  return body;
}

async function list(ctx: CliContext): Promise<number> {
  const peers = await current(ctx);
  ctx.out.result({ peers }, () => mailboxLines(peers));
  return EXIT.OK;
}

async function add(ctx: CliContext, text: string): Promise<number> {
  const peer = await canonicalPeerId(text);
  const peers = await current(ctx);
  if (peers.includes(peer)) {
    ctx.out.result({ peers, added: false }, () => [`${peer} is already one of your mailboxes`]);
    return EXIT.OK;
  }
  if (peers.length >= MAX_MAILBOXES) {
    throw new CliError(
      EXIT.CONFLICT,
      `you have ${peers.length} mailboxes, the most an identity lists`,
      'remove one first: sotto mailbox remove <peer-id>',
    );
  }
  const result = await put(ctx, [...peers, peer]);
  ctx.out.result({ ...result, added: true }, () => [
    `added mailbox ${peer} (${result.peers.length} in all); your identity record is republished`,
  ]);
  return EXIT.OK;
}

async function remove(ctx: CliContext, text: string): Promise<number> {
  const peer = await canonicalPeerId(text);
  const peers = await current(ctx);
  if (!peers.includes(peer)) {
    throw new CliError(EXIT.NOT_FOUND, `${peer} is not one of your mailboxes`, 'see sotto mailbox list');
  }
  const result = await put(
    ctx,
    peers.filter((p) => p !== peer),
  );
  ctx.out.result({ ...result, removed: peer }, () => [
    `removed mailbox ${peer} (${result.peers.length} left); your identity record is republished`,
  ]);
  return EXIT.OK;
}

async function fetchNow(ctx: CliContext): Promise<number> {
  const api = await ctx.client();
  const { body } = await api.request<FetchResult>('POST', '/v1/mailboxes/fetch', {
    timeoutMs: MAILBOX_FETCH_TIMEOUT_MS,
  });
  ctx.out.result(body, () => [fetchLine(body)]);
  return EXIT.OK;
}

export function registerMailbox(program: Command, runner: ActionRunner): void {
  const mailbox = program
    .command('mailbox')
    .description('manage your mailboxes: nodes that hold your messages while you are offline (default: list)')
    .addHelpText(
      'after',
      `
A mailbox is another sotto node (yours, or a friend's) that serves your address: its operator
lists your address in its mailbox.allow (or runs it with mailbox.policy open). Changes are
published in your identity record and saved to <data dir>/config.json ("mailboxes").

Examples:
  sotto mailbox add 12D3KooW...
  sotto mailbox fetch`,
    );
  mailbox
    .command('list', { isDefault: true })
    .alias('ls')
    .description('list your mailboxes (peer ids), in the order senders try them')
    .action(runner.action((ctx) => list(ctx)));
  mailbox
    .command('add')
    .description('add a mailbox (at most 8); republishes your record')
    .argument('<peer-id>', "the mailbox node's peer id (12D3KooW…, from sotto id on that node)")
    .action(runner.action((ctx, cmd) => add(ctx, cmd.args[0]!)));
  mailbox
    .command('remove')
    .alias('rm')
    .description('remove a mailbox; republishes your record')
    .argument('<peer-id>', 'the peer id, as sotto mailbox list shows it')
    .action(runner.action((ctx, cmd) => remove(ctx, cmd.args[0]!)));
  mailbox
    .command('fetch')
    .description('fetch waiting messages from every mailbox now (the daemon also does every minute)')
    .action(runner.action((ctx) => fetchNow(ctx)));
}
