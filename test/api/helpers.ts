import { randomBytes } from 'node:crypto';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { type ApiServerOptions, createApiServer } from '../../src/api/server.js';
import type { ApiLogger } from '../../src/api/types.js';
import { FakeNode } from './fake-node.js';

export interface Harness {
  app: FastifyInstance;
  node: FakeNode;
  token: string;
  /** Every line the API logged, with its level. */
  logs: string[];
  readiness: { ready: boolean; reason?: string };
  /** inject() with the right token unless `headers` says otherwise. */
  call(options: InjectOptions): Promise<LightMyRequestResponse>;
}

export async function harness(overrides: Partial<ApiServerOptions> = {}): Promise<Harness> {
  const node = new FakeNode();
  const token = randomBytes(32).toString('base64url');
  const logs: string[] = [];
  const logger: ApiLogger = {
    debug: (m) => logs.push(`debug ${m}`),
    info: (m) => logs.push(`info ${m}`),
    warn: (m) => logs.push(`warn ${m}`),
    error: (m) => logs.push(`error ${m}`),
  };
  const readiness: { ready: boolean; reason?: string } = { ready: true };
  const app = await createApiServer({
    node,
    token,
    startedAt: Date.now() - 5_000,
    ready: () => readiness,
    config: { dataDir: '/var/lib/sotto', net: { listen: ['/ip4/0.0.0.0/tcp/4001'] } },
    logger,
    ...overrides,
  });
  await app.ready();
  return {
    app,
    node,
    token,
    logs,
    readiness,
    call: (options) =>
      app.inject({ ...options, headers: { authorization: `Bearer ${token}`, ...(options.headers ?? {}) } }),
  };
}

/** The error body of a response, checked for shape. */
export function errorOf(response: LightMyRequestResponse): { code: string; message: string; field?: string } {
  const body = response.json() as { error?: { code: string; message: string; field?: string } };
  if (!body.error || typeof body.error.code !== 'string' || typeof body.error.message !== 'string') {
    throw new Error(`not an error body: ${response.body}`);
  }
  if (body.error.message.includes('\n')) throw new Error('error message is not one line');
  return body.error;
}

/** A route pattern with its parameters filled in. */
export function fillParams(url: string, value = 'bob'): string {
  return url.replace(/:[A-Za-z]+/g, encodeURIComponent(value));
}
