import { randomUUID } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { BlobStoreError, type BlobInfo, type BlobStore } from '../../ports/blob-store.js';
import { classifyS3Error, codeOf, statusOf, type S3Access } from './s3-errors.js';
import { defaultRetryPolicy, withRetries, type RetryPolicy } from './s3-retry.js';

const MiB = 1024 * 1024;
/** S3's smallest part (but the last) and most parts per upload. */
const MIN_PART_BYTES = 5 * MiB;
const MAX_PARTS = 10_000;
/** Where the store keeps its own objects (the conditional-write probe), apart from the engine's keys. */
const OWN_PREFIX = '.safekeep/';

/** The same key rule as FsBlobStore, so that both stores accept exactly the same keys. */
const safeKey = /^[A-Za-z0-9._@-]+(\/[A-Za-z0-9._@-]+)*$/;

export interface S3BlobStoreOptions {
  readonly bucket: string;
  readonly region: string;
  /** An S3-compatible server's URL; AWS's own endpoint when left out. */
  readonly endpoint?: string | undefined;
  /** Prepended to every key (`tenant-a/` → `tenant-a/sites/…`); lets deployments share a bucket. */
  readonly prefix?: string | undefined;
  /** `https://host/bucket/key` instead of `https://bucket.host/key` (most S3-compatible servers want it). */
  readonly forcePathStyle?: boolean | undefined;
  /** Explicit keys; when left out, the SDK's default chain finds them (profile, web identity, instance role). */
  readonly credentials?:
    { accessKeyId: string; secretAccessKey: string; sessionToken?: string | undefined } | undefined;
  /** Objects of this size or more are sent in parts (default 16 MiB). */
  readonly multipartThresholdBytes?: number;
  /** Size of each part but the last (default 8 MiB, at least 5 MiB as S3 requires). */
  readonly partBytes?: number;
  readonly retry?: RetryPolicy;
  /** Tries per request in all, overriding the retry policy's (the SDK's own retry is always off). */
  readonly maxAttempts?: number | undefined;
  /** A request whose connection stays idle this long is abandoned and, being transient, retried. */
  readonly idleTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  /** Multipart uploads started longer ago than this are leftovers that `cleanUp` aborts (default 1 hour). */
  readonly staleUploadMs?: number;
  /** Keys per ListObjectsV2 page (default 1000, S3's maximum). */
  readonly listPageSize?: number;
  /**
   * Whether the server honours `If-None-Match: *` on writes. Left out, the store probes once, at its first
   * create-only write (servers such as s3rver accept the header and ignore it).
   */
  readonly supportsConditionalWrites?: boolean;
  /** What `cleanUp` takes as now (tests move it past the stale age). */
  readonly clock?: () => number;
}

/**
 * Objects in an S3-compatible bucket.
 *
 * - Atomic: a PUT, or a multipart upload's completion, makes the whole object visible at once; readers see
 *   the old object or the new one. Parts of an unfinished upload are never visible.
 * - Create-only (`putIfAbsent`): `If-None-Match: *` on the PUT (or on the multipart completion); 412 means
 *   the key exists. Where the server ignores the header, a HEAD then PUT under a per-key lock in this
 *   process (see `putIfAbsentEmulated` for why that is enough for the engine).
 * - Retries: this store's own policy (the SDK's retry is off): transient failures are retried with capped
 *   exponential backoff and jitter, permanent refusals fail at once with the port's error kind.
 * - Verified reads: the Content-Length is checked against `maxBytes` before the body is read, and the body
 *   must be exactly that long; a short or long body is retried as a broken response.
 */
export class S3BlobStore implements BlobStore {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly threshold: number;
  private readonly partBytes: number;
  private readonly retry: RetryPolicy;
  private readonly staleUploadMs: number;
  private readonly listPageSize: number;
  private readonly clock: () => number;
  private conditionalWrites: Promise<boolean> | undefined;
  /** Create-only writes in flight in the emulated mode, by key: each waits for the one before. */
  private readonly creating = new Map<string, Promise<unknown>>();

  constructor(options: S3BlobStoreOptions) {
    this.bucket = options.bucket;
    this.prefix = normalizePrefix(options.prefix ?? '');
    this.threshold = options.multipartThresholdBytes ?? 16 * MiB;
    this.partBytes = Math.max(MIN_PART_BYTES, options.partBytes ?? 8 * MiB);
    this.retry = {
      ...(options.retry ?? defaultRetryPolicy),
      ...(options.maxAttempts && { attempts: options.maxAttempts }),
    };
    this.staleUploadMs = options.staleUploadMs ?? 60 * 60 * 1000;
    this.listPageSize = options.listPageSize ?? 1000;
    this.clock = options.clock ?? Date.now;
    if (options.supportsConditionalWrites !== undefined)
      this.conditionalWrites = Promise.resolve(options.supportsConditionalWrites);
    const agent = { keepAlive: true, maxSockets: 64 };
    this.client = new S3Client({
      region: options.region,
      ...(options.endpoint !== undefined && { endpoint: options.endpoint }),
      forcePathStyle: options.forcePathStyle ?? false,
      ...(options.credentials && { credentials: options.credentials }),
      // Our retry policy, not the SDK's: one attempt per send.
      maxAttempts: 1,
      requestHandler: {
        connectionTimeout: options.connectTimeoutMs ?? 10_000,
        socketTimeout: options.idleTimeoutMs ?? 30_000,
        httpAgent: new HttpAgent(agent),
        httpsAgent: new HttpsAgent(agent),
      },
    });
  }

  /** Closes the connections (the store is unusable afterwards). */
  close(): void {
    this.client.destroy();
  }

  private objectKey(key: string): string {
    if (!safeKey.test(key) || key.split('/').some((part) => part === '.' || part === '..')) {
      throw new BlobStoreError('FAILED', `not a valid object key: ${key}`);
    }
    return this.prefix + key;
  }

  private attempt<T>(what: string, access: S3Access, run: (attempt: number) => Promise<T>): Promise<T> {
    return withRetries(this.retry, what, run, (error) => classifyS3Error(error, access));
  }

  async put(key: string, data: Uint8Array): Promise<void> {
    await this.write(key, data, false);
  }

  async putIfAbsent(key: string, data: Uint8Array): Promise<boolean> {
    this.objectKey(key); // refuse a bad key before probing
    if (!(await this.supportsConditionalWrites())) return this.putIfAbsentEmulated(key, data);
    try {
      await this.write(key, data, true);
      return true;
    } catch (error) {
      // 412: the key exists. After a lost response the "existing" object may be our own first attempt;
      // either way the caller reads what is stored, which is whole.
      if (statusOf(error) === 412) return false;
      throw error;
    }
  }

  /**
   * HEAD then PUT, serialised per key within this process, for servers that ignore `If-None-Match`. It is
   * not atomic across processes, and is enough for the engine's only create-only write: a backup's
   * manifest, whose key is unique to the backup id and which only the worker holding the backup's lease
   * publishes. Two processes could race only if a stalled worker outlived its lease; then both write a
   * manifest of the same backup, and the database keeps the SHA-256 of the one it records, so a replaced
   * manifest is refused as INTEGRITY_CHECKSUM_MISMATCH when read, never used silently.
   */
  private async putIfAbsentEmulated(key: string, data: Uint8Array): Promise<boolean> {
    const previous = this.creating.get(key) ?? Promise.resolve();
    const mine = previous.then(async () => {
      if (await this.head(key)) return false;
      await this.write(key, data, false);
      return true;
    });
    const settled = mine.catch(() => undefined);
    this.creating.set(key, settled);
    try {
      return await mine;
    } finally {
      if (this.creating.get(key) === settled) this.creating.delete(key);
    }
  }

  /** Probes once whether `If-None-Match: *` is honoured: a second create-only PUT of one key must get 412. */
  private supportsConditionalWrites(): Promise<boolean> {
    this.conditionalWrites ??= this.probeConditionalWrites().catch((error: unknown) => {
      this.conditionalWrites = undefined; // a failed probe is tried again at the next write
      throw error;
    });
    return this.conditionalWrites;
  }

  private async probeConditionalWrites(): Promise<boolean> {
    const Key = `${this.prefix}${OWN_PREFIX}probe-${randomUUID()}`;
    const createOnly = () =>
      this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key, Body: new Uint8Array(0), IfNoneMatch: '*' }),
      );
    try {
      await this.attempt('probe conditional writes', 'write', createOnly);
      await this.attempt('probe conditional writes', 'write', createOnly);
      return false; // the second create-only write replaced the first: the header was ignored
    } catch (error) {
      if (statusOf(error) === 412) return true;
      if (statusOf(error) === 501 || codeOf(error) === 'NotImplemented') return false;
      throw error;
    } finally {
      await this.attempt('delete probe', 'write', () =>
        this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key })),
      ).catch(() => undefined); // a leftover probe is removed by cleanUp
    }
  }

  private async write(key: string, data: Uint8Array, createOnly: boolean): Promise<void> {
    const Key = this.objectKey(key);
    if (data.length >= this.threshold) return this.writeMultipart(Key, data, createOnly);
    await this.attempt(`put ${Key}`, 'write', async () => {
      const out = await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key,
          Body: data,
          ContentLength: data.length,
          ...(createOnly && { IfNoneMatch: '*' }),
        }),
      );
      // S3 always answers a stored PUT with its ETag; a 200 without one (an error body) did not store it.
      if (!out.ETag) throw new BlobStoreError('UNAVAILABLE', `put ${Key}: a 200 answer without an ETag`);
    });
  }

  /**
   * Uploads in parts, in order, each retried on its own; completes (create-only if asked); and aborts the
   * upload on any failure so that no part is left behind (cleanUp catches what an abort could not).
   */
  private async writeMultipart(Key: string, data: Uint8Array, createOnly: boolean): Promise<void> {
    const Bucket = this.bucket;
    const created = await this.attempt(`start multipart upload of ${Key}`, 'write', () =>
      // CRC32 per part, checked by the server on each part and on completion (S3's composite checksum).
      this.client.send(new CreateMultipartUploadCommand({ Bucket, Key, ChecksumAlgorithm: 'CRC32' })),
    );
    const UploadId = created.UploadId;
    if (!UploadId) throw new BlobStoreError('FAILED', `start multipart upload of ${Key}: no upload id`);
    try {
      const partBytes = Math.max(this.partBytes, Math.ceil(data.length / MAX_PARTS));
      const parts: CompletedPart[] = [];
      for (let offset = 0, PartNumber = 1; offset < data.length; offset += partBytes, PartNumber++) {
        const Body = data.subarray(offset, offset + partBytes);
        const out = await this.attempt(`upload part ${PartNumber} of ${Key}`, 'write', async () => {
          const answer = await this.client.send(
            new UploadPartCommand({
              Bucket,
              Key,
              UploadId,
              PartNumber,
              Body,
              ContentLength: Body.length,
              ChecksumAlgorithm: 'CRC32',
            }),
          );
          if (!answer.ETag)
            throw new BlobStoreError(
              'UNAVAILABLE',
              `part ${PartNumber} of ${Key}: a 200 answer without an ETag`,
            );
          return answer;
        });
        parts.push({
          PartNumber,
          ETag: out.ETag,
          // A server that keeps no checksums echoes none; then none is sent back.
          ...(out.ChecksumCRC32 && { ChecksumCRC32: out.ChecksumCRC32 }),
        });
      }
      await this.attempt(`complete multipart upload of ${Key}`, 'write', async (attempt) => {
        try {
          // The SDK turns a 200 whose body is an <Error> into a failed (5xx) answer, retried here.
          const out = await this.client.send(
            new CompleteMultipartUploadCommand({
              Bucket,
              Key,
              UploadId,
              MultipartUpload: { Parts: parts },
              ...(createOnly && { IfNoneMatch: '*' }),
            }),
          );
          if (!out.ETag)
            throw new BlobStoreError('UNAVAILABLE', `complete ${Key}: a 200 answer without an ETag`);
        } catch (error) {
          // A retried completion whose first try did complete finds the upload gone: check the object.
          if (
            attempt > 1 &&
            codeOf(error) === 'NoSuchUpload' &&
            (await this.headObject(Key, Key))?.size === data.length
          )
            return;
          throw error;
        }
      });
    } catch (error) {
      await this.attempt(`abort multipart upload of ${Key}`, 'write', () =>
        this.client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })),
      ).catch(() => undefined); // cleanUp aborts it later
      throw error;
    }
  }

  async get(key: string, maxBytes: number): Promise<Buffer> {
    const Key = this.objectKey(key);
    return this.attempt(`get ${Key}`, 'read', async () => {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
      const body = out.Body as Readable | undefined;
      const length = out.ContentLength;
      if (length !== undefined && length > maxBytes) {
        body?.destroy();
        throw new BlobStoreError('FAILED', `${key} is ${length} bytes, more than the ${maxBytes} expected`);
      }
      if (!body) throw new BlobStoreError('UNAVAILABLE', `get ${Key}: an answer without a body`);
      return readBody(body, key, length, maxBytes);
    });
  }

  async head(key: string): Promise<BlobInfo | undefined> {
    return this.headObject(this.objectKey(key), key);
  }

  private async headObject(Key: string, key: string): Promise<BlobInfo | undefined> {
    try {
      const out = await this.attempt(`head ${Key}`, 'read', () =>
        this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key })),
      );
      return { key, size: out.ContentLength ?? 0, modifiedAt: out.LastModified?.getTime() ?? 0 };
    } catch (error) {
      if (error instanceof BlobStoreError && error.kind === 'NOT_FOUND') return undefined;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    const Key = this.objectKey(key);
    try {
      await this.attempt(`delete ${Key}`, 'write', () =>
        this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key })),
      );
    } catch (error) {
      if (!(error instanceof BlobStoreError && error.kind === 'NOT_FOUND')) throw error;
    }
  }

  async *list(prefix: string): AsyncIterable<BlobInfo> {
    const trimmed = prefix.replace(/\/+$/, '');
    // Whole path segments, as the port says: `sites/a` lists `sites/a/…`, never `sites/ab/…`.
    const Prefix = trimmed.length === 0 ? this.prefix : `${this.objectKey(trimmed)}/`;
    let ContinuationToken: string | undefined;
    do {
      const page = await this.attempt(`list ${Prefix}`, 'read', () =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            ...(Prefix.length > 0 && { Prefix }),
            MaxKeys: this.listPageSize,
            ...(ContinuationToken !== undefined && { ContinuationToken }),
          }),
        ),
      );
      for (const object of page.Contents ?? []) {
        if (!object.Key?.startsWith(this.prefix)) continue;
        const key = object.Key.slice(this.prefix.length);
        if (key.startsWith(OWN_PREFIX)) continue;
        yield { key, size: object.Size ?? 0, modifiedAt: object.LastModified?.getTime() ?? 0 };
      }
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken !== undefined);
  }

  /**
   * Aborts multipart uploads under the prefix started more than `staleUploadMs` ago (an upload of at most
   * a few chunks' size that old is a crashed writer's), and removes leftover probe objects; returns how
   * many. Several processes may run it at once: an upload already aborted by another counts for neither.
   * A server without ListMultipartUploads (501) has nothing we can list: 0.
   */
  async cleanUp(): Promise<number> {
    const cutoff = this.clock() - this.staleUploadMs;
    let removed = 0;
    let KeyMarker: string | undefined;
    let UploadIdMarker: string | undefined;
    do {
      let page;
      try {
        page = await this.attempt('list multipart uploads', 'read', () =>
          this.client.send(
            new ListMultipartUploadsCommand({
              Bucket: this.bucket,
              ...(this.prefix.length > 0 && { Prefix: this.prefix }),
              ...(KeyMarker !== undefined && { KeyMarker }),
              ...(UploadIdMarker !== undefined && { UploadIdMarker }),
            }),
          ),
        );
      } catch (error) {
        if (statusOf(error) === 501) break;
        throw error;
      }
      for (const upload of page.Uploads ?? []) {
        const { Key, UploadId, Initiated } = upload;
        if (!Key || !UploadId || !Initiated || Initiated.getTime() > cutoff) continue;
        try {
          await this.attempt(`abort multipart upload of ${Key}`, 'write', () =>
            this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId })),
          );
          removed += 1;
        } catch (error) {
          if (!(error instanceof BlobStoreError && error.kind === 'NOT_FOUND')) throw error;
        }
      }
      KeyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      UploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
    } while (KeyMarker !== undefined);
    removed += await this.removeStaleProbes(cutoff);
    return removed;
  }

  private async removeStaleProbes(cutoff: number): Promise<number> {
    let removed = 0;
    const Prefix = `${this.prefix}${OWN_PREFIX}`;
    const page = await this.attempt('list probes', 'read', () =>
      this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix })),
    );
    for (const object of page.Contents ?? []) {
      if (!object.Key || (object.LastModified?.getTime() ?? 0) > cutoff) continue;
      const Key = object.Key;
      await this.attempt(`delete ${Key}`, 'write', () =>
        this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key })),
      );
      removed += 1;
    }
    return removed;
  }
}

/** `a/b`, `a/b/` and `/a/b/` all mean the prefix `a/b/`; the empty prefix stays empty. */
function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+|\/+$/g, '');
  return trimmed.length === 0 ? '' : `${trimmed}/`;
}

/**
 * Reads a response body into one buffer, refusing to read past `maxBytes` (when the length is unknown) or
 * past the Content-Length, and checking that exactly Content-Length bytes came.
 */
async function readBody(
  body: Readable,
  key: string,
  length: number | undefined,
  maxBytes: number,
): Promise<Buffer> {
  const limit = length ?? maxBytes;
  const buffer = Buffer.allocUnsafe(limit);
  let read = 0;
  try {
    for await (const piece of body as AsyncIterable<Buffer>) {
      if (read + piece.length > limit) {
        if (length === undefined)
          throw new BlobStoreError('FAILED', `${key} is more than the ${maxBytes} bytes expected`);
        throw new BlobStoreError(
          'UNAVAILABLE',
          `${key}: the body is longer than its Content-Length ${length}`,
        );
      }
      piece.copy(buffer, read);
      read += piece.length;
    }
  } finally {
    body.destroy();
  }
  if (length !== undefined && read !== length)
    throw new BlobStoreError('UNAVAILABLE', `${key}: the body ended after ${read} of ${length} bytes`);
  return buffer.subarray(0, read);
}
