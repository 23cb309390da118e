/** Every 4xx rule of backups-api.md §5, §6.1 and §8, in the spec's error shape. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runJobs } from '../helpers/backup-helpers.js';
import { assertErrorShape } from '../helpers/error-shape.js';
import { startTestEnv, type TestEnv, type TestSite } from '../helpers/harness.js';

const B = '/wix-data/v2/backups';
const P = '/wix-data/v2';
const UNKNOWN = '00000000-0000-4000-8000-000000000000';
const DAY = 24 * 60 * 60 * 1000;

describe('backup and restoration rules', () => {
  let env: TestEnv;
  let site: TestSite;
  let other: TestSite;
  let failNext = false;

  before(async () => {
    env = await startTestEnv({
      failpoint: (name) => {
        if (failNext && name === 'backup:snapshot-recorded') {
          failNext = false;
          return Promise.reject(new Error('simulated storage failure'));
        }
        return Promise.resolve();
      },
    });
    site = await env.createSite('rules');
    other = await env.createSite('other');
    for (const s of [site, other]) {
      await env.call('POST', `${P}/collections`, { key: s.apiKey, body: { collection: { id: 'Books' } } });
      await env.call('POST', `${P}/collections`, { key: s.apiKey, body: { collection: { id: 'Notes' } } });
      await env.call('POST', `${P}/items`, {
        key: s.apiKey,
        body: { dataCollectionId: 'Books', dataItem: { data: { t: 1 } } },
      });
    }
  });
  after(() => env.close());

  const call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
    env.call(method, path, { key: site.apiKey, body, headers });

  async function expectError(
    res: Promise<{ status: number; body: any }>,
    status: number,
    code: string,
  ): Promise<any> {
    const r = await res;
    assert.equal(r.status, status, JSON.stringify(r.body));
    assert.equal(assertErrorShape(r.body), code);
    return r.body;
  }

  async function readyBackup(): Promise<string> {
    env.clock.advance(1000);
    const created = await call('POST', B, {});
    assert.equal(created.status, 200, JSON.stringify(created.body));
    await runJobs(env);
    return created.body.backup.id as string;
  }

  it('refuses a second pending on-demand backup with 409 naming the pending one', async () => {
    const first = await call('POST', B, {});
    const body = await expectError(call('POST', B, {}), 409, 'BACKUP_ALREADY_IN_PROGRESS');
    assert.equal(body.details.applicationError.data.backupId, first.body.backup.id);
    await runJobs(env);
  });

  it('answers 400 to malformed ids, 404 to unknown and foreign ones', async () => {
    await expectError(call('GET', `${B}/not-a-guid`), 400, 'INVALID_ARGUMENT');
    await expectError(call('GET', `${B}/${UNKNOWN}`), 404, 'BACKUP_NOT_FOUND');
    const foreign = await env.call('POST', B, { key: other.apiKey, body: {} });
    await runJobs(env);
    const foreignId = foreign.body.backup.id as string;
    for (const [method, path] of [
      ['GET', `${B}/${foreignId}`],
      ['DELETE', `${B}/${foreignId}`],
      ['POST', `${B}/${foreignId}/cancel`],
      ['POST', `${B}/${foreignId}/restore`],
      ['POST', `${B}/${foreignId}/partial-restore`],
    ] as const) {
      const body = path.endsWith('partial-restore')
        ? { restorationCollections: [{ dataCollectionId: 'Books' }] }
        : {};
      await expectError(call(method, path, body), 404, 'BACKUP_NOT_FOUND');
    }
    await expectError(call('GET', `${B}/restorations/${UNKNOWN}`), 404, 'RESTORATION_NOT_FOUND');
    await expectError(call('GET', `${B}/restorations/nope`), 400, 'INVALID_ARGUMENT');
    await expectError(call('POST', B, { backup: { collections: [{ id: 'NoSuch' }] } }), 404, 'WDE0025');
  });

  it('validates list parameters', async () => {
    await expectError(call('GET', `${B}?paging.limit=1001`), 400, 'INVALID_ARGUMENT');
    await expectError(call('GET', `${B}?status=BOGUS`), 400, 'INVALID_ARGUMENT');
    await expectError(
      call('GET', `${B}?${Array.from({ length: 11 }, () => 'status=READY').join('&')}`),
      400,
      'INVALID_ARGUMENT',
    );
    await expectError(call('GET', `${B}?surprise=1`), 400, 'INVALID_ARGUMENT');
    await expectError(call('POST', B, { unexpected: true }), 400, 'INVALID_ARGUMENT');
    const ok = await call(
      'GET',
      `${B}?status=READY&status=PENDING&type=ON_DEMAND&paging.limit=2&paging.offset=0`,
    );
    assert.equal(ok.status, 200);
    assert.equal(ok.body.pagingMetadata.count, ok.body.backups.length);
  });

  it('cancels only PENDING backups (428 otherwise), and a canceled backup deletes nothing', async () => {
    const ids = [await readyBackup(), await readyBackup(), await readyBackup()];
    const pending = await call('POST', B, {});
    assert.equal((await call('POST', `${B}/${pending.body.backup.id}/cancel`, {})).status, 200);
    await runJobs(env);
    const canceled = (await call('GET', `${B}/${pending.body.backup.id}`)).body.backup;
    assert.equal(canceled.status, 'CANCELED');
    assert.ok(canceled.finishedDate);
    await expectError(
      call('POST', `${B}/${pending.body.backup.id}/cancel`, {}),
      428,
      'BACKUP_NOT_CANCELABLE',
    );
    await expectError(call('POST', `${B}/${ids[0]}/cancel`, {}), 428, 'BACKUP_NOT_CANCELABLE');
    for (const id of ids) assert.equal((await call('GET', `${B}/${id}`)).body.backup.status, 'READY');
  });

  it('deletes nothing when a new on-demand backup fails, and the oldest only when one becomes READY', async () => {
    const readyBefore = (await call('GET', `${B}?status=READY&type=ON_DEMAND`)).body.backups.map(
      (b: { id: string }) => b.id,
    );
    assert.equal(readyBefore.length, 3);
    failNext = true;
    const failing = await call('POST', B, {});
    await runJobs(env);
    const failed = (await call('GET', `${B}/${failing.body.backup.id}`)).body.backup;
    assert.equal(failed.status, 'FAILED');
    assert.equal(failed.error.code, 'INTERNAL');
    assert.match(failed.error.message, /simulated storage failure/);
    assert.deepEqual(
      (await call('GET', `${B}?status=READY&type=ON_DEMAND`)).body.backups.map((b: { id: string }) => b.id),
      readyBefore,
    );
    await readyBackup();
    const after = (await call('GET', `${B}?status=READY&type=ON_DEMAND`)).body.backups.map(
      (b: { id: string }) => b.id,
    );
    assert.equal(after.length, 3);
    assert.ok(!after.includes(readyBefore[readyBefore.length - 1]), 'the oldest was deleted');
  });

  it('restores only READY backups (428 BACKUP_NOT_READY for every other status)', async () => {
    const failed = (await call('GET', `${B}?status=FAILED`)).body.backups[0].id as string;
    const canceled = (await call('GET', `${B}?status=CANCELED`)).body.backups[0].id as string;
    const deleted = (await call('GET', `${B}?status=DELETED`)).body.backups[0].id as string;
    const pending = (await call('POST', B, {})).body.backup.id as string;
    for (const id of [failed, canceled, deleted, pending]) {
      await expectError(call('POST', `${B}/${id}/restore`, {}), 428, 'BACKUP_NOT_READY');
      await expectError(
        call('POST', `${B}/${id}/partial-restore`, {
          restorationCollections: [{ dataCollectionId: 'Books' }],
        }),
        428,
        'BACKUP_NOT_READY',
      );
    }
    await runJobs(env);
  });

  it('validates partial restores: collections in the backup, distinct and valid destinations', async () => {
    const id = await readyBackup();
    const path = `${B}/${id}/partial-restore`;
    await expectError(
      call('POST', path, { restorationCollections: [{ dataCollectionId: 'Nope' }] }),
      400,
      'COLLECTION_NOT_IN_BACKUP',
    );
    await expectError(
      call('POST', path, {
        restorationCollections: [
          { dataCollectionId: 'Books', restoreDestination: { dataCollectionId: 'Same' } },
          { dataCollectionId: 'Notes', restoreDestination: { dataCollectionId: 'Same' } },
        ],
      }),
      400,
      'DUPLICATE_DESTINATION',
    );
    await expectError(
      call('POST', path, {
        restorationCollections: [
          { dataCollectionId: 'Books', restoreDestination: { dataCollectionId: '../x' } },
        ],
      }),
      400,
      'INVALID_ARGUMENT',
    );
    await expectError(call('POST', path, { restorationCollections: [] }), 400, 'INVALID_ARGUMENT');
    await expectError(call('POST', path, {}), 400, 'INVALID_ARGUMENT');
    await expectError(
      call('POST', path, {
        restorationCollections: Array.from({ length: 1001 }, () => ({ dataCollectionId: 'Books' })),
      }),
      400,
      'INVALID_ARGUMENT',
    );
  });

  it('allows one pending restoration per site, and protects the backup it reads', async () => {
    const id = await readyBackup();
    const first = await call('POST', `${B}/${id}/restore`, {});
    assert.equal(first.status, 200);
    const body = await expectError(call('POST', `${B}/${id}/restore`, {}), 409, 'RESTORATION_IN_PROGRESS');
    assert.equal(body.details.applicationError.data.restorationId, first.body.restoration.id);
    await expectError(call('DELETE', `${B}/${id}`), 409, 'BACKUP_IN_USE');
    await runJobs(env);
    assert.equal((await call('DELETE', `${B}/${id}`)).status, 200);
    assert.equal(
      (await call('DELETE', `${B}/${id}`)).status,
      200,
      'deleting a DELETED backup answers 200 again',
    );
    const listed = (await call('GET', `${B}?status=DELETED`)).body.backups.map((b: { id: string }) => b.id);
    assert.ok(listed.includes(id), 'deleted backups stay listed');
  });

  it('stops a PENDING backup that is deleted', async () => {
    const pending = (await call('POST', B, {})).body.backup.id as string;
    assert.equal((await call('DELETE', `${B}/${pending}`)).status, 200);
    await runJobs(env);
    const backup = (await call('GET', `${B}/${pending}`)).body.backup;
    assert.equal(backup.status, 'DELETED');
    assert.ok(backup.deletedDate);
  });

  it('honours Idempotency-Key for 24 hours', async () => {
    const headers = { 'idempotency-key': 'key-1' };
    const first = await call('POST', B, {}, headers);
    const again = await call('POST', B, {}, headers);
    assert.equal(again.status, 200);
    assert.equal(again.body.backup.id, first.body.backup.id);
    await runJobs(env);
    const id = first.body.backup.id as string;
    const r1 = await call('POST', `${B}/${id}/restore`, {}, { 'idempotency-key': 'key-2' });
    const r2 = await call('POST', `${B}/${id}/restore`, {}, { 'idempotency-key': 'key-2' });
    assert.equal(r2.body.restoration.id, r1.body.restoration.id);
    await runJobs(env);
    await expectError(call('POST', `${B}/${id}/restore`, {}, headers), 400, 'INVALID_ARGUMENT');
    env.clock.advance(DAY + 1000);
    const later = await call('POST', B, {}, headers);
    assert.notEqual(later.body.backup.id, first.body.backup.id, 'an expired key starts new work');
    await runJobs(env);
  });

  it('enforces scopes: a create-only key cannot delete or restore; backups.manage can do all', async () => {
    const key = async (scopes: string[]) =>
      (
        await env.call('POST', '/_api/safekeep/v1/api-keys', {
          key: env.adminKey,
          body: { name: 'k', siteIds: [site.siteId], scopes },
        })
      ).body.secret as string;
    const createOnly = await key(['backups.create']);
    const reader = await key(['backups.read']);
    const manager = await key(['backups.manage']);
    const id = await readyBackup();
    const as = (k: string, method: string, path: string, body?: unknown) =>
      env.call(method, path, { key: k, body });
    await expectError(as(createOnly, 'DELETE', `${B}/${id}`), 403, 'PERMISSION_DENIED');
    await expectError(as(createOnly, 'POST', `${B}/${id}/restore`, {}), 403, 'PERMISSION_DENIED');
    await expectError(as(createOnly, 'GET', B), 403, 'PERMISSION_DENIED');
    await expectError(as(reader, 'POST', B, {}), 403, 'PERMISSION_DENIED');
    assert.equal((await as(reader, 'GET', B)).status, 200);
    const created = await as(createOnly, 'POST', B, {});
    assert.equal(created.status, 200);
    assert.equal((await as(manager, 'POST', `${B}/${created.body.backup.id}/cancel`, {})).status, 200);
    assert.equal((await as(manager, 'POST', `${B}/${id}/restore`, {})).status, 200);
    await runJobs(env);
  });
});
