/**
 * Request validation with TypeBox's compiler instead of fastify's default Ajv setup, which would
 * silently strip unknown body properties and coerce wrong types ("text": 5 → "5"). Here bodies are
 * checked exactly as their schemas say; only path and query strings, which are text by nature, have
 * numeric fields converted first (strict decimal digits: "10.5", "1e3" and "0x10" are refused).
 * A failure becomes ApiError INVALID_REQUEST naming the first failing field (`body.text`,
 * `query.limit`, `params.contact`) and never echoing the value.
 */
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { type ValueError, ValueErrorType } from '@sinclair/typebox/errors';
import type { FastifySchemaCompiler } from 'fastify';
import { ApiError } from './errors.js';

const PART_NAMES: Record<string, string> = { body: 'body', querystring: 'query', params: 'params', headers: 'headers' };
const INTEGER = /^-?(?:0|[1-9][0-9]{0,15})$/;
const NUMBER = /^-?(?:0|[1-9][0-9]{0,15})(?:\.[0-9]{1,16})?$/;

/** Converts numeric strings of a flat object schema's integer/number properties; leaves the rest. */
function convertStrings(schema: TSchema, data: unknown): unknown {
  const properties = (schema as { properties?: Record<string, { type?: unknown }> }).properties;
  if (!properties || typeof data !== 'object' || data === null || Array.isArray(data)) return data;
  const out: Record<string, unknown> = { ...(data as Record<string, unknown>) };
  for (const [key, property] of Object.entries(properties)) {
    const value = out[key];
    if (typeof value !== 'string') continue;
    if (property.type === 'integer' && INTEGER.test(value)) out[key] = Number(value);
    else if (property.type === 'number' && NUMBER.test(value)) out[key] = Number(value);
  }
  return out;
}

function describe(error: ValueError | undefined): string {
  if (!error) return 'invalid';
  switch (error.type) {
    case ValueErrorType.ObjectAdditionalProperties:
      return 'unknown property';
    case ValueErrorType.ObjectRequiredProperty:
      return 'is required';
    case ValueErrorType.StringPattern: {
      const description = (error.schema as { description?: unknown }).description;
      return typeof description === 'string' ? `must be ${description}` : 'has the wrong format';
    }
    default: {
      const text = error.message.replace(/\s+/g, ' ');
      return text.charAt(0).toLowerCase() + text.slice(1);
    }
  }
}

/** The field a TypeBox error path names, e.g. `/text` in the body → `body.text`. */
function fieldName(part: string, path: string): string {
  if (path === '') return part;
  const segments = path
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  return [part, ...segments].join('.');
}

/** fastify validator compiler for TypeBox route schemas (see the module comment). */
export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const check = TypeCompiler.Compile(schema);
  const part = PART_NAMES[httpPart ?? ''] ?? httpPart ?? 'request';
  const convert = httpPart !== 'body';
  return (data: unknown) => {
    const value = convert ? convertStrings(schema, data) : data;
    if (check.Check(value)) return { value };
    const first = check.Errors(value).First();
    const field = fieldName(part, first?.path ?? '');
    return { error: new ApiError('INVALID_REQUEST', `${field}: ${describe(first)}`, { field }) };
  };
};
