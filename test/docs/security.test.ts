/**
 * Keeps SECURITY.md true (issue 7). The page has two machine-checked parts:
 *
 * - the limits table (between `<!-- limits:begin -->` and `<!-- limits:end -->`): every row names a
 *   constant (`NAME`, or `NAME.field.field` inside an exported object), its value and the module that
 *   exports it (`src/…​.ts`, or a file under `node_modules/` for libp2p's own defaults). The test
 *   imports each module and checks that the name exists and its value is the documented one.
 *   Modules that hold security limits (COMPLETE_MODULES) must have a row for every numeric constant
 *   they declare with `export const`: a new limit fails this test until its row is added.
 * - test references anywhere on the page, written `` `test/…​.ts`: "title" ``: the file exists and
 *   one of its `describe`/`it`/`test` titles contains the quoted text (a leading or trailing `…`
 *   marks a part of a longer or templated title). A renamed test fails here.
 *
 * Also: every `src/`, `test/`, `protocols/` or `docs/` path in backticks on the page exists.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PAGE = readFileSync(new URL('SECURITY.md', pathToFileURL(ROOT)), 'utf8');

/**
 * Modules whose every `export const NAME = <number>` must have a row in the limits table: the wire
 * protocols' limits, the per-peer rate limits and the ban list, the mailbox role, the connection
 * limits, the DHT message limit and the directory record. (Re-exports are not declarations and need no row of their own.)
 */
const COMPLETE_MODULES: readonly string[] = [
  ...readdirSync(new URL('src/protocols/', pathToFileURL(ROOT)), { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(`${ROOT}src/protocols/${d.name}/constants.ts`))
    .map((d) => `src/protocols/${d.name}/constants.ts`),
  'src/protocols/common/rate-limit.ts',
  'src/node/ban-list.ts',
  'src/node/mailbox.ts',
  'src/net/config.ts',
  'src/net/frame-guard.ts',
  'src/directory/record.ts',
].filter((m) => existsSync(ROOT + m));

interface LimitRow {
  name: string;
  value: number;
  source: string;
  line: string;
}

/** The lines between `<!-- <marker>:begin -->` and `<!-- <marker>:end -->`. */
function section(marker: string): string[] {
  const begin = PAGE.indexOf(`<!-- ${marker}:begin -->`);
  const end = PAGE.indexOf(`<!-- ${marker}:end -->`);
  assert.ok(begin >= 0 && end > begin, `SECURITY.md has a ${marker} section`);
  return PAGE.slice(begin, end).split('\n');
}

/** `| \`NAME\` | 66 560 | … | … | \`src/…\` |` → a row; header, separator and other lines → undefined. */
function parseLimitRow(line: string): LimitRow | undefined {
  if (!line.startsWith('|') || /^\|\s*-/.test(line)) return undefined;
  const cells = line
    .split('|')
    .slice(1, -1)
    .map((c) => c.trim());
  const name = /^`([A-Za-z_][\w.]*)`$/.exec(cells[0] ?? '')?.[1];
  if (name === undefined) return undefined; // the header
  assert.equal(cells.length, 5, `a limits row has 5 cells: ${line}`);
  const source = /^`([^`]+)`$/.exec(cells[4] ?? '')?.[1];
  assert.ok(source, `the source of ${name} is one path in backticks: ${line}`);
  // digits with spaces (thin or not), commas or underscores between groups
  const digits = (cells[1] ?? '').replace(/[\s\u202f\u2009,_]/g, '');
  assert.match(digits, /^\d+(\.\d+)?$/, `the value of ${name} is a plain number: ${line}`);
  return { name, value: Number(digits), source, line };
}

const limitRows: LimitRow[] = section('limits')
  .map(parseLimitRow)
  .filter((r): r is LimitRow => r !== undefined);

/** Imports a module named in the table: `src/…` from this repository, anything else under node_modules. */
async function load(source: string): Promise<Record<string, unknown>> {
  const path = source.startsWith('src/') || source.startsWith('node_modules/') ? source : `node_modules/${source}`;
  assert.ok(existsSync(ROOT + path), `${path} exists`);
  return (await import(pathToFileURL(ROOT + path).href)) as Record<string, unknown>;
}

/** `a.b.c` inside a module's exports; undefined when any step is missing. */
function lookUp(exports: Record<string, unknown>, dotted: string): unknown {
  let value: unknown = exports;
  for (const part of dotted.split('.')) {
    if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return undefined;
    if (!Object.hasOwn(value as object, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

interface TestRef {
  file: string;
  title: string;
}

/** Every `` `test/…​.ts`: "title" `` on the page (straight or curly quotes). */
function testRefs(): TestRef[] {
  const refs: TestRef[] = [];
  const re = /`(test\/[\w./-]+\.ts)`:\s*["“]([^"”]+)["”]/g;
  for (const m of PAGE.matchAll(re)) {
    // a title may be wrapped across lines in the page's prose
    const title = (m[2] as string).replace(/\s+/g, ' ').replace(/^…\s*/, '').replace(/\s*…$/, '');
    refs.push({ file: m[1] as string, title });
  }
  return refs;
}

/** The raw text of every first argument of describe/it/test calls that is a string literal. */
function titlesOf(source: string): string[] {
  const titles: string[] = [];
  const re = /\b(?:describe|it|test)\(\s*(['"`])((?:\\.|(?!\1)[^\\])*)\1/gs;
  for (const m of source.matchAll(re)) titles.push(m[2] as string);
  return titles;
}

describe('SECURITY.md is kept true', () => {
  it('the limits table parses, and names each constant once per module', () => {
    assert.ok(limitRows.length >= 100, `the limits table has its rows (${limitRows.length} parsed)`);
    const seen = new Set<string>();
    for (const row of limitRows) {
      const key = `${row.source}#${row.name}`;
      assert.ok(!seen.has(key), `${row.name} (${row.source}) appears once`);
      seen.add(key);
    }
  });

  it('every documented limit exists in its module with the documented value', async () => {
    const wrong: string[] = [];
    for (const row of limitRows) {
      const value = lookUp(await load(row.source), row.name);
      if (typeof value !== 'number') {
        wrong.push(`${row.name}: not a number exported by ${row.source} (${typeof value})`);
      } else if (value !== row.value) {
        wrong.push(`${row.name} (${row.source}): the code says ${value}, SECURITY.md says ${row.value}`);
      }
    }
    assert.deepEqual(wrong, [], wrong.join('\n'));
  });

  it('every numeric limit declared in the security modules has a row', async () => {
    const missing: string[] = [];
    for (const module of COMPLETE_MODULES) {
      const text = readFileSync(ROOT + module, 'utf8');
      const exports = await load(module);
      for (const m of text.matchAll(/^export const ([A-Z][A-Z0-9_]*)\b/gm)) {
        const name = m[1] as string;
        if (typeof exports[name] !== 'number') continue;
        if (!limitRows.some((r) => r.source === module && r.name === name)) missing.push(`${name} (${module})`);
      }
    }
    assert.deepEqual(missing, [], `add a row to the limits table of SECURITY.md for:\n${missing.join('\n')}`);
  });

  it('every test the page names exists with that title', () => {
    const refs = testRefs();
    assert.ok(refs.length >= 40, `the page names its tests (${refs.length} found)`);
    const wrong: string[] = [];
    for (const { file, title } of refs) {
      if (!existsSync(ROOT + file)) {
        wrong.push(`${file}: no such file`);
        continue;
      }
      const titles = titlesOf(readFileSync(ROOT + file, 'utf8'));
      if (!titles.some((t) => t.includes(title))) wrong.push(`${file}: no test titled "${title}"`);
    }
    assert.deepEqual(wrong, [], wrong.join('\n'));
  });

  it('every path of this repository the page names exists', () => {
    const missing: string[] = [];
    for (const m of PAGE.matchAll(/`((?:src|test|protocols|docs|scripts)\/[\w./-]+)`/g)) {
      const path = (m[1] as string).replace(/\/$/, '');
      if (!existsSync(ROOT + path)) missing.push(path);
    }
    assert.deepEqual(missing, [], missing.join('\n'));
  });

  it('the parsers read a row, a dotted name and templated titles the way the checks above rely on', () => {
    const row = parseLimitRow('| `MAX_FRAME_BYTES` | 66 561 | bytes | x | `src/protocols/message/constants.ts` |');
    assert.equal(row?.value, 66_561);
    assert.equal(parseLimitRow('| name | value | unit | rule | source |'), undefined);
    assert.equal(lookUp({ a: { b: 3 } }, 'a.b'), 3);
    assert.equal(lookUp({ a: { b: 3 } }, 'a.c'), undefined);
    const templated = 'x \u0024{N} y'; // a title with a placeholder, as written in a test file
    const titles = titlesOf(`describe('outer', () => { it(\`${templated}\`, () => {}); it("it's", () => {}); });`);
    assert.deepEqual(titles, ['outer', templated, "it's"]);
    assert.ok(!titles.some((t) => t.includes('renamed')));
  });
});
