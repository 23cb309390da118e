/**
 * Why the catalog database failed an operation, as far as the engine and HTTP need to know. Each SQL
 * adapter translates its driver's errors into this type where its queries execute
 * (`src/adapters/storage/*\/*-connection.ts`); nothing outside `src/adapters/storage` reads SQLite result
 * codes or PostgreSQL SQLSTATEs. The blob store's counterpart is `BlobStoreError`.
 */
export type StorageErrorKind =
  /** The database's disk is full: retrying will not help until space is freed. */
  | 'FULL'
  /** The database cannot be reached or is shutting down (a lost or refused connection); a retry may work. */
  | 'UNAVAILABLE'
  /** Another writer held a lock too long, or a concurrent transaction won (lock timeout, deadlock); retry. */
  | 'BUSY'
  /** The database's device failed a read or a write (an I/O error). */
  | 'IO_ERROR'
  /** A unique key is taken: a concurrent writer got there first. */
  | 'CONFLICT'
  /** A value the database cannot store or compare (PostgreSQL refuses U+0000 in text). */
  | 'UNSTORABLE_VALUE';

export class StorageError extends Error {
  override readonly name = 'StorageError';

  constructor(
    readonly kind: StorageErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
