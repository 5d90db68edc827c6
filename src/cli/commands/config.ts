/**
 * `sotto config`: the effective configuration with the source of each setting (default, file,
 * env, flag). From the running daemon when there is one (what it actually runs with); else as
 * `sotto start` would resolve it now from config.json and the SOTTO_* variables.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { ApiUnreachableError, EXIT } from '../errors.js';
import { clean, table } from '../output.js';
import type { ActionRunner } from '../program.js';

/** `{ net: { limits: { maxConnections: 256 } } }` → `[['net.limits.maxConnections', 256]]` (arrays stay whole). */
export function flatten(value: unknown, prefix = ''): [string, unknown][] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [[prefix, value]];
  const out: [string, unknown][] = [];
  for (const [key, v] of Object.entries(value)) out.push(...flatten(v, prefix === '' ? key : `${prefix}.${key}`));
  return out;
}

function show(value: unknown): string {
  if (Array.isArray(value)) return value.length === 0 ? '(none)' : value.map((v) => clean(String(v))).join(', ');
  return clean(typeof value === 'string' ? value : (JSON.stringify(value) ?? 'undefined'));
}

/** The config as `SETTING  VALUE  SOURCE` rows. */
export function configLines(config: Record<string, unknown>): string[] {
  const { sources, ...settings } = config as { sources?: Record<string, string> } & Record<string, unknown>;
  const rows = flatten(settings).map(([field, value]) => [field, show(value), sources?.[field] ?? '']);
  return table(['SETTING', 'VALUE', 'SOURCE'], rows);
}

async function config(ctx: CliContext): Promise<number> {
  let body: Record<string, unknown> | undefined;
  let origin: string;
  try {
    const api = await ctx.client();
    body = await api.get<Record<string, unknown>>('/v1/config');
    origin = `effective configuration of the running daemon (${api.baseUrl})`;
  } catch (err) {
    if (!(err instanceof ApiUnreachableError) || ctx.explicitApi) throw err;
    const { configToJson, loadConfig } = await import('../../config/index.js');
    const resolved = await loadConfig({
      flags: ctx.options.dataDir === undefined ? {} : { dataDir: ctx.options.dataDir },
      env: ctx.env,
      cwd: ctx.environment.cwd,
      homedir: ctx.environment.homedir,
    });
    body = JSON.parse(configToJson(resolved.config, resolved.sources)) as Record<string, unknown>;
    origin = `no daemon is running: the configuration sotto start would use (config file: ${resolved.file.present ? resolved.file.path : 'none'})`;
  }
  const result = body;
  ctx.out.result(result, () => [origin, '', ...configLines(result)]);
  return EXIT.OK;
}

export function registerConfig(program: Command, runner: ActionRunner): void {
  program
    .command('config')
    .description('show the effective configuration and where each setting comes from')
    .action(runner.action((ctx) => config(ctx)));
}
