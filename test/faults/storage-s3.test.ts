/**
 * Issue 5, item 5 (Storage faults, S3): backups and restorations through our fault proxy in front of the
 * test S3. Transient faults (connection resets, 500, 503, slow answers) are retried and survived; permanent
 * ones (403) fail the job at once with no request repeated; a create-only manifest write onto an existing
 * object (412) never overwrites it; and a multipart upload orphaned by a lost abort is gone after the next
 * start (only once it is old enough not to be a live writer's). The blob-level cases (every status class,
 * 200 with an <Error> body on a multipart completion, resets at each point) are in
 * test/blob-store/s3-faults.test.ts; this file proves them through the engine and reports the figures.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Kysely } from 'kysely';
import type { Database } from '../../src/adapters/storage/sql/schema.js';
import { assertSameSite, contentOf, runJobs } from '../helpers/backup-helpers.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { reportFigures } from '../helpers/fault-run.js';
import { startTestEnv, type TestEnv } from '../helpers/harness.js';
import { startTestS3, testStore, type TestS3 } from '../helpers/s3.js';
import { TestClock } from '../helpers/test-clock.js';

const P = '/wix-data/v2';
const MiB = 1024 * 1024;
const HOUR = 60 * 60 * 1000;
const s3Error = (code: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${code}</Message></Error>`;

describe('backups and restorations through S3 faults', () => {
  let s3: TestS3;
  let proxy: FaultProxy;
  let env: TestEnv;
  let siteId: string;
  let call: (method: string, path: string, body?: unknown) => ReturnType<TestEnv['call']>;
  const figures: string[] = [];

  before(async () => {
    s3 = await startTestS3();
    proxy = await startFaultProxy({ host: '127.0.0.1', port: Number(new URL(s3.endpoint).port) });
    env = await startTestEnv({
      stack: 'embedded',
      env: { ...s3.env, SAFEKEEP_S3_ENDPOINT: proxy.endpoint, SAFEKEEP_S3_MAX_ATTEMPTS: '4' },
    });
    const site = await env.createSite();
    siteId = site.siteId;
    call = (method, path, body) => env.call(method, path, { key: site.apiKey, body });
    for (const id of ['A', 'B', 'C']) {
      assert.equal((await call('POST', `${P}/collections`, { collection: { id, fields: [] } })).status, 200);
      const items = Array.from({ length: 600 }, (_, i) => ({
        id: `${id}-${i}`,
        data: { n: i, t: randomBytes(300).toString('base64') },
      }));
      const res = await call('POST', `${P}/bulk/items/insert`, { dataCollectionId: id, dataItems: items });
      assert.equal(res.status, 200, res.text);
    }
  });
  after(async () => {
    await env?.close();
    await proxy?.close();
    await s3?.close();
    reportFigures({
      test: '5. Storage faults: S3 resets, slow answers, 5xx/403/412',
      proves:
        'Transient S3 faults are retried and survived, permanent ones fail the job at once, a manifest is never overwritten, and no multipart upload outlives the next start.',
      ciSize: '1 backup + 1 restoration under 8 transient faults, 2 permanent, 1 orphan upload',
      ran: '1 backup + 1 restoration under 8 transient faults, 2 permanent, 1 orphan upload',
      figures: figures.join('; '),
    });
  });

  const attemptsOf = async (id: string) => {
    const { db } = env.safekeep.storage as unknown as { db: Kysely<Database> };
    const row = await db
      .selectFrom('backups')
      .select('attempts')
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    return Number(row.attempts);
  };

  async function backUp(): Promise<{ id: string; backup: any; ms: number }> {
    const started = performance.now();
    const created = await call('POST', `${P}/backups`, {});
    assert.equal(created.status, 200, created.text);
    await runJobs(env);
    const id = created.body.backup.id as string;
    return {
      id,
      backup: (await call('GET', `${P}/backups/${id}`)).body.backup,
      ms: performance.now() - started,
    };
  }

  it('transient faults on uploads and downloads are retried and survived', async () => {
    const expected = await contentOf(env, siteId);
    const rules = [
      proxy.inject({ method: 'PUT', path: '/chunks/', fault: { type: 'reset-request', at: 'middle' } }),
      proxy.inject({
        method: 'PUT',
        path: '/chunks/',
        fault: { type: 'reply', status: 500, body: s3Error('InternalError') },
      }),
      proxy.inject({ method: 'PUT', path: '/chunks/', fault: { type: 'delay', ms: 1500 } }),
      proxy.inject({
        method: 'PUT',
        path: '/manifests/',
        fault: { type: 'reply', status: 503, body: s3Error('SlowDown') },
      }),
    ];
    const { id, backup } = await backUp();
    assert.equal(backup.status, 'READY', JSON.stringify(backup.error));
    assert.deepEqual(
      rules.map((r) => r.used),
      [1, 1, 1, 1],
      'every fault was met',
    );
    assert.equal(await attemptsOf(id), 1, 'survived inside one job attempt');
    proxy.clear();

    await call('POST', `${P}/items/truncate`, { dataCollectionId: 'A' });
    const reads = [
      proxy.inject({ method: 'GET', path: '/chunks/', fault: { type: 'reset-response', at: 'middle' } }),
      proxy.inject({
        method: 'GET',
        path: '/chunks/',
        fault: { type: 'reply', status: 503, body: s3Error('SlowDown') },
      }),
      proxy.inject({ method: 'GET', path: '/chunks/', fault: { type: 'delay', ms: 1500 } }),
      proxy.inject({
        method: 'GET',
        path: '/manifests/',
        fault: { type: 'reply', status: 500, body: s3Error('InternalError') },
      }),
    ];
    const started = await call('POST', `${P}/backups/${id}/restore`, {});
    await runJobs(env);
    const restoration = (await call('GET', `${P}/backups/restorations/${started.body.restoration.id}`)).body
      .restoration;
    assert.equal(restoration.status, 'COMPLETED', JSON.stringify(restoration.error));
    assert.deepEqual(
      reads.map((r) => r.used),
      [1, 1, 1, 1],
      'every fault was met',
    );
    proxy.clear();
    assertSameSite(await contentOf(env, siteId), expected, 'restored through transient faults');
    figures.push(
      '8/8 transient faults (reset, 500, 503, 1.5 s slow) survived: backup READY in 1 attempt, restoration COMPLETED and exact',
    );
  });

  it('a permanent 403 fails the backup at once: no request repeated, one job attempt', async () => {
    await call('POST', `${P}/items`, { dataCollectionId: 'B', dataItem: { id: 'new-403', data: { n: 1 } } });
    const seen = proxy.requests.length;
    proxy.inject({
      method: 'PUT',
      path: '/chunks/',
      fault: { type: 'reply', status: 403, body: s3Error('AccessDenied') },
      times: Infinity,
    });
    const { id, backup, ms } = await backUp();
    proxy.clear();
    assert.equal(backup.status, 'FAILED');
    assert.notEqual(backup.error?.code, 'INTERNAL', JSON.stringify(backup.error));
    const refused = proxy.requests
      .slice(seen)
      .filter((r) => r.fault === 'reply:403')
      .map((r) => r.target);
    assert.ok(refused.length >= 1);
    assert.equal(
      new Set(refused).size,
      refused.length,
      `no refused request was repeated: ${refused.join(', ')}`,
    );
    assert.equal(await attemptsOf(id), 1);
    assert.equal(await env.safekeep.blobs.head(`sites/${siteId}/manifests/${id}.json`), undefined);
    figures.push(
      `403: FAILED ${backup.error.code} in ${Math.round(ms)} ms, ${refused.length} request(s) refused, 0 repeated, 1 attempt`,
    );
  });

  it('a manifest write onto an existing object (412) never overwrites it', async () => {
    await call('POST', `${P}/items`, { dataCollectionId: 'C', dataItem: { id: 'new-412', data: { n: 1 } } });
    const created = await call('POST', `${P}/backups`, {});
    const id = created.body.backup.id as string;
    // Someone else's object already sits where this backup's manifest goes.
    const decoy = Buffer.from('{"not":"ours"}');
    const key = `sites/${siteId}/manifests/${id}.json`;
    assert.equal(await env.safekeep.blobs.putIfAbsent(key, decoy), true);
    const puts = proxy.count({ method: 'PUT', path: '/manifests/' });
    await runJobs(env);
    const backup = (await call('GET', `${P}/backups/${id}`)).body.backup;
    assert.equal(backup.status, 'FAILED', JSON.stringify(backup));
    // What sits there is not this backup's manifest: reported as such, never replaced.
    assert.equal(backup.error?.code, 'INTEGRITY_MANIFEST_INVALID', JSON.stringify(backup.error));
    assert.deepEqual(await env.safekeep.blobs.get(key, 1000), decoy, 'the existing object is unchanged');
    assert.equal(
      proxy.count({ method: 'PUT', path: '/manifests/' }) - puts,
      1,
      'one create-only PUT, not retried',
    );
    assert.equal(await attemptsOf(id), 1);
    figures.push(
      `412 on the manifest: FAILED ${backup.error.code}, existing object unchanged, 1 PUT, 1 attempt`,
    );
  });

  it('a multipart upload orphaned by a lost abort is gone after the next start, once stale', async () => {
    const writer = testStore(s3, { endpoint: proxy.endpoint });
    const k = `sites/${siteId}/chunks/orphan-${randomBytes(4).toString('hex')}`;
    proxy.inject({
      method: 'PUT',
      path: new RegExp(`${k}\\?.*partNumber=2`),
      fault: { type: 'reset-request', at: 'middle' },
      times: Infinity,
    });
    proxy.inject({
      method: 'DELETE',
      path: new RegExp(`${k}\\?uploadId=`),
      fault: { type: 'reset-request', at: 'start' },
      times: Infinity,
    });
    await assert.rejects(writer.put(k, randomBytes(12 * MiB)));
    proxy.clear();
    assert.equal(await s3.pendingUploads(), 1, 'the upload was orphaned');

    const restart = async (now: number) => {
      const next = await startTestEnv({
        stack: 'embedded',
        clock: new TestClock(now),
        env: { ...s3.env, SAFEKEEP_SCHEDULER_TICK_SECONDS: '3600', SAFEKEEP_GC_INTERVAL_MINUTES: '600' },
      });
      try {
        await next.safekeep.startBackground({ info: () => undefined, error: () => undefined });
      } finally {
        await next.close();
      }
    };
    await restart(Date.now());
    assert.equal(await s3.pendingUploads(), 1, 'a start right away keeps it: it could be a live writer');
    await restart(Date.now() + 2 * HOUR);
    assert.equal(await s3.pendingUploads(), 0, 'a start an hour later aborts it');
    figures.push(
      'orphan multipart uploads: 1 after the reset, 1 after a start at once (kept as maybe live), 0 after a start 2 h later',
    );
  });
});
