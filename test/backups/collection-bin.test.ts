/**
 * The collection bin (backups-api.md §6.6): a deleted collection — definition, LIVE and SANDBOX items, links
 * both ways — comes back whole through Wix's `restoreDataCollection` within the retention window, and is
 * purged by the sweeper after it. Driven through Wix's SDK packages over real HTTP; under test/backups, so
 * it runs on both stacks.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Environment } from '@wix/wix-data-items-sdk';
import { sweepOnce } from '../../src/jobs/generation-sweep-task.js';
import { contentOf, runJobs } from '../helpers/backup-helpers.js';
import { startTestEnv, wixDataClient, type TestEnv, type TestSite } from '../helpers/harness.js';

type Client = ReturnType<typeof wixDataClient>;
type Collection = Awaited<ReturnType<Client['collections']['getDataCollection']>>;

/**
 * The SDK's `restoreDataCollection`. The package's built code has it (it POSTs to
 * `/v2/collections/restore/{id}` and answers `{ dataCollection }`) though its public typings leave it out.
 */
function restoreDataCollection(client: Client, id: string): Promise<{ dataCollection?: Collection }> {
  const collections = client.collections as unknown as {
    restoreDataCollection(id: string): Promise<{ dataCollection?: Collection }>;
  };
  assert.equal(typeof collections.restoreDataCollection, 'function');
  return collections.restoreDataCollection(id);
}

const DAY = 24 * 60 * 60 * 1000;

/** The Wix error code of a rejected SDK call, with the HTTP status the SDK saw. */
async function rejection(promise: Promise<unknown>): Promise<{ code: string; status: number | undefined }> {
  try {
    await promise;
  } catch (error) {
    const e = error as { details?: { applicationError?: { code?: string } }; response?: { status?: number } };
    return { code: e.details?.applicationError?.code ?? 'NO_CODE', status: e.response?.status };
  }
  assert.fail('expected the call to be rejected');
}

describe('deleted collections are recoverable (Restore Data Collection)', () => {
  let env: TestEnv;
  let site: TestSite;
  let client: Client;
  let sandbox: ReturnType<Client['items']['withEnvironment']>;

  const admin = (method: string, path: string, body?: unknown) =>
    env.call(method, path, { key: site.apiKey, site: site.siteId, body });
  /** Runs the sweeper's steps until it finds nothing to do; returns the work done. */
  const sweepAll = async () => {
    const cutoff = () => env.clock.now() - env.safekeep.config.collectionBinMs;
    let total = 0;
    for (let round = 0; round < 10_000; round++) {
      const n = await sweepOnce(env.safekeep.storage.sweeper, { batchRows: 500, binCutoff: cutoff });
      if (n === 0) return total;
      total += n;
    }
    assert.fail('the sweeper did not finish');
  };
  /** The exact text the API answers for a query of every item of a collection in one environment. */
  const itemsText = async (collectionId: string, environment: 'LIVE' | 'SANDBOX') => {
    const res = await admin('POST', '/wix-data/v2/items/query', {
      dataCollectionId: collectionId,
      environment,
      query: { sort: [{ fieldName: '_id' }], paging: { limit: 1000 } },
    });
    assert.equal(res.status, 200, res.text);
    return res.text;
  };

  async function createShelf(books: number): Promise<void> {
    await client.collections.createDataCollection({
      _id: 'Books',
      displayName: 'Books',
      fields: [
        { key: 'title', displayName: 'Title', type: 'TEXT' },
        {
          key: 'authors',
          type: 'MULTI_REFERENCE',
          typeMetadata: { multiReference: { referencedCollectionId: 'Authors' } },
        },
      ],
      permissions: { insert: 'ADMIN', update: 'ADMIN', remove: 'ADMIN', read: 'ANYONE' },
    });
    for (let from = 0; from < books; from += 1000) {
      await client.items.bulkInsert(
        'Books',
        Array.from({ length: Math.min(1000, books - from) }, (_, i) => ({
          _id: `b${from + i}`,
          title: `Book ${from + i}`,
          n: (from + i) * 1.5,
        })),
      );
    }
    await sandbox.bulkInsert('Books', [{ _id: 'draft', title: 'Draft' }]);
    await client.items.insertReference('Books', 'authors', 'b0', ['herbert', 'asimov']);
    await client.items.insertReference('Reviews', 'book', 'r1', ['b0', 'b1']);
  }

  before(async () => {
    env = await startTestEnv();
    site = await env.createSite();
    const port = await env.listen();
    client = wixDataClient(port, site);
    sandbox = client.items.withEnvironment(Environment.SANDBOX);
    await client.collections.createDataCollection({ _id: 'Authors', displayName: 'Authors', fields: [] });
    await client.collections.createDataCollection({
      _id: 'Reviews',
      displayName: 'Reviews',
      fields: [
        {
          key: 'book',
          type: 'MULTI_REFERENCE',
          typeMetadata: { multiReference: { referencedCollectionId: 'Books' } },
        },
      ],
    });
    await client.items.bulkInsert('Authors', [{ _id: 'herbert' }, { _id: 'asimov' }]);
    await client.items.insert('Reviews', { _id: 'r1', stars: 5 });
  });

  after(() => env.close());

  it('brings a deleted collection back whole within the window: definition, both environments, links both ways', async () => {
    await createShelf(30);
    const definition = await client.collections.getDataCollection('Books');
    const before = {
      live: await contentOf(env, site.siteId, 'LIVE'),
      sandbox: await contentOf(env, site.siteId, 'SANDBOX'),
      liveText: await itemsText('Books', 'LIVE'),
      sandboxText: await itemsText('Books', 'SANDBOX'),
    };
    assert.equal(before.live.Reviews?.links.length, 2);

    await client.collections.deleteDataCollection('Books');
    assert.equal((await rejection(client.collections.getDataCollection('Books'))).code, 'WDE0025');
    assert.deepEqual((await contentOf(env, site.siteId)).Reviews?.links, [], 'links into it are hidden');

    const listed = await admin('GET', '/_api/safekeep/v1/deleted-collections');
    assert.equal(listed.status, 200, listed.text);
    const entry = listed.body.deletedCollections[0];
    assert.equal(entry.collection.id, 'Books');
    assert.deepEqual(
      entry.collection.fields.map((f: { key: string }) => f.key),
      ['_id', '_createdDate', '_updatedDate', '_owner', 'title', 'authors'],
    );
    assert.equal(entry.deletedDate, new Date(env.clock.now()).toISOString());
    assert.equal(entry.expirationDate, new Date(env.clock.now() + 30 * DAY).toISOString());

    // A day later, and after the sweeper ran: still whole.
    env.clock.advance(DAY);
    await sweepAll();
    const restored = await restoreDataCollection(client, 'Books');
    assert.equal(restored.dataCollection?._id, 'Books');
    assert.deepEqual(restored.dataCollection?.fields, definition.fields);
    assert.deepEqual(restored.dataCollection?.permissions, definition.permissions);
    assert.deepEqual(await client.collections.getDataCollection('Books'), definition);

    assert.equal(await itemsText('Books', 'LIVE'), before.liveText);
    assert.equal(await itemsText('Books', 'SANDBOX'), before.sandboxText);
    assert.deepEqual(await contentOf(env, site.siteId, 'LIVE'), before.live);
    assert.deepEqual(await contentOf(env, site.siteId, 'SANDBOX'), before.sandbox);
    assert.deepEqual(
      (await client.items.queryReferenced('Books', 'b0', 'authors')).items.map((i) => i._id),
      ['herbert', 'asimov'],
    );
    assert.deepEqual(
      (await client.items.queryReferenced('Reviews', 'r1', 'book')).items.map((i) => i._id),
      ['b0', 'b1'],
    );
    assert.equal((await sandbox.get('Books', 'draft'))?.title, 'Draft');
    const bin = await admin('GET', '/_api/safekeep/v1/deleted-collections');
    assert.deepEqual(bin.body.deletedCollections, []);
    await client.collections.deleteDataCollection('Books');
  });

  it('restores the most recently deleted copy of an id deleted twice, and refuses while the id is taken (409)', async () => {
    // The first test left a deleted Books of 30 items; a second one replaces it.
    await client.collections.createDataCollection({ _id: 'Books', displayName: 'Second', fields: [] });
    assert.deepEqual(await rejection(restoreDataCollection(client, 'Books')), {
      code: 'COLLECTION_ALREADY_EXISTS',
      status: 409,
    });
    await client.items.insert('Books', { _id: 'only' });
    await client.collections.deleteDataCollection('Books');
    const restored = await restoreDataCollection(client, 'Books');
    assert.equal(restored.dataCollection?.displayName, 'Second');
    assert.deepEqual(
      (await client.items.query('Books').find()).items.map((i) => i._id),
      ['only'],
    );
    assert.deepEqual(
      await rejection(restoreDataCollection(client, 'Books')),
      { code: 'WDE0025', status: 404 },
      'the older copy is not restorable',
    );
    await client.collections.deleteDataCollection('Books');
  });

  it('answers 404 WDE0025 for an id that never existed, on every route that serves it', async () => {
    assert.deepEqual(await rejection(restoreDataCollection(client, 'Nope')), {
      code: 'WDE0025',
      status: 404,
    });
    for (const prefix of ['/wix-data/v2', '/_api/cloud-data/v2', '/data/v2']) {
      const res = await admin('POST', `${prefix}/collections/restore/Nope`, {});
      assert.equal(res.status, 404, `${prefix}: ${res.text}`);
      assert.equal(res.body.details.applicationError.code, 'WDE0025');
    }
    const bodiless = await admin('POST', '/wix-data/v2/collections/restore/Nope');
    assert.equal(bodiless.status, 404, `a request without a body is answered too: ${bodiless.text}`);
    const mismatch = await admin('POST', '/wix-data/v2/collections/restore/Books', { dataCollectionId: 'X' });
    assert.equal(mismatch.status, 400);
    assert.equal(mismatch.body.details.validationError.fieldViolations[0].field, 'dataCollectionId');
    // Restoring needs collections.manage; a read-only key is refused before anything is looked up.
    const reader = await env.safekeep.services.admin.createApiKey({
      name: 'reader',
      siteIds: [site.siteId],
      scopes: ['data.read'],
    });
    const refused = await env.call('POST', '/wix-data/v2/collections/restore/Books', {
      key: reader.secret,
      body: {},
    });
    assert.equal(refused.status, 403);
  });

  it('a backup taken while a collection is in the bin does not hold it', async () => {
    assert.equal(
      (await admin('GET', '/_api/safekeep/v1/deleted-collections')).body.deletedCollections[0]?.collection.id,
      'Books',
    );
    const created = await admin('POST', '/wix-data/v2/backups', {});
    assert.equal(created.status, 200, created.text);
    await runJobs(env);
    const backup = await admin('GET', `/wix-data/v2/backups/${created.body.backup.id}`);
    assert.equal(backup.body.backup.status, 'READY', backup.text);
    const held = (backup.body.backup.collections as { id: string }[]).map((c) => c.id).sort();
    assert.deepEqual(held, ['Authors', 'Reviews']);
  });

  it('after the window: WDE0025, and the sweeper purges the data', async () => {
    await createShelf(1200);
    await client.collections.deleteDataCollection('Books');
    env.clock.advance(30 * DAY - 1);
    assert.equal(
      (await admin('GET', '/_api/safekeep/v1/deleted-collections')).body.deletedCollections.length,
      1,
    );
    env.clock.advance(2);
    assert.deepEqual(await rejection(restoreDataCollection(client, 'Books')), {
      code: 'WDE0025',
      status: 404,
    });
    assert.deepEqual(
      (await admin('GET', '/_api/safekeep/v1/deleted-collections')).body.deletedCollections,
      [],
    );
    const swept = await sweepAll();
    assert.ok(swept >= 1200, `the sweeper reclaimed the expired items (${swept} rows)`);
    assert.equal(await sweepAll(), 0);
    // The id is free and nothing of the old copy comes back with it.
    await client.collections.createDataCollection({ _id: 'Books', displayName: 'Fresh', fields: [] });
    assert.equal(await client.items.query('Books').count(), 0);
  });

  it('deleting the site purges its bin', async () => {
    await client.items.bulkInsert(
      'Books',
      Array.from({ length: 700 }, (_, i) => ({ _id: `x${i}` })),
    );
    await client.collections.deleteDataCollection('Books');
    await sweepAll();
    const deleted = await env.call('DELETE', `/_api/safekeep/v1/sites/${site.siteId}`, { key: env.adminKey });
    assert.equal(deleted.status, 200, deleted.text);
    const swept = await sweepAll();
    assert.ok(swept >= 700, `the binned items were reclaimed with the site (${swept} rows)`);
    assert.deepEqual(await env.safekeep.storage.collections.listDeleted(site.siteId, 0), []);
  });
});
