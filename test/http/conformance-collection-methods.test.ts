/**
 * Conformance: every method of @wix/auto_sdk_data_collections beyond create/get/update/delete, through the
 * SDK over real loopback HTTP, against what Wix documents (each test cites its page), on the stack
 * SAFEKEEP_TEST_STACK names. Out-of-scope methods (item drafts, collection plugins) are refused with a
 * documented code.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Environment } from '@wix/wix-data-items-sdk';
import * as collectionsModule from '@wix/auto_sdk_data_collections';
import { startTestEnv, wixDataClient, type TestEnv, type TestSite } from '../helpers/harness.js';

type Client = ReturnType<typeof wixDataClient>;

/** The HTTP status and code of a rejected SDK call (validation errors carry no application code). */
async function refusal(promise: Promise<unknown>): Promise<{ status: number | undefined; code: string }> {
  try {
    await promise;
  } catch (error) {
    const e = error as {
      details?: { applicationError?: { code?: string }; validationError?: unknown };
      response?: { status?: number };
    };
    const code =
      e.details?.applicationError?.code ??
      (e.details?.validationError === undefined ? 'NO_CODE' : 'INVALID_ARGUMENT');
    return { status: e.response?.status, code };
  }
  assert.fail('expected the call to be rejected');
}

const systemKeys = ['_id', '_createdDate', '_updatedDate', '_owner'];

describe('Data Collections methods through the Wix SDK', () => {
  let env: TestEnv;
  let site: TestSite;
  let client: Client;

  before(async () => {
    env = await startTestEnv();
    const port = await env.listen();
    site = await env.createSite();
    client = wixDataClient(port, site);
  });

  after(() => env.close());

  /** The collection as stored, read over plain HTTP (no SDK transformation in between). */
  async function rawCollection(id: string): Promise<any> {
    const res = await env.call('GET', `/wix-data/v2/collections/${encodeURIComponent(id)}`, {
      key: site.apiKey,
    });
    assert.equal(res.status, 200, res.text);
    return res.body.collection;
  }

  // https://dev.wix.com/docs/api-reference/business-solutions/cms/collection-management/data-collections/data-collection-object
  it('returns the read-only parts of the collection object: capabilities, maxPageSize, pagingModes, system fields', async () => {
    const created = await client.collections.createDataCollection({
      _id: 'Shaped',
      displayName: 'Shaped',
      fields: [{ key: 'title', type: 'TEXT' }],
    });
    const got = await client.collections.getDataCollection('Shaped');
    for (const collection of [created, got]) {
      assert.equal(collection.maxPageSize, 1000);
      assert.deepEqual(collection.pagingModes, ['OFFSET', 'CURSOR']);
      assert.deepEqual(collection.capabilities?.collectionOperations, ['UPDATE', 'REMOVE']);
      for (const op of ['INSERT', 'GET', 'FIND', 'COUNT', 'BULK_SAVE', 'TRUNCATE', 'QUERY_REFERENCED']) {
        assert.ok(collection.capabilities?.dataOperations?.includes(op as never), op);
      }
      assert.deepEqual(
        collection.fields?.map((f) => [f.key, f.type, f.systemField ?? false]),
        [
          ['_id', 'TEXT', true],
          ['_createdDate', 'DATETIME', true],
          ['_updatedDate', 'DATETIME', true],
          ['_owner', 'TEXT', true],
          ['title', 'TEXT', false],
        ],
      );
      assert.ok(collection._createdDate instanceof Date, 'dates come back as Date');
      assert.equal(typeof collection.revision, 'string');
    }

    // Sent back whole (read-only parts and system fields included), it is accepted and nothing of that
    // is stored: the system fields are listed once, and a stored maxPageSize cannot be set.
    const updated = await client.collections.updateDataCollection({ ...got, maxPageSize: 5 });
    assert.equal(updated.revision, '2');
    assert.equal(updated.maxPageSize, 1000);
    const raw = await rawCollection('Shaped');
    assert.deepEqual(
      raw.fields.map((f: { key: string }) => f.key),
      [...systemKeys, 'title'],
    );
  });

  // https://dev.wix.com/docs/sdk/backend-modules/data/collections/list-data-collections
  it('lists with sort, paging and fields, with paging metadata', async () => {
    const names = { ListA: 'delta', ListB: 'alpha', ListC: 'charlie', ListD: 'bravo' };
    for (const [id, displayName] of Object.entries(names)) {
      await client.collections.createDataCollection({
        _id: id,
        displayName,
        fields: [
          { key: 'title', type: 'TEXT' },
          { key: 'price', type: 'NUMBER' },
        ],
      });
    }
    const mine = (ids: (string | undefined)[] | undefined) =>
      (ids ?? []).filter((id) => id?.startsWith('List'));

    const byId = await client.collections.listDataCollections();
    assert.deepEqual(mine(byId.collections?.map((c) => c._id)), ['ListA', 'ListB', 'ListC', 'ListD']);

    const byNameDesc = await client.collections.listDataCollections({
      sort: { fieldName: 'displayName', order: 'DESC' },
    });
    assert.deepEqual(
      byNameDesc.collections?.map((c) => c.displayName).filter((n) => Object.values(names).includes(n ?? '')),
      ['delta', 'charlie', 'bravo', 'alpha'],
    );

    const total = byId.pagingMetadata?.total ?? 0;
    assert.equal(byId.pagingMetadata?.count, total);
    const page = await client.collections.listDataCollections({
      sort: { fieldName: '_id', order: 'DESC' },
      paging: { limit: 2, offset: 1 },
    });
    const allDesc = (byId.collections ?? []).map((c) => c._id).reverse();
    assert.deepEqual(
      page.collections?.map((c) => c._id),
      allDesc.slice(1, 3),
    );
    assert.equal(page.pagingMetadata?.count, 2);
    assert.equal(page.pagingMetadata?.offset, 1);
    assert.equal(page.pagingMetadata?.total, total);
    assert.equal(typeof page.pagingMetadata?.total, 'number');

    const projected = await client.collections.listDataCollections({ fields: ['price', '_id'] });
    for (const c of projected.collections ?? []) {
      if (!c._id?.startsWith('List')) continue;
      assert.deepEqual(
        c.fields?.map((f) => f.key),
        ['_id', 'price'],
        `${c._id} keeps only the fields asked for`,
      );
    }
    const one = await client.collections.getDataCollection('ListA', { fields: ['title'] });
    assert.deepEqual(
      one.fields?.map((f) => f.key),
      ['title'],
    );

    assert.deepEqual(
      await refusal(client.collections.listDataCollections({ sort: { fieldName: 'fields' } })),
      { status: 400, code: 'INVALID_ARGUMENT' },
    );
  });

  // https://dev.wix.com/docs/sdk/backend-modules/data/collections/patch-data-collection
  it('patches only the properties given, checks a revision sent, and increments it', async () => {
    await client.collections.createDataCollection({
      _id: '@acme/app/Patched',
      displayName: 'Before',
      fields: [{ key: 'title', type: 'TEXT' }],
      permissions: { insert: 'ADMIN', update: 'ADMIN', remove: 'ADMIN', read: 'ANYONE' },
    });
    const { dataCollection: patched } = await client.collections.patchDataCollection('@acme/app/Patched', {
      displayName: 'After',
      displayField: 'title',
    });
    assert.equal(patched?._id, '@acme/app/Patched');
    assert.equal(patched?.displayName, 'After');
    assert.equal(patched?.displayField, 'title');
    assert.equal(patched?.revision, '2');
    assert.equal(patched?.permissions?.read, 'ANYONE', 'what was not sent is kept');
    assert.deepEqual(
      patched?.fields?.map((f) => f.key),
      [...systemKeys, 'title'],
    );
    assert.ok(patched?._updatedDate instanceof Date);

    const again = await client.collections.patchDataCollection('@acme/app/Patched', {
      permissions: { insert: 'ADMIN', update: 'ADMIN', remove: 'ADMIN', read: 'SITE_MEMBER' },
      revision: '2',
    });
    assert.equal(again.dataCollection?.permissions?.read, 'SITE_MEMBER');
    assert.equal(again.dataCollection?.revision, '3');

    assert.deepEqual(
      await refusal(
        client.collections.patchDataCollection('@acme/app/Patched', { displayName: 'stale', revision: '2' }),
      ),
      { status: 409, code: 'REVISION_MISMATCH' },
    );
    assert.deepEqual(
      await refusal(client.collections.patchDataCollection('@acme/app/Patched', { fields: [] })),
      { status: 400, code: 'INVALID_ARGUMENT' },
      'fields change through the field methods',
    );
    assert.deepEqual(await refusal(client.collections.patchDataCollection('Nope', { displayName: 'x' })), {
      status: 404,
      code: 'WDE0025',
    });
    assert.equal((await client.collections.getDataCollection('@acme/app/Patched')).displayName, 'After');
  });

  // https://dev.wix.com/docs/sdk/backend-modules/data/collections/create-data-collection-field
  // https://dev.wix.com/docs/sdk/backend-modules/data/collections/update-data-collection-field
  // https://dev.wix.com/docs/sdk/backend-modules/data/collections/patch-data-collection-field
  // https://dev.wix.com/docs/sdk/backend-modules/data/collections/delete-data-collection-field
  it('creates, updates, patches and deletes fields, each a new revision, in both environments', async () => {
    const id = '@acme/app/Fielded';
    await client.collections.createDataCollection({
      _id: id,
      displayName: 'Fielded',
      fields: [{ key: 'title', type: 'TEXT' }],
    });
    await client.items.insert(id, { _id: 'live', title: 'L', price: 3 });
    await client.items.withEnvironment(Environment.SANDBOX).insert(id, { _id: 'sandbox', price: 4 });

    const created = await client.collections.createDataCollectionField(id, {
      field: { key: 'price', displayName: 'Price', type: 'NUMBER', description: 'in EUR' },
    });
    assert.equal(created.dataCollection?.revision, '2');
    assert.deepEqual(
      created.dataCollection?.fields?.map((f) => f.key),
      [...systemKeys, 'title', 'price'],
    );
    assert.deepEqual(
      await refusal(
        client.collections.createDataCollectionField(id, { field: { key: 'price', type: 'TEXT' } }),
      ),
      { status: 409, code: 'FIELD_ALREADY_EXISTS' },
    );
    assert.deepEqual(
      await refusal(
        client.collections.createDataCollectionField(id, { field: { key: '_owner', type: 'TEXT' } }),
      ),
      { status: 400, code: 'INVALID_ARGUMENT' },
      'a system field cannot be declared',
    );

    const patched = await client.collections.patchDataCollectionField(id, {
      key: 'price',
      displayName: 'Price (EUR)',
    });
    const price = patched.dataCollection?.fields?.find((f) => f.key === 'price');
    assert.equal(price?.displayName, 'Price (EUR)');
    assert.equal(price?.description, 'in EUR', 'patch keeps what it was not given');
    assert.equal(price?.type, 'NUMBER');
    assert.equal(patched.dataCollection?.revision, '3');

    const updated = await client.collections.updateDataCollectionField(id, {
      field: { key: 'price', type: 'TEXT' },
    });
    const replaced = updated.dataCollection?.fields?.find((f) => f.key === 'price');
    assert.equal(replaced?.type, 'TEXT');
    assert.equal(replaced?.description, undefined, 'update replaces the field whole');
    assert.equal(updated.dataCollection?.revision, '4');

    const deleted = await client.collections.deleteDataCollectionField(id, { fieldKey: 'title' });
    assert.deepEqual(
      deleted.dataCollection?.fields?.map((f) => f.key),
      [...systemKeys, 'price'],
    );
    assert.equal(deleted.dataCollection?.revision, '5');
    // The schema describes, it does not constrain: items of both environments keep their values.
    assert.equal((await client.items.get(id, 'live'))?.title, 'L');
    assert.equal((await client.items.withEnvironment(Environment.SANDBOX).get(id, 'sandbox'))?.price, 4);

    for (const call of [
      () => client.collections.updateDataCollectionField(id, { field: { key: 'title', type: 'TEXT' } }),
      () => client.collections.patchDataCollectionField(id, { key: 'title', displayName: 'x' }),
      () => client.collections.deleteDataCollectionField(id, { fieldKey: 'title' }),
    ]) {
      assert.deepEqual(await refusal(call()), { status: 404, code: 'FIELD_NOT_FOUND' });
    }
    assert.deepEqual(await refusal(client.collections.deleteDataCollectionField(id, { fieldKey: '_id' })), {
      status: 400,
      code: 'INVALID_ARGUMENT',
    });
    assert.deepEqual(
      await refusal(
        client.collections.createDataCollectionField('Nope', { field: { key: 'a', type: 'TEXT' } }),
      ),
      { status: 404, code: 'WDE0025' },
    );
    assert.deepEqual(
      await refusal(client.collections.patchDataCollectionField(id, { key: 'price', type: 'NOPE' as never })),
      { status: 400, code: 'INVALID_ARGUMENT' },
    );
    assert.equal((await client.collections.getDataCollection(id)).revision, '5', 'refusals change nothing');
  });

  // The field methods carry no revision: concurrent ones must all land, none lost to another's write.
  it('applies concurrent field changes one after the other, losing none', async () => {
    await client.collections.createDataCollection({ _id: 'Busy', displayName: 'Busy', fields: [] });
    const keys = ['a', 'b', 'c', 'd', 'e'];
    await Promise.all(
      keys.map((key) =>
        client.collections.createDataCollectionField('Busy', { field: { key, type: 'TEXT' } }),
      ),
    );
    const busy = await client.collections.getDataCollection('Busy');
    assert.deepEqual(
      busy.fields
        ?.filter((f) => !f.systemField)
        .map((f) => f.key)
        .sort(),
      keys,
    );
    assert.equal(busy.revision, String(1 + keys.length));
  });

  // https://dev.wix.com/docs/sdk/backend-modules/data/items/query-referenced-items
  it('queryReferencedItems returns the referenced items, whole, with paging metadata', async () => {
    await client.collections.createDataCollection({ _id: 'Writers', displayName: 'Writers', fields: [] });
    await client.collections.createDataCollection({
      _id: 'Novels',
      displayName: 'Novels',
      fields: [
        {
          key: 'writers',
          type: 'MULTI_REFERENCE',
          typeMetadata: { multiReference: { referencedCollectionId: 'Writers' } },
        },
      ],
    });
    await client.items.bulkInsert('Writers', [
      { _id: 'w1', name: 'One' },
      { _id: 'w2', name: 'Two' },
    ]);
    await client.items.insert('Novels', { _id: 'n1' });
    await client.items.insertReference('Novels', 'writers', 'n1', ['w2', 'w1']);
    const page = await client.items.queryReferencedItems('Novels', 'n1', 'writers');
    assert.deepEqual(
      page.results.map((r) => [r.item?._id, r.item?.name]),
      [
        ['w2', 'Two'],
        ['w1', 'One'],
      ],
    );
    assert.equal(page.pagingMetadata?.count, 2);
    assert.equal(page.pagingMetadata?.hasNext, false);
  });

  // https://dev.wix.com/docs/api-reference/business-solutions/cms/collection-management/data-collections/introduction
  it('answers 404 WDE0025 for a missing collection on every data route', async () => {
    const sandbox = client.items.withEnvironment(Environment.SANDBOX);
    const calls: [string, () => Promise<unknown>][] = [
      ['getDataCollection', () => client.collections.getDataCollection('Missing')],
      ['deleteDataCollection', () => client.collections.deleteDataCollection('Missing')],
      [
        'updateDataCollection',
        () => client.collections.updateDataCollection({ _id: 'Missing', revision: '1' }),
      ],
      ['items.insert', () => client.items.insert('Missing', { a: 1 })],
      ['items.query (SANDBOX)', () => sandbox.query('Missing').find()],
      ['items.count', () => client.items.query('Missing').count()],
    ];
    for (const [name, call] of calls) {
      const { status, code } = await refusal(call());
      assert.equal(code, 'WDE0025', name);
      // The items module's errors carry no HTTP status; the collections module's do.
      if (!name.startsWith('items.')) assert.equal(status, 404, name);
    }
    const res = await env.call('POST', '/_api/cloud-data/v2/items/query', {
      key: site.apiKey,
      body: { dataCollectionId: 'Missing', environment: 'SANDBOX' },
    });
    assert.equal(res.status, 404);
    assert.equal(res.body.details.applicationError.code, 'WDE0025');
  });

  // Out of scope: https://dev.wix.com/docs/sdk/backend-modules/data/items/create-data-item-draft and the
  // collection plugin methods (https://dev.wix.com/docs/sdk/backend-modules/data/collections/add-data-collection-plugin).
  it('refuses item drafts and collection plugins with 400 UNSUPPORTED_OPERATION, changing nothing', async () => {
    await client.collections.createDataCollection({ _id: 'Plain', displayName: 'Plain', fields: [] });
    await client.items.insert('Plain', { _id: 'one', n: 1 });
    const drafts: [string, () => Promise<unknown>][] = [
      ['createDataItemDraft', () => client.items.createDataItemDraft('Plain', 'one')],
      ['publishDataItemDraft', () => client.items.publishDataItemDraft('Plain', 'one')],
      ['unpublishDataItem', () => client.items.unpublishDataItem('Plain', 'one')],
    ];
    const pluginMethods = [
      'addDataCollectionPlugin',
      'deleteDataCollectionPlugin',
      'addPublishPlugin',
      'deletePublishPlugin',
      'addUrlizedPlugin',
      'deleteUrlizedPlugin',
      'addMultilingualPlugin',
      'deleteMultilingualPlugin',
      'addCmsPlugin',
      'deleteCmsPlugin',
      'addCatalogPlugin',
      'deleteCatalogPlugin',
      'addDraftItemsPlugin',
      'deleteDraftItemsPlugin',
    ];
    assert.deepEqual(
      Object.keys(collectionsModule)
        .filter((name) => /Plugin$/.test(name))
        .sort(),
      [...pluginMethods].sort(),
      'every plugin method the module exports',
    );
    const collections = client.collections as unknown as Record<
      string,
      (id: string, options: object) => Promise<unknown>
    >;
    const plugins = pluginMethods.map((name): [string, () => Promise<unknown>] => [
      name,
      () => collections[name]!('Plain', {}),
    ]);
    for (const [name, call] of drafts)
      assert.equal((await refusal(call())).code, 'UNSUPPORTED_OPERATION', name);
    for (const [name, call] of plugins) {
      assert.deepEqual(await refusal(call()), { status: 400, code: 'UNSUPPORTED_OPERATION' }, name);
    }
    for (const [path, method] of [
      ['/_api/cloud-data/v2/items/create-draft', 'createDataItemDraft'],
      ['/wix-data/v2/items/publish-draft', 'publishDataItemDraft'],
      ['/wix-data/v2/items/unpublish', 'unpublishDataItem'],
    ] as const) {
      const res = await env.call('POST', path, {
        key: site.apiKey,
        body: { dataCollectionId: 'Plain', itemId: 'one' },
      });
      assert.equal(res.status, 400, path);
      assert.equal(res.body.details.applicationError.code, 'UNSUPPORTED_OPERATION');
      assert.equal(res.body.details.applicationError.data.operation, method);
      assert.match(res.body.message, /WIX-COMPATIBILITY/);
    }
    const anonymous = await env.call('POST', '/wix-data/v2/collections/add-plugin', { body: {} });
    assert.equal(anonymous.status, 401, 'authenticated like any other route');
    assert.equal((await client.collections.getDataCollection('Plain')).revision, '1');
    assert.equal((await client.items.get('Plain', 'one'))?.n, 1);
  });
});
