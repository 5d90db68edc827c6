/**
 * `sotto status` (peers, DHT routing table, outbox, prekeys, what this node holds as a mailbox,
 * uptime) and `sotto peers` (connected peers).
 */
import type { Command } from 'commander';
import type { Peers, Status } from '../api-types.js';
import type { CliContext } from '../context.js';
import { EXIT } from '../errors.js';
import { fields, formatBytes, formatDuration, formatTime } from '../output.js';
import type { ActionRunner } from '../program.js';

export function statusLines(status: Status, api: string): string[] {
  return fields([
    ['peers', String(status.peers)],
    ['routing table', `${status.routingTable} peers`],
    ['outbox', `${status.outbox} queued`],
    [
      'one-time prekeys',
      `${status.oneTimePrekeys.available} available, ${status.oneTimePrekeys.claimed} claimed, ` +
        `${status.oneTimePrekeys.claimsServed} claims served`,
    ],
    ...(status.mailbox
      ? [
          [
            'mailbox',
            `holding ${status.mailbox.held} ${status.mailbox.held === 1 ? 'envelope' : 'envelopes'} ` +
              `(${formatBytes(status.mailbox.bytes)}) for others`,
          ] as const,
        ]
      : []),
    ['uptime', `${formatDuration(status.uptimeMs)} (since ${formatTime(status.startedAt)})`],
    ['version', status.version],
    ['api', api],
  ]);
}

export function peersLines(peers: Peers['peers']): string[] {
  if (peers.length === 0) return ['no connected peers'];
  const lines = [`${peers.length} connected ${peers.length === 1 ? 'peer' : 'peers'}`];
  for (const p of peers) {
    lines.push(p.peerId);
    for (const a of p.addresses) lines.push(`  ${a}`);
  }
  return lines;
}

async function status(ctx: CliContext): Promise<number> {
  const api = await ctx.client();
  const body = await api.get<Status>('/v1/status');
  ctx.out.result({ ...body, api: api.baseUrl }, () => statusLines(body, api.baseUrl));
  return EXIT.OK;
}

async function peers(ctx: CliContext): Promise<number> {
  const api = await ctx.client();
  const body = await api.get<Peers>('/v1/peers');
  ctx.out.result(body, () => peersLines(body.peers));
  return EXIT.OK;
}

export function registerStatus(program: Command, runner: ActionRunner): void {
  program
    .command('status')
    .description('show the running node: peers, DHT routing table size, outbox depth, prekeys, mailbox use, uptime')
    .action(runner.action((ctx) => status(ctx)));
}

export function registerPeers(program: Command, runner: ActionRunner): void {
  program
    .command('peers')
    .description('list the connected peers and their addresses')
    .action(runner.action((ctx) => peers(ctx)));
}
