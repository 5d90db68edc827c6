/**
 * Writes the golden transcript (protocols/session/vectors/transcript-v1.json). Run only when the
 * protocol version changes: the committed file is what every implementation must reproduce.
 */
import { writeFileSync } from 'node:fs';
import { nodeProvider } from '../src/crypto/index.js';
import { buildTranscript } from '../test/crypto/transcript.js';

const path = new URL('../protocols/session/vectors/transcript-v1.json', import.meta.url);
writeFileSync(path, `${JSON.stringify(buildTranscript(nodeProvider), null, 2)}\n`);
console.log(`wrote ${path.pathname}`);
