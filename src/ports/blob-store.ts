/**
 * The blob-store port: where backup content (chunks and manifests) lives. Keys are `/`-separated paths
 * chosen by the engine (`sites/<site>/chunks/<sha256>`, `sites/<site>/manifests/<backup>.json`).
 * `src/adapters/blob-store/*` implement it; only the composition root picks one.
 */

/** Why a blob operation failed, as far as the caller needs to know. */
export type BlobErrorKind =
  /** The object does not exist. */
  | 'NOT_FOUND'
  /** No space left (or quota reached): retrying will not help until space is freed. */
  | 'FULL'
  /** The store could not be reached or answered with a transient failure; a retry may work. */
  | 'UNAVAILABLE'
  /** The object exists but cannot be read (permissions, I/O error). */
  | 'UNREADABLE'
  /** Writing or flushing an object failed at the device (EIO, a failed fsync): nothing was written. */
  | 'IO_ERROR'
  /** Any other permanent failure. */
  | 'FAILED';

export class BlobStoreError extends Error {
  override readonly name = 'BlobStoreError';

  constructor(
    readonly kind: BlobErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface BlobInfo {
  readonly key: string;
  readonly size: number;
  /** Milliseconds since the epoch. */
  readonly modifiedAt: number;
}

export interface BlobStore {
  /**
   * Writes an object so that readers see all of it or nothing; replaces an existing one. Durable on return.
   * The store keeps no reference to `data` once the promise settles (the caller reuses the buffer).
   */
  put(key: string, data: Uint8Array): Promise<void>;
  /** Like put, but never replaces: returns false (writing nothing) when the key exists. */
  putIfAbsent(key: string, data: Uint8Array): Promise<boolean>;
  /**
   * Reads a whole object. Refuses objects larger than `maxBytes` without reading them.
   * @throws BlobStoreError NOT_FOUND, UNREADABLE, UNAVAILABLE, FAILED
   */
  get(key: string, maxBytes: number): Promise<Buffer>;
  head(key: string): Promise<BlobInfo | undefined>;
  /** Deletes an object; deleting a missing object succeeds. */
  delete(key: string): Promise<void>;
  /**
   * Every object under `prefix`, taken as whole path segments (`sites/a` lists `sites/a/…`, never
   * `sites/ab/…`; a trailing `/` changes nothing; the empty prefix lists all), in no particular order.
   */
  list(prefix: string): AsyncIterable<BlobInfo>;
  /** Removes leftovers of interrupted writes (temp files, unfinished uploads). Called at start-up. */
  cleanUp(): Promise<number>;
}
