/**
 * What s3rver 3.7 lacks of the S3 behaviour safekeep relies on, added to a test server the way S3
 * documents it (a real server is used instead when SAFEKEEP_TEST_S3_ENDPOINT is set):
 * - atomic PUTs: s3rver writes objects in place, so a reader could see half an object and a PUT whose
 *   connection is reset mid-body left a truncated object; here the body goes to a temp file renamed into
 *   place only when all Content-Length bytes came;
 * - consistent GETs: s3rver took the length from one stat and the bytes from a later open, so a GET racing
 *   a PUT could answer the old length with the new bytes; here both come from one open file;
 * - `If-None-Match: *` on PutObject and CompleteMultipartUpload (412 PreconditionFailed when the key
 *   exists), checked and written under a per-key lock;
 * - ListMultipartUploads (with Prefix, markers and max-uploads) and AbortMultipartUpload, and 404
 *   NoSuchUpload (not 500) for a part or completion of an upload that is gone;
 * - ListObjectsV2 pages: s3rver makes its continuation tokens with DES, which Node 20's OpenSSL 3 refuses,
 *   so every truncated listing failed with 500; here the token is the last key, base64url-encoded.
 * With `conditionalWrites: false` the server keeps ignoring If-None-Match, as s3rver itself does.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { IncomingMessage } from 'node:http';
import { dirname, join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** The slice of s3rver's filesystem store that is used here. */
interface S3rverStore {
  listObjects(
    bucket: string,
    options: { prefix: string; startAfter: string; maxKeys: number },
  ): Promise<{ objects: { key: string; size: number; lastModifiedDate: Date }[]; isTruncated: boolean }>;
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: unknown, md5: string): Promise<void>;
  getMetadata(bucket: string, key: string): Promise<Record<string, unknown>>;
  getObject(bucket: string, key: string, options?: { start?: number; end?: number }): Promise<unknown>;
  putObject(object: {
    bucket: string;
    key: string;
    content: Readable | Buffer;
    metadata: unknown;
  }): Promise<{ size: number; md5: string }>;
}

/** The slice of Koa's context that the middleware uses. */
interface KoaContext {
  method: string;
  path: string;
  query: Record<string, string | string[] | undefined>;
  headers: Record<string, string | string[] | undefined>;
  status: number;
  type: string;
  body: unknown;
}

export interface S3rverLike {
  store: S3rverStore;
  middleware: ((ctx: KoaContext, next: () => Promise<void>) => Promise<void>)[];
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function s3Error(ctx: KoaContext, status: number, code: string, message: string): void {
  ctx.status = status;
  ctx.type = 'application/xml';
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xml(message)}</Message></Error>`;
}

type S3ObjectConstructor = new (bucket: string, key: string, content: unknown, metadata: unknown) => unknown;

export function addS3Compat(server: S3rverLike, options: { conditionalWrites: boolean }): void {
  const store = server.store;
  const S3Object = createRequire(import.meta.url)('s3rver/lib/models/object.js') as S3ObjectConstructor;

  const rangedGet = store.getObject.bind(store);
  store.getObject = async (bucket, key, range) => {
    if (range && (range.start !== undefined || range.end !== undefined)) return rangedGet(bucket, key, range);
    let handle;
    try {
      handle = await open(store.getResourcePath(bucket, key, 'object'), 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    const { size, mtime } = await handle.stat();
    const metadata = await store.getMetadata(bucket, key).catch(() => ({}));
    // Reads the inode opened above, whatever replaced the name since.
    const content = handle.createReadStream({ start: 0, ...(size > 0 && { end: size - 1 }) });
    return new S3Object(bucket, key, content, {
      ...metadata,
      'content-length': size,
      'last-modified': mtime.toUTCString(),
    });
  };

  store.putObject = async (object) => {
    const target = store.getResourcePath(object.bucket, object.key, 'object');
    await mkdir(dirname(target), { recursive: true });
    const temp = `${target}.${randomBytes(6).toString('hex')}.uploading`;
    const md5 = createHash('md5');
    let size = 0;
    try {
      if (Buffer.isBuffer(object.content)) {
        await writeFile(temp, object.content);
        md5.update(object.content);
        size = object.content.length;
      } else {
        const counting = new Transform({
          transform(chunk: Buffer, _encoding, done) {
            md5.update(chunk);
            size += chunk.length;
            done(null, chunk);
          },
        });
        await pipeline(object.content, counting, createWriteStream(temp));
        if (object.content instanceof IncomingMessage) {
          const expected = Number(object.content.headers['content-length']);
          if (Number.isFinite(expected) && size !== expected)
            throw new Error(`incomplete body: ${size} of ${expected} bytes`);
        }
      }
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    const digest = md5.digest('hex');
    await store.putMetadata(object.bucket, object.key, object.metadata, digest);
    return { size, md5: digest };
  };

  const locks = new Map<string, Promise<void>>();
  const locked = async (name: string, run: () => Promise<void>): Promise<void> => {
    const previous = locks.get(name) ?? Promise.resolve();
    const mine = previous.then(run);
    const settled = mine.catch(() => undefined);
    locks.set(name, settled);
    try {
      await mine;
    } finally {
      if (locks.get(name) === settled) locks.delete(name);
    }
  };

  const uploadsDir = (bucket: string) => store.getResourcePath(bucket, undefined, 'uploads');

  server.middleware.unshift(async (ctx, next) => {
    const [, bucket, ...rest] = ctx.path.split('/').map((part) => decodeURIComponent(part));
    if (!bucket) return next();
    const key = rest.join('/');
    const q = ctx.query;
    const ifNoneMatch = ctx.headers['if-none-match'];

    if (ctx.method === 'GET' && key === '' && 'uploads' in q) return listUploads(ctx, bucket);
    if (ctx.method === 'GET' && key === '' && q['list-type'] === '2') return listObjects(ctx, bucket);
    if (ctx.method === 'DELETE' && key !== '' && typeof q.uploadId === 'string')
      return abortUpload(ctx, bucket, q.uploadId);
    if (key !== '' && typeof q.uploadId === 'string' && (ctx.method === 'POST' || ctx.method === 'PUT')) {
      const live = await stat(join(uploadsDir(bucket), q.uploadId)).then(
        () => true,
        () => false,
      );
      // s3rver answered 500 for a completed or aborted upload; S3 says NoSuchUpload.
      if (!live) return s3Error(ctx, 404, 'NoSuchUpload', 'The specified upload does not exist');
    }
    const createOnly =
      ifNoneMatch === '*' &&
      key !== '' &&
      ((ctx.method === 'PUT' && !('uploadId' in q)) || (ctx.method === 'POST' && 'uploadId' in q));
    if (!options.conditionalWrites || !createOnly) return next();
    return locked(`${bucket}/${key}`, async () => {
      const exists = await stat(store.getResourcePath(bucket, key, 'object')).then(
        () => true,
        () => false,
      );
      if (exists)
        return s3Error(
          ctx,
          412,
          'PreconditionFailed',
          'At least one of the pre-conditions you specified did not hold',
        );
      await next();
    });
  });

  async function listUploads(ctx: KoaContext, bucket: string): Promise<void> {
    const prefix = typeof ctx.query.prefix === 'string' ? ctx.query.prefix : '';
    const keyMarker = typeof ctx.query['key-marker'] === 'string' ? ctx.query['key-marker'] : '';
    const idMarker = typeof ctx.query['upload-id-marker'] === 'string' ? ctx.query['upload-id-marker'] : '';
    const max = Math.min(1000, Number(ctx.query['max-uploads'] ?? 1000) || 1000);
    const dir = uploadsDir(bucket);
    const ids = await readdir(dir).catch(() => [] as string[]);
    const uploads: { key: string; id: string; initiated: Date }[] = [];
    for (const id of ids) {
      try {
        const key = await readFile(join(dir, id, 'key'), 'utf8');
        const { mtime } = await stat(join(dir, id, 'key'));
        if (key.startsWith(prefix)) uploads.push({ key, id, initiated: mtime });
      } catch {
        // completed or aborted meanwhile
      }
    }
    uploads.sort((a, b) => (a.key === b.key ? (a.id < b.id ? -1 : 1) : a.key < b.key ? -1 : 1));
    const after = uploads.filter(
      (u) =>
        keyMarker === '' || u.key > keyMarker || (u.key === keyMarker && idMarker !== '' && u.id > idMarker),
    );
    const page = after.slice(0, max);
    const truncated = after.length > page.length;
    const last = page[page.length - 1];
    ctx.status = 200;
    ctx.type = 'application/xml';
    ctx.body =
      `<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
      `<Bucket>${xml(bucket)}</Bucket><KeyMarker>${xml(keyMarker)}</KeyMarker><UploadIdMarker>${xml(idMarker)}</UploadIdMarker>` +
      (truncated && last
        ? `<NextKeyMarker>${xml(last.key)}</NextKeyMarker><NextUploadIdMarker>${last.id}</NextUploadIdMarker>`
        : '') +
      `<Prefix>${xml(prefix)}</Prefix><MaxUploads>${max}</MaxUploads><IsTruncated>${truncated}</IsTruncated>` +
      page
        .map(
          (u) =>
            `<Upload><Key>${xml(u.key)}</Key><UploadId>${u.id}</UploadId>` +
            `<Initiated>${u.initiated.toISOString()}</Initiated><StorageClass>STANDARD</StorageClass></Upload>`,
        )
        .join('') +
      `</ListMultipartUploadsResult>`;
  }

  async function listObjects(ctx: KoaContext, bucket: string): Promise<void> {
    const text = (name: string) => (typeof ctx.query[name] === 'string' ? ctx.query[name] : '');
    const prefix = text('prefix');
    const token = text('continuation-token');
    const startAfter = token ? Buffer.from(token, 'base64url').toString() : text('start-after');
    const maxKeys = Math.min(1000, Number(text('max-keys') || 1000));
    const { objects, isTruncated } = await store.listObjects(bucket, { prefix, startAfter, maxKeys });
    const last = objects[objects.length - 1];
    ctx.status = 200;
    ctx.type = 'application/xml';
    ctx.body =
      `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
      `<Name>${xml(bucket)}</Name><Prefix>${xml(prefix)}</Prefix><MaxKeys>${maxKeys}</MaxKeys>` +
      `<KeyCount>${objects.length}</KeyCount><IsTruncated>${isTruncated}</IsTruncated>` +
      (isTruncated && last
        ? `<NextContinuationToken>${Buffer.from(last.key).toString('base64url')}</NextContinuationToken>`
        : '') +
      objects
        .map(
          (o) =>
            `<Contents><Key>${xml(o.key)}</Key><LastModified>${o.lastModifiedDate.toISOString()}</LastModified>` +
            `<Size>${o.size}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
        )
        .join('') +
      `</ListBucketResult>`;
  }

  async function abortUpload(ctx: KoaContext, bucket: string, uploadId: string): Promise<void> {
    if (!/^[0-9a-f]+$/.test(uploadId))
      return s3Error(ctx, 404, 'NoSuchUpload', 'The specified upload does not exist');
    const dir = join(uploadsDir(bucket), uploadId);
    const exists = await stat(dir).then(
      () => true,
      () => false,
    );
    if (!exists) return s3Error(ctx, 404, 'NoSuchUpload', 'The specified upload does not exist');
    await rm(dir, { recursive: true, force: true });
    ctx.status = 204;
    ctx.body = null;
  }
}
