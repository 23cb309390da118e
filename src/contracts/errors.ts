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

/** What one error says when it is thrown about something: its message and its `data`. */
interface ErrorDescription {
  readonly message: string;
  /** Structured data for `details.applicationError.data` (never secrets, never another tenant's data). */
  readonly data?: Readonly<Record<string, unknown>>;
  /** For INVALID_ARGUMENT: what was wrong, field by field. */
  readonly violations?: readonly FieldViolation[];
}

interface ErrorDefinition {
  readonly category: ErrorCategory;
  /** The message of the code thrown without arguments (and of a job's error when no detail is known). */
  readonly message: string;
  /**
   * How a code that names what it is about builds its message and data from that, written once here so
   * that the body of an error does not depend on which layer threw it.
   */
  readonly describe?: (...args: never[]) => ErrorDescription;
}

/** `1 second`, `5 seconds`: a Retry-After in words. */
const seconds = (n: number): string => (n === 1 ? '1 second' : `${n} seconds`);

/** The limits that answer RATE_LIMITED (src/http/admission.ts), each as its error message says it. */
const rateLimitText = {
  REQUESTS_PER_SECOND: (value: number) => `this API key may make ${value} requests per second`,
  BODY_BYTES_IN_FLIGHT: (value: number) =>
    `the server is already receiving ${Math.round(value / 1024 / 1024)} MB of request bodies, its limit`,
  SITE_BULK_REQUESTS: (value: number) => `this site already has ${value} bulk requests in progress`,
} as const;

export type RateLimitName = keyof typeof rateLimitText;

/** The per-site quotas (README, "Quotas"); QUOTA_EXCEEDED names one. */
export type QuotaName = 'maxCollections' | 'maxItems' | 'maxBackupBytes' | 'maxRequestBodyBytes';

/** The one place a backup's status is spelled in an error: both status refusals say it the same way. */
interface BackupState {
  readonly id: string;
  readonly status: string;
}

export const errorRegistry = {
  INVALID_ARGUMENT: {
    category: 'INVALID',
    message: 'The request is invalid.',
    describe: (message: string, violations: readonly FieldViolation[] = []) => ({ message, violations }),
  },
  UNAUTHENTICATED: { category: 'UNAUTHENTICATED', message: 'A valid API key is required.' },
  PERMISSION_DENIED: {
    category: 'FORBIDDEN',
    message: 'The API key lacks the scope this operation needs.',
    describe: (requiredScope: string) => ({
      message: `This API key lacks the ${requiredScope} scope.`,
      data: { requiredScope },
    }),
  },
  // Never names the site: an unknown site and another tenant's site must read the same.
  SITE_NOT_FOUND: { category: 'NOT_FOUND', message: 'Site not found.' },
  // Wix's code for a missing collection, on every route that names one (Restore Data Collection included).
  WDE0025: {
    category: 'NOT_FOUND',
    message: 'Collection not found.',
    describe: (dataCollectionId: string, looking: 'collection' | 'deleted copy' = 'collection') => ({
      message:
        looking === 'deleted copy'
          ? `Collection ${dataCollectionId} was not deleted within the retention window (or never existed); it cannot be restored.`
          : `Collection ${dataCollectionId} does not exist.`,
      data: { dataCollectionId },
    }),
  },
  API_KEY_NOT_FOUND: {
    category: 'NOT_FOUND',
    message: 'API key not found.',
    describe: (apiKeyId: string) => ({ message: `API key ${apiKeyId} not found.` }),
  },
  ROUTE_NOT_FOUND: {
    category: 'NOT_FOUND',
    message: 'No such route.',
    describe: (method: string, url: string) => ({
      message: `No route for ${method} ${url.split('?')[0]?.slice(0, 200)}.`,
    }),
  },
  WDE0073: {
    category: 'NOT_FOUND',
    message: 'Item not found.',
    describe: (itemId: string) => ({ message: `Item ${itemId} does not exist.`, data: { itemId } }),
  },
  WDE0074: {
    category: 'CONFLICT',
    message: 'An item with this id already exists.',
    describe: (itemId: string) => ({
      message: `An item with id ${itemId} already exists.`,
      data: { itemId },
    }),
  },
  // Wix documents no code for a write whose `condition` the current item does not match.
  CONDITION_NOT_MET: {
    category: 'CONFLICT',
    message: 'The item does not match the condition of the write.',
    describe: (itemId: string) => ({
      message: `Item ${itemId} does not match the condition; it was not changed.`,
      data: { itemId },
    }),
  },
  ASYNC_JOB_NOT_FOUND: {
    category: 'NOT_FOUND',
    message: 'Async job not found.',
    describe: (jobId: string) => ({ message: `Async job ${jobId} not found.`, data: { jobId } }),
  },
  FIELD_NOT_FOUND: {
    category: 'NOT_FOUND',
    message: 'The collection has no such field.',
    describe: (dataCollectionId: string, fieldKey: string) => ({
      message: `Collection ${dataCollectionId} has no field ${fieldKey}.`,
      data: { dataCollectionId, fieldKey },
    }),
  },
  FIELD_ALREADY_EXISTS: {
    category: 'CONFLICT',
    message: 'The collection already has a field with this key.',
    describe: (dataCollectionId: string, fieldKey: string) => ({
      message: `Collection ${dataCollectionId} already has a field ${fieldKey}; update or patch it instead.`,
      data: { dataCollectionId, fieldKey },
    }),
  },
  UNSUPPORTED_OPERATION: {
    category: 'INVALID',
    message: 'This Wix operation is out of scope for safekeep.',
    describe: (operation: string, why: string) => ({
      message: `${operation} is not supported by safekeep: ${why} See docs/WIX-COMPATIBILITY.md.`,
      data: { operation },
    }),
  },
  COLLECTION_ALREADY_EXISTS: {
    category: 'CONFLICT',
    message: 'A collection with this id already exists.',
    describe: (dataCollectionId: string) => ({
      message: `Collection ${dataCollectionId} already exists.`,
      data: { dataCollectionId },
    }),
  },
  REVISION_MISMATCH: {
    category: 'CONFLICT',
    message: 'The collection was changed since it was read.',
    describe: (dataCollectionId: string, currentRevision: string | number, expectedRevision: number) => ({
      message: `Collection ${dataCollectionId} is at revision ${currentRevision}, not ${expectedRevision}; read it again and retry.`,
      data: { currentRevision: String(currentRevision) },
    }),
  },
  WDE0109: {
    category: 'TOO_LARGE',
    message: 'The item is larger than 500 KB.',
    describe: (itemId: string) => ({
      message: `Item ${itemId} is larger than 500 KB of JSON.`,
      data: { itemId },
    }),
  },
  PAYLOAD_TOO_LARGE: {
    category: 'TOO_LARGE',
    message: 'The request body is larger than this server accepts.',
  },
  RATE_LIMITED: {
    category: 'RATE_LIMITED',
    message: 'Too many requests.',
    /** `limit` names the limit (README, configuration table), `value` its setting. */
    describe: (limit: RateLimitName, value: number, retryAfterSeconds: number) => ({
      message: `Too many requests: ${rateLimitText[limit](value)}. Retry after ${seconds(retryAfterSeconds)}.`,
      data: { limit, value, retryAfterSeconds },
    }),
  },
  QUOTA_EXCEEDED: {
    category: 'RATE_LIMITED',
    message: 'The site is over one of its quotas.',
    describe: (quota: QuotaName, limit: number, current: number, requested?: number) => {
      const raise = `ask an administrator to raise ${quota} (PATCH /_api/safekeep/v1/sites/{id}/settings)`;
      const message =
        quota === 'maxRequestBodyBytes'
          ? `This site's ${quota} quota is ${limit} bytes and this request's body is ${current} bytes or more. Send smaller requests (fewer items per bulk call), or ${raise}.`
          : `This site's ${quota} quota is ${limit} and the site is at ${current}${
              requested === undefined ? '' : `; this request would add ${requested}`
            }. Delete what the site no longer needs, or ${raise}.`;
      return { message, data: { quota, limit, current, ...(requested !== undefined && { requested }) } };
    },
  },
  STORAGE_UNAVAILABLE: { category: 'UNAVAILABLE', message: 'Storage is unavailable; retry later.' },
  SITE_MIGRATING: {
    category: 'UNAVAILABLE',
    message: "The site's data is being moved to the new storage layout; retry later.",
    describe: (retryAfterSeconds: number) => ({
      message: `This site's data is being moved to the new storage layout; writes resume when it is done. Retry after ${seconds(retryAfterSeconds)}.`,
      data: { retryAfterSeconds },
    }),
  },
  INTERNAL: { category: 'INTERNAL', message: 'An unexpected error occurred.' },

  // Backups API (backups-api.md §8)
  BACKUP_NOT_FOUND: {
    category: 'NOT_FOUND',
    message: 'Backup not found.',
    describe: (backupId: string) => ({ message: `Backup ${backupId} not found.`, data: { backupId } }),
  },
  VERIFICATION_NOT_FOUND: {
    category: 'NOT_FOUND',
    message: 'Verification not found.',
    describe: (verificationId: string) => ({
      message: `Verification ${verificationId} not found.`,
      data: { verificationId },
    }),
  },
  RESTORATION_NOT_FOUND: {
    category: 'NOT_FOUND',
    message: 'Restoration not found.',
    describe: (restorationId: string) => ({
      message: `Restoration ${restorationId} not found.`,
      data: { restorationId },
    }),
  },
  WEBHOOK_NOT_FOUND: { category: 'NOT_FOUND', message: 'Webhook subscription not found.' },
  COLLECTION_NOT_IN_BACKUP: {
    category: 'INVALID',
    message: 'The collection is not in this backup.',
    describe: (dataCollectionId: string) => ({
      message: `Collection ${dataCollectionId} is not in this backup.`,
      data: { dataCollectionId },
    }),
  },
  DUPLICATE_DESTINATION: {
    category: 'INVALID',
    message: 'Two collections would be restored into the same destination.',
    describe: (dataCollectionId: string) => ({
      message: `Two collections would be restored into ${dataCollectionId}.`,
      data: { dataCollectionId },
    }),
  },
  BACKUP_ALREADY_IN_PROGRESS: {
    category: 'CONFLICT',
    message: 'An on-demand backup of this site is already in progress.',
    describe: (backupId: string) => ({
      message: `On-demand backup ${backupId} of this site is still in progress.`,
      data: { backupId },
    }),
  },
  RESTORATION_IN_PROGRESS: {
    category: 'CONFLICT',
    message: 'A restoration of this site is already in progress.',
    describe: (restorationId: string) => ({
      message: `Restoration ${restorationId} of this site is still in progress.`,
      data: { restorationId },
    }),
  },
  BACKUP_IN_USE: {
    category: 'CONFLICT',
    message: 'A pending restoration is reading this backup.',
    describe: (backupId: string, restorationId: string) => ({
      message: `Restoration ${restorationId} is reading backup ${backupId}; delete it when that ends.`,
      data: { backupId, restorationId },
    }),
  },
  DEFINITION_CONFLICT: {
    category: 'CONFLICT',
    message: 'A destination has a field the backup defines differently.',
    describe: (conflicts: readonly { dataCollectionId: string; fields: readonly string[] }[]) => ({
      message: `The backup defines these fields with another type or referenced collection than the destination does (${conflicts
        .map((c) => `${c.dataCollectionId}: ${c.fields.join(', ')}`)
        .join('; ')}). Restore with definitionMode BACKUP to take the backup's definitions.`,
      data: {
        conflicts: conflicts.map((c) => ({ dataCollectionId: c.dataCollectionId, fields: [...c.fields] })),
      },
    }),
  },
  ITEM_RESTORE_DESTINATION_MISSING: {
    category: 'CONFLICT',
    message: 'An item restore needs a destination collection that exists.',
    describe: (dataCollectionId: string) => ({
      message: `Collection ${dataCollectionId} does not exist: an item restore (RESTORE_ITEMS, ONLY_MISSING) puts items back into an existing collection. Restore the whole collection (REPLACE_COLLECTION) to create it.`,
      data: { dataCollectionId },
    }),
  },
  ITEM_RESTORE_MODE_FIXED: {
    category: 'INVALID',
    message: 'This backup restores only the items it records.',
    describe: (dataCollectionId: string) => ({
      message: `The backup holds what an item restore of ${dataCollectionId} replaced: it restores only those items (RESTORE_ITEMS of its recorded ids), never the whole collection; name no restoreMode or itemIds for it.`,
      data: { dataCollectionId },
    }),
  },
  BACKUP_NOT_READY: {
    category: 'PRECONDITION',
    message: 'Only a READY backup can be restored.',
    describe: (backup: BackupState) => ({
      message: `Backup ${backup.id} is ${backup.status}; only a READY backup can be restored.`,
      data: { backupId: backup.id, status: backup.status },
    }),
  },
  BACKUP_NOT_VERIFIABLE: {
    category: 'PRECONDITION',
    message: 'Only a READY backup can be verified.',
    describe: (backup: BackupState) => ({
      message: `Backup ${backup.id} is ${backup.status}; only a READY backup can be verified.`,
      data: { backupId: backup.id, status: backup.status },
    }),
  },
  BACKUP_NOT_CANCELABLE: {
    category: 'PRECONDITION',
    message: 'Only a PENDING backup can be canceled.',
    describe: (backup: BackupState) => ({
      message: `Backup ${backup.id} is ${backup.status}; only a PENDING backup can be canceled.`,
      data: { backupId: backup.id, status: backup.status },
    }),
  },

  BACKUP_DAMAGED: {
    category: 'CONFLICT',
    message: "The backup's stored content fails its checks.",
    describe: (backupId: string, integrityCode: string) => ({
      message: `Backup ${backupId} cannot be read: its stored content fails its checks (${integrityCode}).`,
      data: { backupId, integrityCode },
    }),
  },
  // Portable archives (docs/ARCHIVE-FORMAT.md): an import refused creates nothing.
  ARCHIVE_TOO_LARGE: {
    category: 'TOO_LARGE',
    message: 'The archive is larger than this server imports.',
    describe: (limit: number) => ({
      message: `The archive is larger than ${limit} bytes, the most this server imports (SAFEKEEP_IMPORT_MAX_BYTES).`,
      data: { limit },
    }),
  },
  ARCHIVE_CORRUPT: {
    category: 'INVALID',
    message: 'The archive is damaged: it does not decompress.',
    describe: (why: string) => ({ message: `The archive is damaged: ${why}.`, data: { why } }),
  },
  ARCHIVE_TRUNCATED: {
    category: 'INVALID',
    message: 'The archive ends before its end.',
    describe: (where: string) => ({
      message: `The archive ends too early, in ${where}: it was cut short.`,
      data: { where },
    }),
  },
  ARCHIVE_MANIFEST_INVALID: {
    category: 'INVALID',
    message: "The archive's manifest is not valid.",
    describe: (why: string) => ({ message: `The archive's manifest is not valid: ${why}.`, data: { why } }),
  },
  ARCHIVE_SECTION_MISMATCH: {
    category: 'INVALID',
    message: "The archive's sections are not those its manifest lists, in its order.",
    describe: (expected: string, found: string) => ({
      message: `The archive holds ${found} where its manifest puts ${expected}: a section is missing or out of order.`,
      data: { expected, found },
    }),
  },
  ARCHIVE_COUNT_MISMATCH: {
    category: 'INVALID',
    message: 'A section of the archive holds another number of lines than its manifest says.',
    describe: (section: string, expected: number, found: string) => ({
      message: `The archive's ${section} holds ${found} lines; its manifest says ${expected}.`,
      data: { section, expected, found },
    }),
  },
  ARCHIVE_CHECKSUM_MISMATCH: {
    category: 'INVALID',
    message: 'Lines of the archive do not hash to the checksum its manifest records.',
    describe: (section: string, block: number, expected: string, found: string) => ({
      message: `Block ${block} of the archive's ${section} hashes to ${found}; its manifest records ${expected}.`,
      data: { section, block, expected, found },
    }),
  },
  ARCHIVE_ITEM_INVALID: {
    category: 'INVALID',
    message: 'A line of the archive is not an item, or link, the API would accept.',
    describe: (section: string, line: number, why: string) => ({
      message: `Line ${line} of the archive's ${section} is refused: ${why}.`,
      data: { section, line, why },
    }),
  },

  // Failures of background work, reported in an entity's `error`.
  STORAGE_FULL: { category: 'BACKGROUND', message: 'The backup storage is full.' },
  STORAGE_IO_ERROR: {
    category: 'BACKGROUND',
    message: 'The backup storage failed to write or flush data (an I/O error).',
  },
  TIMED_OUT: { category: 'BACKGROUND', message: 'The job did not finish in time.' },
  RESTORE_DESTINATION_GONE: {
    category: 'BACKGROUND',
    message: 'The destination of an item restore was deleted before the restoration switched.',
    describe: (dataCollectionId: string) => ({
      message: `Collection ${dataCollectionId} was deleted before the item restore switched; nothing was changed.`,
      data: { dataCollectionId },
    }),
  },
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
  INTEGRITY_MANIFEST_INVALID: {
    category: 'BACKGROUND',
    message: 'The backup manifest is damaged.',
    describe: (why: string) => ({ message: `The backup manifest is damaged: ${why}.` }),
  },
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
 * no HTTP status on purpose. Build one with `errors.<CODE>(...)`, never with `new` (lint refuses it outside
 * this file), so that a code's message and data come from its one definition.
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

type Registry = typeof errorRegistry;

/** The arguments a code's constructor takes: those of its `describe`, or none. */
type ArgumentsOf<C extends ErrorCode> = Registry[C] extends {
  describe: (...args: infer A) => ErrorDescription;
}
  ? A
  : [];

/** One error per code, fastify's `createError` shape: the registry entry builds message and data. */
function createError<C extends ErrorCode>(code: C): (...args: ArgumentsOf<C>) => AppError {
  const definition: ErrorDefinition = errorRegistry[code];
  const describe = definition.describe as ((...args: ArgumentsOf<C>) => ErrorDescription) | undefined;
  if (!describe) return () => new AppError(code);
  return (...args) => {
    const { message, data, violations } = describe(...args);
    return new AppError(code, message, data, violations);
  };
}

type ErrorConstructors = { readonly [C in ErrorCode]: (...args: ArgumentsOf<C>) => AppError };

function createErrors(): ErrorConstructors {
  const built: Record<string, unknown> = {};
  for (const code of Object.keys(errorRegistry) as ErrorCode[]) built[code] = createError(code);
  return built as ErrorConstructors;
}

/** The constructors of every registered error: `throw errors.WDE0073(itemId)`. */
export const errors = createErrors();

/** Shorthand for a single-field INVALID_ARGUMENT. */
export function invalidArgument(
  field: string,
  description: string,
  violatedRule: ViolatedRule = 'VALIDATION',
): AppError {
  return errors.INVALID_ARGUMENT(`${field}: ${description}`, [{ field, description, violatedRule }]);
}
