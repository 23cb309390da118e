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
  | 'INTERNAL'
  /** Reported only in a backup's or restoration's `error`, never as an HTTP response. */
  | 'BACKGROUND';

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
  WDE0025: {
    category: 'NOT_FOUND',
    message: 'The collection was deleted too long ago to be restored, or never existed.',
  },
  COLLECTION_ALREADY_EXISTS: { category: 'CONFLICT', message: 'A collection with this id already exists.' },
  REVISION_MISMATCH: { category: 'CONFLICT', message: 'The collection was changed since it was read.' },
  WDE0109: { category: 'TOO_LARGE', message: 'The item is larger than 500 KB.' },
  PAYLOAD_TOO_LARGE: { category: 'TOO_LARGE', message: 'The request body is too large.' },
  RATE_LIMITED: { category: 'RATE_LIMITED', message: 'Too many requests.' },
  STORAGE_UNAVAILABLE: { category: 'UNAVAILABLE', message: 'Storage is unavailable; retry later.' },
  SITE_MIGRATING: {
    category: 'UNAVAILABLE',
    message: "The site's data is being moved to the new storage layout; retry later.",
  },
  INTERNAL: { category: 'INTERNAL', message: 'An unexpected error occurred.' },

  // Backups API (backups-api.md §8)
  BACKUP_NOT_FOUND: { category: 'NOT_FOUND', message: 'Backup not found.' },
  RESTORATION_NOT_FOUND: { category: 'NOT_FOUND', message: 'Restoration not found.' },
  WEBHOOK_NOT_FOUND: { category: 'NOT_FOUND', message: 'Webhook subscription not found.' },
  COLLECTION_NOT_IN_BACKUP: { category: 'INVALID', message: 'The collection is not in this backup.' },
  DUPLICATE_DESTINATION: {
    category: 'INVALID',
    message: 'Two collections would be restored into the same destination.',
  },
  BACKUP_ALREADY_IN_PROGRESS: {
    category: 'CONFLICT',
    message: 'An on-demand backup of this site is already in progress.',
  },
  RESTORATION_IN_PROGRESS: {
    category: 'CONFLICT',
    message: 'A restoration of this site is already in progress.',
  },
  BACKUP_IN_USE: { category: 'CONFLICT', message: 'A pending restoration is reading this backup.' },
  DEFINITION_CONFLICT: {
    category: 'CONFLICT',
    message: 'A destination has a field the backup defines differently.',
  },
  BACKUP_NOT_READY: { category: 'PRECONDITION', message: 'Only a READY backup can be restored.' },
  BACKUP_NOT_CANCELABLE: { category: 'PRECONDITION', message: 'Only a PENDING backup can be canceled.' },

  // Failures of background work, reported in an entity's `error`.
  STORAGE_FULL: { category: 'BACKGROUND', message: 'The backup storage is full.' },
  STORAGE_IO_ERROR: {
    category: 'BACKGROUND',
    message: 'The backup storage failed to write or flush data (an I/O error).',
  },
  TIMED_OUT: { category: 'BACKGROUND', message: 'The job did not finish in time.' },
  JOB_INTERRUPTED: {
    category: 'BACKGROUND',
    message: 'The job was interrupted too many times and was given up.',
  },
  INTEGRITY_CHECKSUM_MISMATCH: {
    category: 'BACKGROUND',
    message: 'A stored object does not match its checksum.',
  },
  INTEGRITY_SIZE_MISMATCH: {
    category: 'BACKGROUND',
    message: 'A stored object is longer than its recorded size.',
  },
  INTEGRITY_OBJECT_TRUNCATED: {
    category: 'BACKGROUND',
    message: 'A stored object is shorter than its recorded size.',
  },
  INTEGRITY_OBJECT_EMPTY: { category: 'BACKGROUND', message: 'A stored object is empty.' },
  INTEGRITY_OBJECT_SWAPPED: {
    category: 'BACKGROUND',
    message: 'A stored object belongs to another backup or site.',
  },
  INTEGRITY_MANIFEST_CHECKSUM_MISMATCH: {
    category: 'BACKGROUND',
    message: 'The backup manifest does not match the checksum recorded for it.',
  },
  INTEGRITY_MANIFEST_MISMATCH: {
    category: 'BACKGROUND',
    message: 'The backup manifest does not agree with what the catalog recorded for the backup.',
  },
  INTEGRITY_DECOMPRESSED_TOO_LARGE: {
    category: 'BACKGROUND',
    message: 'A stored chunk expands to more than its recorded size.',
  },
  INTEGRITY_OBJECT_MISSING: {
    category: 'BACKGROUND',
    message: 'A stored object the backup needs is missing.',
  },
  INTEGRITY_OBJECT_UNREADABLE: {
    category: 'BACKGROUND',
    message: 'A stored object the backup needs cannot be read.',
  },
  INTEGRITY_DECOMPRESSION_FAILED: {
    category: 'BACKGROUND',
    message: 'A stored object is not valid compressed data.',
  },
  INTEGRITY_MANIFEST_INVALID: { category: 'BACKGROUND', message: 'The backup manifest is damaged.' },
  INTEGRITY_CONTENT_INVALID: {
    category: 'BACKGROUND',
    message: 'A stored chunk holds content that is not valid.',
  },
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
