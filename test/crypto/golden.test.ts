import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { nobleProvider, nodeProvider } from '../../src/crypto/index.js';
import { buildTranscript, type Transcript } from './transcript.js';

const golden = JSON.parse(
  readFileSync(new URL('../../protocols/session/vectors/transcript-v1.json', import.meta.url), 'utf8'),
) as Transcript;

describe('golden transcript v1 (protocols/session/vectors/transcript-v1.json)', () => {
  for (const provider of [nodeProvider, nobleProvider]) {
    it(`${provider.name} provider reproduces every byte`, () => {
      const rebuilt = buildTranscript(provider);
      assert.equal(rebuilt.messages.length, golden.messages.length);
      for (const [i, m] of golden.messages.entries()) {
        assert.equal(rebuilt.messages[i]?.ciphertext, m.ciphertext, `message ${i} differs`);
      }
      assert.deepEqual(rebuilt, golden);
    });
  }
});
