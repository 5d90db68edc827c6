/**
 * Writes the local API's OpenAPI document, generated from the route schemas in src/api/, to
 * docs/openapi.json. With --check, writes nothing and fails when the committed file is out of date.
 *
 *   node --import tsx scripts/openapi.ts [--check]
 */
import { readFile, writeFile } from 'node:fs/promises';
import { formatOpenApi, openApiDocument } from '../src/api/openapi.js';

const target = new URL('../docs/openapi.json', import.meta.url);
const document = await openApiDocument();

if (process.argv.includes('--check')) {
  let committed: unknown;
  try {
    committed = JSON.parse(await readFile(target, 'utf8'));
  } catch {
    committed = undefined;
  }
  // Compared as JSON values, so reformatting the file (biome) does not count as a change.
  if (JSON.stringify(committed) !== JSON.stringify(document)) {
    console.error('docs/openapi.json is out of date: run node --import tsx scripts/openapi.ts');
    process.exit(1);
  }
  console.log('docs/openapi.json is up to date');
} else {
  await writeFile(target, formatOpenApi(document));
  console.log(`wrote docs/openapi.json (${Object.keys(document.paths as object).length} paths)`);
}
