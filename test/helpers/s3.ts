/**
 * An S3-compatible server for tests: s3rver on a loopback port over a temp directory (with the S3
 * behaviour it lacks added, see s3rver-compat.ts), or the server named by SAFEKEEP_TEST_S3_ENDPOINT, which
 * must answer: an unreachable one fails the test, it is never skipped. Each call gets its own key prefix,
 * so tests sharing one external bucket never see each other's objects.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  HeadBucketCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { S3BlobStore, type S3BlobStoreOptions } from '../../src/adapters/blob-store/s3-blob-store.js';
import { addS3Compat, type S3rverLike } from './s3rver-compat.js';

export interface TestS3 {
  readonly endpoint: string;
  readonly bucket: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** This server's key prefix (ends in `/`). */
  readonly prefix: string;
  /** The variables a safekeep process needs to keep its backups here. */
  readonly env: Record<string, string>;
  /** A raw client on the server (not through any proxy), for checking what is stored. */
  readonly client: S3Client;
  /** Multipart uploads under this prefix that were neither completed nor aborted. */
  pendingUploads(): Promise<number>;
  close(): Promise<void>;
}

interface S3rverServer extends S3rverLike {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverServer;

export async function startTestS3(options: { conditionalWrites?: boolean } = {}): Promise<TestS3> {
  const external = process.env.SAFEKEEP_TEST_S3_ENDPOINT;
  const region = process.env.SAFEKEEP_TEST_S3_REGION ?? 'us-east-1';
  const prefix = `t-${randomUUID().slice(0, 8)}/`;
  let endpoint: string;
  let bucket: string;
  let accessKeyId: string;
  let secretAccessKey: string;
  let stop: () => Promise<void>;
  if (external) {
    endpoint = external.replace(/\/+$/, '');
    bucket = process.env.SAFEKEEP_TEST_S3_BUCKET ?? 'safekeep-test';
    accessKeyId = process.env.AWS_ACCESS_KEY_ID ?? '';
    secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY ?? '';
    if (!accessKeyId || !secretAccessKey)
      throw new Error(
        'SAFEKEEP_TEST_S3_ENDPOINT is set: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for it too',
      );
    stop = () => Promise.resolve();
  } else {
    const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor;
    const directory = mkdtempSync(join(tmpdir(), 'safekeep-s3-'));
    bucket = 'safekeep-test';
    accessKeyId = 'S3RVER';
    secretAccessKey = 'S3RVER';
    const server = new S3rver({
      address: '127.0.0.1',
      port: 0,
      silent: true,
      directory,
      configureBuckets: [{ name: bucket }],
    });
    addS3Compat(server, { conditionalWrites: options.conditionalWrites ?? true });
    const { port } = await server.run();
    endpoint = `http://127.0.0.1:${port}`;
    stop = async () => {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    };
  }
  const client = new S3Client({
    endpoint,
    region,
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
  });
  if (external) await ensureBucket(client, bucket, endpoint);

  const pendingUploads = async () => {
    const page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
    return page.Uploads?.length ?? 0;
  };
  return {
    endpoint,
    bucket,
    region,
    accessKeyId,
    secretAccessKey,
    prefix,
    client,
    env: {
      SAFEKEEP_S3_BUCKET: bucket,
      SAFEKEEP_S3_ENDPOINT: endpoint,
      SAFEKEEP_S3_REGION: region,
      SAFEKEEP_S3_PREFIX: prefix,
      SAFEKEEP_S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: secretAccessKey,
    },
    pendingUploads,
    async close() {
      if (external) await removePrefix(client, bucket, prefix);
      client.destroy();
      await stop();
    },
  };
}

/** Checks the external server answers (failing the test if not) and creates the bucket if needed. */
async function ensureBucket(client: S3Client, bucket: string, endpoint: string): Promise<void> {
  try {
    await client.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404) {
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      return;
    }
    throw new Error(
      `SAFEKEEP_TEST_S3_ENDPOINT ${endpoint} did not answer for bucket ${bucket}: ${String(error)}`,
      {
        cause: error,
      },
    );
  }
}

async function removePrefix(client: S3Client, bucket: string, prefix: string): Promise<void> {
  const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
  for (const u of uploads.Uploads ?? [])
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? [])
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key }));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

/**
 * An S3BlobStore on a test server: parts as small as S3 allows (so that multipart stays quick), short
 * list pages (so that paging is exercised) and quick retries.
 */
export function testStore(s3: TestS3, options: Partial<S3BlobStoreOptions> = {}): S3BlobStore {
  return new S3BlobStore({
    bucket: s3.bucket,
    region: s3.region,
    endpoint: s3.endpoint,
    prefix: s3.prefix,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    multipartThresholdBytes: 6 * 1024 * 1024,
    partBytes: 5 * 1024 * 1024,
    listPageSize: 7,
    retry: { attempts: 4, baseDelayMs: 5, maxDelayMs: 40 },
    ...options,
  });
}
