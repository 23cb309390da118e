import { AppError, errorRegistry, type ErrorCode } from '../contracts/errors.js';
import type { JobError } from '../domain/backup.js';
import { BlobStoreError } from '../ports/blob-store.js';
import { StorageError } from '../ports/storage-error.js';

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
 * What a job's error means: a JobFailure, or a storage failure by its kind (BlobStoreError for the blob
 * store, StorageError for the database, both translated at their adapters); anything else is a bug,
 * reported as INTERNAL with its message.
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
  if (error instanceof StorageError) {
    switch (error.kind) {
      case 'FULL':
        return { code: 'STORAGE_FULL', message: `The database disk is full: ${error.message}` };
      case 'IO_ERROR':
        return { code: 'STORAGE_IO_ERROR', message: `The database disk failed: ${error.message}` };
      // Busy and conflict mean the same as in a request: the database could not serve this now; retry.
      case 'UNAVAILABLE':
      case 'BUSY':
      case 'CONFLICT':
        return { code: 'STORAGE_UNAVAILABLE', message: `The database is unavailable: ${error.message}` };
      case 'UNSTORABLE_VALUE':
        break;
    }
  }
  return { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) };
}
