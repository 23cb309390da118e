import type { FastifyError } from 'fastify';
import {
  AppError,
  errorRegistry,
  type ErrorCategory,
  type FieldViolation,
  type ViolatedRule,
} from '../contracts/errors.js';

/** The one table from error categories to HTTP statuses. */
export const statusOfCategory: Record<ErrorCategory, number> = {
  INVALID: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  TOO_LARGE: 413,
  PRECONDITION: 428,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  INTERNAL: 500,
  BACKGROUND: 500,
};

/**
 * Seconds a client should wait before retrying, for the errors that clear by themselves (the `Retry-After`
 * header): storage that cannot answer now, and a site whose data the layout migration is moving.
 */
export function retryAfterSeconds(error: AppError): number | undefined {
  if (error.code === 'STORAGE_UNAVAILABLE') return 5;
  if (error.code === 'SITE_MIGRATING') {
    const seconds = error.data.retryAfterSeconds;
    return typeof seconds === 'number' && seconds > 0 ? seconds : 5;
  }
  return undefined;
}

export interface ErrorBody {
  message: string;
  details:
    | { applicationError: { code: string; description: string; data: Record<string, unknown> } }
    | { validationError: { fieldViolations: FieldViolation[] } };
}

/** The body of an error response (backups-api.md §8). */
export function errorBody(error: AppError): ErrorBody {
  if (error.code === 'INVALID_ARGUMENT') {
    const fieldViolations =
      error.violations.length > 0
        ? [...error.violations]
        : [{ field: '', description: error.message, violatedRule: 'OTHER' as const }];
    return { message: error.message, details: { validationError: { fieldViolations } } };
  }
  return {
    message: error.message,
    details: { applicationError: { code: error.code, description: error.message, data: { ...error.data } } },
  };
}

const ajvRules: Record<string, ViolatedRule> = {
  required: 'REQUIRED_FIELD',
  additionalProperties: 'FIELD_NOT_ALLOWED',
  maximum: 'MAX',
  exclusiveMaximum: 'MAX',
  minimum: 'MIN',
  exclusiveMinimum: 'MIN',
  maxLength: 'MAX_LENGTH',
  minLength: 'MIN_LENGTH',
  maxItems: 'MAX_SIZE',
  minItems: 'MIN_SIZE',
  pattern: 'FORMAT',
  format: 'FORMAT',
  type: 'VALIDATION',
  enum: 'VALIDATION',
  const: 'VALIDATION',
};

interface AjvError {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/** Turns schema-validation failures into field violations with dotted field names. */
export function violationsOf(errors: readonly AjvError[], part: string | undefined): FieldViolation[] {
  const seen = new Set<string>();
  const out: FieldViolation[] = [];
  for (const e of errors) {
    // anyOf/oneOf repeat the branch errors they contain; the branches say more.
    if (e.keyword === 'anyOf' || e.keyword === 'oneOf') continue;
    let field = e.instancePath
      .replace(/^\//, '')
      .replace(/\/(\d+)(?=\/|$)/g, '[$1]')
      .replace(/\//g, '.');
    let description = e.message ?? 'is invalid';
    if (e.keyword === 'required' && typeof e.params.missingProperty === 'string') {
      field = field ? `${field}.${e.params.missingProperty}` : e.params.missingProperty;
      description = 'is required';
    } else if (e.keyword === 'additionalProperties' && typeof e.params.additionalProperty === 'string') {
      field = field ? `${field}.${e.params.additionalProperty}` : e.params.additionalProperty;
      description = 'is not a known property';
    }
    if (!field && part && part !== 'body') field = part;
    const key = `${field}|${description}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ field, description, violatedRule: ajvRules[e.keyword] ?? 'OTHER' });
  }
  return out;
}

/** Maps anything a request handler or Fastify can throw to an AppError. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const fastifyError = error as Partial<FastifyError> & {
    validation?: AjvError[];
    validationContext?: string;
  };
  if (fastifyError.validation) {
    const violations = violationsOf(fastifyError.validation, fastifyError.validationContext);
    const first = violations[0];
    const message = first ? `${first.field || 'request'}: ${first.description}` : 'The request is invalid.';
    return new AppError('INVALID_ARGUMENT', message, {}, violations);
  }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('PAYLOAD_TOO_LARGE', 'The request body is larger than this server accepts.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError(
        'INVALID_ARGUMENT',
        'Send the request body as JSON (Content-Type: application/json).',
        {},
        [{ field: 'content-type', description: 'must be application/json', violatedRule: 'FORMAT' }],
      );
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('INVALID_ARGUMENT', 'The request body is empty; send a JSON object.', {}, [
        { field: 'body', description: 'must be a JSON object', violatedRule: 'REQUIRED_FIELD' },
      ]);
    case 'FST_ERR_BAD_URL':
      return new AppError('INVALID_ARGUMENT', 'The URL is not correctly encoded.', {}, [
        { field: 'url', description: 'is not a valid URL component', violatedRule: 'FORMAT' },
      ]);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError('INVALID_ARGUMENT', 'The Content-Length header does not match the body.');
    case undefined:
    default:
      break;
  }
  if (error instanceof SyntaxError || fastifyError.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return new AppError(
      'INVALID_ARGUMENT',
      `The request body is not valid JSON: ${(error as Error).message}`,
      {},
      [{ field: 'body', description: 'is not valid JSON', violatedRule: 'FORMAT' }],
    );
  }
  if (
    typeof fastifyError.statusCode === 'number' &&
    fastifyError.statusCode >= 400 &&
    fastifyError.statusCode < 500
  ) {
    const message = fastifyError.message ?? errorRegistry.INVALID_ARGUMENT.message;
    return fastifyError.statusCode === 413
      ? new AppError('PAYLOAD_TOO_LARGE', message)
      : new AppError('INVALID_ARGUMENT', message);
  }
  if (isUnstorableText(error)) {
    return new AppError(
      'INVALID_ARGUMENT',
      'A text value in the request contains a NUL character (U+0000), which the database cannot store or compare.',
      {},
      [{ field: 'request', description: 'text values must not contain U+0000', violatedRule: 'FORMAT' }],
    );
  }
  if (isStorageUnavailable(error)) return new AppError('STORAGE_UNAVAILABLE');
  return new AppError('INTERNAL');
}

/**
 * Errors that mean a value the request carried cannot go into the database at all: PostgreSQL refuses
 * NUL characters in text (22021) and in JSON strings it must read as text (22P05). SQLite accepts them.
 */
export function isUnstorableText(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === '22021' || code === '22P05';
}

/** Errors that mean the database could not answer now (busy, locked, disk full, connection lost). */
export function isStorageUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return (
    typeof code === 'string' &&
    (code.startsWith('SQLITE_BUSY') ||
      code.startsWith('SQLITE_LOCKED') ||
      code.startsWith('SQLITE_FULL') ||
      code.startsWith('SQLITE_IOERR') ||
      code.startsWith('SQLITE_CANTOPEN') ||
      code === 'ECONNREFUSED' ||
      code === 'ECONNRESET' ||
      code === '57P01' ||
      code === '53300')
  );
}
