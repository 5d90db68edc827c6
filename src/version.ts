/** The package version, for `sotto version`, `sotto --version` and the API's status. */
import { readFileSync } from 'node:fs';

/** The version of the nearest package.json named sotto (works from src/ and from dist/). */
export function packageVersion(): string {
  for (let dir = new URL('.', import.meta.url); ; dir = new URL('..', dir)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'sotto' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // no package.json here: keep walking up
    }
    if (dir.pathname === '/') return 'unknown';
  }
}
