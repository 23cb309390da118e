import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CreateMultipartUploadCommand, ListObjectsV2Command, UploadPartCommand } from '@aws-sdk/client-s3';
import type { S3BlobStore, S3BlobStoreOptions } from '../../src/adapters/blob-store/s3-blob-store.js';
import { backoffDelay } from '../../src/adapters/blob-store/s3-retry.js';
import { BlobStoreError } from '../../src/ports/blob-store.js';
import { startTestS3, testStore, type TestS3 } from '../helpers/s3.js';
import { runBlobStoreContract } from './blob-store-contract.js';

const MiB = 1024 * 1024;

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

describe('S3 store specifics', () => {
  let s3: TestS3;
  let plain: TestS3;
  const stores: S3BlobStore[] = [];
  const made = (on: TestS3, options: Partial<S3BlobStoreOptions> = {}) => {
    const store = testStore(on, options);
    stores.push(store);
    return store;
  };

  before(async () => {
    s3 = await startTestS3();
    plain = await startTestS3({ conditionalWrites: false });
  });
  after(async () => {
    for (const store of stores) store.close();
    await s3.close();
    await plain.close();
  });

  it('on a server that ignores If-None-Match, trusting the header would overwrite (why the store probes)', async () => {
    const trusting = made(plain, { supportsConditionalWrites: true });
    assert.equal(await trusting.putIfAbsent('probe-why/k', Buffer.from('first')), true);
    assert.equal(await trusting.putIfAbsent('probe-why/k', Buffer.from('second')), true);
    assert.equal((await trusting.get('probe-why/k', 100)).toString(), 'second');
  });

  it('there, the probing store finds out and still never overwrites; racing writers in a process: one wins', async () => {
    const store = made(plain);
    assert.equal(await store.putIfAbsent('emulated/k', Buffer.from('first')), true);
    assert.equal(await store.putIfAbsent('emulated/k', Buffer.from('second')), false);
    assert.equal((await store.get('emulated/k', 100)).toString(), 'first');
    for (let round = 0; round < 5; round++) {
      const key = `emulated/race-${round}`;
      const results = await Promise.all(
        [0, 1, 2, 3].map((w) => store.putIfAbsent(key, Buffer.from(`writer ${w}`))),
      );
      assert.equal(results.filter(Boolean).length, 1, `round ${round}: ${results.join(',')}`);
      assert.equal((await store.get(key, 100)).toString(), `writer ${results.indexOf(true)}`);
    }
    const probes = await plain.client.send(
      new ListObjectsV2Command({ Bucket: plain.bucket, Prefix: `${plain.prefix}.safekeep/` }),
    );
    assert.equal(probes.KeyCount ?? 0, 0, 'the probe removed its object');
  });

  it('cleanUp keeps an upload started within the hour (it may be live) and aborts it once stale', async () => {
    const Key = `${s3.prefix}fresh/upload`;
    await s3.client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key }));
    assert.equal(await made(s3).cleanUp(), 0);
    assert.equal(await s3.pendingUploads(), 1);
    const later = made(s3, { clock: () => Date.now() + 61 * 60 * 1000 });
    assert.equal(await later.cleanUp(), 1);
    assert.equal(await s3.pendingUploads(), 0);
  });

  it('keeps to its prefix: another prefix in the same bucket is neither listed nor cleaned', async () => {
    const mine = made(s3, { prefix: `${s3.prefix}tenant-a` });
    const theirs = made(s3, { prefix: `${s3.prefix}tenant-b/` });
    await mine.put('sites/x/chunks/1', Buffer.from('a'));
    await theirs.put('sites/x/chunks/1', Buffer.from('bb'));
    assert.deepEqual(await keysOf(mine, 'sites'), ['sites/x/chunks/1']);
    assert.equal((await mine.get('sites/x/chunks/1', 10)).toString(), 'a');
    const Key = `${s3.prefix}tenant-b/sites/x/chunks/2`;
    await s3.client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key }));
    assert.equal(
      await made(s3, { prefix: `${s3.prefix}tenant-a`, clock: () => Date.now() + 7_200_000 }).cleanUp(),
      0,
    );
    assert.equal(await s3.pendingUploads(), 1);
    assert.equal(
      await made(s3, { prefix: `${s3.prefix}tenant-b`, clock: () => Date.now() + 7_200_000 }).cleanUp(),
      1,
    );
  });

  it('waits between tries grow by doubling up to the cap, jittered below it', () => {
    const policy = { attempts: 8, baseDelayMs: 100, maxDelayMs: 1000 };
    const ceilings = [1, 2, 3, 4, 5, 6].map((n) => backoffDelay(policy, n, () => 0.9999));
    assert.deepEqual(ceilings, [99, 199, 399, 799, 999, 999]);
    assert.equal(
      backoffDelay(policy, 3, () => 0),
      0,
    );
    assert.equal(
      backoffDelay(policy, 3, () => 0.5),
      200,
    );
  });

  it('an unreachable server is UNAVAILABLE after the configured attempts, never NOT_FOUND', async () => {
    const nowhere = made(s3, { endpoint: 'http://127.0.0.1:9', maxAttempts: 3 });
    const error = await nowhere.get('any/key', 10).then(
      () => assert.fail('read from nowhere'),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof BlobStoreError);
    assert.equal(error.kind, 'UNAVAILABLE');
    assert.match(error.message, /gave up after 3 attempts/);
  });
});

async function keysOf(store: S3BlobStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const info of store.list(prefix)) out.push(info.key);
  return out.sort();
}
