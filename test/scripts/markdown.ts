/** Assertions on generated markdown, shared by the bench report tests. */
import assert from 'node:assert/strict';

/** Asserts that `text` has a markdown table row with exactly these cells (padding ignored). */
export function hasRow(text: string, cells: string[]): void {
  const escaped = cells.map((c) => c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const re = new RegExp(`^\\|\\s*${escaped.join('\\s*\\|\\s*')}\\s*\\|$`, 'm');
  assert.match(text, re);
}
