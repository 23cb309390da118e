/** The SDK's client against the in-process server: every call, error mapping, and the wait helpers. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  SafekeepApiError,
  SafekeepClient,
  SafekeepConnectionError,
  UNEXPECTED_RESPONSE,
  type Backup,
  type Progress,
} from '../../src/sdk/index.js';
import { startTestEnv, type TestEnv, type TestSite } from '../helpers/harness.js';
import { injectFetch } from '../helpers/inject-fetch.js';
import { mismatches, recordingFetch, unreached, type Exchange } from './api-recorder.js';

const baseUrl = 'http://safekeep.test';
const missingId = '00000000-0000-4000-8000-000000000000';

describe('SafekeepClient', () => {
  let env: TestEnv;
  let site: TestSite;
  let client: SafekeepClient;
  const log: Exchange[] = [];

  /** Runs queued jobs in this process until none is left. */
  const runJobs = async () => {
    const { worker } = env.safekeep.background();
    while (await worker.runOne(new AbortController().signal));
  };

  /** A client whose every request goes to the app, and which runs `between()` after each response. */
  const clientWith = (between: () => Promise<void>) => {
    const inner = injectFetch(env.app);
    const fetch: typeof globalThis.fetch = async (input, init) => {
      const response = await inner(input, init);
      await between();
      return response;
    };
    return new SafekeepClient({ baseUrl, apiKey: site.apiKey, siteId: site.siteId, fetch });
  };

  const insertItems = async (collectionId: string, titles: string[]) => {
    for (const title of titles) {
      const res = await env.call('POST', '/wix-data/v2/items', {
        key: site.apiKey,
        site: site.siteId,
        body: { dataCollectionId: collectionId, dataItem: { data: { title } } },
      });
      assert.equal(res.status, 200, res.text);
    }
  };

  const titlesIn = async (collectionId: string): Promise<string[]> => {
    const res = await env.call('POST', '/wix-data/v2/items/query', {
      key: site.apiKey,
      site: site.siteId,
      body: { dataCollectionId: collectionId, query: { sort: [{ fieldName: 'title', order: 'ASC' }] } },
    });
    assert.equal(res.status, 200, res.text);
    return (res.body.dataItems as { data: { title: string } }[]).map((i) => i.data.title);
  };

  const expectApiError = async (
    call: Promise<unknown>,
    status: number,
    code: string,
  ): Promise<SafekeepApiError> => {
    const error = await call.then(
      () => assert.fail(`expected ${status} ${code}`),
      (e: unknown) => e,
    );
    assert.ok(error instanceof SafekeepApiError, String(error));
    assert.equal(error.status, status, error.message);
    assert.equal(error.code, code, error.message);
    assert.ok(error.message.length > 0);
    return error;
  };

  before(async () => {
    env = await startTestEnv({ env: { SAFEKEEP_WORKER_THREADS: '1' } });
    site = await env.createSite('SDK');
    client = new SafekeepClient({
      baseUrl: `${baseUrl}/`,
      apiKey: site.apiKey,
      siteId: site.siteId,
      fetch: recordingFetch(injectFetch(env.app), log),
    });
    for (const id of ['Books', 'Authors']) {
      const res = await env.call('POST', '/wix-data/v2/collections', {
        key: site.apiKey,
        site: site.siteId,
        body: { collection: { id, fields: [{ key: 'title', type: 'TEXT' }] } },
      });
      assert.equal(res.status, 200, res.text);
    }
    await insertItems('Books', ['Dune', 'Emma', 'Ulysses']);
    await insertItems('Authors', ['Austen', 'Herbert']);
  });

  after(() => env.close());

  let first: Backup;

  it('creates a backup, refuses a second one while it is pending, and waits for it with progress', async () => {
    const leaseMs = env.safekeep.config.jobLeaseMs;
    const lease = () => ({ workerId: 'test-worker', now: env.clock.now(), leaseMs });
    first = await client.createBackup();
    assert.equal(first.status, 'PENDING');
    assert.equal(first.type, 'ON_DEMAND');
    assert.equal(first.trigger, 'ON_DEMAND');
    assert.equal(first.startedDate, null);
    assert.deepEqual(first.collections.map((c) => c.id).sort(), ['Authors', 'Books']);

    const conflict = await expectApiError(client.createBackup(), 409, 'BACKUP_ALREADY_IN_PROGRESS');
    assert.equal(conflict.data.backupId, first.id);

    // Between polls, play a worker that claims the job and reports progress (twice the same figures,
    // which must be reported once), then let the real worker take over once that lease runs out.
    const { backups } = env.safekeep.storage;
    const steps = [
      async () => {
        assert.ok(await backups.claimBackup({ ...lease(), maxAttempts: 3 }));
        await backups.renewBackup({ ...lease(), id: first.id, progress: { itemsDone: 0, itemsTotal: 5 } });
      },
      () => backups.renewBackup({ ...lease(), id: first.id, progress: { itemsDone: 2, itemsTotal: 5 } }),
      () => backups.renewBackup({ ...lease(), id: first.id, progress: { itemsDone: 2, itemsTotal: 5 } }),
      async () => {
        env.clock.advance(leaseMs + 1);
        await runJobs();
      },
    ];
    const scripted = clientWith(async () => {
      await steps.shift()?.();
    });
    const reports: { progress: Progress; status: string }[] = [];
    const done = await scripted.waitForBackup(first.id, {
      intervalMs: 1,
      signal: AbortSignal.timeout(30_000),
      onProgress: (progress, backup) => reports.push({ progress, status: backup.status }),
    });
    assert.deepEqual(reports, [
      { progress: { itemsDone: 0, itemsTotal: 5 }, status: 'PENDING' },
      { progress: { itemsDone: 2, itemsTotal: 5 }, status: 'PENDING' },
    ]);
    assert.equal(done.status, 'READY');
    assert.equal(done.itemCount, '5');
    assert.match(done.sizeInBytes ?? '', /^\d+$/);
    assert.equal(done.progress, null);
    assert.equal(done.error, null);
    assert.ok(done.finishedDate && !Number.isNaN(Date.parse(done.finishedDate)));
    first = done;
  });

  it('gets a backup, and maps a missing one to 404 and a malformed id to 400', async () => {
    assert.deepEqual(await client.getBackup(first.id), first);
    await expectApiError(client.getBackup(missingId), 404, 'BACKUP_NOT_FOUND');
    const malformed = await expectApiError(client.getBackup('not-a-guid'), 400, 'INVALID_ARGUMENT');
    assert.deepEqual(
      malformed.fieldViolations.map((v) => [v.field, v.violatedRule]),
      [['backupId', 'FORMAT']],
    );
    // An id that would name another route is still sent as an id.
    await expectApiError(client.getBackup('a/b'), 400, 'INVALID_ARGUMENT');
    await assert.rejects(client.getBackup(''), TypeError);
  });

  it('backs up only the collections asked for, and cancels a pending backup', async () => {
    env.clock.advance(1000);
    const partial = await client.createBackup({ collections: ['Books'], idempotencyKey: 'partial-1' });
    assert.deepEqual(
      partial.collections.map((c) => c.id),
      ['Books'],
    );
    const again = await client.createBackup({ collections: ['Books'], idempotencyKey: 'partial-1' });
    assert.equal(again.id, partial.id, 'the same Idempotency-Key returns the first result');
    await client.cancelBackup(partial.id);
    const canceled = await client.getBackup(partial.id);
    assert.equal(canceled.status, 'CANCELED');
    await expectApiError(client.cancelBackup(partial.id), 428, 'BACKUP_NOT_CANCELABLE');
    await expectApiError(client.cancelBackup(first.id), 428, 'BACKUP_NOT_CANCELABLE');
    await expectApiError(client.createBackup({ collections: ['Nope'] }), 404, 'WDE0025');
  });

  it('lists backups with status and type filters and paging', async () => {
    const all = await client.listBackups();
    assert.equal(all.pagingMetadata.total, 2);
    assert.equal(all.pagingMetadata.count, 2);
    assert.equal(all.backups[1]?.id, first.id, 'newest first');

    const ready = await client.listBackups({ status: ['READY'], type: ['ON_DEMAND'] });
    assert.deepEqual(
      ready.backups.map((b) => b.id),
      [first.id],
    );
    const two = await client.listBackups({ status: ['READY', 'CANCELED'] });
    assert.equal(two.backups.length, 2);
    assert.ok(
      env.requests.some((r) => r.includes('status=READY&status=CANCELED')),
      'array parameters repeat',
    );
    assert.equal((await client.listBackups({ type: ['AUTO'] })).backups.length, 0);

    const page = await client.listBackups({ limit: 1, offset: 1 });
    assert.deepEqual(page.pagingMetadata, { count: 1, offset: 1, total: 2 });
    assert.equal(page.backups[0]?.id, first.id);

    const tooMany = await expectApiError(client.listBackups({ limit: 5000 }), 400, 'INVALID_ARGUMENT');
    assert.equal(tooMany.fieldViolations[0]?.field, 'paging.limit');
  });

  it('restores a whole backup (idempotently) and waits for the restoration with progress', async () => {
    await insertItems('Books', ['Added later']);
    const leaseMs = env.safekeep.config.jobLeaseMs;
    const lease = () => ({ workerId: 'test-worker', now: env.clock.now(), leaseMs });
    const restoration = await client.restoreBackup(first.id, { idempotencyKey: 'restore-1' });
    assert.equal(restoration.status, 'PENDING');
    assert.equal(restoration.backup.id, first.id);
    assert.deepEqual(restoration.restorationCollections.map((c) => c.dataCollectionId).sort(), [
      'Authors',
      'Books',
    ]);
    const repeated = await client.restoreBackup(first.id, { idempotencyKey: 'restore-1' });
    assert.equal(repeated.id, restoration.id);
    await expectApiError(client.restoreBackup(first.id), 409, 'RESTORATION_IN_PROGRESS');
    await expectApiError(client.deleteBackup(first.id), 409, 'BACKUP_IN_USE');

    const { restorations } = env.safekeep.storage;
    const steps = [
      async () => {
        assert.ok(await restorations.claimRestoration({ ...lease(), maxAttempts: 3 }));
        await restorations.renewRestoration({
          ...lease(),
          id: restoration.id,
          progress: { itemsDone: 1, itemsTotal: 5 },
        });
      },
      async () => {
        env.clock.advance(leaseMs + 1);
        await runJobs();
      },
    ];
    const scripted = clientWith(async () => {
      await steps.shift()?.();
    });
    const reports: Progress[] = [];
    const done = await scripted.waitForRestoration(restoration.id, {
      intervalMs: 1,
      signal: AbortSignal.timeout(30_000),
      onProgress: (p) => reports.push(p),
    });
    assert.deepEqual(reports, [{ itemsDone: 1, itemsTotal: 5 }]);
    assert.equal(done.status, 'COMPLETED');
    assert.equal(done.error, null);
    assert.match(done.safetyBackupId ?? '', /^[0-9a-f-]{36}$/);
    assert.deepEqual(await titlesIn('Books'), ['Dune', 'Emma', 'Ulysses']);

    const safety = await client.getBackup(done.safetyBackupId ?? '');
    assert.equal(safety.type, 'AUTO');
    assert.equal(safety.trigger, 'PRE_RESTORE');
  });

  it('restores some collections into new destinations, refusing impossible plans', async () => {
    await expectApiError(
      client.restorePartialBackup(first.id, [{ dataCollectionId: 'Nope' }]),
      400,
      'COLLECTION_NOT_IN_BACKUP',
    );
    await expectApiError(
      client.restorePartialBackup(first.id, [
        { dataCollectionId: 'Books', restoreDestination: { dataCollectionId: 'Same' } },
        { dataCollectionId: 'Authors', restoreDestination: { dataCollectionId: 'Same' } },
      ]),
      400,
      'DUPLICATE_DESTINATION',
    );
    await expectApiError(client.restorePartialBackup(first.id, []), 400, 'INVALID_ARGUMENT');
    await expectApiError(
      client.restorePartialBackup(missingId, [{ dataCollectionId: 'Books' }]),
      404,
      'BACKUP_NOT_FOUND',
    );

    const restoration = await client.restorePartialBackup(first.id, [
      {
        dataCollectionId: 'Books',
        restoreDestination: { dataCollectionId: 'BooksCopy', displayName: 'Copy' },
      },
    ]);
    assert.deepEqual(restoration.restorationCollections, [
      {
        dataCollectionId: 'Books',
        restoreDestination: { dataCollectionId: 'BooksCopy', displayName: 'Copy' },
      },
    ]);
    const waiting = client.waitForRestoration(restoration.id, {
      intervalMs: 1,
      signal: AbortSignal.timeout(30_000),
    });
    await runJobs();
    const done = await waiting;
    assert.equal(done.status, 'COMPLETED');
    assert.deepEqual(await titlesIn('BooksCopy'), ['Dune', 'Emma', 'Ulysses']);
  });

  it('lists and gets restorations', async () => {
    const all = await client.listRestorations();
    assert.equal(all.pagingMetadata.total, 2);
    assert.deepEqual(
      all.restorations.map((r) => r.status),
      ['COMPLETED', 'COMPLETED'],
    );
    const newest = all.restorations[0];
    assert.ok(newest);
    assert.deepEqual(await client.getRestoration(newest.id), newest);
    assert.equal((await client.listRestorations({ status: ['FAILED'] })).restorations.length, 0);
    assert.equal((await client.listRestorations({ limit: 1 })).restorations.length, 1);
    await expectApiError(client.getRestoration(missingId), 404, 'RESTORATION_NOT_FOUND');
    await expectApiError(client.getRestoration('x'), 400, 'INVALID_ARGUMENT');
  });

  it('verifies a backup and waits for the verification', async () => {
    const started = await client.verifyBackup(first.id, { trialRestore: true });
    assert.equal(started.status, 'PENDING');
    assert.equal(started.backupId, first.id);
    const waiting = client.waitForVerification(started.id, {
      intervalMs: 1,
      signal: AbortSignal.timeout(30_000),
    });
    await env.safekeep.background().worker.runOne(new AbortController().signal);
    const done = await waiting;
    assert.equal(done.status, 'PASSED', JSON.stringify(done.error));
    assert.equal(done.trialRestore, true);
    const backup = await client.getBackup(first.id);
    assert.equal(backup.lastVerification?.result, 'PASSED');
    assert.equal(backup.lastVerifiedDate, done.finishedDate);
    await expectApiError(client.getVerification(missingId), 404, 'VERIFICATION_NOT_FOUND');
    await expectApiError(client.verifyBackup(missingId), 404, 'BACKUP_NOT_FOUND');
  });

  it('deletes a backup, again without complaint, and 404s an unknown one', async () => {
    await client.deleteBackup(first.id);
    const deleted = await client.getBackup(first.id);
    assert.equal(deleted.status, 'DELETED');
    assert.ok(deleted.deletedDate);
    await client.deleteBackup(first.id);
    await expectApiError(client.deleteBackup(missingId), 404, 'BACKUP_NOT_FOUND');
    await expectApiError(client.restoreBackup(first.id), 428, 'BACKUP_NOT_READY');
  });

  it('resolves a wait with a backup that ended CANCELED instead of throwing', async () => {
    env.clock.advance(1000);
    const backup = await client.createBackup();
    const waiting = client.waitForBackup(backup.id, { intervalMs: 1, signal: AbortSignal.timeout(30_000) });
    await client.cancelBackup(backup.id);
    assert.equal((await waiting).status, 'CANCELED');
  });

  it('maps authentication failures, and answers that are not the API', async () => {
    const anonymous = new SafekeepClient({ baseUrl, apiKey: 'sk_wrong', fetch: injectFetch(env.app) });
    await expectApiError(anonymous.listBackups(), 401, 'UNAUTHENTICATED');
    const otherSite = new SafekeepClient({
      baseUrl,
      apiKey: site.apiKey,
      siteId: missingId,
      fetch: injectFetch(env.app),
    });
    await expectApiError(otherSite.listBackups(), 404, 'SITE_NOT_FOUND');

    const proxy = new SafekeepClient({
      baseUrl,
      apiKey: site.apiKey,
      fetch: () => Promise.resolve(new Response('<html>Bad Gateway</html>', { status: 502 })),
    });
    const error = await expectApiError(proxy.listBackups(), 502, UNEXPECTED_RESPONSE);
    assert.match(error.message, /Bad Gateway/);

    const unreachable = new SafekeepClient({
      baseUrl: 'http://127.0.0.1:1',
      apiKey: site.apiKey,
    });
    await assert.rejects(unreachable.listBackups(), (e: unknown) => {
      assert.ok(e instanceof SafekeepConnectionError);
      assert.match(e.message, /cannot reach safekeep at http:\/\/127\.0\.0\.1:1\/wix-data\/v2\/backups: /);
      return true;
    });
  });

  it('keeps waiting through 503 answers and stops when aborted', async () => {
    const backup = (await client.listBackups({ status: ['CANCELED'], limit: 1 })).backups[0];
    assert.ok(backup);
    let unavailable = 2;
    const inner = injectFetch(env.app);
    const flaky = new SafekeepClient({
      baseUrl,
      apiKey: site.apiKey,
      siteId: site.siteId,
      fetch: (input, init) => {
        if (unavailable-- > 0) {
          return Promise.resolve(
            Response.json(
              {
                message: 'Storage is unavailable; retry later.',
                details: { applicationError: { code: 'STORAGE_UNAVAILABLE', description: '', data: {} } },
              },
              { status: 503, headers: { 'retry-after': '0' } },
            ),
          );
        }
        return inner(input, init);
      },
    });
    assert.equal(
      (await flaky.waitForBackup(backup.id, { intervalMs: 1, signal: AbortSignal.timeout(30_000) })).status,
      'CANCELED',
    );
    assert.equal(unavailable, -1);

    env.clock.advance(1000);
    const pending = await client.createBackup();
    const stop = new AbortController();
    const waiting = client.waitForBackup(pending.id, { intervalMs: 5, signal: stop.signal });
    stop.abort(new Error('enough'));
    await assert.rejects(waiting, /enough/);
    await client.cancelBackup(pending.id);
  });

  it('downloads a backup as an archive and imports it as a new READY backup', async () => {
    env.clock.advance(1000);
    const backup = await client.createBackup();
    await runJobs();
    assert.equal((await client.getBackup(backup.id)).status, 'READY');
    const { body, length } = await client.downloadBackup(backup.id);
    const bytes = new Uint8Array(await new Response(body).arrayBuffer());
    assert.equal(length, bytes.length);
    const imported = await client.importBackup(bytes);
    assert.equal(imported.status, 'READY');
    assert.equal(imported.trigger, 'IMPORT');
    assert.equal(imported.itemCount, (await client.getBackup(backup.id)).itemCount);
    await expectApiError(client.importBackup(bytes.subarray(0, bytes.length - 20)), 400, 'ARCHIVE_TRUNCATED');
    await expectApiError(client.downloadBackup(missingId), 404, 'BACKUP_NOT_FOUND');
  });

  it('reached every Backups API route, and every answer matched the OpenAPI document', async () => {
    assert.deepEqual(unreached(env.app.declaredRoutes, log, ['/wix-data/v2/backups']), []);
    assert.deepEqual(await mismatches(env, log), []);
  });
});
