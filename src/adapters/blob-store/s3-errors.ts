import { BlobStoreError, type BlobErrorKind } from '../../ports/blob-store.js';

/** Whether a failed operation read or wrote: a refusal means "cannot be read" only for a read. */
export type S3Access = 'read' | 'write';

/** What a failed S3 request means for the caller: the port's kind, and whether another attempt may work. */
export interface S3Failure {
  readonly kind: BlobErrorKind;
  readonly transient: boolean;
  /** The HTTP status, when the server answered. */
  readonly status: number | undefined;
  /** The S3 error code (`NoSuchKey`, `SlowDown`…) or the network error's code. */
  readonly code: string;
}

/** The narrow slice of an SDK (or network) error that classification reads. */
interface ErrorShape {
  readonly name?: string;
  readonly code?: string;
  readonly Code?: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

/** Codes S3 documents as "try again" whatever their status (RequestTimeout and the throttles come as 400/503). */
const TRANSIENT_CODES = new Set([
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalError',
  'ServiceUnavailable',
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'BandwidthLimitExceeded',
  'OperationAborted',
  'ConditionalRequestConflict',
  'TimeoutError',
  // The body was damaged or cut in transit: sending it again is the cure.
  'BadDigest',
  'IncompleteBody',
  'XAmzContentSHA256Mismatch',
]);

/** Out of space or over a quota: S3's own codes and those of common S3-compatible servers. */
const FULL_CODES = new Set([
  'EntityTooLarge',
  'QuotaExceeded',
  'QuotaExceededError',
  'StorageFull',
  'XMinioStorageFull',
  'InsufficientStorage',
  'NoSpace',
  'NotEnoughSpace',
  'StorageQuotaExceeded',
  'BucketQuotaExceeded',
  'XMinioAdminBucketQuotaExceeded',
]);

/** A missing bucket is a configuration problem, not a missing object: never reported as NOT_FOUND. */
const NO_BUCKET_CODES = new Set(['NoSuchBucket']);

/**
 * Classifies a failed request. An answer without an HTTP status (connection reset, refused, timed out, a
 * response cut short) is transient; so are 5xx, 429, 409 conflicts and the codes S3 asks to retry. 4xx
 * refusals are permanent: 404 is NOT_FOUND, 403 is UNREADABLE for a read, 412 and 400 are FAILED, quota and
 * size refusals are FULL. A BlobStoreError raised by our own checks is transient only when UNAVAILABLE.
 */
export function classifyS3Error(error: unknown, access: S3Access): S3Failure {
  if (error instanceof BlobStoreError) {
    return { kind: error.kind, transient: error.kind === 'UNAVAILABLE', status: undefined, code: error.kind };
  }
  const shape = (typeof error === 'object' && error !== null ? error : {}) as ErrorShape;
  const status = shape.$metadata?.httpStatusCode;
  const code = shape.Code ?? (status === undefined ? shape.code : undefined) ?? shape.name ?? 'Error';
  const failure = (kind: BlobErrorKind, transient: boolean): S3Failure => ({ kind, transient, status, code });

  if (FULL_CODES.has(code) || status === 507) return failure('FULL', false);
  if (NO_BUCKET_CODES.has(code)) return failure('UNAVAILABLE', false);
  if (TRANSIENT_CODES.has(code)) return failure('UNAVAILABLE', true);
  // No status, or a success status on an error: the connection failed or the answer was unreadable.
  if (status === undefined || status < 300) return failure('UNAVAILABLE', true);
  if (status === 404 || code === 'NoSuchKey' || code === 'NotFound') return failure('NOT_FOUND', false);
  if (status === 403 || status === 401) return failure(access === 'read' ? 'UNREADABLE' : 'FAILED', false);
  if (status === 429 || status === 409 || status === 408) return failure('UNAVAILABLE', true);
  if (status === 501) return failure('FAILED', false);
  if (status >= 500) return failure('UNAVAILABLE', true);
  return failure('FAILED', false);
}

/** The HTTP status behind a BlobStoreError raised for a failed request, if the server answered. */
export function statusOf(error: unknown): number | undefined {
  const cause = error instanceof BlobStoreError ? error.cause : error;
  return (cause as ErrorShape | undefined)?.$metadata?.httpStatusCode;
}

/** The S3 error code behind a BlobStoreError raised for a failed request. */
export function codeOf(error: unknown): string | undefined {
  const cause = (error instanceof BlobStoreError ? error.cause : error) as ErrorShape | undefined;
  return cause?.Code ?? cause?.name;
}
