#!/usr/bin/env node
/**
 * The `sotto` command: `sotto --help` lists the commands, `sotto <command> --help` their options,
 * and the help ends with the exit codes (src/cli/errors.ts `EXIT`). The command tree is in
 * program.ts, each command in commands/.
 */
import { homedir } from 'node:os';
import { envFlag } from './context.js';
import { debugReport, describeError, EXIT } from './errors.js';
import { runCli } from './program.js';
import { promptHidden } from './prompt.js';

// Everything sotto writes is private (keys, the store, the token): files it or LevelDB creates
// later are owner-only too, not just the ones tightened at start.
process.umask(0o077);

const debug = process.argv.includes('--debug') || envFlag(process.env.SOTTO_DEBUG);

/** A failure nothing else caught: one line (the stack with --debug), exit 1. */
function crash(err: unknown): void {
  const { message } = describeError(err);
  process.stderr.write(`sotto: unexpected error: ${message}\n`);
  if (debug) process.stderr.write(debugReport(err));
  process.exit(EXIT.FAILURE);
}
process.on('uncaughtException', crash);
// The reader went away (`sotto chat bob | head`): stop quietly, as a SIGPIPE would.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? EXIT.OK);
    crash(err);
  });
}
process.on('unhandledRejection', crash);

const code = await runCli(process.argv.slice(2), {
  streams: {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  },
  env: process.env,
  cwd: process.cwd(),
  homedir: homedir(),
  prompt: process.stdin.isTTY
    ? (question) => promptHidden(question, process.stdin, (text) => process.stderr.write(text))
    : undefined,
});
process.exitCode = code;
