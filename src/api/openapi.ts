/**
 * The OpenAPI document of the local API, generated from the route schemas (no node needed): what
 * GET /v1/openapi.json serves and what `scripts/openapi.ts` writes to docs/openapi.json.
 */
import { createApiServer } from './server.js';
import type { ApiNode } from './types.js';

function notRunning(): never {
  throw new Error('the OpenAPI generator has no node');
}

/** A node that only accepts listeners: enough to build the server and read its schemas. */
const inertNode: ApiNode = {
  get address(): string {
    return notRunning();
  },
  get peerId(): string {
    return notRunning();
  },
  multiaddrs: notRunning,
  send: notRunning,
  contacts: notRunning,
  addContact: notRunning,
  removeContact: notRunning,
  conversation: notRunning,
  safetyNumber: notRunning,
  verifyContact: notRunning,
  status: notRunning,
  peers: notRunning,
  mailboxes: notRunning,
  setMailboxes: notRunning,
  fetchMailboxes: notRunning,
  retryMessage: notRunning,
  requests: notRunning,
  request: notRunning,
  acceptRequest: notRunning,
  rejectRequest: notRunning,
  block: notRunning,
  unblock: notRunning,
  blockList: notRunning,
  on: () => undefined,
  off: () => undefined,
};

/** Builds the API (not listening) and returns its OpenAPI 3.1 document. */
export async function openApiDocument(): Promise<Record<string, unknown>> {
  const app = await createApiServer({
    node: inertNode,
    token: 'openapi-generator-token-unused',
    startedAt: 0,
    ready: () => ({ ready: false, reason: 'generator' }),
  });
  try {
    await app.ready();
    return JSON.parse(JSON.stringify(app.swagger())) as Record<string, unknown>;
  } finally {
    await app.close();
  }
}

/** The document as committed: two-space JSON with a final newline. */
export function formatOpenApi(document: unknown): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}
