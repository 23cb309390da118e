import type { FastifyError } from 'fastify';
import { StorageError } from '../ports/storage-error.js';
import {
  AppError,
  type ErrorCategory,
  errorRegistry,
  errors,
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
 * header): storage that cannot answer now, a site whose data the layout migration is moving, and a limit of
 * src/http/admission.ts (the time its key's bucket needs to hold a token again, or a second).
 */
export function retryAfterSeconds(error: AppError): number | undefined {
  if (error.code === 'STORAGE_UNAVAILABLE') return 5;
  if (error.code === 'SITE_MIGRATING' || error.code === 'RATE_LIMITED') {
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
    return errors.INVALID_ARGUMENT(message, violations);
  }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return errors.PAYLOAD_TOO_LARGE();
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return errors.INVALID_ARGUMENT('Send the request body as JSON (Content-Type: application/json).', [
        { field: 'content-type', description: 'must be application/json', violatedRule: 'FORMAT' },
      ]);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return errors.INVALID_ARGUMENT('The request body is empty; send a JSON object.', [
        { field: 'body', description: 'must be a JSON object', violatedRule: 'REQUIRED_FIELD' },
      ]);
    case 'FST_ERR_BAD_URL':
      return errors.INVALID_ARGUMENT('The URL is not correctly encoded.', [
        { field: 'url', description: 'is not a valid URL component', violatedRule: 'FORMAT' },
      ]);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return errors.INVALID_ARGUMENT('The Content-Length header does not match the body.');
    case undefined:
    default:
      break;
  }
  if (error instanceof SyntaxError || fastifyError.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return errors.INVALID_ARGUMENT(`The request body is not valid JSON: ${(error as Error).message}`, [
      { field: 'body', description: 'is not valid JSON', violatedRule: 'FORMAT' },
    ]);
  }
  if (
    typeof fastifyError.statusCode === 'number' &&
    fastifyError.statusCode >= 400 &&
    fastifyError.statusCode < 500
  ) {
    const message = fastifyError.message ?? errorRegistry.INVALID_ARGUMENT.message;
    return fastifyError.statusCode === 413 ? errors.PAYLOAD_TOO_LARGE() : errors.INVALID_ARGUMENT(message);
  }
  if (error instanceof StorageError) {
    switch (error.kind) {
      case 'UNSTORABLE_VALUE':
        return errors.INVALID_ARGUMENT(
          'A text value in the request contains a NUL character (U+0000), which the database cannot store or compare.',
          [{ field: 'request', description: 'text values must not contain U+0000', violatedRule: 'FORMAT' }],
        );
      // Each means the database cannot serve this request now, and a retry may: a full disk is freed, a
      // lock is released, a concurrent writer's row is there to be read (the retry then gets its own answer).
      case 'FULL':
      case 'UNAVAILABLE':
      case 'BUSY':
      case 'IO_ERROR':
      case 'CONFLICT':
        return errors.STORAGE_UNAVAILABLE();
    }
  }
  return errors.INTERNAL();
}
