/** The store contract against the in-memory implementation. */
import { createMemoryStore, MemoryBackend } from '../../src/store/index.js';
import { storeContract } from './contract.js';

storeContract('memory', async () => {
  const backend = new MemoryBackend();
  return {
    open: (options) => createMemoryStore({ ...options, backend }),
    rawPut: (concern, key, value) => backend.batch([{ type: 'put', concern, key, value }]),
    rawEntries: (concern) => backend.entries(concern),
  };
});
