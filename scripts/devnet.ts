/**
 * A local sotto network without Docker: N real daemons (`sotto start`) on 127.0.0.1, node 1 the
 * bootstrap peer of the others, every pair contacts of each other.
 *
 *   npm run devnet -- --nodes 5                     # runs until Ctrl-C
 *   npm run devnet -- --nodes 3 --demo              # …and sends a message from each node to the next
 *   npm run devnet -- --nodes 3 --demo --exit       # scripted: stop once the demo's messages arrived
 *   npm run devnet -- --nodes 5 --dir ./devnet      # keep the folder; a second run reuses the identities
 *   npm run devnet -- --prometheus                  # also Prometheus on 127.0.0.1 scraping every node
 *
 * Ctrl-C (SIGINT, SIGTERM, SIGHUP) stops every node by its PID and waits for them (bounded); a second
 * Ctrl-C kills them. Nothing listens on or dials anything but 127.0.0.1. See docs/DEVNET.md.
 */
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Devnet } from './devnet/devnet.js';
import { EXIT, parseOptions } from './devnet/options.js';
import { Reporter } from './devnet/output.js';
import { checkStopped, StopRequested } from './devnet/wait.js';

const parsed = parseOptions(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
});
if ('exitCode' in parsed) process.exit(parsed.exitCode);
const options = parsed.run;
const reporter = new Reporter(options.json);

const temporary = options.dir === undefined;
// `npm run devnet` runs in the package folder; a relative --dir means the folder npm was run from.
const base = process.env.INIT_CWD ?? process.cwd();
const dir = temporary ? await mkdtemp(join(tmpdir(), 'sotto-devnet-')) : resolve(base, options.dir!);
if (!temporary) await mkdir(dir, { recursive: true, mode: 0o700 });
const devnet = new Devnet(options, dir, temporary, reporter);

// Whatever happens to this process, no node outlives it (a SIGKILL of the devnet itself excepted).
process.on('exit', () => devnet.kill());
process.on('uncaughtException', (err) => {
  reporter.error(`unexpected error: ${err.stack ?? err.message}`);
  devnet.kill();
  process.exit(EXIT.FAILURE);
});

const run = new AbortController();
let signals = 0;
const onSignal = (signal: NodeJS.Signals) => {
  signals += 1;
  if (signals === 1) {
    run.abort(new StopRequested(signal));
    return;
  }
  reporter.error(`${signal} again: killing every node`);
  devnet.kill();
  if (temporary) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      reporter.error(`could not remove ${dir}`);
    }
  }
  process.exit(EXIT.INTERRUPTED);
};
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
// The reader of our output went away (`… | head`): stop the devnet as for a Ctrl-C, quietly.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  reporter.mute();
  if (!run.signal.aborted) run.abort(new StopRequested('EPIPE'));
});

/** Resolves never; rejects with the stop reason once a signal arrives. */
function untilStopped(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    const stop = () => reject(signal.reason);
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
  });
}

let code: number = EXIT.OK;
let finished = false;
let reason = 'done';
try {
  await devnet.start(run.signal);
  if (options.prometheus) await devnet.startPrometheus(run.signal);
  if (options.demo) await devnet.demo(run.signal);
  checkStopped(run.signal);
  finished = true;
  if (!options.exit) {
    reporter.lines([`running: Ctrl-C stops every node${options.demo ? ' (new messages show up here)' : ''}`]);
    await untilStopped(run.signal);
  }
} catch (err) {
  if (err instanceof StopRequested) {
    reason = err.signal;
    // Stopping a running devnet is how it ends; stopping it before it was ready is an interruption.
    code = finished ? EXIT.OK : EXIT.INTERRUPTED;
  } else {
    reason = 'failed';
    reporter.error(err instanceof Error ? err.message : String(err));
    code = EXIT.FAILURE;
  }
}
const { left } = await devnet.stop(reason);
if (left.length > 0) {
  reporter.error(`still running after SIGKILL: ${left.map((p) => `${p.name} (pid ${p.pid})`).join(', ')}`);
  code = EXIT.FAILURE;
}
if (temporary && code === EXIT.FAILURE) reporter.error(`the logs are in ${dir} (kept)`);
else if (temporary) await rm(dir, { recursive: true, force: true, maxRetries: 3 });
process.exit(code);
