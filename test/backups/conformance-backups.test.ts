/** Conformance: Wix's @wix/auto_sdk_data_backups drives the Backups API over real HTTP, unchanged. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiKeyStrategy, createClient } from '@wix/sdk';
import * as backups from '@wix/auto_sdk_data_backups';
import { contentOf, runJobs } from '../helpers/backup-helpers.js';
import { startTestEnv, wixDataClient, type TestEnv, type TestSite } from '../helpers/harness.js';
import { loopbackFetch } from '../helpers/inject-fetch.js';

function backupsClient(port: number, site: TestSite) {
  return createClient({
    modules: { backups },
    auth: ApiKeyStrategy({ apiKey: site.apiKey, siteId: site.siteId }),
    host: { apiBaseUrl: `localhost:${port}` },
    fetch: loopbackFetch(port),
  });
}

async function failure(
  promise: Promise<unknown>,
): Promise<{ code?: string; data?: Record<string, unknown> }> {
  try {
    await promise;
  } catch (error) {
    const app = (
      error as { details?: { applicationError?: { code?: string; data?: Record<string, unknown> } } }
    ).details?.applicationError;
    return { code: app?.code ?? 'NO_CODE', data: app?.data };
  }
  assert.fail('expected the call to fail');
}

describe('Backups API through the Wix SDK', () => {
  let env: TestEnv;
  let site: TestSite;
  let client: ReturnType<typeof backupsClient>;
  let data: ReturnType<typeof wixDataClient>;

  before(async () => {
    env = await startTestEnv();
    const port = await env.listen();
    site = await env.createSite();
    client = backupsClient(port, site);
    data = wixDataClient(port, site);
    await data.collections.createDataCollection({ _id: 'Books', displayName: 'Books', fields: [] });
    await data.collections.createDataCollection({ _id: 'Notes', displayName: 'Notes', fields: [] });
    await data.items.bulkInsert(
      'Books',
      Array.from({ length: 120 }, (_, i) => ({ _id: `b${i}`, n: i })),
    );
    await data.items.bulkInsert('Notes', [{ _id: 'n1', text: 'keep me' }]);
  });

  after(() => env.close());

  it('creates an on-demand backup, refuses a second one while it is pending, and makes it READY', async () => {
    const { backup } = await client.backups.createBackup();
    assert.equal(backup?.status, 'PENDING');
    assert.equal(backup?.type, 'ON_DEMAND');
    assert.match(backup?._id ?? '', /^[0-9a-f-]{36}$/);
    const second = await failure(client.backups.createBackup());
    assert.equal(second.code, 'BACKUP_ALREADY_IN_PROGRESS');
    assert.equal(second.data?.backupId, backup?._id);
    await runJobs(env);
    const listed = (await client.backups.listBackups({ status: ['READY'] })).backups ?? [];
    assert.equal(listed.length, 1);
    assert.equal(listed[0]?._id, backup?._id);
    assert.equal(listed[0]?.sizeInBytes !== undefined && Number(listed[0]?.sizeInBytes) > 0, true);
    assert.deepEqual(
      listed[0]?.collections?.map((c) => c._id),
      ['Books', 'Notes'],
    );
  });

  it('filters and pages the list, newest first', async () => {
    for (let i = 0; i < 3; i++) {
      env.clock.advance(1000);
      await client.backups.createBackup();
      await runJobs(env);
    }
    const all = { backups: (await client.backups.listBackups()).backups ?? [] };
    assert.equal(all.backups.length, 4);
    assert.deepEqual(
      all.backups.map((b) => b.status),
      ['READY', 'READY', 'READY', 'DELETED'],
      'the oldest on-demand backup is deleted when a fourth becomes READY',
    );
    const requested = all.backups.map((b) => (b.requestedDate ? new Date(b.requestedDate).getTime() : 0));
    assert.deepEqual(
      requested,
      [...requested].sort((a, b) => b - a),
    );
    const page = await client.backups.listBackups({ paging: { limit: 2, offset: 1 } });
    assert.deepEqual(
      (page.backups ?? []).map((b) => b._id),
      all.backups.slice(1, 3).map((b) => b._id),
    );
    assert.equal(page.pagingMetadata?.total, 4);
    const deleted = await client.backups.listBackups({ status: ['DELETED'], type: ['ON_DEMAND'] });
    assert.equal(deleted.backups?.length, 1);
    assert.ok(deleted.backups?.[0]?.deletedDate);
    const auto = await client.backups.listBackups({ type: ['AUTO'] });
    assert.equal(auto.backups?.length, 0);
  });

  it('restores a whole backup, and the restoration is listed COMPLETED with its safety backup', async () => {
    const ready =
      (await client.backups.listBackups({ status: ['READY'], paging: { limit: 1 } })).backups ?? [];
    const backupId = ready[0]?._id ?? '';
    const before = await contentOf(env, site.siteId);
    await data.items.truncate('Books');
    await data.items.insert('Notes', { _id: 'n2', text: 'added after the backup' });
    const { restoration } = await client.backups.restoreBackup(backupId);
    assert.equal(restoration?.status, 'PENDING');
    assert.equal(restoration?.backup?._id, backupId);
    assert.deepEqual(
      restoration?.restorationCollections?.map((c) => [
        c.dataCollectionId,
        c.restoreDestination?.dataCollectionId,
      ]),
      [
        ['Books', 'Books'],
        ['Notes', 'Notes'],
      ],
    );
    await runJobs(env);
    const restorations =
      (await client.backups.listRestorations({ status: ['COMPLETED'] })).restorations ?? [];
    assert.equal(restorations.length, 1);
    assert.equal(restorations[0]?._id, restoration?._id);
    assert.deepEqual(await contentOf(env, site.siteId), before);
    const safety = await client.backups.listBackups({ type: ['AUTO'] });
    assert.equal(safety.backups?.length, 1);
    assert.equal(safety.backups?.[0]?.status, 'READY');
  });

  it('restores some collections into new destinations with restorePartialBackup', async () => {
    const ready =
      (await client.backups.listBackups({ status: ['READY'], type: ['ON_DEMAND'], paging: { limit: 1 } }))
        .backups ?? [];
    const backupId = ready[0]?._id ?? '';
    const { restoration } = await client.backups.restorePartialBackup(backupId, [
      {
        dataCollectionId: 'Books',
        restoreDestination: { dataCollectionId: 'BooksCopy', displayName: 'Books (copy)' },
      },
    ]);
    assert.deepEqual(restoration?.restorationCollections?.[0]?.restoreDestination, {
      dataCollectionId: 'BooksCopy',
      displayName: 'Books (copy)',
    });
    await runJobs(env);
    assert.equal(await data.items.query('BooksCopy').count(), 120);
    const copy = await data.collections.getDataCollection('BooksCopy');
    assert.equal(copy.displayName, 'Books (copy)');
    const notCovered = await failure(
      client.backups.restorePartialBackup(backupId, [{ dataCollectionId: 'Nope' }]),
    );
    assert.equal(notCovered.code, 'COLLECTION_NOT_IN_BACKUP');
  });

  it('deletes a backup: it stays listed as DELETED and can no longer be restored', async () => {
    const ready =
      (await client.backups.listBackups({ status: ['READY'], type: ['ON_DEMAND'] })).backups ?? [];
    const victim = ready[ready.length - 1]?._id ?? '';
    await client.backups.deleteBackup(victim);
    await client.backups.deleteBackup(victim);
    const deleted = (await client.backups.listBackups({ status: ['DELETED'] })).backups ?? [];
    assert.ok(deleted.some((b) => b._id === victim));
    assert.equal((await failure(client.backups.restoreBackup(victim))).code, 'BACKUP_NOT_READY');
    assert.equal(
      (await failure(client.backups.deleteBackup('00000000-0000-4000-8000-000000000000'))).code,
      'BACKUP_NOT_FOUND',
    );
  });
});
