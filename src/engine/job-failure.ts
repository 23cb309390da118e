import { AppError, errorRegistry, type ErrorCode } from '../contracts/errors.js';
import type { JobError } from '../domain/backup.js';
import { BlobStoreError } from '../ports/blob-store.js';

/** A failure of background work that ends the job with this error (no retry by another worker). */
export class JobFailure extends Error {
  override readonly name = 'JobFailure';

  constructor(
    readonly code: ErrorCode,
    message?: string,
  ) {
    super(message ?? errorRegistry[code].message);
  }

  toJobError(): JobError {
    return { code: this.code, message: this.message };
  }
}

/**
 * What a job's error means: a JobFailure or a permanent storage failure ends the job; anything else (a
 * transient outage, a bug) is reported as it is.
 */
export function jobErrorOf(error: unknown): JobError {
  if (error instanceof JobFailure) return error.toJobError();
  // A background-failure code raised below the engine (a manifest that does not decode) keeps its code.
  if (error instanceof AppError && errorRegistry[error.code].category === 'BACKGROUND')
    return { code: error.code, message: error.message };
  if (error instanceof BlobStoreError) {
    switch (error.kind) {
      case 'FULL':
        return { code: 'STORAGE_FULL', message: `The backup storage is full: ${error.message}` };
      case 'NOT_FOUND':
        return { code: 'INTEGRITY_OBJECT_MISSING', message: `A stored object is missing: ${error.message}` };
      case 'UNREADABLE':
        return {
          code: 'INTEGRITY_OBJECT_UNREADABLE',
          message: `A stored object cannot be read: ${error.message}`,
        };
      case 'UNAVAILABLE':
        return {
          code: 'STORAGE_UNAVAILABLE',
          message: `The backup storage is unavailable: ${error.message}`,
        };
      case 'IO_ERROR':
        return { code: 'STORAGE_IO_ERROR', message: `The backup storage failed to write: ${error.message}` };
      case 'FAILED':
        return { code: 'STORAGE_UNAVAILABLE', message: error.message };
    }
  }
  const code = (error as { code?: unknown }).code;
  if (code === 'SQLITE_FULL') return { code: 'STORAGE_FULL', message: 'The database disk is full.' };
  // A lost or refused database connection (the PostgreSQL adapter marks connection losses ECONNRESET).
  if (code === 'ECONNRESET' || code === 'ECONNREFUSED' || code === '57P01')
    return {
      code: 'STORAGE_UNAVAILABLE',
      message: `The database is unavailable: ${(error as Error).message}`,
    };
  return { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) };
}
