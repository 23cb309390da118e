/**
 * Per-site quotas (README, "Quotas"): each one hit, reported as 429 QUOTA_EXCEEDED naming the quota, its
 * limit and the site's usage, and recovered from (the quota raised, or data deleted). Runs on both stacks.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runJobs } from '../helpers/backup-helpers.js';
import { startTestEnv, type ApiResponse, type TestEnv, type TestSite } from '../helpers/harness.js';

const P = '/wix-data/v2';
const B = '/wix-data/v2/backups';
const A = '/_api/safekeep/v1';

function assertQuota(res: ApiResponse, quota: string, limit: number, current: number): void {
  assert.equal(res.status, 429, res.text);
  const error = res.body.details.applicationError;
  assert.equal(error.code, 'QUOTA_EXCEEDED');
  assert.equal(error.data.quota, quota);
  assert.equal(error.data.limit, limit);
  assert.equal(error.data.current, current);
  assert.match(res.body.message, new RegExp(`${quota} quota is ${limit}`));
  assert.match(res.body.message, /raise/);
}

describe('quotas per site', () => {
  let env: TestEnv;
  let site: TestSite;
  let other: TestSite;

  before(async () => {
    env = await startTestEnv();
    site = await env.createSite('Quota site');
    other = await env.createSite('Neighbour');
  });

  after(() => env.close());

  const call = (method: string, path: string, body?: unknown, as: TestSite = site) =>
    env.call(method, path, { key: as.apiKey, ...(body !== undefined && { body }) });
  const settings = async (patch: Record<string, number | null>) => {
    const res = await env.call('PATCH', `${A}/sites/${site.siteId}/settings`, {
      key: env.adminKey,
      body: patch,
    });
    assert.equal(res.status, 200, res.text);
    return res.body.settings;
  };
  const usage = async () =>
    (await env.call('GET', `${A}/sites/${site.siteId}/settings`, { key: env.adminKey })).body.usage;
  const createCollection = (id: string) =>
    call('POST', `${P}/collections`, { collection: { id, fields: [] } });
  const bulkInsert = (collection: string, ids: string[], environment?: string) =>
    call('POST', `${P}/bulk/items/insert`, {
      dataCollectionId: collection,
      dataItems: ids.map((id) => ({ id, data: { title: id } })),
      ...(environment && { environment }),
    });
  const count = async (collection: string, environment?: string) => {
    const res = await call('POST', `${P}/items/count`, {
      dataCollectionId: collection,
      ...(environment && { environment }),
    });
    assert.equal(res.status, 200, res.text);
    return res.body.totalCount as number;
  };
  const backupNow = async () => {
    const created = await call('POST', B, {});
    assert.equal(created.status, 200, created.text);
    await runJobs(env);
    const backup = (await call('GET', `${B}/${created.body.backup.id}`)).body.backup;
    assert.equal(backup.status, 'READY');
    return backup;
  };
  /** Restores a whole backup, runs the job and returns the restoration, which must have COMPLETED. */
  const restoreCompleted = async (backupId: string) => {
    const accepted = await call('POST', `${B}/${backupId}/restore`, {});
    assert.equal(accepted.status, 200, accepted.text);
    await runJobs(env);
    const { restoration } = (await call('GET', `${B}/restorations/${accepted.body.restoration.id}`)).body;
    assert.equal(restoration.status, 'COMPLETED', JSON.stringify(restoration.error));
    return restoration;
  };
  const dropAll = async () => {
    const list = await call('GET', `${P}/collections`);
    for (const c of list.body.collections) await call('DELETE', `${P}/collections/${c.id}`);
    for (const b of (await call('GET', B)).body.backups) await call('DELETE', `${B}/${b.id}`);
    await settings({ maxCollections: null, maxItems: null, maxBackupBytes: null, maxRequestBodyBytes: null });
  };

  it('shows the effective quotas and the usage; overrides, null and bounds', async () => {
    const shown = await env.call('GET', `${A}/sites/${site.siteId}/settings`, { key: env.adminKey });
    assert.equal(shown.status, 200, shown.text);
    assert.equal(shown.body.settings.maxCollections, 1000);
    assert.equal(shown.body.settings.maxItems, 10_000_000);
    assert.equal(shown.body.settings.maxBackupBytes, 50 * 1024 ** 3);
    assert.equal(shown.body.settings.maxRequestBodyBytes, 64 * 1024 ** 2);
    assert.deepEqual(shown.body.usage, { collections: 0, items: 0, backupBytes: 0 });
    assert.equal((await settings({ maxItems: 7 })).maxItems, 7);
    assert.equal((await settings({ maxItems: null })).maxItems, 10_000_000);
    for (const [field, value] of [
      ['maxItems', -1],
      ['maxRequestBodyBytes', 65 * 1024 ** 2],
      ['maxRequestBodyBytes', 10],
    ] as const) {
      const refused = await env.call('PATCH', `${A}/sites/${site.siteId}/settings`, {
        key: env.adminKey,
        body: { [field]: value },
      });
      assert.equal(refused.status, 400, `${field}=${value}: ${refused.text}`);
      assert.equal(refused.body.details.validationError.fieldViolations[0].field, field);
    }
  });

  it('maxCollections: live collections only; the bin does not count until restored from it', async () => {
    await settings({ maxCollections: 2 });
    assert.equal((await createCollection('One')).status, 200);
    assert.equal((await createCollection('Two')).status, 200);
    assertQuota(await createCollection('Three'), 'maxCollections', 2, 2);
    assert.equal((await call('GET', `${P}/collections/Three`)).status, 404, 'nothing was created');
    // Another site is not held back by this one.
    assert.equal((await createCollection('Three')).status, 429);
    assert.equal(
      (await call('POST', `${P}/collections`, { collection: { id: 'Three', fields: [] } }, other)).status,
      200,
    );
    // Deleting one frees its place (it waits in the bin, which does not count).
    assert.equal((await call('DELETE', `${P}/collections/Two`)).status, 200);
    assert.equal((await usage()).collections, 1);
    assert.equal((await createCollection('Three')).status, 200);
    // Restoring from the bin would make three; a collection never deleted is still simply not found.
    assertQuota(await call('POST', `${P}/collections/restore/Two`, {}), 'maxCollections', 2, 2);
    const never = await call('POST', `${P}/collections/restore/Never`, {});
    assert.equal(never.status, 404, never.text);
    assert.equal(never.body.details.applicationError.code, 'WDE0025');
    await settings({ maxCollections: 3 });
    assert.equal((await call('POST', `${P}/collections/restore/Two`, {})).status, 200);
    assert.equal((await usage()).collections, 3);
    await dropAll();
  });

  it('maxItems: both environments count; a bulk insert that would cross is refused whole', async () => {
    await createCollection('Things');
    await settings({ maxItems: 10 });
    assert.equal((await bulkInsert('Things', ['a', 'b', 'c', 'd', 'e', 'f'])).status, 200);
    assert.equal((await bulkInsert('Things', ['s1', 's2'], 'SANDBOX')).status, 200);
    assert.equal((await usage()).items, 8);
    const refused = await bulkInsert('Things', ['g', 'h', 'i']);
    assertQuota(refused, 'maxItems', 10, 8);
    assert.equal(refused.body.details.applicationError.data.requested, 3);
    assert.equal(await count('Things'), 6, 'no item of the refused batch was written');
    assert.equal((await bulkInsert('Things', ['g', 'h'])).status, 200);
    assertQuota(
      await call('POST', `${P}/items`, { dataCollectionId: 'Things', dataItem: { id: 'x', data: {} } }),
      'maxItems',
      10,
      10,
    );
    assertQuota(
      await call('POST', `${P}/items/save`, { dataCollectionId: 'Things', dataItem: { id: 'x', data: {} } }),
      'maxItems',
      10,
      10,
    );
    // Changing what exists adds nothing and goes through at the limit.
    const saved = await call('POST', `${P}/items/save`, {
      dataCollectionId: 'Things',
      dataItem: { id: 'a', data: { title: 'changed' } },
    });
    assert.equal(saved.status, 200, saved.text);
    const updated = await call('POST', `${P}/bulk/items/update`, {
      dataCollectionId: 'Things',
      dataItems: [{ id: 'b', data: { title: 'changed' } }],
    });
    assert.equal(updated.status, 200, updated.text);
    // Deleting frees room, item by item and by truncating.
    assert.equal(
      (await call('POST', `${P}/items/remove`, { dataCollectionId: 'Things', dataItemId: 'c' })).status,
      200,
    );
    assert.equal((await usage()).items, 9);
    assert.equal(
      (await call('POST', `${P}/items`, { dataCollectionId: 'Things', dataItem: { id: 'x', data: {} } }))
        .status,
      200,
    );
    assert.equal((await call('POST', `${P}/items/truncate`, { dataCollectionId: 'Things' })).status, 200);
    assert.equal((await usage()).items, 2, 'the SANDBOX items are left');
    // A deleted collection's items leave the count and come back with it.
    assert.equal((await bulkInsert('Things', ['n1', 'n2', 'n3'])).status, 200);
    assert.equal((await call('DELETE', `${P}/collections/Things`)).status, 200);
    assert.equal((await usage()).items, 0);
    await createCollection('Other');
    assert.equal((await bulkInsert('Other', ['o1', 'o2', 'o3', 'o4', 'o5', 'o6'])).status, 200);
    const restore = await call('POST', `${P}/collections/restore/Things`, {});
    assertQuota(restore, 'maxItems', 10, 6);
    assert.equal(restore.body.details.applicationError.data.requested, 5);
    await settings({ maxItems: 11 });
    assert.equal((await call('POST', `${P}/collections/restore/Things`, {})).status, 200);
    assert.equal((await usage()).items, 11);
    // Raising the quota lets writes through again.
    await settings({ maxItems: null });
    assert.equal((await bulkInsert('Things', ['y', 'z'])).status, 200);
    assert.equal((await usage()).items, 13);
    await dropAll();
  });

  it('a restoration that would go over a quota is refused before it starts; the preview says so', async () => {
    await createCollection('Kept');
    assert.equal((await bulkInsert('Kept', ['k1', 'k2', 'k3', 'k4', 'k5'])).status, 200);
    const backup = await backupNow();
    // Since the backup: Kept emptied, Newer filled.
    assert.equal((await call('POST', `${P}/items/truncate`, { dataCollectionId: 'Kept' })).status, 200);
    await createCollection('Newer');
    assert.equal((await bulkInsert('Newer', ['n1', 'n2', 'n3', 'n4', 'n5', 'n6'])).status, 200);
    await settings({ maxItems: 8 });
    const restorationsBefore = (await call('GET', `${B}/restorations`)).body.restorations.length;
    const preview = await call('POST', `${A}/backups/${backup.id}/restore-preview`, {});
    assert.equal(preview.status, 200, preview.text);
    assert.equal(preview.body.preview.quota.code, 'QUOTA_EXCEEDED');
    assert.deepEqual(preview.body.preview.quota.data, {
      quota: 'maxItems',
      limit: 8,
      current: 6,
      requested: 5,
    });
    const refused = await call('POST', `${B}/${backup.id}/restore`, {});
    assertQuota(refused, 'maxItems', 8, 6);
    // Nothing started and nothing changed.
    assert.equal((await call('GET', `${B}/restorations`)).body.restorations.length, restorationsBefore);
    assert.equal(await runJobs(env), 0);
    assert.equal(await count('Kept'), 0);
    assert.equal(await count('Newer'), 6);
    // A restoration that would create a collection over maxCollections, likewise.
    await settings({ maxItems: null });
    assert.equal((await call('DELETE', `${P}/collections/Kept`)).status, 200);
    await settings({ maxCollections: 1 });
    const partial = await call('POST', `${B}/${backup.id}/restore`, {});
    assertQuota(partial, 'maxCollections', 1, 1);
    assert.equal((await call('GET', `${P}/collections/Kept`)).status, 404);
    // Raised, the same restoration runs.
    await settings({ maxCollections: null, maxItems: 11 });
    const previewOk = await call('POST', `${A}/backups/${backup.id}/restore-preview`, {});
    assert.equal(previewOk.body.preview.quota, null);
    await restoreCompleted(backup.id);
    assert.equal(await count('Kept'), 5);
    // The restored items count from then on.
    assert.equal((await usage()).items, 11);
    assertQuota(await bulkInsert('Newer', ['over']), 'maxItems', 11, 11);
    await dropAll();
  });

  it('maxBackupBytes: stored backups and the bin count; on-demand refused, safety backups never skipped', async () => {
    // Collections the tests above deleted wait in the bin and already count.
    const bin = (await usage()).backupBytes;
    assert.ok(bin > 0);
    await createCollection('Data');
    const ids = Array.from({ length: 40 }, (_, i) => `d${i}`);
    assert.equal((await bulkInsert('Data', ids)).status, 200);
    const first = await backupNow();
    const firstBytes = Number(first.sizeInBytes);
    assert.ok(firstBytes > 0);
    const full = bin + firstBytes;
    assert.equal((await usage()).backupBytes, full);
    await settings({ maxBackupBytes: full });
    assertQuota(await call('POST', B, {}), 'maxBackupBytes', full, full);
    const listed = (await call('GET', B)).body.backups.filter(
      (b: { status: string }) => b.status !== 'DELETED',
    );
    assert.deepEqual(
      listed.map((b: { id: string }) => b.id),
      [first.id],
      'no backup was queued',
    );

    // A restoration within its quotas still gets its safety backup although the bytes quota is full.
    const restoration = await restoreCompleted(first.id);
    assert.ok(restoration.safetyBackupId);
    const safety = (await call('GET', `${B}/${restoration.safetyBackupId}`)).body.backup;
    assert.equal(safety.status, 'READY');
    assert.ok((await usage()).backupBytes > full, 'the safety backup was written over the quota');

    // Deleting backups frees the room.
    assert.equal((await call('DELETE', `${B}/${safety.id}`)).status, 200);
    assert.equal((await call('DELETE', `${B}/${first.id}`)).status, 200);
    assert.equal((await usage()).backupBytes, bin);
    const again = await call('POST', B, {});
    assert.equal(again.status, 200, again.text);
    await runJobs(env);
    const secondBytes = Number((await call('GET', `${B}/${again.body.backup.id}`)).body.backup.sizeInBytes);
    assert.equal((await usage()).backupBytes, bin + secondBytes);

    // A deleted collection in the bin counts toward the bytes: its items' JSON.
    assert.equal((await call('DELETE', `${P}/collections/Data`)).status, 200);
    const withBin = (await usage()).backupBytes;
    assert.ok(withBin > bin + secondBytes, `${withBin} > ${bin} + ${secondBytes}`);
    await settings({ maxBackupBytes: withBin - 1 });
    assertQuota(await call('POST', B, {}), 'maxBackupBytes', withBin - 1, withBin);
    await settings({ maxBackupBytes: null });
    assert.equal((await call('POST', B, {})).status, 200);
    await runJobs(env);
    await dropAll();
  });

  it('maxRequestBodyBytes: a larger body is refused before it is parsed; other sites keep the deployment cap', async () => {
    await createCollection('Bodies');
    await call('POST', `${P}/collections`, { collection: { id: 'Bodies', fields: [] } }, other);
    await settings({ maxRequestBodyBytes: 4096 });
    const big = { dataCollectionId: 'Bodies', dataItem: { id: 'big', data: { text: 'x'.repeat(6000) } } };
    const refused = await call('POST', `${P}/items`, big);
    assert.equal(refused.status, 429, refused.text);
    const error = refused.body.details.applicationError;
    assert.equal(error.code, 'QUOTA_EXCEEDED');
    assert.equal(error.data.quota, 'maxRequestBodyBytes');
    assert.equal(error.data.limit, 4096);
    assert.ok(error.data.current > 4096);
    assert.match(refused.body.message, /smaller requests/);
    assert.equal((await call('POST', `${P}/items/count`, { dataCollectionId: 'Bodies' })).body.totalCount, 0);
    const small = { dataCollectionId: 'Bodies', dataItem: { id: 'small', data: { text: 'x' } } };
    assert.equal((await call('POST', `${P}/items`, small)).status, 200);
    assert.equal((await call('POST', `${P}/items`, big, other)).status, 200);
    await settings({ maxRequestBodyBytes: null });
    assert.equal((await call('POST', `${P}/items`, big)).status, 200);
    await dropAll();
  });

  it('maxRequestBodyBytes: a chunked body without a length is cut off once over the limit', async () => {
    await createCollection('Chunked');
    await settings({ maxRequestBodyBytes: 4096 });
    const port = await env.listen();
    const send = async (text: string) => {
      const bytes = new TextEncoder().encode(
        JSON.stringify({ dataCollectionId: 'Chunked', dataItem: { id: `c${text.length}`, data: { text } } }),
      );
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < bytes.length; i += 1000) controller.enqueue(bytes.slice(i, i + 1000));
          controller.close();
        },
      });
      const res = await fetch(`http://127.0.0.1:${port}${P}/items`, {
        method: 'POST',
        headers: { authorization: site.apiKey, 'content-type': 'application/json' },
        body: stream,
        duplex: 'half',
      });
      return { status: res.status, body: (await res.json()) as any };
    };
    const refused = await send('x'.repeat(8000));
    assert.equal(refused.status, 429);
    assert.equal(refused.body.details.applicationError.code, 'QUOTA_EXCEEDED');
    assert.equal(refused.body.details.applicationError.data.quota, 'maxRequestBodyBytes');
    assert.equal((await send('x'.repeat(100))).status, 200);
    await settings({ maxRequestBodyBytes: null });
    assert.equal((await send('x'.repeat(8000))).status, 200);
    await dropAll();
  });
});
