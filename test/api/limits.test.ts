/** The API restates two of the node's limits to avoid loading the node (and libp2p): they must agree. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_TEXT_BYTES } from '../../src/api/schemas.js';
import { BODY_LIMIT_BYTES } from '../../src/api/server.js';
import { MAX_TEXT_BYTES as NODE_MAX_TEXT_BYTES } from '../../src/node/node.js';
import { FAKE_MAX_TEXT_BYTES } from './fake-node.js';

describe('API limits', () => {
  it("the API's MAX_TEXT_BYTES is the node's", () => {
    assert.equal(MAX_TEXT_BYTES, NODE_MAX_TEXT_BYTES);
    assert.equal(FAKE_MAX_TEXT_BYTES, NODE_MAX_TEXT_BYTES);
  });

  it('the body limit fits the longest text with every character JSON-escaped as \\u00XX', () => {
    const longest = JSON.stringify({ to: 'x'.repeat(256), text: '\u0001'.repeat(NODE_MAX_TEXT_BYTES) });
    assert.ok(Buffer.byteLength(longest) <= BODY_LIMIT_BYTES);
    assert.ok(BODY_LIMIT_BYTES < 256 * 1024);
  });
});
