import { CreateMultipartUploadCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { S3BlobStore, type S3BlobStoreOptions } from '../../src/adapters/blob-store/s3-blob-store.js';
import { startTestS3, type TestS3 } from '../helpers/s3.js';
import { runBlobStoreContract } from './blob-store-contract.js';

const MiB = 1024 * 1024;

/** A store on the test server, with parts as small as S3 allows so that multipart stays quick. */
export function testStore(s3: TestS3, options: Partial<S3BlobStoreOptions> = {}): S3BlobStore {
  return new S3BlobStore({
    bucket: s3.bucket,
    region: s3.region,
    endpoint: s3.endpoint,
    prefix: s3.prefix,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    multipartThresholdBytes: 6 * MiB,
    partBytes: 5 * MiB,
    listPageSize: 7,
    retry: { attempts: 4, baseDelayMs: 5, maxDelayMs: 40 },
    ...options,
  });
}

runBlobStoreContract('S3', {
  largeBytes: 7 * MiB,
  async create() {
    const s3 = await startTestS3();
    const stores: S3BlobStore[] = [];
    const open = (options: Partial<S3BlobStoreOptions> = {}) => {
      const store = testStore(s3, options);
      stores.push(store);
      return store;
    };
    let n = 0;
    return {
      store: open(),
      open: () => open(),
      later: () => open({ clock: () => Date.now() + 2 * 60 * 60 * 1000 }),
      async leaveLeftover() {
        const Key = `${s3.prefix}interrupted/${n++}`;
        const { UploadId } = await s3.client.send(
          new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key }),
        );
        await s3.client.send(
          new UploadPartCommand({
            Bucket: s3.bucket,
            Key,
            UploadId,
            PartNumber: 1,
            Body: Buffer.alloc(1024),
          }),
        );
      },
      leftovers: () => s3.pendingUploads(),
      async cleanup() {
        for (const store of stores) store.close();
        await s3.close();
      },
    };
  },
});
