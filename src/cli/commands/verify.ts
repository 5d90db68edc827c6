/**
 * `sotto verify <contact> [--confirm]`: shows the safety number with a contact (the same 60 digits
 * on both sides). Compare it in person or over a channel you trust; if it matches, `--confirm` marks
 * the contact verified. A key change clears the mark (`sotto watch` shows it).
 */
import type { Command } from 'commander';
import type { Contact, SafetyNumberView } from '../api-types.js';
import type { CliContext } from '../context.js';
import { EXIT } from '../errors.js';
import { clean } from '../output.js';
import type { ActionRunner } from '../program.js';
import { contactPath } from './contacts.js';

/** "12345 67890 …" (12 groups) as three rows of four groups, for reading aloud. */
export function safetyNumberRows(safetyNumber: string): string[] {
  const groups = safetyNumber.split(/\s+/).filter((g) => g !== '');
  const rows: string[] = [];
  for (let i = 0; i < groups.length; i += 4) rows.push(groups.slice(i, i + 4).join(' '));
  return rows;
}

export function safetyNumberLines(view: SafetyNumberView, ref: string): string[] {
  const who = view.name === undefined ? view.address : `${clean(view.name)} (${view.address})`;
  const name = clean(view.name ?? ref);
  return [
    `safety number with ${who}:`,
    '',
    ...safetyNumberRows(view.safetyNumber).map((row) => `    ${row}`),
    '',
    view.verified
      ? `${name} is verified`
      : `not verified: compare these digits with ${name} in person or over a channel you trust; ` +
        `if they match run: sotto verify ${name} --confirm`,
  ];
}

async function verify(ctx: CliContext, ref: string, options: { confirm?: boolean }): Promise<number> {
  const api = await ctx.client();
  let view = await api.get<SafetyNumberView>(`/v1/contacts/${contactPath(ref)}/safety-number`);
  if (options.confirm) {
    const { body } = await api.request<Contact>('POST', `/v1/contacts/${contactPath(ref)}/verify`);
    view = { ...view, name: body.name, verified: body.verified };
  }
  ctx.out.result(view, () => safetyNumberLines(view, ref));
  return EXIT.OK;
}

export function registerVerify(program: Command, runner: ActionRunner): void {
  program
    .command('verify')
    .description('show the safety number with a contact; --confirm marks the contact verified')
    .argument('<contact>', 'a contact name or a sotto1… address')
    .option('--confirm', 'the numbers match: mark the contact verified')
    .action(runner.action((ctx, cmd) => verify(ctx, cmd.args[0]!, cmd.opts<{ confirm?: boolean }>())));
}
