import { AppError, errorRegistry, type ErrorCode } from '../contracts/errors.js';
import type { JobError } from '../domain/backup.js';
import { BlobStoreError } from '../ports/blob-store.js';
import { StorageError } from '../ports/storage-error.js';

/** The sizes of a stored object that is not as long as recorded. */
interface Sizes {
  readonly found: number;
  readonly recorded: number;
}

const sizesOf = (object: string, { found, recorded }: Sizes) =>
  `${object} is ${found} bytes, not ${recorded}.`;

/**
 * How each code a job fails with words its message, written once here (as the error registry does for
 * requests) so that a job's `error.message` does not depend on which step threw it. `object` names the
 * stored object, as `Chunk <hash>` or `The manifest of backup <id>`.
 */
const jobFailureMessages = {
  INTEGRITY_OBJECT_MISSING: (object: string) => `${object} is missing.`,
  INTEGRITY_OBJECT_UNREADABLE: (object: string) => `${object} cannot be read.`,
  INTEGRITY_OBJECT_EMPTY: (object: string) => `${object} is empty.`,
  INTEGRITY_OBJECT_TRUNCATED: sizesOf,
  INTEGRITY_SIZE_MISMATCH: (object: string, sizes?: Sizes) =>
    sizes ? sizesOf(object, sizes) : `${object} is larger than recorded.`,
  INTEGRITY_OBJECT_SWAPPED: (object: string, owner: { backupId: string; siteId: string }) =>
    `${object} was replaced by the manifest of backup ${owner.backupId} of site ${owner.siteId}.`,
  INTEGRITY_MANIFEST_CHECKSUM_MISMATCH: (backupId: string) =>
    `${manifestOf(backupId)} does not match the checksum recorded when the backup completed.`,
  INTEGRITY_MANIFEST_MISMATCH: (backupId: string, what: string, recorded: unknown, found: unknown) =>
    `${manifestOf(backupId)} holds ${what} ${String(found)}, the catalog recorded ${String(recorded)}.`,
  INTEGRITY_MANIFEST_INVALID: (why: string) => errorRegistry.INTEGRITY_MANIFEST_INVALID.describe(why).message,
  INTERNAL: (size: number, limit: number) =>
    `The manifest is ${size} bytes, more than the ${limit} bytes a manifest may hold.`,
} satisfies { readonly [C in ErrorCode]?: (...args: never[]) => string };

/** How a manifest is named in a job's error message. */
export function manifestOf(backupId: string): string {
  return `The manifest of backup ${backupId}`;
}

/** How a chunk is named in a job's error message. */
export function chunkNamed(hash: string): string {
  return `Chunk ${hash}`;
}

type JobFailureMessages = typeof jobFailureMessages;
export type JobFailureCode = keyof JobFailureMessages;
type JobFailureConstructors = {
  readonly [C in JobFailureCode]: (...args: Parameters<JobFailureMessages[C]>) => JobFailure;
};

/**
 * A failure of background work that ends the job with this error (no retry by another worker). Built with
 * `jobFailures.<CODE>(...)` (or `JobFailure.relay` for an error whose thrower already worded it), never
 * with `new`: the constructor is private, and lint says so outside this file.
 */
export class JobFailure extends Error {
  override readonly name = 'JobFailure';

  private constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }

  /** One constructor per code, its message from `jobFailureMessages`. */
  static readonly byCode: JobFailureConstructors = Object.fromEntries(
    Object.entries(jobFailureMessages).map(([code, describe]) => [
      code,
      (...args: never[]) =>
        new JobFailure(code as JobFailureCode, (describe as (...a: never[]) => string)(...args)),
    ]),
  ) as unknown as JobFailureConstructors;

  /**
   * An error whose code and message were already written once by what threw it (an AppError of the
   * BACKGROUND category, the codec worker's integrity errors): the job reports it as it is.
   */
  static relay(error: { readonly code: ErrorCode; readonly message: string }): JobFailure {
    return new JobFailure(error.code, error.message);
  }

  toJobError(): JobError {
    return { code: this.code, message: this.message };
  }
}

/** The constructors of every code a job fails with: `throw jobFailures.INTEGRITY_OBJECT_MISSING(...)`. */
export const jobFailures = JobFailure.byCode;

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
