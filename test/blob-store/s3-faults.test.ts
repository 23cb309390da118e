/**
 * The S3 store behind our fault-injecting proxy: connection resets at the start, middle and end of uploads
 * and downloads, slow answers, and every class of error status. Transient faults are retried and
 * survived; permanent ones fail at once (the proxy counts the requests); a create-only write never
 * replaces; a failed multipart upload leaves nothing once cleanUp has run. Then the same through the
 * engine: a backup completes with every object verified or fails with nothing visible, and a restoration
 * completes or leaves live data untouched.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { S3BlobStore } from '../../src/adapters/blob-store/s3-blob-store.js';
import { chunkKey, chunksOf } from '../../src/domain/manifest.js';
import { readManifest } from '../../src/engine/manifest-io.js';
import { BlobStoreError, type BlobErrorKind } from '../../src/ports/blob-store.js';
import { assertSameSite, contentOf, runJobs } from '../helpers/backup-helpers.js';
import { startFaultProxy, type Fault, type FaultPoint, type FaultProxy } from '../helpers/fault-proxy.js';
import { startTestEnv, type TestEnv } from '../helpers/harness.js';
import { startTestS3, testStore, type TestS3 } from '../helpers/s3.js';

const MiB = 1024 * 1024;
const points: FaultPoint[] = ['start', 'middle', 'end'];
const error = (code: string, message = code) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;

async function failure(promise: Promise<unknown>): Promise<BlobStoreError> {
  try {
    await promise;
  } catch (caught) {
    if (caught instanceof BlobStoreError) return caught;
    throw caught;
  }
  assert.fail('expected a BlobStoreError');
}

describe('S3 store through a faulty connection', () => {
  let s3: TestS3;
  let proxy: FaultProxy;
  /** Through the proxy. */
  let store: S3BlobStore;
  /** Straight to the server, to see what is really stored. */
  let direct: S3BlobStore;
  const stores: S3BlobStore[] = [];
  let n = 0;
  const key = (what: string) => `faults/${what}-${n++}`;
  const through = (options: Parameters<typeof testStore>[1] = {}) => {
    const made = testStore(s3, { endpoint: proxy.endpoint, idleTimeoutMs: 10_000, ...options });
    stores.push(made);
    return made;
  };

  before(async () => {
    s3 = await startTestS3();
    proxy = await startFaultProxy({ host: '127.0.0.1', port: Number(new URL(s3.endpoint).port) });
    store = through({ supportsConditionalWrites: undefined });
    direct = testStore(s3);
    stores.push(direct);
    // The first create-only write probes the server once; done here so that no test counts it.
    assert.equal(await store.putIfAbsent(key('warm-up'), Buffer.from('x')), true);
  });
  after(async () => {
    for (const s of stores) s.close();
    await proxy.close();
    await s3.close();
  });

  /** Injects one fault on the first matching request, runs `act`, and returns how many requests matched. */
  async function withFault(
    match: { method: string; path: string | RegExp },
    fault: Fault,
    act: () => Promise<unknown>,
    times = 1,
  ): Promise<number> {
    const before = proxy.count(match);
    const rule = proxy.inject({ ...match, fault, times });
    try {
      await act();
    } finally {
      proxy.clear();
    }
    if (Number.isFinite(times)) assert.equal(rule.used, times, 'the fault was met');
    return proxy.count(match) - before;
  }

  describe('uploads', () => {
    for (const at of points) {
      for (const type of ['reset-request', 'reset-response'] as const) {
        it(`${type} at the ${at}: retried once, stored whole`, async () => {
          const k = key(`${type}-${at}`);
          const data = randomBytes(300_000);
          const requests = await withFault({ method: 'PUT', path: k }, { type, at }, () =>
            store.put(k, data),
          );
          assert.equal(requests, 2);
          assert.deepEqual(await direct.get(k, data.length), data);
        });
      }

      it(`multipart: a reset at the ${at} of a part is retried for that part only; no upload is left`, async () => {
        const k = key(`multipart-${at}`);
        const data = randomBytes(12 * MiB);
        const part2 = { method: 'PUT', path: new RegExp(`${k}\\?.*partNumber=2`) };
        const requests = await withFault(part2, { type: 'reset-request', at }, () => store.put(k, data));
        assert.equal(requests, 2);
        assert.equal(proxy.count({ method: 'PUT', path: new RegExp(`${k}\\?.*partNumber=1`) }), 1);
        assert.deepEqual(await direct.get(k, data.length), data);
        assert.equal(await s3.pendingUploads(), 0);
      });
    }

    it('multipart: a completion whose answer is lost is confirmed, not repeated blindly', async () => {
      const k = key('complete-lost');
      const data = randomBytes(7 * MiB);
      const complete = { method: 'POST', path: new RegExp(`${k}\\?uploadId=`) };
      const requests = await withFault(complete, { type: 'reset-response', at: 'start' }, () =>
        store.put(k, data),
      );
      assert.equal(requests, 2, 'the retried completion finds the upload done and checks the object');
      assert.deepEqual(await direct.get(k, data.length), data);
      assert.equal(await s3.pendingUploads(), 0);
    });
  });

  describe('downloads', () => {
    for (const at of points) {
      it(`a reset at the ${at} of the answer is retried; the bytes are exact`, async () => {
        const k = key(`download-${at}`);
        const data = randomBytes(400_000);
        await direct.put(k, data);
        let got: Buffer | undefined;
        const requests = await withFault(
          { method: 'GET', path: k },
          { type: 'reset-response', at },
          async () => {
            got = await store.get(k, data.length);
          },
        );
        assert.equal(requests, 2);
        assert.deepEqual(got, data);
      });
    }

    it('a reset before the request reaches the server is retried', async () => {
      const k = key('download-request');
      await direct.put(k, Buffer.from('content'));
      const requests = await withFault(
        { method: 'GET', path: k },
        { type: 'reset-request', at: 'start' },
        () => store.get(k, 100),
      );
      assert.equal(requests, 2);
    });

    it('an answer slower than the idle timeout is abandoned and retried; a slow one within it is not', async () => {
      const k = key('slow');
      await direct.put(k, Buffer.from('slow content'));
      const impatient = through({ idleTimeoutMs: 1000 });
      let got: Buffer | undefined;
      const abandoned = await withFault({ method: 'GET', path: k }, { type: 'delay', ms: 3000 }, async () => {
        got = await impatient.get(k, 100);
      });
      assert.equal(abandoned, 2);
      assert.equal(got?.toString(), 'slow content');
      const waited = await withFault({ method: 'GET', path: k }, { type: 'delay', ms: 300 }, async () => {
        got = await store.get(k, 100);
      });
      assert.equal(waited, 1);
      assert.equal(got?.toString(), 'slow content');
    });
  });

  describe('status classes', () => {
    const transient: [string, number, string][] = [
      ['500 InternalError', 500, error('InternalError')],
      ['503 SlowDown', 503, error('SlowDown', 'Please reduce your request rate.')],
      ['429 Too Many Requests', 429, error('TooManyRequests')],
      ['400 RequestTimeout', 400, error('RequestTimeout')],
      ['409 ConditionalRequestConflict', 409, error('ConditionalRequestConflict')],
      ['200 carrying an <Error>', 200, error('InternalError')],
    ];
    for (const [name, status, body] of transient) {
      it(`${name} on a PUT is transient: retried, then stored`, async () => {
        const k = key('transient');
        const requests = await withFault(
          { method: 'PUT', path: k },
          { type: 'reply', status, body },
          () => store.put(k, Buffer.from(name)),
          2,
        );
        assert.equal(requests, 3);
        assert.equal((await direct.get(k, 100)).toString(), name);
      });
    }

    it('a 200 carrying an <Error> on a multipart completion or part is a failure, retried', async () => {
      const k = key('200-error-multipart');
      const data = randomBytes(7 * MiB);
      const complete = { method: 'POST', path: new RegExp(`${k}\\?uploadId=`) };
      const part = { method: 'PUT', path: new RegExp(`${k}\\?.*partNumber=1`) };
      proxy.inject({ ...part, fault: { type: 'reply', status: 200, body: error('InternalError') } });
      const requests = await withFault(
        complete,
        { type: 'reply', status: 200, body: error('InternalError') },
        () => store.put(k, data),
      );
      assert.equal(requests, 2);
      assert.equal(proxy.count(part), 2);
      assert.deepEqual(await direct.get(k, data.length), data);
    });

    it('a server that keeps failing: UNAVAILABLE after exactly the configured attempts', async () => {
      const k = key('down');
      let caught: BlobStoreError | undefined;
      const requests = await withFault(
        { method: 'PUT', path: k },
        { type: 'reply', status: 503, body: error('ServiceUnavailable') },
        async () => {
          caught = await failure(store.put(k, Buffer.from('x')));
        },
        Infinity,
      );
      assert.equal(requests, 4);
      assert.equal(caught?.kind, 'UNAVAILABLE');
      assert.match(caught?.message ?? '', /gave up after 4 attempts/);
      assert.equal(await direct.head(k), undefined);
    });

    const permanent: [string, 'GET' | 'PUT', number, string, BlobErrorKind][] = [
      ['403 AccessDenied on a read', 'GET', 403, error('AccessDenied'), 'UNREADABLE'],
      ['403 AccessDenied on a write', 'PUT', 403, error('AccessDenied'), 'FAILED'],
      ['404 NoSuchKey', 'GET', 404, error('NoSuchKey'), 'NOT_FOUND'],
      ['404 NoSuchBucket (not a missing object)', 'GET', 404, error('NoSuchBucket'), 'UNAVAILABLE'],
      ['400 InvalidArgument', 'PUT', 400, error('InvalidArgument'), 'FAILED'],
      ['412 on a plain write', 'PUT', 412, error('PreconditionFailed'), 'FAILED'],
      ['400 EntityTooLarge', 'PUT', 400, error('EntityTooLarge'), 'FULL'],
      ['403 QuotaExceeded', 'PUT', 403, error('QuotaExceeded'), 'FULL'],
      ['507 Insufficient Storage', 'PUT', 507, error('InsufficientStorage'), 'FULL'],
    ];
    for (const [name, method, status, body, kind] of permanent) {
      it(`${name}: ${kind} at once, no retry`, async () => {
        const k = key('permanent');
        await direct.put(k, Buffer.from('before'));
        let caught: BlobStoreError | undefined;
        const requests = await withFault({ method, path: k }, { type: 'reply', status, body }, async () => {
          caught = await failure(method === 'GET' ? store.get(k, 100) : store.put(k, Buffer.from('after')));
        });
        assert.equal(requests, 1);
        assert.equal(caught?.kind, kind, caught?.message);
        assert.equal((await direct.get(k, 100)).toString(), 'before');
      });
    }
  });

  describe('create-only writes (manifests)', () => {
    it('never replace an existing object, whatever happens to the connection', async () => {
      const k = key('manifest');
      assert.equal(await store.putIfAbsent(k, Buffer.from('the first manifest')), true);
      for (const at of points) {
        for (const type of ['reset-request', 'reset-response'] as const) {
          let created: boolean | undefined;
          await withFault({ method: 'PUT', path: k }, { type, at }, async () => {
            created = await store.putIfAbsent(k, Buffer.from(`another manifest (${type} ${at})`));
          });
          assert.equal(created, false);
          assert.equal((await direct.get(k, 100)).toString(), 'the first manifest');
        }
      }
    });

    it('a first write whose answer is lost reads as "exists", and what exists is that write, whole', async () => {
      const k = key('manifest-lost');
      const data = Buffer.from('written, answer lost');
      let created: boolean | undefined;
      const requests = await withFault(
        { method: 'PUT', path: k },
        { type: 'reset-response', at: 'start' },
        async () => {
          created = await store.putIfAbsent(k, data);
        },
      );
      assert.equal(requests, 2);
      assert.equal(created, false);
      assert.deepEqual(await direct.get(k, 100), data);
    });

    it('two writers racing through resets: at most one wins, and the stored object is one of them, whole', async () => {
      const other = through({ supportsConditionalWrites: undefined });
      for (let round = 0; round < 6; round++) {
        const k = key('manifest-race');
        const one = Buffer.from(`writer one ${round}`);
        const two = Buffer.from(`writer two ${round}, longer`);
        proxy.inject({
          method: 'PUT',
          path: k,
          fault: { type: 'reset-response', at: points[round % 3] ?? 'start' },
        });
        proxy.inject({
          method: 'PUT',
          path: k,
          fault: { type: 'reset-request', at: points[(round + 1) % 3] ?? 'start' },
        });
        const [a, b] = await Promise.all([store.putIfAbsent(k, one), other.putIfAbsent(k, two)]);
        proxy.clear();
        assert.ok(!(a && b), `round ${round}: both won`);
        const stored = await direct.get(k, 100);
        assert.ok(stored.equals(one) || stored.equals(two), `round ${round}: stored ${stored.toString()}`);
        if (a) assert.deepEqual(stored, one);
        if (b) assert.deepEqual(stored, two);
      }
    });

    it('a large create-only write onto an existing key: false, the upload aborted, the object unchanged', async () => {
      const k = key('manifest-large');
      const first = randomBytes(7 * MiB);
      assert.equal(await store.putIfAbsent(k, first), true);
      assert.equal(await store.putIfAbsent(k, randomBytes(7 * MiB)), false);
      assert.deepEqual(await direct.get(k, first.length), first);
      assert.equal(await s3.pendingUploads(), 0);
    });
  });

  describe('multipart leftovers', () => {
    it('a part refused for good fails the write at once and aborts the upload', async () => {
      const k = key('part-refused');
      const part2 = { method: 'PUT', path: new RegExp(`${k}\\?.*partNumber=2`) };
      let caught: BlobStoreError | undefined;
      const requests = await withFault(
        part2,
        { type: 'reply', status: 403, body: error('AccessDenied') },
        async () => {
          caught = await failure(store.put(k, randomBytes(12 * MiB)));
        },
      );
      assert.equal(requests, 1);
      assert.equal(caught?.kind, 'FAILED');
      assert.equal(await s3.pendingUploads(), 0);
      assert.equal(await direct.head(k), undefined);
    });

    it('an upload whose abort is lost too is left for cleanUp, which removes it (and only stale ones)', async () => {
      const k = key('abort-lost');
      const part2 = { method: 'PUT', path: new RegExp(`${k}\\?.*partNumber=2`) };
      const abort = { method: 'DELETE', path: new RegExp(`${k}\\?uploadId=`) };
      proxy.inject({ ...abort, fault: { type: 'reset-request', at: 'start' }, times: Infinity });
      await withFault(part2, { type: 'reply', status: 403, body: error('AccessDenied') }, async () => {
        await failure(store.put(k, randomBytes(12 * MiB)));
      });
      assert.equal(proxy.count(abort), 4, 'the abort was tried as often as the policy allows');
      assert.equal(await s3.pendingUploads(), 1);
      assert.equal(await store.cleanUp(), 0, 'an upload started just now may be live: kept');
      assert.equal(await s3.pendingUploads(), 1);
      const later = through({ clock: () => Date.now() + 2 * 60 * 60 * 1000 });
      assert.equal(await later.cleanUp(), 1);
      assert.equal(await s3.pendingUploads(), 0);
    });
  });
});

describe('backups and restorations through a faulty connection to S3', () => {
  const P = '/wix-data/v2';
  let s3: TestS3;
  let proxy: FaultProxy;
  let env: TestEnv;
  let siteId: string;
  let call: (method: string, path: string, body?: unknown) => ReturnType<TestEnv['call']>;

  before(async () => {
    s3 = await startTestS3();
    proxy = await startFaultProxy({ host: '127.0.0.1', port: Number(new URL(s3.endpoint).port) });
    // Three tries per request keep the always-failing cases short.
    env = await startTestEnv({
      env: { ...s3.env, SAFEKEEP_S3_ENDPOINT: proxy.endpoint, SAFEKEEP_S3_MAX_ATTEMPTS: '3' },
    });
    const site = await env.createSite();
    siteId = site.siteId;
    call = (method, path, body) => env.call(method, path, { key: site.apiKey, body });
    for (const id of ['A', 'B']) {
      const made = await call('POST', `${P}/collections`, { collection: { id, fields: [] } });
      assert.equal(made.status, 200, made.text);
      for (const from of [0, 1000]) {
        const items = Array.from({ length: 750 }, (_, i) => ({
          id: `${id}-${from + i}`,
          data: { n: i, text: id.repeat(900) },
        }));
        const res = await call('POST', `${P}/bulk/items/insert`, { dataCollectionId: id, dataItems: items });
        assert.equal(res.status, 200, res.text);
      }
    }
  });
  after(async () => {
    await env.close();
    await proxy.close();
    await s3.close();
  });

  async function backUp(): Promise<{ id: string; backup: any }> {
    const created = await call('POST', `${P}/backups`, {});
    assert.equal(created.status, 200, created.text);
    await runJobs(env);
    const id = created.body.backup.id as string;
    return { id, backup: (await call('GET', `${P}/backups/${id}`)).body.backup };
  }

  async function restore(backupId: string): Promise<any> {
    const started = await call('POST', `${P}/backups/${backupId}/restore`, {});
    assert.equal(started.status, 200, started.text);
    await runJobs(env);
    return (await call('GET', `${P}/backups/restorations/${started.body.restoration.id}`)).body.restoration;
  }

  it('a backup under resets of its uploads completes, and every object it names is stored and verified', async () => {
    const expected = await contentOf(env, siteId);
    proxy.inject({ method: 'PUT', path: '/chunks/', fault: { type: 'reset-request', at: 'middle' } });
    proxy.inject({ method: 'PUT', path: '/chunks/', fault: { type: 'reset-response', at: 'start' } });
    proxy.inject({ method: 'PUT', path: '/chunks/', fault: { type: 'reset-request', at: 'end' } });
    proxy.inject({ method: 'PUT', path: '/manifests/', fault: { type: 'reset-response', at: 'start' } });
    proxy.inject({ method: 'PUT', path: '/manifests/', fault: { type: 'reset-request', at: 'start' } });
    const { id, backup } = await backUp();
    assert.equal(proxy.faults(), 5, 'every fault was met');
    assert.ok(env.safekeep.blobs instanceof S3BlobStore, 'the deployment keeps its backups in S3');
    proxy.clear();
    assert.equal(backup.status, 'READY', JSON.stringify(backup));

    const record = await env.safekeep.storage.backups.getBackup(siteId, id);
    assert.ok(record?.manifest);
    const blobs = env.safekeep.blobs;
    const manifest = await readManifest(blobs, record.manifest, { backupId: id, siteId });
    const chunks = chunksOf(manifest);
    assert.ok(chunks.length >= 3, `${chunks.length} chunks`);
    for (const chunk of chunks) {
      const info = await blobs.head(chunkKey(siteId, chunk.hash));
      assert.equal(info?.size, chunk.storedSize, `chunk ${chunk.hash}`);
    }
    const manifestBytes = await blobs.get(record.manifest.key, record.manifest.size);
    assert.equal(createHash('sha256').update(manifestBytes).digest('hex'), record.manifest.sha256);

    // Restored under resets of its downloads, it gives back exactly what was backed up.
    await call('POST', `${P}/items/truncate`, { dataCollectionId: 'A' });
    proxy.inject({ method: 'GET', path: '/chunks/', fault: { type: 'reset-response', at: 'middle' } });
    proxy.inject({ method: 'GET', path: '/chunks/', fault: { type: 'reset-response', at: 'end' } });
    proxy.inject({ method: 'GET', path: '/manifests/', fault: { type: 'reset-request', at: 'start' } });
    const restoration = await restore(id);
    assert.equal(proxy.faults(), 8, 'every fault was met');
    proxy.clear();
    assert.equal(restoration.status, 'COMPLETED', JSON.stringify(restoration.error));
    assertSameSite(await contentOf(env, siteId), expected, 'after a restoration through resets');
  });

  it('a backup whose uploads keep failing fails, with no manifest and nothing listed as READY', async () => {
    const readyBefore = (await call('GET', `${P}/backups?status=READY`)).body.backups.length as number;
    proxy.inject({
      method: 'PUT',
      path: '/chunks/',
      fault: { type: 'reply', status: 503, body: error('ServiceUnavailable') },
      times: Infinity,
    });
    await call('POST', `${P}/items`, { dataCollectionId: 'B', dataItem: { id: 'new-one', data: { n: 1 } } });
    const { id, backup } = await backUp();
    proxy.clear();
    assert.equal(backup.status, 'FAILED');
    assert.equal(backup.error?.code, 'STORAGE_UNAVAILABLE', JSON.stringify(backup.error));
    assert.equal(await env.safekeep.blobs.head(`sites/${siteId}/manifests/${id}.json`), undefined);
    assert.equal((await call('GET', `${P}/backups?status=READY`)).body.backups.length, readyBefore);
  });

  it('a restoration whose downloads keep failing fails and leaves live data untouched', async () => {
    const { id, backup } = await backUp();
    assert.equal(backup.status, 'READY');
    await call('POST', `${P}/items/truncate`, { dataCollectionId: 'B' });
    await call('POST', `${P}/items`, { dataCollectionId: 'A', dataItem: { id: 'late', data: { n: 2 } } });
    const live = await contentOf(env, siteId);
    for (const [path, status, code, reported] of [
      ['/chunks/', 503, 'SlowDown', 'STORAGE_UNAVAILABLE'],
      ['/manifests/', 403, 'AccessDenied', 'INTEGRITY_OBJECT_UNREADABLE'],
    ] as const) {
      proxy.inject({
        method: 'GET',
        path,
        fault: { type: 'reply', status, body: error(code) },
        times: Infinity,
      });
      const restoration = await restore(id);
      proxy.clear();
      assert.equal(restoration.status, 'FAILED', `${code} on ${path}`);
      assert.equal(restoration.error?.code, reported, JSON.stringify(restoration.error));
      assertSameSite(await contentOf(env, siteId), live, `after a failed restoration (${code} on ${path})`);
    }
  });
});
