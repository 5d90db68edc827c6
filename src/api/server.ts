/**
 * The daemon's local API: HTTP + WebSocket with JSON, a thin layer over `ApiNode`.
 *
 * - Every route, /health, /metrics and the OpenAPI document included, needs the bearer token
 *   (constant-time check, src/api/auth.ts); the events WebSocket may carry it as a subprotocol
 *   instead. Tokens in query strings are not accepted. The check runs before a body is read.
 * - Requests are validated by schema (src/api/validation.ts): unknown body properties, wrong types
 *   and empty texts are 400 INVALID_REQUEST naming the field. Only `application/json` bodies.
 * - Errors are `{ "error": { "code", "message" } }` with stable codes (src/api/errors.ts); an
 *   unexpected failure is 500 INTERNAL without detail, which goes to the daemon's log instead.
 * - Nothing here logs request bodies, message texts, headers or the token: fastify's own logger is
 *   off, and the API logs one debug line per request (method, route pattern, status, time).
 *
 * `createApiServer` returns the fastify instance without listening; the daemon calls
 * `listen({ host: '127.0.0.1', port })`. Routes: see `docs/openapi.json` (GET /v1/openapi.json).
 */

import swagger from '@fastify/swagger';
import websocket from '@fastify/websocket';
import type { Static, TSchema } from '@sinclair/typebox';
import Fastify, { type FastifyInstance, type FastifyTypeProvider } from 'fastify';
import { Registry } from 'prom-client';
import type { WebSocket } from 'ws';
import { nobleProvider } from '../crypto/provider-noble.js';
import { fingerprintHalf } from '../crypto/safety-number.js';
import { DirectoryError } from '../directory/errors.js';
import { decodeAddress } from '../identity/address.js';
import { InvalidAddressError } from '../identity/errors.js';
import { NodeError } from '../node/errors.js';
import { SottoStoreError } from '../store/errors.js';
import { packageVersion } from '../version.js';
import {
  BEARER_SUBPROTOCOL_PREFIX,
  bearerFromHeader,
  bearerFromSubprotocols,
  EVENTS_SUBPROTOCOL,
  selectSubprotocol,
  tokenChecker,
} from './auth.js';
import { parseAddress, quote, resolveContact } from './contacts.js';
import { ApiError } from './errors.js';
import { parsePeerIds } from './mailboxes.js';
import { createNodeMetrics } from './metrics.js';
import * as S from './schemas.js';
import type {
  ApiLogger,
  ApiNode,
  BlockedIdentity,
  ContactRecord,
  ContactRequestEvent,
  DeliveryUpdate,
  IncomingMessage,
  KeyChange,
  MailboxesSaved,
} from './types.js';
import { validatorCompiler } from './validation.js';

/** Where the daemon listens by default: loopback only (a wider bind is an explicit choice). */
export const API_DEFAULT_HOST = '127.0.0.1';

/** Version of the API (the OpenAPI document's `info.version`); `/v1/` is its major version. */
export const API_VERSION = '1.0.0';

/**
 * Largest request body. The largest legitimate body is a send of the longest text the node takes
 * (MAX_TEXT_BYTES = 32 KiB of UTF-8). JSON may escape a character as `\u00XX`, six bytes for one
 * (control characters must be), so such a text can need 6 × 32 KiB in the body; 4 KiB more covers
 * `to` and the property names. Anything larger cannot be a valid request and is refused with 413
 * before it is parsed.
 */
export const BODY_LIMIT_BYTES = 6 * S.MAX_TEXT_BYTES + 4 * 1024;

/** A WebSocket client that lets this much of the event stream pile up unread is disconnected. */
export const WS_MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** The events stream is one-way: clients have nothing to send beyond control frames. */
export const WS_MAX_CLIENT_MESSAGE_BYTES = 1024;
/** Ping interval of the events stream; a client that missed a whole interval's pong is dropped. */
export const WS_PING_INTERVAL_MS = 30_000;

type SecurityRequirement = Record<string, string[]>;
/** Every route: the bearer token (an OpenAPI security requirement). */
const SECURITY: SecurityRequirement[] = [{ bearerAuth: [] }];
/** The events stream: the bearer token in the header, or as a WebSocket subprotocol. */
const EVENTS_SECURITY: SecurityRequirement[] = [{ bearerAuth: [] }, { bearerSubprotocol: [] }];

/** fastify type provider for @sinclair/typebox schemas (request and reply types from the schemas). */
interface TypeBoxProvider extends FastifyTypeProvider {
  validator: this['schema'] extends TSchema ? Static<this['schema']> : unknown;
  serializer: this['schema'] extends TSchema ? Static<this['schema']> : unknown;
}

export interface ApiServerOptions {
  node: ApiNode;
  /** The bearer token (see `loadOrCreateToken`). */
  token: string;
  /**
   * The effective configuration, served by GET /v1/config (nothing secret belongs in it); a function
   * is asked on every request (the daemon's changes when it saves the mailbox list).
   */
  config?: unknown;
  /**
   * Saves this identity's mailbox list (PUT /v1/mailboxes) before it takes effect, so that a
   * restart keeps it: the daemon writes it into config.json. Throws when it cannot, with a message
   * for the client (the change is then refused: 500 CONFIG_NOT_SAVED). Without it the list is not
   * saved (`saved: false`).
   */
  saveMailboxes?: (peers: readonly string[]) => Promise<MailboxesSaved>;
  /** When the daemon started (ms since epoch), for `uptimeMs`. */
  startedAt: number;
  /** Readiness for GET /health: not ready answers 503 with the reason. */
  ready: () => { ready: boolean; reason?: string };
  /**
   * The registry GET /metrics serves (sotto's metrics from `createNodeMetrics` plus libp2p's).
   * Without it the server creates sotto's metrics in a registry of its own, disposed on close.
   */
  metrics?: { registry: Registry };
  logger?: ApiLogger;
  /** Request body limit in bytes; default BODY_LIMIT_BYTES. */
  bodyLimit?: number;
}

export interface ApiRoute {
  method: string;
  /** fastify's pattern, e.g. `/v1/contacts/:contact`. */
  url: string;
}

/** The WebSocket route of live events. */
export const EVENTS_PATH = '/v1/events';

const routeTables = new WeakMap<FastifyInstance, ApiRoute[]>();

/** Every route the server registered (method and pattern), in registration order. */
export function apiRoutes(app: FastifyInstance): ApiRoute[] {
  return [...(routeTables.get(app) ?? [])];
}

const silent: ApiLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** Maps anything a handler or fastify throws to the API error the client sees. */
export function toApiError(err: unknown, bodyLimit = BODY_LIMIT_BYTES): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof NodeError) {
    switch (err.code) {
      case 'NODE_NOT_STARTED':
        return new ApiError('NOT_READY', 'the node is not running');
      case 'RECIPIENT_NOT_FOUND':
        return new ApiError('RECIPIENT_NOT_FOUND', 'no identity record found for this address in the directory');
      case 'INVALID_MESSAGE':
        return new ApiError('INVALID_MESSAGE', `a message is 1 to ${S.MAX_TEXT_BYTES} bytes of UTF-8`);
      case 'UNKNOWN_CONTACT':
        return new ApiError('UNKNOWN_CONTACT', 'no contact with this address');
      case 'INVALID_MAILBOX_OPTIONS':
        return new ApiError('INVALID_REQUEST', 'body.peers: not a valid mailbox list', { field: 'body.peers' });
      case 'UNKNOWN_REQUEST':
        return new ApiError('UNKNOWN_REQUEST', 'no pending contact request from this address');
      case 'IDENTITY_BLOCKED':
        return new ApiError('IDENTITY_BLOCKED', 'this identity is blocked: nothing is sent to it (unblock it first)');
      case 'BLOCK_LIST_FULL':
        return new ApiError('BLOCK_LIST_FULL', err.message);
      default:
        return new ApiError('INTERNAL', 'internal error');
    }
  }
  if (err instanceof InvalidAddressError) return new ApiError('INVALID_ADDRESS', `invalid address: ${err.message}`);
  if (err instanceof DirectoryError) {
    return new ApiError('DIRECTORY_ERROR', `the directory returned an invalid identity record (${err.code})`);
  }
  if (err instanceof SottoStoreError && err.code === 'STORE_CLOSED') {
    return new ApiError('NOT_READY', 'the node is not running');
  }
  const code = (err as { code?: unknown } | null)?.code;
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  switch (code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('BODY_TOO_LARGE', `the body is larger than ${bodyLimit} bytes`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError('UNSUPPORTED_MEDIA_TYPE', 'bodies are application/json');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      // The parser's message may quote the body: never pass it on.
      return new ApiError('INVALID_REQUEST', 'body: not valid JSON', { field: 'body' });
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError('INVALID_REQUEST', 'body: expected a JSON object', { field: 'body' });
    case 'FST_ERR_VALIDATION':
      return new ApiError('INVALID_REQUEST', 'invalid request');
  }
  if (err instanceof SyntaxError && status === 400) {
    return new ApiError('INVALID_REQUEST', 'body: not valid JSON', { field: 'body' });
  }
  if (typeof status === 'number' && status >= 400 && status < 500) {
    if (status === 404) return new ApiError('NOT_FOUND', 'not found');
    if (status === 413) return new ApiError('BODY_TOO_LARGE', `the body is larger than ${bodyLimit} bytes`);
    if (status === 415) return new ApiError('UNSUPPORTED_MEDIA_TYPE', 'bodies are application/json');
    return new ApiError('INVALID_REQUEST', 'invalid request');
  }
  return new ApiError('INTERNAL', 'internal error');
}

function contactJson(c: ContactRecord) {
  return {
    name: c.name,
    address: c.address,
    identityKey: c.identityKey,
    verified: c.verified,
    addedAt: c.addedAt,
    ...(c.keyChangedAt === undefined ? {} : { keyChangedAt: c.keyChangedAt }),
    previousKeys: [...c.previousKeys],
  };
}

function requestJson(r: { address: string; identityKey: string; firstAt: number; lastAt: number; held: number }) {
  return { address: r.address, identityKey: r.identityKey, firstAt: r.firstAt, lastAt: r.lastAt, held: r.held };
}

function blockedJson(b: BlockedIdentity, contacts: readonly ContactRecord[]) {
  const contact = contacts.find((c) => c.identityKey === b.identityKey);
  return {
    address: b.address,
    identityKey: b.identityKey,
    ...(contact ? { name: contact.name } : {}),
    blockedAt: b.blockedAt,
  };
}

/** Runs contact changes one at a time, so check-then-write (name taken?) cannot interleave. */
function serial() {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => undefined);
    return run;
  };
}

/** Builds the API server (not listening). */
export async function createApiServer(options: ApiServerOptions): Promise<FastifyInstance> {
  const { node } = options;
  if (typeof options.token !== 'string' || options.token.length < 16) {
    throw new TypeError('the API token must be a string of at least 16 characters');
  }
  const logger = options.logger ?? silent;
  const bodyLimit = options.bodyLimit ?? BODY_LIMIT_BYTES;
  const checkToken = tokenChecker(options.token);
  const version = packageVersion();
  const contactChange = serial();
  const mailboxChange = serial();
  const fingerprints = new Map<string, string>();
  /** Set at the end, when nothing can fail any more (no listener is left behind on a failed build). */
  let registry: Registry | undefined;

  const app = Fastify({
    logger: false,
    bodyLimit,
    exposeHeadRoutes: false,
    // A request arriving while the server closes is answered normally (fastify's 503 body is not ours).
    return503OnClosing: false,
    // Contact names are up to 64 characters, percent-encoded up to 12 bytes each.
    routerOptions: { maxParamLength: 1024 },
  });
  const routes: ApiRoute[] = [];
  routeTables.set(app, routes);

  app.setValidatorCompiler(validatorCompiler);
  app.removeContentTypeParser('text/plain');

  for (const schema of S.sharedSchemas()) app.addSchema(schema);
  await app.register(swagger, {
    // Shared schemas keep their $id as their name under components.schemas.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'sotto local API',
        version: API_VERSION,
        description:
          'The local API of a sotto daemon: HTTP and WebSocket with JSON, on 127.0.0.1. Every request needs the ' +
          'bearer token the daemon writes to <data dir>/api-token (mode 0600). Errors are ' +
          '{"error":{"code":"STABLE_CODE","message":"one line"}}; match on code.',
      },
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            description: 'Authorization: Bearer <token>, the content of <data dir>/api-token',
          },
          bearerSubprotocol: {
            type: 'apiKey',
            in: 'header',
            name: 'Sec-WebSocket-Protocol',
            description: `GET /v1/events only, for browsers: offer the subprotocols "${EVENTS_SUBPROTOCOL}" and "${BEARER_SUBPROTOCOL_PREFIX}<token>"; the server selects "${EVENTS_SUBPROTOCOL}"`,
          },
        },
      },
      security: SECURITY,
      tags: [
        { name: 'identity', description: 'this node' },
        { name: 'contacts', description: 'names for addresses, safety numbers' },
        {
          name: 'requests',
          description: 'first messages from unknown identities, held until accepted; the block list',
        },
        { name: 'messages', description: 'sending and history' },
        {
          name: 'mailboxes',
          description: "this identity's mailboxes: nodes that hold its messages while it is offline",
        },
        { name: 'events', description: 'live events' },
        { name: 'node', description: 'status, peers, configuration, health, metrics' },
      ],
    },
  });
  await app.register(websocket, {
    options: {
      maxPayload: WS_MAX_CLIENT_MESSAGE_BYTES,
      handleProtocols: selectSubprotocol,
      perMessageDeflate: false,
    },
  });

  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method, url: route.url });
  });

  // ── Authentication, response headers, request log, errors ──────────────────────────────────

  app.addHook('onRequest', async (request, reply) => {
    const header = bearerFromHeader(request.headers.authorization);
    let ok = checkToken(header);
    // The subprotocol counts only for a WebSocket upgrade of the events stream.
    if (!ok && header === undefined && request.ws && request.routeOptions.url === EVENTS_PATH) {
      ok = checkToken(bearerFromSubprotocols(request.headers['sec-websocket-protocol']));
    }
    if (!ok) {
      reply.header('www-authenticate', 'Bearer realm="sotto"');
      throw new ApiError('UNAUTHORIZED', 'a valid bearer token is required');
    }
  });

  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('cache-control', 'no-store');
    reply.header('x-content-type-options', 'nosniff');
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? '(no route)';
    logger.debug(`api ${request.method} ${route} ${reply.statusCode} ${reply.elapsedTime.toFixed(1)}ms`);
  });

  app.setErrorHandler((err, request, reply) => {
    const apiError = toApiError(err, bodyLimit);
    if (apiError.code === 'INTERNAL') {
      // Name and code only: an error message may quote what it failed on.
      const name = err instanceof Error ? err.name : typeof err;
      const code = (err as { code?: unknown } | null)?.code;
      logger.error(
        `api ${request.method} ${request.routeOptions.url ?? '(no route)'} failed: ${name}${code ? ` (${String(code)})` : ''}`,
      );
    }
    const body = {
      error: {
        code: apiError.code,
        message: apiError.message,
        ...(apiError.field === undefined ? {} : { field: apiError.field }),
      },
    };
    return reply.code(apiError.statusCode).type('application/json; charset=utf-8').send(body);
  });

  app.setNotFoundHandler(async (request) => {
    const path = request.url.split('?', 1)[0] ?? '';
    throw new ApiError('NOT_FOUND', `no route ${request.method} ${quote(path)}`);
  });

  const api = app.withTypeProvider<TypeBoxProvider>();

  // ── Identity ─────────────────────────────────────────────────────────────────────────────

  api.get(
    '/v1/identity',
    {
      schema: {
        summary: 'This node: address, peer id, listen addresses, safety-number fingerprint',
        tags: ['identity'],
        security: SECURITY,
        response: { 200: S.Identity, ...S.errorResponses(503) },
      },
    },
    async () => {
      const address = node.address;
      let fingerprint = fingerprints.get(address);
      if (fingerprint === undefined) {
        const half = fingerprintHalf(nobleProvider, decodeAddress(address));
        fingerprint = half.match(/\d{5}/g)!.join(' ');
        fingerprints.set(address, fingerprint);
      }
      return { address, peerId: node.peerId, multiaddrs: node.multiaddrs(), fingerprint };
    },
  );

  // ── Contacts ─────────────────────────────────────────────────────────────────────────────

  api.get(
    '/v1/contacts',
    {
      schema: {
        summary: 'Every contact, by name',
        tags: ['contacts'],
        security: SECURITY,
        response: { 200: S.ContactList, ...S.errorResponses(503) },
      },
    },
    async () => {
      const contacts = await node.contacts();
      contacts.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      return { contacts: contacts.map(contactJson) };
    },
  );

  api.post(
    '/v1/contacts',
    {
      schema: {
        summary: 'Add a contact (idempotent for the same name and address)',
        description:
          '201 when added, 200 when exactly this contact exists. 409 CONTACT_NAME_TAKEN when another address ' +
          'has the name, 409 CONTACT_EXISTS when the address is a contact under another name (rename it).',
        tags: ['contacts'],
        security: SECURITY,
        body: S.AddContactBody,
        response: {
          200: S.ContactResponse('exactly this contact existed'),
          201: S.ContactResponse('the new contact'),
          ...S.errorResponses(400, 409, 413, 415, 503),
        },
      },
    },
    async (request, reply) => {
      const { address, identityKey } = parseAddress(request.body.address, 'body.address');
      const name = request.body.name;
      return contactChange(async () => {
        const contacts = await node.contacts();
        const holder = contacts.find((c) => c.name === name && c.identityKey !== identityKey);
        if (holder) throw new ApiError('CONTACT_NAME_TAKEN', `the name ${quote(name)} belongs to another contact`);
        const existing = contacts.find((c) => c.identityKey === identityKey);
        if (existing) {
          if (existing.name === name) return reply.code(200).send(contactJson(existing));
          throw new ApiError(
            'CONTACT_EXISTS',
            `this address is already the contact ${quote(existing.name)}: rename it instead`,
          );
        }
        return reply.code(201).send(contactJson(await node.addContact(name, address)));
      });
    },
  );

  api.get(
    '/v1/contacts/:contact',
    {
      schema: {
        summary: 'One contact, by name or address',
        tags: ['contacts'],
        security: SECURITY,
        params: S.ContactParams,
        response: { 200: S.ContactResponse('the contact'), ...S.errorResponses(400, 404, 409, 503) },
      },
    },
    async (request) => {
      const { contact } = await resolveContact(node, request.params.contact, {
        contactOnly: true,
        field: 'params.contact',
      });
      return contactJson(contact!);
    },
  );

  api.patch(
    '/v1/contacts/:contact',
    {
      schema: {
        summary: 'Rename a contact',
        tags: ['contacts'],
        security: SECURITY,
        params: S.ContactParams,
        body: S.RenameContactBody,
        response: { 200: S.ContactResponse('the renamed contact'), ...S.errorResponses(400, 404, 409, 413, 415, 503) },
      },
    },
    async (request) => {
      const name = request.body.name;
      return contactChange(async () => {
        const { contact } = await resolveContact(node, request.params.contact, {
          contactOnly: true,
          field: 'params.contact',
        });
        const current = contact!;
        if (current.name === name) return contactJson(current);
        const contacts = await node.contacts();
        if (contacts.some((c) => c.name === name && c.identityKey !== current.identityKey)) {
          throw new ApiError('CONTACT_NAME_TAKEN', `the name ${quote(name)} belongs to another contact`);
        }
        return contactJson(await node.addContact(name, current.address));
      });
    },
  );

  api.delete(
    '/v1/contacts/:contact',
    {
      schema: {
        summary: 'Remove a contact (its conversation stays)',
        tags: ['contacts'],
        security: SECURITY,
        params: S.ContactParams,
        response: { 204: { description: 'removed', type: 'null' }, ...S.errorResponses(400, 404, 409, 503) },
      },
    },
    async (request, reply) => {
      await contactChange(async () => {
        const { contact } = await resolveContact(node, request.params.contact, {
          contactOnly: true,
          field: 'params.contact',
        });
        if (!(await node.removeContact(contact!.address))) {
          throw new ApiError('UNKNOWN_CONTACT', `unknown contact ${quote(request.params.contact)}`);
        }
      });
      return reply.code(204).send();
    },
  );

  api.get(
    '/v1/contacts/:contact/safety-number',
    {
      schema: {
        summary: 'The safety number with a contact or address, to compare out of band',
        tags: ['contacts'],
        security: SECURITY,
        params: S.ContactParams,
        response: { 200: S.SafetyNumber, ...S.errorResponses(400, 404, 409, 503) },
      },
    },
    async (request) => {
      const { address, contact } = await resolveContact(node, request.params.contact, {
        contactOnly: false,
        field: 'params.contact',
      });
      return {
        address,
        ...(contact ? { name: contact.name } : {}),
        safetyNumber: node.safetyNumber(address),
        verified: contact?.verified ?? false,
      };
    },
  );

  api.post(
    '/v1/contacts/:contact/verify',
    {
      schema: {
        summary: 'Mark a contact verified, after comparing safety numbers',
        tags: ['contacts'],
        security: SECURITY,
        params: S.ContactParams,
        response: { 200: S.ContactResponse('the verified contact'), ...S.errorResponses(400, 404, 409, 503) },
      },
    },
    async (request) => {
      return contactChange(async () => {
        const { contact } = await resolveContact(node, request.params.contact, {
          contactOnly: true,
          field: 'params.contact',
        });
        return contactJson(await node.verifyContact(contact!.address));
      });
    },
  );

  // ── Messages ─────────────────────────────────────────────────────────────────────────────

  api.post(
    '/v1/messages',
    {
      schema: {
        summary: 'Send a message to a contact (by name) or an address',
        description:
          'Waits for one delivery attempt: state delivered (the recipient node stored it), stored-at-mailbox (its ' +
          'node was unreachable and one of its mailboxes stored it) or queued (the outbox retries it; watch GET ' +
          '/v1/events for the delivery).',
        tags: ['messages'],
        security: SECURITY,
        body: S.SendBody,
        response: { 201: S.SendResult, ...S.errorResponses(400, 404, 409, 413, 415, 502, 503) },
      },
    },
    async (request, reply) => {
      const { address } = await resolveContact(node, request.body.to, { contactOnly: false, field: 'body.to' });
      const result = await node.send(address, request.body.text);
      return reply.code(201).send({ id: result.id, to: address, state: result.state });
    },
  );

  api.get(
    '/v1/conversations/:contact',
    {
      schema: {
        summary: 'History with a contact or address, newest first, paged',
        description:
          'Pass `next` of a page as beforeTimestamp and beforeId to get the page before it; the last page has no `next`.',
        tags: ['messages'],
        security: SECURITY,
        params: S.ContactParams,
        querystring: S.ConversationQuery,
        response: { 200: S.Conversation, ...S.errorResponses(400, 404, 409, 503) },
      },
    },
    async (request) => {
      const { limit = S.CONVERSATION_DEFAULT_LIMIT, beforeTimestamp, beforeId } = request.query;
      if ((beforeTimestamp === undefined) !== (beforeId === undefined)) {
        const field = beforeId === undefined ? 'query.beforeId' : 'query.beforeTimestamp';
        throw new ApiError('INVALID_REQUEST', `${field}: beforeTimestamp and beforeId go together`, { field });
      }
      const { address, contact } = await resolveContact(node, request.params.contact, {
        contactOnly: false,
        field: 'params.contact',
      });
      const before =
        beforeTimestamp !== undefined && beforeId !== undefined
          ? { timestamp: beforeTimestamp, id: beforeId }
          : undefined;
      // One more than asked for tells whether there is an older page.
      const records = await node.conversation(address, { limit: limit + 1, ...(before ? { before } : {}) });
      const page = records.slice(0, limit);
      const last = page.at(-1);
      return {
        address,
        ...(contact ? { name: contact.name } : {}),
        messages: page.map((m) => ({
          id: m.id,
          direction: m.direction,
          timestamp: m.timestamp,
          text: m.body,
          state: m.state,
        })),
        ...(records.length > limit && last ? { next: { beforeTimestamp: last.timestamp, beforeId: last.id } } : {}),
      };
    },
  );

  api.post(
    '/v1/messages/:id/retry',
    {
      schema: {
        summary: 'Queue a failed outgoing message again',
        description:
          'A message that could be neither delivered nor stored at a mailbox before the daemon gave up on it ' +
          '(failAfterDays) is failed; this queues it again with a fresh deadline and tries it at once. 404 ' +
          'FAILED_MESSAGE_NOT_FOUND when there is no failed outgoing message with this id.',
        tags: ['messages'],
        security: SECURITY,
        params: S.MessageParams,
        response: { 200: S.RetryResult, ...S.errorResponses(400, 404, 503) },
      },
    },
    async (request) => {
      const { id } = request.params;
      if (!(await node.retryMessage(id))) {
        throw new ApiError('FAILED_MESSAGE_NOT_FOUND', `no failed outgoing message with id ${id}`);
      }
      return { id, state: 'queued' as const };
    },
  );

  // ── Contact requests and the block list ──────────────────────────────────────────────────

  api.get(
    '/v1/requests',
    {
      schema: {
        summary: 'Pending contact requests, oldest first',
        description:
          'With contacts.requests "ask", a message from an identity that is neither a contact nor in a conversation ' +
          'is held as a contact request instead of being delivered; accept, reject or block it.',
        tags: ['requests'],
        security: SECURITY,
        response: { 200: S.RequestList, ...S.errorResponses(503) },
      },
    },
    async () => ({ requests: (await node.requests()).map(requestJson) }),
  );

  api.get(
    '/v1/requests/:address',
    {
      schema: {
        summary: 'One pending contact request with its held messages',
        tags: ['requests'],
        security: SECURITY,
        params: S.AddressParams,
        response: { 200: S.RequestView, ...S.errorResponses(400, 404, 503) },
      },
    },
    async (request) => {
      const { address } = parseAddress(request.params.address, 'params.address');
      const view = await node.request(address);
      return {
        ...requestJson(view),
        messages: view.messages.map((m) => ({
          id: m.id,
          text: m.text,
          timestamp: m.timestamp,
          receivedAt: m.receivedAt,
        })),
      };
    },
  );

  api.post(
    '/v1/requests/:address/accept',
    {
      schema: {
        summary: 'Accept a contact request: the requester becomes a contact, its messages join the conversation',
        description:
          'The held messages move into the conversation in arrival order and are sent on the events stream as ' +
          'message events. 404 UNKNOWN_REQUEST when there is none, 409 CONTACT_NAME_TAKEN when another contact has the name.',
        tags: ['requests'],
        security: SECURITY,
        params: S.AddressParams,
        body: S.AcceptRequestBody,
        response: { 200: S.ContactResponse('the new contact'), ...S.errorResponses(400, 404, 409, 413, 415, 503) },
      },
    },
    async (request) => {
      const { address, identityKey } = parseAddress(request.params.address, 'params.address');
      const name = request.body.name;
      return contactChange(async () => {
        const contacts = await node.contacts();
        if (contacts.some((c) => c.name === name && c.identityKey !== identityKey)) {
          throw new ApiError('CONTACT_NAME_TAKEN', `the name ${quote(name)} belongs to another contact`);
        }
        return contactJson(await node.acceptRequest(address, name));
      });
    },
  );

  api.post(
    '/v1/requests/:address/reject',
    {
      schema: {
        summary: 'Reject a contact request: it and its messages are deleted',
        description:
          'The sender is not told; a later message from it makes a new request (block it to stop that). ' +
          '404 UNKNOWN_REQUEST when there is none.',
        tags: ['requests'],
        security: SECURITY,
        params: S.AddressParams,
        response: { 204: { description: 'rejected', type: 'null' }, ...S.errorResponses(400, 404, 503) },
      },
    },
    async (request, reply) => {
      const { address } = parseAddress(request.params.address, 'params.address');
      await contactChange(() => node.rejectRequest(address));
      return reply.code(204).send();
    },
  );

  api.post(
    '/v1/requests/:address/block',
    {
      schema: {
        summary: 'Block the requester: the request is deleted and its later messages are dropped unread',
        description:
          '404 UNKNOWN_REQUEST when there is no request from the address (use POST /v1/blocked to block any address).',
        tags: ['requests'],
        security: SECURITY,
        params: S.AddressParams,
        response: { 200: S.Blocked, ...S.errorResponses(400, 404, 409, 503) },
      },
    },
    async (request) => {
      const { address, identityKey } = parseAddress(request.params.address, 'params.address');
      return contactChange(async () => {
        if (!(await node.requests()).some((r) => r.identityKey === identityKey)) {
          throw new ApiError('UNKNOWN_REQUEST', 'no pending contact request from this address');
        }
        return blockedJson(await node.block(address), await node.contacts());
      });
    },
  );

  api.get(
    '/v1/blocked',
    {
      schema: {
        summary: 'The block list, most recently blocked last',
        tags: ['requests'],
        security: SECURITY,
        response: { 200: S.BlockedList, ...S.errorResponses(503) },
      },
    },
    async () => {
      const contacts = await node.contacts();
      return { blocked: (await node.blockList()).map((b) => blockedJson(b, contacts)) };
    },
  );

  api.post(
    '/v1/blocked',
    {
      schema: {
        summary: 'Block a contact (by name) or any address',
        description:
          'Its envelopes are dropped before any decryption and answered as if stored (the sender cannot tell); ' +
          'nothing is sent to it (409 IDENTITY_BLOCKED); its pending request is deleted and its queued messages ' +
          'fail. A contact stays a contact. 201 when blocked now, 200 when it already was.',
        tags: ['requests'],
        security: SECURITY,
        body: S.BlockBody,
        response: {
          200: S.Blocked,
          201: S.Blocked,
          ...S.errorResponses(400, 404, 409, 413, 415, 503),
        },
      },
    },
    async (request, reply) => {
      const { address } = await resolveContact(node, request.body.contact, {
        contactOnly: false,
        field: 'body.contact',
      });
      return contactChange(async () => {
        const { identityKey } = parseAddress(address);
        const already = (await node.blockList()).some((b) => b.identityKey === identityKey);
        const blocked = blockedJson(await node.block(address), await node.contacts());
        return reply.code(already ? 200 : 201).send(blocked);
      });
    },
  );

  api.delete(
    '/v1/blocked/:contact',
    {
      schema: {
        summary: 'Unblock a contact (by name) or an address',
        description: '404 NOT_BLOCKED when it is not blocked.',
        tags: ['requests'],
        security: SECURITY,
        params: S.ContactParams,
        response: { 204: { description: 'unblocked', type: 'null' }, ...S.errorResponses(400, 404, 409, 503) },
      },
    },
    async (request, reply) => {
      const { address } = await resolveContact(node, request.params.contact, {
        contactOnly: false,
        field: 'params.contact',
      });
      await contactChange(async () => {
        if (!(await node.unblock(address))) throw new ApiError('NOT_BLOCKED', `${quote(address)} is not blocked`);
      });
      return reply.code(204).send();
    },
  );

  // ── Mailboxes ────────────────────────────────────────────────────────────────────────────

  api.get(
    '/v1/mailboxes',
    {
      schema: {
        summary: "This identity's mailboxes (peer ids), as published in its record",
        tags: ['mailboxes'],
        security: SECURITY,
        response: { 200: S.MailboxList, ...S.errorResponses(503) },
      },
    },
    async () => ({ peers: node.mailboxes() }),
  );

  api.put(
    '/v1/mailboxes',
    {
      schema: {
        summary: "Replace this identity's mailboxes and republish its record",
        description:
          `At most ${S.MAX_MAILBOXES} distinct peer ids; an empty list removes them all. The daemon saves the list ` +
          'to its config.json first, so that a restart keeps it (saved: true), unless an environment variable or ' +
          'flag sets the list at every start (saved: false, with the reason). 400 INVALID_PEER_ID for an entry that ' +
          'is not a peer id, INVALID_REQUEST for a repeated one or too many; 500 CONFIG_NOT_SAVED when config.json ' +
          'cannot be written (nothing changed).',
        tags: ['mailboxes'],
        security: SECURITY,
        body: S.SetMailboxesBody,
        response: { 200: S.SetMailboxesResult, ...S.errorResponses(400, 413, 415, 503) },
      },
    },
    async (request) => {
      const peers = parsePeerIds(request.body.peers, 'body.peers');
      return mailboxChange(async () => {
        // Not running (starting, stopping): refuse before saving anything.
        void node.peerId;
        let saved: MailboxesSaved = {
          saved: false,
          reason: 'this node does not save its mailbox list: it lasts until the node stops',
        };
        if (options.saveMailboxes) {
          try {
            saved = await options.saveMailboxes(peers);
          } catch (err) {
            // One line: the saver's message names the file and the problem, never secrets.
            // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
            const why = err instanceof Error ? err.message.replace(/[\u0000-\u001f\u007f]+/g, ' ') : 'unknown error';
            throw new ApiError('CONFIG_NOT_SAVED', `the mailboxes were not changed: ${why}`, { cause: err });
          }
        }
        await node.setMailboxes(peers);
        return { peers: node.mailboxes(), saved: saved.saved, ...(saved.saved ? {} : { reason: saved.reason }) };
      });
    },
  );

  api.post(
    '/v1/mailboxes/fetch',
    {
      schema: {
        summary: 'Fetch from every mailbox now',
        description:
          'The daemon also fetches at start, every minute and whenever it connects to one of its mailboxes. ' +
          'A mailbox that cannot be reached is skipped (fetched counts what arrived from the others).',
        tags: ['mailboxes'],
        security: SECURITY,
        response: { 200: S.FetchResult, ...S.errorResponses(503) },
      },
    },
    async () => {
      const mailboxes = node.mailboxes().length;
      const fetched = await node.fetchMailboxes();
      return { fetched, mailboxes };
    },
  );

  // ── Events ───────────────────────────────────────────────────────────────────────────────

  api.route({
    method: 'GET',
    url: EVENTS_PATH,
    schema: {
      summary: 'Live events (WebSocket)',
      description:
        'Upgrade to a WebSocket. Each text message is one JSON StreamEvent (#/components/schemas/StreamEvent): ' +
        '{"type":"message"|"delivery"|"key-change"|"request", ...}; nothing else is ever sent. The client sends nothing. ' +
        `Authenticate with the Authorization header, or (browsers) offer the subprotocols "${EVENTS_SUBPROTOCOL}" ` +
        `and "${BEARER_SUBPROTOCOL_PREFIX}<token>". A plain HTTP request is 426 UPGRADE_REQUIRED.`,
      tags: ['events'],
      security: EVENTS_SECURITY,
      response: {
        101: { description: 'switching to the WebSocket event stream', type: 'null' },
        ...S.errorResponses(426),
      },
    },
    handler: async () => {
      throw new ApiError('UPGRADE_REQUIRED', 'the event stream is a WebSocket: send an upgrade request');
    },
    wsHandler: (socket) => streamEvents(socket),
  });

  function streamEvents(socket: WebSocket): void {
    const send = (event: S.StreamEvent) => {
      if (socket.readyState !== socket.OPEN) return;
      if (socket.bufferedAmount > WS_MAX_BUFFERED_BYTES) {
        logger.warn('api events client is not reading: disconnected');
        socket.terminate();
        return;
      }
      socket.send(JSON.stringify(event));
    };
    // Payloads are rebuilt field by field: the stream carries exactly the documented shape.
    const onMessage = (m: IncomingMessage) =>
      send({ type: 'message', id: m.id, from: m.from, text: m.text, timestamp: m.timestamp });
    const onDelivery = (d: DeliveryUpdate) => send({ type: 'delivery', id: d.id, to: d.to, state: d.state });
    const onKeyChange = (k: KeyChange) =>
      send({
        type: 'key-change',
        address: k.address,
        name: k.name,
        previousKey: k.previousKey,
        currentKey: k.currentKey,
      });
    const onRequest = (r: ContactRequestEvent) =>
      send({
        type: 'request',
        from: r.from,
        id: r.id,
        text: r.text,
        timestamp: r.timestamp,
        held: r.held,
        first: r.first,
      });
    node.on('message', onMessage);
    node.on('delivery', onDelivery);
    node.on('key-change', onKeyChange);
    node.on('request', onRequest);

    let alive = true;
    const ping = setInterval(() => {
      if (!alive) {
        socket.terminate();
        return;
      }
      alive = false;
      socket.ping();
    }, WS_PING_INTERVAL_MS);
    ping.unref();
    socket.on('pong', () => {
      alive = true;
    });
    socket.on('message', () => {
      // One-way stream: whatever a client sends is ignored.
    });
    socket.once('close', () => {
      clearInterval(ping);
      node.off('message', onMessage);
      node.off('delivery', onDelivery);
      node.off('key-change', onKeyChange);
      node.off('request', onRequest);
    });
  }

  // ── Node ─────────────────────────────────────────────────────────────────────────────────

  api.get(
    '/v1/status',
    {
      schema: {
        summary: 'Peers, DHT routing table size, outbox depth, prekeys, uptime, version',
        tags: ['node'],
        security: SECURITY,
        response: { 200: S.Status, ...S.errorResponses(503) },
      },
    },
    async () => {
      const status = await node.status();
      return {
        peers: status.peers,
        routingTable: status.routingTable,
        outbox: status.outbox,
        oneTimePrekeys: {
          available: status.oneTimePrekeys.available,
          claimed: status.oneTimePrekeys.claimed,
          claimsServed: status.oneTimePrekeys.claimsServed,
        },
        ...(status.mailbox ? { mailbox: { held: status.mailbox.held, bytes: status.mailbox.bytes } } : {}),
        startedAt: options.startedAt,
        uptimeMs: Math.max(0, Date.now() - options.startedAt),
        version,
      };
    },
  );

  api.get(
    '/v1/peers',
    {
      schema: {
        summary: 'Connected peers',
        tags: ['node'],
        security: SECURITY,
        response: { 200: S.Peers, ...S.errorResponses(503) },
      },
    },
    async () => ({ peers: node.peers().map((p) => ({ peerId: p.peerId, addresses: [...p.addresses] })) }),
  );

  api.get(
    '/v1/config',
    {
      schema: {
        summary: 'The effective configuration',
        tags: ['node'],
        security: SECURITY,
        response: { 200: S.AnyObject('the effective configuration'), ...S.errorResponses() },
      },
    },
    async () => {
      const config = typeof options.config === 'function' ? (options.config as () => unknown)() : options.config;
      return typeof config === 'object' && config !== null && !Array.isArray(config) ? config : {};
    },
  );

  api.get(
    '/v1/openapi.json',
    {
      schema: {
        summary: 'This document (OpenAPI 3.1)',
        tags: ['node'],
        security: SECURITY,
        response: { 200: S.AnyObject('the OpenAPI document'), ...S.errorResponses() },
      },
    },
    async () => app.swagger() as unknown as Record<string, unknown>,
  );

  api.get(
    '/health',
    {
      schema: {
        summary: 'Readiness: 200 ready, 503 not ready with the reason',
        tags: ['node'],
        security: SECURITY,
        response: { 200: S.Health, 503: S.Health, ...S.errorResponses() },
      },
    },
    async (_request, reply) => {
      let state: { ready: boolean; reason?: string };
      try {
        state = options.ready();
      } catch {
        state = { ready: false, reason: 'the readiness check failed' };
      }
      if (state.ready) return { ready: true };
      return reply.code(503).send({ ready: false, reason: state.reason ?? 'not ready' });
    },
  );

  api.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics (text exposition format): sotto_* and libp2p_*',
        tags: ['node'],
        security: SECURITY,
        response: {
          200: { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } },
          ...S.errorResponses(),
        },
      },
    },
    async (_request, reply) => {
      const served = registry!;
      const text = await served.metrics();
      return reply.type(served.contentType).send(text);
    },
  );

  if (options.metrics) {
    registry = options.metrics.registry;
  } else {
    const own = createNodeMetrics(node, new Registry());
    registry = own.registry;
    app.addHook('onClose', async () => own.dispose());
  }
  return app;
}
