/** Conformance: @wix/auto_sdk_data_collections drives the Data Collections API over real HTTP. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Environment } from '@wix/wix-data-items-sdk';
import { startTestEnv, wixDataClient, type TestEnv } from '../helpers/harness.js';

type Client = ReturnType<typeof wixDataClient>;

async function rejectionCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (
      (error as { details?: { applicationError?: { code?: string } } }).details?.applicationError?.code ??
      'NO_CODE'
    );
  }
  assert.fail('expected the call to be rejected');
}

describe('Data Collections API through the Wix SDK', () => {
  let env: TestEnv;
  let client: Client;

  before(async () => {
    env = await startTestEnv();
    const port = await env.listen();
    client = wixDataClient(port, await env.createSite());
  });

  after(() => env.close());

  it('creates, gets, lists, updates and deletes collections', async () => {
    const fields = [
      { key: 'title', displayName: 'Title', type: 'TEXT' as const },
      { key: 'price', type: 'NUMBER' as const },
    ];
    const created = await client.collections.createDataCollection({
      _id: 'Products',
      displayName: 'Products',
      fields,
      permissions: { insert: 'ADMIN', update: 'ADMIN', remove: 'ADMIN', read: 'ANYONE' },
    });
    assert.equal(created._id, 'Products');
    assert.equal(created.revision, '1');
    assert.equal(created.collectionType, 'NATIVE');
    assert.deepEqual(
      created.fields?.map((f) => f.key),
      ['_id', '_createdDate', '_updatedDate', '_owner', 'title', 'price'],
    );

    const got = await client.collections.getDataCollection('Products');
    assert.equal(got.displayName, 'Products');
    assert.equal(got.permissions?.read, 'ANYONE');

    await client.collections.createDataCollection({
      _id: '@acme/app/Orders',
      displayName: 'Orders',
      fields: [],
    });
    const appCollection = await client.collections.getDataCollection('@acme/app/Orders');
    assert.equal(appCollection._id, '@acme/app/Orders');

    const listed = await client.collections.listDataCollections();
    assert.deepEqual(
      listed.collections?.map((c) => c._id),
      ['@acme/app/Orders', 'Products'],
    );
    const paged = await client.collections.listDataCollections({ paging: { limit: 1, offset: 1 } });
    assert.deepEqual(
      paged.collections?.map((c) => c._id),
      ['Products'],
    );

    const updated = await client.collections.updateDataCollection({ ...got, displayName: 'All products' });
    assert.equal(updated.displayName, 'All products');
    assert.equal(updated.revision, '2');
    assert.equal(
      await rejectionCode(client.collections.updateDataCollection({ ...got, displayName: 'stale' })),
      'REVISION_MISMATCH',
    );

    await client.collections.deleteDataCollection('Products');
    assert.equal(await rejectionCode(client.collections.getDataCollection('Products')), 'WDE0025');
    assert.equal(await rejectionCode(client.collections.deleteDataCollection('Products')), 'WDE0025');
  });

  it('refuses a second collection with the same id', async () => {
    await client.collections.createDataCollection({ _id: 'Twice', displayName: 'Twice', fields: [] });
    assert.equal(
      await rejectionCode(
        client.collections.createDataCollection({ _id: 'Twice', displayName: 'Twice', fields: [] }),
      ),
      'COLLECTION_ALREADY_EXISTS',
    );
  });

  it('deleting a collection deletes its items in both environments', async () => {
    await client.collections.createDataCollection({ _id: 'Gone', displayName: 'Gone', fields: [] });
    await client.items.insert('Gone', { _id: 'x' });
    await client.items.withEnvironment(Environment.SANDBOX).insert('Gone', { _id: 'y' });
    await client.collections.deleteDataCollection('Gone');
    assert.equal(await rejectionCode(client.items.query('Gone').find()), 'WDE0025');
    await client.collections.createDataCollection({ _id: 'Gone', displayName: 'Gone again', fields: [] });
    assert.equal(await client.items.query('Gone').count(), 0);
    assert.equal(await client.items.get('Gone', 'x'), null);
  });

  it('keeps named views (extension) and validates their filters', async () => {
    const res = await env.call('POST', '/wix-data/v2/collections', {
      key: (await env.createSite()).apiKey,
      body: {
        collection: {
          id: 'Viewed',
          fields: [],
          views: [
            { name: 'cheap', filter: { price: { $lt: 10 } }, sort: [{ fieldName: 'price', order: 'ASC' }] },
          ],
        },
      },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.collection.views, [
      { name: 'cheap', filter: { price: { $lt: 10 } }, sort: [{ fieldName: 'price', order: 'ASC' }] },
    ]);
    const bad = await env.call('POST', '/wix-data/v2/collections', {
      key: (await env.createSite()).apiKey,
      body: { collection: { id: 'BadView', views: [{ name: 'x', filter: { price: { $regex: 'a' } } }] } },
    });
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /unknown operator \$regex/);
  });
});
