/**
 * The devnet's command line: `--nodes`, `--dir`, `--demo`, `--exit`, `--prometheus`, … Parsed with
 * commander and validated; a usage error is one line on standard error and exit code 2.
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';

/** Exit codes of the devnet script. */
export const EXIT = Object.freeze({
  OK: 0,
  /** A node did not start, a wait timed out, the demo's messages did not arrive, … */
  FAILURE: 1,
  /** Bad arguments. */
  USAGE: 2,
  /** Stopped by a second Ctrl-C (children killed), or by a signal before it was ready. */
  INTERRUPTED: 130,
});

export const MIN_NODES = 1;
export const MAX_NODES = 50;
export const DEFAULT_NODES = 3;
/** Default bound of every wait (a node starting, contacts, the demo's messages, Prometheus). */
export const DEFAULT_TIMEOUT_S = 60;
const MAX_TIMEOUT_S = 3600;
const LOG_LEVELS = ['error', 'warn', 'info', 'debug', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface DevnetOptions {
  nodes: number;
  /** The devnet folder; undefined: a temporary one, removed on exit. */
  dir: string | undefined;
  demo: boolean;
  /** Stop once ready (and after the demo) instead of running until Ctrl-C. */
  exit: boolean;
  prometheus: boolean;
  /** 0: any free port. */
  prometheusPort: number;
  json: boolean;
  logLevel: LogLevel;
  timeoutMs: number;
}

export type ParseResult = { run: DevnetOptions } | { exitCode: number };

function integer(min: number, max: number) {
  return (text: string): number => {
    if (!/^\d+$/.test(text.trim()) || Number(text) < min || Number(text) > max) {
      throw new InvalidArgumentError(`expected an integer ${min}..${max}, got ${JSON.stringify(text)}`);
    }
    return Number(text);
  };
}

const HELP = `
What it does:
  Starts N sotto daemons (\`sotto start\`) on 127.0.0.1 only, each with its own data dir in the
  devnet folder: node 1 (alice) first, then the others with alice as their bootstrap peer. Every
  node gets an identity (alice, bob, carol, dave, erin, …) and every other node as a contact. Prints
  a table of the nodes (name, address, peer id, API URL, pid), then runs until Ctrl-C, which stops
  every node (a second Ctrl-C kills them).

Files in the devnet folder:
  <name>/            the node's data dir (identity, store, api-token, daemon.json)
  <name>.log         the node's log (its standard error)
  prometheus/        prometheus.yml, its storage and log (with --prometheus)

Examples:
  npm run devnet -- --nodes 5
  npm run devnet -- --nodes 3 --demo
  npm run devnet -- --nodes 5 --dir ./devnet --prometheus
  npm run sotto -- --data-dir <devnet folder>/alice send bob "hello"

Exit codes: 0 ok (also after Ctrl-C once running), 1 failure, 2 usage error,
            130 interrupted before it was ready, or by a second Ctrl-C.`;

/** Parses the arguments (without `node` and the script). Help and usage errors are written here. */
export function parseOptions(
  args: readonly string[],
  write: { out: (text: string) => void; err: (text: string) => void },
): ParseResult {
  const program = new Command('devnet')
    .description(
      'a local sotto network on 127.0.0.1: N daemons, bootstrapped from the first, all contacts of each other',
    )
    .usage('[options]   (npm run devnet -- [options])')
    .option(
      '-n, --nodes <n>',
      `how many nodes (${MIN_NODES}..${MAX_NODES})`,
      integer(MIN_NODES, MAX_NODES),
      DEFAULT_NODES,
    )
    .option(
      '--dir <path>',
      'the devnet folder, kept (a second run reuses the identities); default a temporary one. ' +
        'Relative to the folder you ran npm from',
    )
    .option('--demo', 'send a message from each node to the next and show them arriving')
    .option('--exit', 'stop every node once ready (after the demo with --demo) instead of running until Ctrl-C')
    .option('--prometheus', 'also run Prometheus (when on PATH) scraping every node on 127.0.0.1')
    .option('--prometheus-port <port>', 'port of Prometheus on 127.0.0.1 (0: any free one)', integer(0, 65535), 0)
    .option('--json', 'one JSON object per line on standard output instead of text')
    .option(
      '--log-level <level>',
      `the nodes' log level (${LOG_LEVELS.join(', ')})`,
      (text: string) => {
        if (!(LOG_LEVELS as readonly string[]).includes(text)) {
          throw new InvalidArgumentError(`expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(text)}`);
        }
        return text;
      },
      'info',
    )
    .option(
      '--timeout <seconds>',
      `bound of every wait: a node starting, contacts, the demo, Prometheus (1..${MAX_TIMEOUT_S})`,
      integer(1, MAX_TIMEOUT_S),
      DEFAULT_TIMEOUT_S,
    )
    .helpOption('-h, --help', 'show this help')
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({
      writeOut: write.out,
      writeErr: write.err,
      outputError: (text, w) => w(`devnet: ${text.replace(/^error: /, '').trim()} (see --help)\n`),
    })
    .addHelpText('after', HELP);
  try {
    program.parse([...args], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return { exitCode: err.exitCode === 0 ? EXIT.OK : EXIT.USAGE };
    throw err;
  }
  const o = program.opts<{
    nodes: number;
    dir?: string;
    demo?: boolean;
    exit?: boolean;
    prometheus?: boolean;
    prometheusPort: number;
    json?: boolean;
    logLevel: LogLevel;
    timeout: number;
  }>();
  if (o.dir !== undefined && o.dir.trim() === '') {
    write.err('devnet: option --dir: expected a path, got "" (see --help)\n');
    return { exitCode: EXIT.USAGE };
  }
  return {
    run: {
      nodes: o.nodes,
      dir: o.dir,
      demo: o.demo === true,
      exit: o.exit === true,
      prometheus: o.prometheus === true,
      prometheusPort: o.prometheusPort,
      json: o.json === true,
      logLevel: o.logLevel,
      timeoutMs: o.timeout * 1000,
    },
  };
}
