/**
 * The data dir, by the rule of src/config/settings.ts (`resolveDataDir`): `--data-dir` >
 * `SOTTO_HOME` > `$XDG_DATA_HOME/sotto` (absolute only) > `<home>/.local/share/sotto`; `~/` expands
 * to the home directory, a relative path resolves against the working directory.
 */

import { ConfigError } from '../config/errors.js';
import { type ConfigEnv, resolveDataDir } from '../config/settings.js';

export interface DataDirInput {
  dataDir?: string | undefined;
  env: ConfigEnv;
  homedir: string;
  cwd: string;
}

function resolve(input: DataDirInput): string {
  return resolveDataDir({
    flags: input.dataDir === undefined ? {} : { dataDir: input.dataDir },
    env: input.env,
    homedir: input.homedir,
    cwd: input.cwd,
  }).dataDir;
}

/** The data dir, or undefined when it cannot be resolved (an empty value, no home directory, …). */
export function quickDataDir(input: DataDirInput): string | undefined {
  try {
    return resolve(input);
  } catch (err) {
    if (err instanceof ConfigError) return undefined;
    throw err;
  }
}

/** The data dir; throws src/config's ConfigError when it cannot be resolved. */
export async function dataDirOf(input: DataDirInput): Promise<string> {
  return resolve(input);
}
