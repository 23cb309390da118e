/**
 * The one error registry. Every error the API can return has a stable code, a category (never an HTTP
 * status: `src/http/error-response.ts` maps categories to statuses in one table) and a default message.
 * `docs/ERRORS.md` is kept in sync with this table by a test.
 */
export type ErrorCategory =
  | 'INVALID'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'TOO_LARGE'
  | 'PRECONDITION'
  | 'RATE_LIMITED'
  | 'UNAVAILABLE'
  | 'INTERNAL';

interface ErrorDefinition {
  readonly category: ErrorCategory;
  readonly message: string;
}

export const errorRegistry = {
  INVALID_ARGUMENT: { category: 'INVALID', message: 'The request is invalid.' },
  UNAUTHENTICATED: { category: 'UNAUTHENTICATED', message: 'A valid API key is required.' },
  PERMISSION_DENIED: { category: 'FORBIDDEN', message: 'The API key lacks the scope this operation needs.' },
  SITE_NOT_FOUND: { category: 'NOT_FOUND', message: 'Site not found.' },
  COLLECTION_NOT_FOUND: { category: 'NOT_FOUND', message: 'Collection not found.' },
  API_KEY_NOT_FOUND: { category: 'NOT_FOUND', message: 'API key not found.' },
  ROUTE_NOT_FOUND: { category: 'NOT_FOUND', message: 'No such route.' },
  WDE0073: { category: 'NOT_FOUND', message: 'Item not found.' },
  WDE0074: { category: 'CONFLICT', message: 'An item with this id already exists.' },
  COLLECTION_ALREADY_EXISTS: { category: 'CONFLICT', message: 'A collection with this id already exists.' },
  REVISION_MISMATCH: { category: 'CONFLICT', message: 'The collection was changed since it was read.' },
  WDE0109: { category: 'TOO_LARGE', message: 'The item is larger than 500 KB.' },
  PAYLOAD_TOO_LARGE: { category: 'TOO_LARGE', message: 'The request body is too large.' },
  RATE_LIMITED: { category: 'RATE_LIMITED', message: 'Too many requests.' },
  STORAGE_UNAVAILABLE: { category: 'UNAVAILABLE', message: 'Storage is unavailable; retry later.' },
  INTERNAL: { category: 'INTERNAL', message: 'An unexpected error occurred.' },
} as const satisfies Record<string, ErrorDefinition>;

export type ErrorCode = keyof typeof errorRegistry;

/** One violated rule of a request, in the Wix `validationError.fieldViolations` shape. */
export interface FieldViolation {
  readonly field: string;
  readonly description: string;
  readonly violatedRule: ViolatedRule;
}

export type ViolatedRule =
  | 'VALIDATION'
  | 'OTHER'
  | 'MAX'
  | 'MIN'
  | 'MAX_LENGTH'
  | 'MIN_LENGTH'
  | 'MAX_SIZE'
  | 'MIN_SIZE'
  | 'FORMAT'
  | 'REQUIRED_FIELD'
  | 'FIELD_NOT_ALLOWED';

/**
 * An error with a registry code. Thrown by domain and service code; the HTTP layer renders it. It carries
 * no HTTP status on purpose.
 */
export class AppError extends Error {
  override readonly name = 'AppError';

  constructor(
    readonly code: ErrorCode,
    message?: string,
    /** Structured data for `details.applicationError.data` (never secrets, never another tenant's data). */
    readonly data: Readonly<Record<string, unknown>> = {},
    /** For INVALID_ARGUMENT: what was wrong, field by field. */
    readonly violations: readonly FieldViolation[] = [],
  ) {
    super(message ?? errorRegistry[code].message);
  }

  get category(): ErrorCategory {
    return errorRegistry[this.code].category;
  }
}

/** Shorthand for a single-field INVALID_ARGUMENT. */
export function invalidArgument(
  field: string,
  description: string,
  violatedRule: ViolatedRule = 'VALIDATION',
): AppError {
  return new AppError('INVALID_ARGUMENT', `${field}: ${description}`, {}, [
    { field, description, violatedRule },
  ]);
}
