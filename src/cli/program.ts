/**
 * The `sotto` command tree (commander) and `runCli`, which parses, runs one command and turns its
 * outcome into an exit code. `main.ts` calls `runCli` with the real process; tests call it with
 * buffers.
 */
import { Command, CommanderError } from 'commander';
import { packageVersion } from '../version.js';
import { registerBackup } from './commands/backup.js';
import { registerChat } from './commands/chat.js';
import { registerConfig } from './commands/config.js';
import { registerContacts } from './commands/contacts.js';
import { registerDemo } from './commands/demo.js';
import { registerId } from './commands/id.js';
import { registerInit } from './commands/init.js';
import { registerMailbox } from './commands/mailbox.js';
import { registerPassphrase } from './commands/passphrase.js';
import { registerRequests } from './commands/requests.js';
import { registerRetry } from './commands/retry.js';
import { registerSend } from './commands/send.js';
import { registerStart } from './commands/start.js';
import { registerPeers, registerStatus } from './commands/status.js';
import { registerVerify } from './commands/verify.js';
import { registerWatch } from './commands/watch.js';
import { CliContext, type CliEnvironment, envFlag, type GlobalOptions } from './context.js';
import { debugReport, describeError, EXIT, EXIT_CODE_TABLE, oneLine } from './errors.js';

/** What a command's action returns: its exit code (undefined = 0). */
export type ActionResult = number | undefined;
export type CommandAction = (ctx: CliContext, cmd: Command) => Promise<ActionResult>;

/** Wraps command actions: builds the context from the global options and records the exit code. */
export interface ActionRunner {
  action(fn: CommandAction): (...params: unknown[]) => Promise<void>;
}

const HELP_EPILOGUE = `
Where things are:
  data dir   --data-dir > SOTTO_HOME > $XDG_DATA_HOME/sotto > ~/.local/share/sotto
             (identity, store, peer key, config.json, api-token, daemon.json)
  local API  --api-url > SOTTO_API_URL > <data dir>/daemon.json (the running daemon) >
             api.host/api.port from config.json or SOTTO_API_HOST/SOTTO_API_PORT (default 127.0.0.1:7373)
  API token  SOTTO_API_TOKEN > <data dir>/api-token
  passphrase --passphrase-file > SOTTO_PASSPHRASE_FILE > SOTTO_PASSPHRASE > asked on a terminal
             (wraps the store's data key: <data dir>/store/keys.json)
  init, id, config and demo work without a daemon; passphrase and backup need it stopped;
  every other command talks to the running one.

Output: results on standard output (--json: JSON; watch --json: one JSON object per line);
errors as one line "sotto: <message>" on standard error (--debug or SOTTO_DEBUG=1: with the stack).

Exit codes:
${EXIT_CODE_TABLE.map(({ code, meaning }) => `  ${String(code).padStart(3)}  ${meaning}`).join('\n')}
`;

/** The full command path, e.g. `sotto contacts add`. */
function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c !== null; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Builds the command tree. `runner` wires actions to the context and exit code. */
export function buildProgram(environment: CliEnvironment, runner: ActionRunner): Command {
  const program = new Command('sotto');
  program
    .description('sotto: a peer-to-peer, end-to-end encrypted messaging node')
    .version(packageVersion(), '-V, --version', 'print the version')
    .option('--data-dir <dir>', 'the data dir (default: SOTTO_HOME, $XDG_DATA_HOME/sotto or ~/.local/share/sotto)')
    .option('--api-url <url>', 'URL of the daemon API (default: from <data dir>/daemon.json or the config)')
    .option('--json', 'print results as JSON')
    .option('--debug', 'print stack traces with errors')
    .helpOption('-h, --help', 'show help')
    .helpCommand('help [command]', 'show help for a command')
    .showSuggestionAfterError(true)
    .configureHelp({ showGlobalOptions: true })
    .exitOverride()
    .configureOutput({
      writeOut: (text) => environment.streams.stdout(text),
      writeErr: (text) => environment.streams.stderr(text),
    })
    .addHelpText('after', HELP_EPILOGUE);

  registerInit(program, runner);
  registerStart(program, runner);
  registerId(program, runner);
  registerContacts(program, runner);
  registerRequests(program, runner);
  registerSend(program, runner);
  registerRetry(program, runner);
  registerChat(program, runner);
  registerWatch(program, runner);
  registerVerify(program, runner);
  registerStatus(program, runner);
  registerPeers(program, runner);
  registerMailbox(program, runner);
  registerConfig(program, runner);
  registerPassphrase(program, runner);
  registerBackup(program, runner);
  registerDemo(program, runner);
  program
    .command('version')
    .description('print the version')
    .action(
      runner.action(async (ctx) => {
        const version = packageVersion();
        ctx.out.result({ version }, () => [version]);
        return EXIT.OK;
      }),
    );

  // Usage errors as one line naming the command's help, e.g.
  // `sotto: unknown option '--frob' (see sotto contacts add --help)`.
  const configure = (cmd: Command) => {
    const path = commandPath(cmd);
    cmd.configureOutput({
      writeOut: (text) => environment.streams.stdout(text),
      writeErr: (text) => environment.streams.stderr(text),
      outputError: (text, write) => write(`sotto: ${oneLine(text.replace(/^error: /, ''))} (see ${path} --help)\n`),
    });
    for (const sub of cmd.commands) configure(sub);
  };
  configure(program);
  return program;
}

/**
 * Runs the CLI for `args` (the arguments after the program name) and resolves with the exit code.
 * Never throws: every failure is reported on standard error as one line.
 */
export async function runCli(args: readonly string[], environment: CliEnvironment): Promise<number> {
  let exitCode: number = EXIT.OK;
  let context: CliContext | undefined;
  const runner: ActionRunner = {
    action:
      (fn) =>
      async (...params: unknown[]) => {
        const cmd = params.at(-1) as Command;
        context = new CliContext(environment, cmd.optsWithGlobals<GlobalOptions>());
        exitCode = (await fn(context, cmd)) ?? EXIT.OK;
      },
  };
  const program = buildProgram(environment, runner);
  if (args.length === 0) {
    program.outputHelp();
    return EXIT.OK;
  }
  try {
    await program.parseAsync([...args], { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander printed the message (or the help) already
      return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    const debug = context?.debug ?? (args.includes('--debug') || envFlag(environment.env.SOTTO_DEBUG));
    const { exitCode: code, message } = describeError(err, context?.errorContext() ?? {});
    environment.streams.stderr(`sotto: ${message}\n`);
    if (debug) environment.streams.stderr(debugReport(err));
    return code;
  }
}
