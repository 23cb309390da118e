/**
 * Conformance: patch, bulk patch and `condition` (on update, save, patch and remove) through Wix's own SDK (@wix/sdk + @wix/wix-data-items-sdk)
 * over real HTTP on loopback, as Wix documents them:
 * - Patch Data Item: https://dev.wix.com/docs/rest/business-solutions/cms/data-items/patch-data-item
 * - Bulk Patch Data Items: https://dev.wix.com/docs/rest/business-solutions/cms/data-items/bulk-patch-data-items
 * - SDK patch()/bulkPatch() and run({ condition }):
 *   https://dev.wix.com/docs/sdk/data-items-sdk/data/items/patch.md,
 *   https://dev.wix.com/docs/sdk/data-items-sdk/data/items/wix-data-patch/run.md
 * - SDK remove()/bulkRemove() with `options.condition` (sent as `condition.filter` in the request body)
 * Wix documents no error code for an unmet condition; safekeep answers 409 CONDITION_NOT_MET.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestEnv, wixDataClient, type TestEnv, type TestSite } from '../helpers/harness.js';
import { rejectionCode, violatedField } from '../helpers/wix-rejection.js';

type Client = ReturnType<typeof wixDataClient>;

describe('patch, bulk patch and condition through the Wix SDK', () => {
  let env: TestEnv;
  let site: TestSite;
  let client: Client;
  const published = new Date('1965-08-01T00:00:00.000Z');

  before(async () => {
    env = await startTestEnv();
    const port = await env.listen();
    site = await env.createSite();
    client = wixDataClient(port, site);
    await client.collections.createDataCollection({ _id: 'Books', displayName: 'Books', fields: [] });
  });

  after(() => env.close());

  it('patches named fields in order and leaves the others, keeping owner and creation date', async () => {
    const created = await client.items.insert('Books', {
      _id: 'p1',
      title: 'Dune',
      pages: 400,
      tags: ['sf', 'old', 'sf'],
      published,
      meta: { keep: true },
    });
    env.clock.advance(1000);
    const patched = await client.items
      .patch('Books', 'p1')
      .setField('title', 'Dune Messiah')
      .incrementField('pages', 12)
      .appendToArray('tags', 'classic')
      .removeFromArray('tags', 'sf')
      .setField('meta.when', published)
      .run();
    assert.equal(patched._id, 'p1');
    assert.equal(patched.title, 'Dune Messiah');
    assert.equal(patched.pages, 412);
    assert.deepEqual(patched.tags, ['old', 'classic']);
    assert.ok(patched.published instanceof Date);
    assert.deepEqual(patched.published, published);
    assert.deepEqual(patched.meta, { keep: true, when: published });
    assert.deepEqual(patched._createdDate, created._createdDate);
    assert.equal((patched._updatedDate as Date).getTime(), (created._createdDate as Date).getTime() + 1000);
    assert.equal(patched._owner, created._owner);
    const got = await client.items.get('Books', 'p1');
    assert.deepEqual(got, patched);
  });

  it('increments a missing field from zero and appends to a missing array', async () => {
    await client.items.insert('Books', { _id: 'p2', title: 'Emma' });
    const patched = await client.items.patch('Books', 'p2', [
      { fieldPath: 'reads', action: 'INCREMENT_FIELD', value: 3 },
      { fieldPath: 'shelves', action: 'APPEND_TO_ARRAY', value: 'home' },
    ]);
    assert.equal(patched.reads, 3);
    assert.deepEqual(patched.shelves, ['home']);
  });

  it('removes a field, through the builder and the direct form', async () => {
    await client.items.insert('Books', { _id: 'p3', title: 'Ulysses', draft: true, note: 'n' });
    const patched = await client.items.patch('Books', 'p3').removeField('draft').run();
    assert.equal('draft' in patched, false);
    assert.equal(patched.title, 'Ulysses');
    const direct = await client.items.patch('Books', 'p3', [{ fieldPath: 'note', action: 'REMOVE_FIELD' }]);
    assert.deepEqual(
      Object.keys(direct).filter((k) => !k.startsWith('_')),
      ['title'],
    );
  });

  it('answers WDE0073 for a missing item, and 400 for a modification that does not fit', async () => {
    assert.equal(
      await rejectionCode(client.items.patch('Books', 'no-such').setField('title', 'x').run()),
      'WDE0073',
    );
    await client.items.insert('Books', { _id: 'p4', title: 'text' });
    assert.equal(
      await violatedField(client.items.patch('Books', 'p4').incrementField('title', 1).run()),
      'patch.fieldModifications[0].fieldPath',
    );
    assert.equal(
      await violatedField(client.items.patch('Books', 'p4').setField('_owner', 'someone').run()),
      'patch.fieldModifications[0].fieldPath',
    );
    assert.equal((await client.items.get('Books', 'p4'))?.title, 'text');
  });

  it('patches under a condition only when the current item matches it', async () => {
    await client.items.insert('Books', { _id: 'c1', title: 'Draft', published: false, when: published });
    const notMet = client.items.filter().eq('published', true);
    assert.equal(
      await rejectionCode(
        client.items.patch('Books', 'c1').setField('title', 'x').run({ condition: notMet }),
      ),
      'CONDITION_NOT_MET',
    );
    assert.equal((await client.items.get('Books', 'c1'))?.title, 'Draft');
    const met = client.items.filter().eq('published', false).eq('when', published);
    const patched = await client.items
      .patch('Books', 'c1')
      .setField('published', true)
      .run({ condition: met });
    assert.equal(patched.published, true);
  });

  it('updates and saves under a condition, and bulk-updates item by item', async () => {
    await client.items.insert('Books', { _id: 'u1', title: 'One', version: 1 });
    await client.items.insert('Books', { _id: 'u2', title: 'Two', version: 2 });
    const atVersion = (v: number) => client.items.filter().eq('version', v);
    assert.equal(
      await rejectionCode(
        client.items.update('Books', { _id: 'u1', title: 'x', version: 9 }, { condition: atVersion(2) }),
      ),
      'CONDITION_NOT_MET',
    );
    const updated = await client.items.update(
      'Books',
      { _id: 'u1', title: 'One!', version: 2 },
      { condition: atVersion(1) },
    );
    assert.equal(updated.title, 'One!');
    const bulk = await client.items.bulkUpdate(
      'Books',
      [
        { _id: 'u1', title: 'One again', version: 3 },
        { _id: 'u2', title: 'Two again', version: 3 },
      ],
      { condition: atVersion(2) },
    );
    assert.equal(bulk.updated, 2);
    const refused = await client.items.bulkUpdate(
      'Books',
      [
        { _id: 'u1', title: 'late', version: 4 },
        { _id: 'u2', title: 'late', version: 4 },
      ],
      { condition: client.items.filter().eq('title', 'Two again') },
    );
    assert.equal(refused.updated, 1);
    assert.deepEqual(
      refused.errors.map((e) => e.code),
      ['CONDITION_NOT_MET'],
    );
    assert.equal((await client.items.get('Books', 'u1'))?.title, 'One again');
    // save goes to the REST route with a condition the SDK does not send: over HTTP directly.
    const save = await env.call('POST', '/wix-data/v2/items/save', {
      key: site.apiKey,
      site: site.siteId,
      body: {
        dataCollectionId: 'Books',
        dataItem: { id: 'u1', data: { title: 'saved' } },
        condition: { filter: { version: 99 } },
      },
    });
    assert.equal(save.status, 409);
    assert.equal(save.body.details.applicationError.code, 'CONDITION_NOT_MET');
  });

  it('removes under a condition only an item that matches it, one by one and in bulk', async () => {
    await client.items.bulkInsert('Books', [
      { _id: 'd1', title: 'Old', stale: true },
      { _id: 'd2', title: 'New', stale: false },
      { _id: 'd3', title: 'Older', stale: true },
    ]);
    const stale = client.items.filter().eq('stale', true);
    assert.equal(
      await rejectionCode(client.items.remove('Books', 'd2', { condition: stale })),
      'CONDITION_NOT_MET',
    );
    assert.equal((await client.items.get('Books', 'd2'))?.title, 'New');
    const removed = await client.items.remove('Books', 'd1', { condition: stale });
    assert.equal(removed?.title, 'Old');
    assert.equal(await client.items.get('Books', 'd1'), null);
    // A missing item is still no error for the SDK (it resolves with null), condition or not.
    assert.equal(await client.items.remove('Books', 'd-none', { condition: stale }), null);

    const bulk = await client.items.bulkRemove('Books', ['d2', 'd3', 'd-none'], { condition: stale });
    assert.deepEqual(bulk.removedItemIds, ['d3']);
    assert.equal(bulk.removed, 1);
    assert.equal(bulk.skipped, 1);
    assert.deepEqual(
      bulk.errors.map((e) => [e.code, e.originalIndex]),
      [['CONDITION_NOT_MET', 0]],
    );
    const left = (await client.items.query('Books').hasSome('_id', ['d1', 'd2', 'd3']).find()).items;
    assert.deepEqual(
      left.map((i) => i._id),
      ['d2'],
    );
    // A condition that is not a filter is a 400 that removes nothing.
    const bad = await env.call('POST', '/wix-data/v2/items/remove', {
      key: site.apiKey,
      site: site.siteId,
      body: { dataCollectionId: 'Books', dataItemId: 'd2', condition: { filter: { stale: { $nope: 1 } } } },
    });
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.body.details.validationError.fieldViolations[0].field, 'condition.filter.stale.$nope');
    assert.equal((await client.items.get('Books', 'd2'))?.title, 'New');
  });

  it('bulk-patches item by item: missing items are skipped, unmet conditions are errors', async () => {
    await client.items.bulkInsert('Books', [
      { _id: 'b1', n: 1, kind: 'a' },
      { _id: 'b2', n: 2, kind: 'a' },
      { _id: 'b3', n: 3, kind: 'b' },
    ]);
    const result = await client.items
      .bulkPatch('Books', ['b1', 'b2', 'b3', 'b-missing'])
      .incrementField('n', 10)
      .run({ condition: client.items.filter().eq('kind', 'a') });
    assert.equal(result.updated, 2);
    assert.deepEqual([...result.updatedItemIds].sort(), ['b1', 'b2']);
    // The SDK counts WDE0073 as skipped, as it does for bulk update.
    assert.equal(result.skipped, 1);
    assert.deepEqual(
      result.errors.map((e) => [e.code, e.originalIndex]),
      [['CONDITION_NOT_MET', 2]],
    );
    const items = (
      await client.items.query('Books').hasSome('_id', ['b1', 'b2', 'b3']).ascending('_id').find()
    ).items;
    assert.deepEqual(
      items.map((i) => i.n),
      [11, 12, 3],
    );
  });

  it('answers bulk patch per item over HTTP, with the PATCH action and the entity on request', async () => {
    await client.items.insert('Books', { _id: 'h1', n: 1 });
    const res = await env.call('POST', '/wix-data/v2/bulk/items/patch', {
      key: site.apiKey,
      site: site.siteId,
      body: {
        dataCollectionId: 'Books',
        returnEntity: true,
        patches: [
          {
            dataItemId: 'h1',
            fieldModifications: [
              { fieldPath: 'n', action: 'INCREMENT_FIELD', incrementFieldOptions: { value: 1 } },
            ],
          },
          {
            dataItemId: 'h1',
            fieldModifications: [
              { fieldPath: 'n', action: 'INCREMENT_FIELD', incrementFieldOptions: { value: 1 } },
            ],
          },
          { dataItemId: 'h-none', fieldModifications: [{ fieldPath: 'n', action: 'REMOVE_FIELD' }] },
        ],
      },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(
      res.body.results.map((r: any) => [
        r.action,
        r.itemMetadata.success,
        r.itemMetadata.error?.code,
        r.dataItem?.data.n,
      ]),
      [
        ['PATCH', true, undefined, 2],
        ['PATCH', true, undefined, 3],
        ['PATCH', false, 'WDE0073', undefined],
      ],
    );
    assert.deepEqual(res.body.bulkActionMetadata, { totalSuccesses: 2, totalFailures: 1 });
  });

  it('serves the documented PATCH /wix-data/v2/items/{id} and refuses an id that differs', async () => {
    await client.items.insert('Books', { _id: 'r1', title: 'rest' });
    const patch = (path: string, dataItemId?: string) =>
      env.call('PATCH', path, {
        key: site.apiKey,
        site: site.siteId,
        body: {
          dataCollectionId: 'Books',
          patch: {
            ...(dataItemId !== undefined && { dataItemId }),
            fieldModifications: [
              { fieldPath: 'title', action: 'SET_FIELD', setFieldOptions: { value: 'REST' } },
            ],
          },
        },
      });
    const ok = await patch('/wix-data/v2/items/r1');
    assert.equal(ok.status, 200);
    assert.equal(ok.body.dataItem.data.title, 'REST');
    const differs = await patch('/wix-data/v2/items/r1', 'other');
    assert.equal(differs.status, 400);
    assert.equal(differs.body.details.validationError.fieldViolations[0].field, 'patch.dataItemId');
    const missing = await patch('/_api/cloud-data/v2/items/none');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.details.applicationError.code, 'WDE0073');
  });
});
