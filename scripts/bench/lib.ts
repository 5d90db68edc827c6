/** Small helpers shared by the crypto benchmark harness and its targets. */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The repository root (the directory holding package.json above scripts/bench). */
export const repoRoot = join(here, '..', '..');

/**
 * Version of an installed package, read from its package.json by walking up node_modules
 * directories (some packages do not export './package.json', so require.resolve cannot be used).
 */
export function packageVersion(name: string): string {
  let dir = here;
  for (;;) {
    const candidate = join(dir, 'node_modules', name, 'package.json');
    if (existsSync(candidate)) {
      const version = (JSON.parse(readFileSync(candidate, 'utf8')) as { version?: unknown }).version;
      return typeof version === 'string' ? version : 'unknown';
    }
    const parent = dirname(dir);
    if (parent === dir) return 'not installed';
    dir = parent;
  }
}

/** Version of this project (sotto) from the root package.json. */
export function projectVersion(): string {
  const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version?: unknown }).version;
  return typeof version === 'string' ? version : 'unknown';
}

/**
 * `count` random messages of `size` bytes, every byte printable ASCII (0x21..0x7e). ASCII keeps
 * the plaintext exactly `size` bytes for olm too, whose API takes and returns JS strings (UTF-8):
 * arbitrary bytes would not round-trip and a binary-to-text encoding would inflate them.
 */
export function randomAsciiMessages(count: number, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const m = randomBytes(size);
    for (let j = 0; j < size; j++) m[j] = 0x21 + (m[j]! % 94);
    out.push(new Uint8Array(m.buffer, m.byteOffset, m.byteLength));
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return (
    Buffer.compare(
      Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    ) === 0
  );
}

/** mulberry32: a tiny seeded PRNG, good enough to pick a reproducible message order. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates shuffle of a copy. */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const tmp = out[i]!;
    out[i] = out[j]!;
    out[j] = tmp;
  }
  return out;
}

/** Nearest-rank percentile of unsorted samples (NaN when empty). */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = samples.slice().sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

export interface Summary {
  /** One figure per run, in run order. */
  runs: number[];
  median: number;
  min: number;
  max: number;
}

export function summarize(runs: readonly number[]): Summary {
  const finite = runs.filter((x) => Number.isFinite(x));
  if (finite.length === 0) return { runs: runs.slice(), median: Number.NaN, min: Number.NaN, max: Number.NaN };
  const sorted = finite.slice().sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { runs: runs.slice(), median, min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

/** Ratios run by run (this figure's run i ÷ the reference's run i, measured in the same run). */
export function pairRatios(s: Summary | undefined, ref: Summary | undefined): Summary | undefined {
  if (!s || !ref || s.runs.length !== ref.runs.length || s.runs.length === 0) return undefined;
  return summarize(s.runs.map((x, i) => x / (ref.runs[i] as number)));
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

/**
 * JSON laid out the way the repository's formatter (biome, 2-space indent, line width 120) lays it
 * out, so that generated files pass `biome check` unchanged: objects expanded, arrays of scalars on
 * one line when they fit. Non-integer numbers are rounded to 6 significant digits.
 */
export function formatJson(value: unknown, lineWidth = 120): string {
  const scalar = (v: unknown): string => {
    if (typeof v === 'number')
      return Number.isFinite(v) ? String(Number.isInteger(v) ? v : Number(v.toPrecision(6))) : 'null';
    return JSON.stringify(v) ?? 'null';
  };
  const format = (v: unknown, indent: string, column: number): string => {
    if (Array.isArray(v)) {
      if (v.length === 0) return '[]';
      if (v.every((x) => x === null || typeof x !== 'object')) {
        const inline = `[${v.map(scalar).join(', ')}]`;
        if (column + inline.length + 1 <= lineWidth) return inline;
      }
      const inner = `${indent}  `;
      return `[\n${v.map((x) => inner + format(x, inner, inner.length)).join(',\n')}\n${indent}]`;
    }
    if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v).filter(([, x]) => x !== undefined);
      if (entries.length === 0) return '{}';
      const inner = `${indent}  `;
      const lines = entries.map(([k, x]) => {
        const head = `${inner}${JSON.stringify(k)}: `;
        return head + format(x, inner, head.length);
      });
      return `{\n${lines.join(',\n')}\n${indent}}`;
    }
    return scalar(v);
  };
  return `${format(value, '', 0)}\n`;
}

// ---------------------------------------------------------------------------------------------
// Formatting shared by the benchmark reports

/** Whole numbers with thousands separators. */
export const intFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** A figure with as many decimals as its size needs. */
export function fmtNum(x: number): string {
  if (!Number.isFinite(x)) return 'n/a';
  if (Math.abs(x) >= 100) return intFmt.format(x);
  if (Math.abs(x) >= 10) return x.toFixed(1);
  if (Math.abs(x) >= 1) return x.toFixed(2);
  return x.toFixed(3);
}

/** "median (min–max)". */
export function fmtSummary(s: Summary | undefined): string {
  if (!s || !Number.isFinite(s.median)) return 'n/a';
  if (s.min === s.max) return fmtNum(s.median);
  return `${fmtNum(s.median)} (${fmtNum(s.min)}–${fmtNum(s.max)})`;
}

/** A markdown table, first column left-aligned, the others right-aligned, padded as biome formats it. */
export function markdownTable(header: string[], rows: string[][]): string {
  const len = (s: string) => [...s].length;
  const widths = header.map((h, i) => Math.max(3, len(h), ...rows.map((r) => len(r[i] ?? ''))));
  const pad = (s: string, i: number) => {
    const fill = ' '.repeat((widths[i] as number) - len(s));
    return i === 0 ? s + fill : fill + s;
  };
  const line = (cells: string[]) => `| ${cells.map(pad).join(' | ')} |`;
  const rule = widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w - 1)}` : `${'-'.repeat(w - 1)}:`));
  return [line(header), `| ${rule.join(' | ')} |`, ...rows.map(line)].join('\n');
}

/**
 * Replaces the generated section between `begin` and `end` in a markdown page (adding it at the end
 * if missing), keeping the prose around it; the report's title is dropped and its sections demoted.
 */
export function replaceGeneratedSection(path: string, markdown: string, begin: string, end: string): void {
  const body = markdown.replace(/^# .*\n+/, '').replace(/^## /gm, '### ');
  const section = `${begin}\n\n${body.trim()}\n\n${end}`;
  const page = existsSync(path) ? readFileSync(path, 'utf8') : `# Benchmarks\n\n${begin}\n${end}\n`;
  const start = page.indexOf(begin);
  const stop = page.indexOf(end);
  const next =
    start >= 0 && stop > start
      ? `${page.slice(0, start)}${section}${page.slice(stop + end.length)}`
      : `${page.trimEnd()}\n\n${section}\n`;
  writeFileSync(path, next);
}

/** The machine a benchmark ran on, as every report records it. */
export interface MachineInfo {
  cpu: string;
  cores: number;
  platform: string;
  arch: string;
  release: string;
  totalMemGiB: number;
}

export function machineInfo(): MachineInfo {
  return {
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.cpus().length,
    platform: os.platform(),
    arch: os.arch(),
    release: os.release(),
    totalMemGiB: Math.round(os.totalmem() / 2 ** 30),
  };
}

/** The report line describing `m`. */
export function machineLine(m: MachineInfo): string {
  return `- Machine: ${m.cpu}, ${m.cores} cores, ${m.totalMemGiB} GiB, ${m.platform} ${m.release} ${m.arch}`;
}

/** The report line with the load average (1/5/15 min) at the start and the end of a run. */
export function loadAverageLine(load: { start: number[]; end: number[] }): string {
  const f = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');
  return `- Load average (1/5/15 min): ${f(load.start)} at start, ${f(load.end)} at end`;
}

/** The report line listing the libraries a run measured, with their versions. */
export function librariesLine(libraries: Record<string, string>): string {
  return `- Libraries: ${Object.entries(libraries)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')}`;
}
