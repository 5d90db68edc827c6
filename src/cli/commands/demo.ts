/** `sotto demo`: the in-process crypto demo (no network, no data dir). */
import type { Command } from 'commander';
import { EXIT } from '../errors.js';
import type { ActionRunner } from '../program.js';

export function registerDemo(program: Command, runner: ActionRunner): void {
  program
    .command('demo')
    .description('run a PQXDH handshake and an encrypted exchange between two local identities (no network)')
    .action(
      runner.action(async (ctx) => {
        // Loaded here: the crypto core is not needed by any other command.
        const { runDemo } = await import('../demo.js');
        runDemo((line = '') => ctx.environment.streams.stdout(`${line}\n`));
        return EXIT.OK;
      }),
    );
}
