/**
 * The SDK's admin clients (sites, settings, API keys, webhooks) and the admin extensions (session,
 * backup schedule, restore preview, health) against the server over real loopback HTTP; last, that
 * every admin route was reached and every answer matched the OpenAPI document.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SafekeepApiError, SafekeepClient, WEBHOOK_EVENT_TYPES, type Site } from '../../src/sdk/index.js';
import { webhookEventTypes } from '../../src/contracts/item-events.js';
import { runJobs } from '../helpers/backup-helpers.js';
import { startTestEnv, testStack, type TestEnv } from '../helpers/harness.js';
import { mismatches, recordingFetch, unreached, type Exchange } from './api-recorder.js';

const DAY = 24 * 60 * 60 * 1000;

const rejectsWith = async (
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
  return error;
};

describe('SafekeepClient: admin API and extensions', () => {
  let env: TestEnv;
  let baseUrl: string;
  let admin: SafekeepClient;
  let site: Site;
  const log: Exchange[] = [];
  const clientFor = (apiKey: string, siteId?: string) =>
    new SafekeepClient({ baseUrl, apiKey, siteId, fetch: recordingFetch(fetch, log) });

  before(async () => {
    env = await startTestEnv();
    baseUrl = `http://127.0.0.1:${await env.listen()}`;
    admin = clientFor(env.adminKey);
  });
  after(() => env.close());

  it('reports health without a key', async () => {
    const anonymous = new SafekeepClient({ baseUrl, apiKey: '', fetch: recordingFetch(fetch, log) });
    assert.deepEqual(await anonymous.health(), {
      status: 'ok',
      storage: testStack === 'scaleout' ? 'postgres' : 'sqlite',
    });
  });

  it('creates, lists and deletes sites', async () => {
    site = await admin.sites.create('Shop');
    env.clock.advance(1000);
    const doomed = await admin.sites.create('Doomed');
    assert.deepEqual(
      (await admin.sites.list()).map((s) => s.name),
      ['Shop', 'Doomed'],
    );
    await admin.sites.delete(doomed.id);
    await rejectsWith(admin.sites.delete(doomed.id), 404, 'SITE_NOT_FOUND');
    const invalid = await rejectsWith(admin.sites.create(''), 400, 'INVALID_ARGUMENT');
    assert.equal(invalid.fieldViolations[0]?.field, 'name');
  });

  it('reads and changes settings, and says when the next automatic backup is due', async () => {
    const quotas = {
      maxCollections: 1000,
      maxItems: 10_000_000,
      maxBackupBytes: 50 * 1024 ** 3,
      maxRequestBodyBytes: 64 * 1024 ** 2,
    };
    assert.deepEqual(await admin.sites.getSettings(site.id), {
      autoBackupIntervalDays: 7,
      autoBackupRetention: 4,
      ...quotas,
    });
    assert.deepEqual(await admin.sites.getSettingsAndUsage(site.id), {
      settings: { autoBackupIntervalDays: 7, autoBackupRetention: 4, ...quotas },
      usage: { collections: 0, items: 0, backupBytes: 0 },
    });
    const created = Date.parse(site.createdDate);
    const scoped = admin.withSite(site.id);
    assert.equal(
      (await scoped.backupSchedule()).nextAutoBackupDate,
      new Date(created + 7 * DAY).toISOString(),
    );

    assert.deepEqual(await admin.sites.updateSettings(site.id, { autoBackupIntervalDays: 3, maxItems: 5 }), {
      autoBackupIntervalDays: 3,
      autoBackupRetention: 4,
      ...quotas,
      maxItems: 5,
    });
    assert.equal((await admin.sites.updateSettings(site.id, { maxItems: null })).maxItems, 10_000_000);
    env.clock.advance(4 * DAY);
    assert.deepEqual(await scoped.backupSchedule(), {
      autoBackupIntervalDays: 3,
      autoBackupRetention: 4,
      nextAutoBackupDate: new Date(created + 6 * DAY).toISOString(),
    });
    const tooLong = await rejectsWith(
      admin.sites.updateSettings(site.id, { autoBackupIntervalDays: 400 }),
      400,
      'INVALID_ARGUMENT',
    );
    assert.equal(tooLong.fieldViolations[0]?.field, 'autoBackupIntervalDays');
    assert.equal(
      (await admin.sites.updateSettings(site.id, { autoBackupIntervalDays: null })).autoBackupIntervalDays,
      7,
    );
    await rejectsWith(admin.sites.getSettings('no-such-site'), 404, 'SITE_NOT_FOUND');
  });

  it('creates, lists and revokes keys; a key learns who it is from the session', async () => {
    const adminSession = await admin.session();
    assert.deepEqual(adminSession.apiKey.scopes, ['admin']);
    assert.deepEqual(
      adminSession.sites.map((s) => s.id),
      [site.id],
    );

    const { apiKey, secret } = await admin.apiKeys.create({
      name: 'shop admin',
      siteIds: [site.id],
      scopes: ['site.admin', 'backups.read'],
    });
    assert.match(secret, /^sk_/);
    assert.equal(apiKey.revokedDate, null);
    const siteAdmin = clientFor(secret);
    const session = await siteAdmin.session();
    assert.deepEqual(session, {
      apiKey: {
        id: apiKey.id,
        name: 'shop admin',
        siteIds: [site.id],
        scopes: ['site.admin', 'backups.read'],
        createdDate: apiKey.createdDate,
      },
      sites: [site],
    });
    await rejectsWith(siteAdmin.sites.list(), 403, 'PERMISSION_DENIED');
    await rejectsWith(
      siteAdmin.apiKeys.create({ name: 'escalate', siteIds: [], scopes: ['admin'] }),
      403,
      'PERMISSION_DENIED',
    );
    const minted = await siteAdmin.apiKeys.create({
      name: 'reader',
      siteIds: [site.id],
      scopes: ['data.read'],
    });
    assert.deepEqual((await siteAdmin.apiKeys.list()).map((k) => k.name).sort(), ['reader', 'shop admin']);
    assert.ok(
      (await admin.apiKeys.list()).some((k) => k.scopes.includes('admin')),
      'admin sees admin keys',
    );

    await siteAdmin.apiKeys.revoke(minted.apiKey.id);
    await rejectsWith(clientFor(minted.secret).session(), 401, 'UNAUTHENTICATED');
    await rejectsWith(admin.apiKeys.revoke('00000000-0000-4000-8000-000000000000'), 404, 'API_KEY_NOT_FOUND');
    const unknownScope = await rejectsWith(
      admin.apiKeys.create({ name: 'x', siteIds: [site.id], scopes: ['everything' as 'admin'] }),
      400,
      'INVALID_ARGUMENT',
    );
    assert.equal(unknownScope.fieldViolations[0]?.field, 'scopes[0]');
  });

  it('subscribes, lists and removes webhooks, and gives the signing key', async () => {
    assert.deepEqual(
      [...WEBHOOK_EVENT_TYPES],
      [...webhookEventTypes],
      'the SDK names the server’s event types',
    );
    const webhook = await admin.webhooks.create({
      siteId: site.id,
      url: 'https://example.com/safekeep',
      eventTypes: [...WEBHOOK_EVENT_TYPES],
    });
    assert.equal(webhook.siteId, site.id);
    assert.deepEqual(
      (await admin.webhooks.list(site.id)).map((w) => w.id),
      [webhook.id],
    );
    assert.equal((await admin.webhooks.list()).length, 1);
    await rejectsWith(
      admin.webhooks.create({ siteId: site.id, url: 'ftp://example.com', eventTypes: [] }),
      400,
      'INVALID_ARGUMENT',
    );
    assert.match(await admin.webhooks.publicKey(), /^-----BEGIN PUBLIC KEY-----/);
    await admin.webhooks.delete(webhook.id);
    await rejectsWith(admin.webhooks.delete(webhook.id), 404, 'WEBHOOK_NOT_FOUND');
  });

  it('previews a restore exactly as the restore would be checked, without starting it', async () => {
    const scoped = admin.withSite(site.id);
    await scoped.collections.create({ id: 'Books' });
    await scoped.collections.create({ id: 'Authors' });
    await scoped.collections.create({ id: 'Gone' });
    await scoped.collections.delete('Gone');
    assert.deepEqual(
      (await scoped.collections.listDeleted()).map((d) => d.collection.id),
      ['Gone'],
    );
    await scoped.items.bulkInsert('Books', [{ title: 'Dune' }, { title: 'Emma' }, { title: 'Ulysses' }]);
    await scoped.items.insert('Authors', { name: 'Austen' });
    const backup = await scoped.createBackup();
    await rejectsWith(scoped.previewRestore(backup.id), 428, 'BACKUP_NOT_READY');
    await runJobs(env);
    assert.equal((await scoped.getBackup(backup.id)).status, 'READY');
    await scoped.items.insert('Books', { title: 'Added later' });
    await scoped.items.truncate('Authors');

    const full = await scoped.previewRestore(backup.id);
    assert.equal(full.backupId, backup.id);
    assert.equal(full.problem, null);
    assert.deepEqual(
      full.collections.map((c) => [
        c.dataCollectionId,
        c.restoreDestination.dataCollectionId,
        c.destinationExists,
        c.itemsNowLive,
        c.itemsInBackup,
      ]),
      [
        ['Authors', 'Authors', true, 0, 1],
        ['Books', 'Books', true, 4, 3],
      ],
    );
    // The item added since leaves live data with the restore; nothing else changed.
    const books = full.collections.find((c) => c.dataCollectionId === 'Books');
    assert.equal(books?.itemsNotInBackup?.count, 1);
    assert.equal(books?.itemsChanged?.count, 0);
    const partial = await scoped.previewRestore(backup.id, [
      {
        dataCollectionId: 'Books',
        restoreDestination: { dataCollectionId: 'BooksCopy', displayName: 'Copy' },
      },
    ]);
    assert.deepEqual(partial.collections, [
      {
        dataCollectionId: 'Books',
        restoreDestination: { dataCollectionId: 'BooksCopy', displayName: 'Copy' },
        destinationExists: false,
        itemsNowLive: 0,
        itemsInBackup: 3,
        definition: {
          created: true,
          displayName: { from: null, to: 'Copy' },
          addedFields: [],
          changedFields: [],
          removedFields: [],
          viewsReplaced: false,
          permissionsReplaced: false,
          conflicts: [],
        },
        // A destination that does not exist loses nothing.
        itemsNotInBackup: { count: 0, firstIds: [] },
        itemsChanged: { count: 0, firstIds: [] },
      },
    ]);
    await rejectsWith(
      scoped.previewRestore(backup.id, [{ dataCollectionId: 'Nope' }]),
      400,
      'COLLECTION_NOT_IN_BACKUP',
    );
    await rejectsWith(
      scoped.previewRestore(backup.id, [
        { dataCollectionId: 'Books', restoreDestination: { dataCollectionId: 'Same' } },
        { dataCollectionId: 'Authors', restoreDestination: { dataCollectionId: 'Same' } },
      ]),
      400,
      'DUPLICATE_DESTINATION',
    );
    await rejectsWith(scoped.previewRestore('00000000-0000-4000-8000-000000000000'), 404, 'BACKUP_NOT_FOUND');
    assert.equal((await scoped.listRestorations()).pagingMetadata.total, 0, 'a preview starts nothing');

    // A backup whose stored manifest is gone: the preview says the restore would fail, and why.
    const record = await env.safekeep.storage.backups.getBackup(site.id, backup.id);
    assert.ok(record?.manifest);
    await env.safekeep.blobs.delete(record.manifest.key);
    const damaged = await scoped.previewRestore(backup.id);
    assert.equal(damaged.problem?.code, 'INTEGRITY_OBJECT_MISSING');
    assert.deepEqual(
      damaged.collections.map((c) => [c.itemsInBackup, c.definition]),
      [
        [null, null],
        [null, null],
      ],
    );
  });

  it("reads a site's backup storage and backup health", async () => {
    const scoped = admin.withSite(site.id);
    // The preview test removed its backup's manifest: that backup is named, not counted.
    const damaged = await scoped.backupStorage();
    assert.equal(damaged.unreadableBackupIds.length, 1);
    assert.equal(damaged.backups.length, 0);
    const fresh = await scoped.createBackup();
    await runJobs(env);
    const storage = await scoped.backupStorage();
    assert.deepEqual(
      storage.backups.map((b) => b.backupId),
      [fresh.id],
    );
    const [one] = storage.backups;
    assert.ok(one);
    assert.equal(storage.storedBytes, one.storedBytes, 'one readable backup: the site stores what it does');
    assert.equal(one.exclusiveBytes, one.storedBytes, 'and it alone holds all of it');
    assert.equal(one.storedBytes, (await scoped.getBackup(one.backupId)).sizeInBytes);
    const health = await scoped.backupHealth();
    assert.equal(health.siteId, site.id);
    assert.equal(health.state, 'OK');
    assert.ok(health.lastGoodBackupDate);
  });

  it('copies a READY backup to another site (trigger COPY)', async () => {
    const scoped = admin.withSite(site.id);
    // A fresh one: a test above damaged the stored content of earlier ones.
    const created = await scoped.createBackup();
    await runJobs(env);
    const ready = await scoped.getBackup(created.id);
    assert.equal(ready.status, 'READY');
    const target = await admin.sites.create('Copies');
    const copied = await admin.copyBackup(site.id, ready.id, target.id);
    assert.equal(copied.trigger, 'COPY');
    assert.equal(copied.status, 'READY');
    assert.equal(copied.itemCount, ready.itemCount);
    await rejectsWith(admin.copyBackup(site.id, ready.id, 'no-such-site'), 404, 'SITE_NOT_FOUND');
  });

  it('browses a backup and compares it with live data and with another backup (backupContents)', async () => {
    const browsed = await admin.sites.create('Browsed');
    const scoped = admin.withSite(browsed.id);
    await scoped.collections.create({ id: 'Notes' });
    await scoped.items.bulkInsert('Notes', [
      { _id: 'n1', text: 'one' },
      { _id: 'n2', text: 'two' },
      { _id: 'n3', text: 'three' },
    ]);
    const first = await scoped.createBackup();
    await runJobs(env);
    await scoped.items.update('Notes', { _id: 'n1', text: 'uno' });
    await scoped.items.remove('Notes', 'n2');
    await scoped.items.insert('Notes', { _id: 'n4', text: 'four' });
    const second = await scoped.createBackup();
    await runJobs(env);
    const contents = scoped.backupContents;
    const collections = await contents.collections(first.id);
    assert.deepEqual(
      collections.map((c) => [c.id, c.itemCount]),
      [['Notes', 3]],
    );
    const page = await contents.query(first.id, 'Notes', { sort: [{ fieldName: '_id', order: 'ASC' }] });
    assert.deepEqual(
      page.dataItems.map((i) => [i.id, i.data.text]),
      [
        ['n1', 'one'],
        ['n2', 'two'],
        ['n3', 'three'],
      ],
    );
    assert.equal((await contents.get(first.id, 'Notes', 'n2')).data.text, 'two');
    assert.equal(await contents.count(first.id, 'Notes', { text: 'three' }), 1);
    for (const against of ['live', second.id]) {
      const diff = await contents.diff(first.id, { against });
      const notes = diff.collections.find((c) => c.dataCollectionId === 'Notes');
      assert.deepEqual(
        notes && [notes.itemsAdded, notes.itemsRemoved, notes.itemsChanged],
        [1, 1, 1],
        `against ${against}`,
      );
      const changes = await contents.diffItems(first.id, 'Notes', { against });
      assert.deepEqual(
        changes.changes.map((c) => [c.dataItemId, c.change]),
        [
          ['n1', 'CHANGED'],
          ['n2', 'REMOVED'],
          ['n4', 'ADDED'],
        ],
      );
    }
    const one = await contents.diffItem(first.id, 'Notes', 'n1', { against: 'live' });
    assert.equal(one.change, 'CHANGED');
    assert.deepEqual(one.differingPaths, ['text']);
  });

  it('reached every admin route, and every answer matched the OpenAPI document', async () => {
    assert.deepEqual(unreached(env.app.declaredRoutes, log, ['/_api/safekeep/v1', '/healthz']), []);
    assert.deepEqual(await mismatches(env, log), []);
  });
});
