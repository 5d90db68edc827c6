/**
 * API fuzzing (issue 7, "API bodies"): random JSON and raw bodies, content types and path
 * parameters against every route that takes a body or a parameter, on the API server with a fake
 * node (test/api/fake-node.ts). Every answer must be a success or one of the documented errors:
 * a status and body from API_ERROR_STATUS, never an internal error, never a non-JSON error body.
 */
import fc from 'fast-check';
import { API_ERROR_STATUS } from '../../src/api/errors.js';
import { type Harness, harness } from '../api/helpers.js';

const ROUTES: ReadonlyArray<{ method: 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'GET'; url: string }> = [
  { method: 'POST', url: '/v1/contacts' },
  { method: 'PATCH', url: '/v1/contacts/{p}' },
  { method: 'DELETE', url: '/v1/contacts/{p}' },
  { method: 'GET', url: '/v1/contacts/{p}' },
  { method: 'GET', url: '/v1/contacts/{p}/safety-number' },
  { method: 'POST', url: '/v1/contacts/{p}/verify' },
  { method: 'POST', url: '/v1/messages' },
  { method: 'GET', url: '/v1/conversations/{p}' },
  { method: 'POST', url: '/v1/messages/{p}/retry' },
  { method: 'PUT', url: '/v1/mailboxes' },
  { method: 'POST', url: '/v1/mailboxes/fetch' },
];

/** The error codes that may come with each status (a 5xx only where the API documents one). */
const STATUS_CODES = new Map<number, Set<string>>();
for (const [code, status] of Object.entries(API_ERROR_STATUS)) {
  if (code === 'INTERNAL') continue; // an unexpected failure inside the daemon: always a finding
  const set = STATUS_CODES.get(status) ?? new Set<string>();
  set.add(code);
  STATUS_CODES.set(status, set);
}

export interface ApiRequest {
  route: number;
  param: string;
  query: string;
  contentType: string | undefined;
  body: string | undefined;
}

export const apiRequest: fc.Arbitrary<ApiRequest> = fc.record({
  route: fc.nat(ROUTES.length - 1),
  param: fc.oneof(fc.string({ maxLength: 80 }), fc.constantFrom('bob', 'alice', 'sotto1qqqq', '..', '%00')),
  query: fc.oneof(
    fc.constant(''),
    fc
      .dictionary(fc.constantFrom('limit', 'before', 'beforeId', 'x'), fc.string({ maxLength: 20 }), { maxKeys: 3 })
      .map((q) => new URLSearchParams(q).toString()),
  ),
  contentType: fc.constantFrom('application/json', 'text/plain', 'application/json; charset=utf-8', undefined),
  body: fc.oneof(
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
    fc
      .record({
        name: fc.oneof(fc.string({ maxLength: 70 }), fc.integer()),
        address: fc.oneof(fc.string({ maxLength: 90 }), fc.constant(null)),
        to: fc.string({ maxLength: 90 }),
        text: fc.oneof(fc.string({ maxLength: 300 }), fc.constant('')),
        mailboxes: fc.array(fc.string({ maxLength: 60 }), { maxLength: 10 }),
        verified: fc.oneof(fc.boolean(), fc.string()),
      })
      .chain((all) =>
        fc
          .subarray(Object.keys(all))
          .map((keys) => JSON.stringify(Object.fromEntries(keys.map((k) => [k, all[k as keyof typeof all]])))),
      ),
    fc.string({ maxLength: 200 }),
    fc.constant(undefined),
  ),
});

/** Sends one request; throws when the answer is not a success or a documented error. */
export async function checkApiRequest(h: Harness, r: ApiRequest): Promise<number> {
  const route = ROUTES[r.route] as (typeof ROUTES)[number];
  const path = route.url.replace('{p}', encodeURIComponent(r.param));
  const response = await h.call({
    method: route.method,
    url: r.query === '' ? path : `${path}?${r.query}`,
    ...(r.body === undefined ? {} : { payload: r.body }),
    headers: r.contentType === undefined ? {} : { 'content-type': r.contentType },
  });
  if (response.statusCode < 400) return response.statusCode;
  let code: unknown;
  try {
    code = (response.json() as { error?: { code?: unknown } }).error?.code;
  } catch {
    throw new Error(`${route.method} ${route.url}: ${response.statusCode} with a non-JSON body`);
  }
  const allowed = STATUS_CODES.get(response.statusCode);
  if (typeof code !== 'string' || allowed === undefined || !allowed.has(code)) {
    throw new Error(`${route.method} ${route.url}: undocumented error ${response.statusCode} ${String(code)}`);
  }
  return response.statusCode;
}

/** Runs `runs` random requests; resolves with how many got each status. Throws (shrunk) on a finding. */
export async function fuzzApi(runs: number, seed?: number): Promise<Map<number, number>> {
  const h = await harness();
  const statuses = new Map<number, number>();
  try {
    await fc.assert(
      fc.asyncProperty(apiRequest, async (r) => {
        const status = await checkApiRequest(h, r);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        // The harness keeps every API log line for tests that read them; here nobody does, and a
        // long campaign would otherwise measure the growth of that list (≈ 270 bytes a request).
        h.logs.length = 0;
      }),
      { numRuns: runs, ...(seed === undefined ? {} : { seed }) },
    );
  } finally {
    await h.app.close();
  }
  return statuses;
}
