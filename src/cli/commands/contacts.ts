/**
 * `sotto contacts`: names for addresses. `add <name> <address>`, `list` (the default), `remove
 * <contact>`, `rename <contact> <new-name>`; a contact is its name or its sotto1… address.
 */
import type { Command } from 'commander';
import type { Contact } from '../api-types.js';
import type { CliContext } from '../context.js';
import { EXIT } from '../errors.js';
import { clean, formatTime, table } from '../output.js';
import type { ActionRunner } from '../program.js';

/** A contact reference in a URL path. */
export function contactPath(ref: string): string {
  return encodeURIComponent(ref);
}

/** The contacts as a table (name, verified, address, added). */
export function contactsTable(contacts: readonly Contact[]): string[] {
  if (contacts.length === 0) return ['no contacts yet (add one with: sotto contacts add <name> <address>)'];
  return table(
    ['NAME', 'VERIFIED', 'ADDRESS', 'ADDED'],
    contacts.map((c) => [clean(c.name), c.verified ? 'yes' : 'no', c.address, formatTime(c.addedAt)]),
  );
}

async function add(ctx: CliContext, name: string, address: string): Promise<number> {
  const api = await ctx.client();
  const { status, body } = await api.request<Contact>('POST', '/v1/contacts', { body: { name, address } });
  const created = status === 201;
  ctx.out.result({ ...body, created }, () => [
    created ? `added ${clean(body.name)} (${body.address})` : `${clean(body.name)} is already this contact`,
    ...(body.verified ? [] : [`compare safety numbers with: sotto verify ${clean(body.name)}`]),
  ]);
  return EXIT.OK;
}

async function list(ctx: CliContext): Promise<number> {
  const api = await ctx.client();
  const { contacts } = await api.get<{ contacts: Contact[] }>('/v1/contacts');
  ctx.out.result({ contacts }, () => contactsTable(contacts));
  return EXIT.OK;
}

async function remove(ctx: CliContext, ref: string): Promise<number> {
  const api = await ctx.client();
  const contact = await api.get<Contact>(`/v1/contacts/${contactPath(ref)}`);
  await api.request('DELETE', `/v1/contacts/${contactPath(contact.address)}`);
  ctx.out.result({ removed: contact }, () => [
    `removed ${clean(contact.name)} (${contact.address}); the conversation stays (sotto chat ${contact.address})`,
  ]);
  return EXIT.OK;
}

async function rename(ctx: CliContext, ref: string, name: string): Promise<number> {
  const api = await ctx.client();
  const { body } = await api.request<Contact>('PATCH', `/v1/contacts/${contactPath(ref)}`, { body: { name } });
  ctx.out.result(body, () => [`renamed ${clean(ref)} to ${clean(body.name)}`]);
  return EXIT.OK;
}

export function registerContacts(program: Command, runner: ActionRunner): void {
  const contacts = program.command('contacts').description('manage contacts: names for addresses (default: list)');
  contacts
    .command('list', { isDefault: true })
    .alias('ls')
    .description('list every contact')
    .action(runner.action((ctx) => list(ctx)));
  contacts
    .command('add')
    .description('add a contact: a name for an address')
    .argument('<name>', 'the name to use (1-64 characters, not starting with sotto1)')
    .argument('<address>', 'their sotto1… address (from their sotto id)')
    .action(runner.action((ctx, cmd) => add(ctx, cmd.args[0]!, cmd.args[1]!)));
  contacts
    .command('remove')
    .alias('rm')
    .description('remove a contact (the conversation stays)')
    .argument('<contact>', 'name or address')
    .action(runner.action((ctx, cmd) => remove(ctx, cmd.args[0]!)));
  contacts
    .command('rename')
    .description('rename a contact')
    .argument('<contact>', 'current name or address')
    .argument('<new-name>', 'the new name')
    .action(runner.action((ctx, cmd) => rename(ctx, cmd.args[0]!, cmd.args[1]!)));
}
