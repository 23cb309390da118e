/**
 * Conformance: `distinct` and `aggregate` through Wix's own SDK (@wix/sdk + @wix/wix-data-items-sdk) over
 * real HTTP on loopback, checked against Wix's documentation:
 * - Query Distinct Values: https://dev.wix.com/docs/rest/business-solutions/cms/data-items/query-distinct-values
 * - Aggregate Data Items: https://dev.wix.com/docs/rest/business-solutions/cms/data-items/aggregate-data-items
 *   and the SDK's WixDataAggregate (group, count, sum, avg, min, max, filter, having, sort, limit, skip):
 *   https://dev.wix.com/docs/sdk/backend-modules/data/items/wix-data-aggregate/group
 * Where the SDK and the REST reference differ, the SDK is followed: grouping by one field gives the value
 * itself as `_id` (the SDK unwraps the `{ field: value }` object the REST API returns).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Environment } from '@wix/wix-data-items-sdk';
import { startTestEnv, wixDataClient, type TestEnv, type TestSite } from '../helpers/harness.js';
import { assertErrorShape } from '../helpers/error-shape.js';
import { rejectionCode } from '../helpers/wix-rejection.js';

type Client = ReturnType<typeof wixDataClient>;
type Row = Record<string, unknown>;

const cities = [
  { _id: 'c1', city: 'Austin', state: 'TX', population: 950, founded: new Date('1839-12-27T00:00:00.000Z') },
  { _id: 'c2', city: 'Dallas', state: 'TX', population: 1300 },
  { _id: 'c3', city: 'Houston', state: 'TX', population: 2300 },
  { _id: 'c4', city: 'Buffalo', state: 'NY', population: 278 },
  { _id: 'c5', city: 'New York', state: 'NY', population: 8400 },
  { _id: 'c6', city: 'Reno', state: 'NV', population: 264.5 },
  { _id: 'c7', city: 'Nowhere', state: 'NV', population: 'unknown' },
  { _id: 'c8', city: 'Ghost' },
];

describe('distinct and aggregate through the Wix SDK', () => {
  let env: TestEnv;
  let site: TestSite;
  let client: Client;

  before(async () => {
    env = await startTestEnv();
    const port = await env.listen();
    site = await env.createSite();
    client = wixDataClient(port, site);
    await client.collections.createDataCollection({ _id: 'Cities', displayName: 'Cities', fields: [] });
    assert.equal((await client.items.bulkInsert('Cities', cities)).inserted, cities.length);
  });

  after(() => env.close());

  it('distinct: the distinct values of a field, sorted, with filter, order and paging', async () => {
    const all = await client.items.query('Cities').distinct('state');
    assert.deepEqual(all.items, ['NV', 'NY', 'TX']);
    const filtered = await client.items.query('Cities').gt('population', 1000).distinct('state');
    assert.deepEqual(filtered.items, ['NY', 'TX']);
    const descending = await client.items.query('Cities').descending('state').distinct('state');
    assert.deepEqual(descending.items, ['TX', 'NY', 'NV']);
    const first = await client.items.query('Cities').limit(2).distinct('state', { returnTotalCount: true });
    assert.deepEqual(first.items, ['NV', 'NY']);
    assert.equal(first.totalCount, 3);
    assert.equal(first.hasNext(), true);
    const second = await first.next();
    assert.deepEqual(second.items, ['TX']);
    assert.equal(second.hasNext(), false);
  });

  it('distinct: numbers come back as numbers and dates as Dates (direct form)', async () => {
    const populations = await client.items.distinct('Cities', 'population', {
      filter: { state: 'TX' },
    });
    assert.deepEqual(populations.values, [950, 1300, 2300]);
    const founded = await client.items.query('Cities').distinct('founded');
    assert.equal(founded.items.length, 1);
    assert.ok(founded.items[0] instanceof Date);
    assert.equal(founded.items[0].toISOString(), '1839-12-27T00:00:00.000Z');
  });

  it('aggregate: group by one field with count, sum, avg, min and max', async () => {
    const result = await client.items
      .aggregate('Cities')
      .group('state')
      .count()
      .sum('population', 'total')
      .avg('population', 'mean')
      .min('population', 'smallest')
      .max('population', 'largest')
      .ascending('state')
      .run();
    const nv = result.items.find((r: Row) => r._id === 'NV');
    const tx = result.items.find((r: Row) => r._id === 'TX');
    assert.deepEqual(
      result.items.map((r: Row) => r._id),
      [null, 'NV', 'NY', 'TX'],
    );
    // Non-numeric values are counted but not summed.
    assert.deepEqual(
      { count: nv?.count, total: nv?.total, mean: nv?.mean, smallest: nv?.smallest },
      { count: 2, total: 264.5, mean: 264.5, smallest: 264.5 },
    );
    assert.deepEqual(
      { count: tx?.count, total: tx?.total, smallest: tx?.smallest, largest: tx?.largest },
      { count: 3, total: 4550, smallest: 950, largest: 2300 },
    );
    assert.ok(Math.abs((tx?.mean as number) - 4550 / 3) < 1e-9);
    assert.equal(typeof tx?.count, 'number');
  });

  it('aggregate: filter before grouping, having after, sort by a result, skip and limit', async () => {
    const result = await client.items
      .aggregate('Cities')
      .filter(client.items.filter().ne('city', 'Buffalo'))
      .group('state')
      .sum('population', 'total')
      .having(client.items.filter().gt('total', 1000))
      .descending('total')
      .run({ returnTotalCount: true });
    assert.deepEqual(
      result.items.map((r: Row) => [r._id, r.total]),
      [
        ['NY', 8400],
        ['TX', 4550],
      ],
    );
    assert.equal(result.totalCount, 2);
    const paged = await client.items
      .aggregate('Cities')
      .group('state')
      .ascending('state')
      .skip(1)
      .limit(2)
      .run();
    assert.deepEqual(
      paged.items.map((r: Row) => r._id),
      ['NV', 'NY'],
    );
    assert.equal(paged.hasNext(), true);
    const rest = await paged.next();
    assert.deepEqual(
      rest.items.map((r: Row) => r._id),
      ['TX'],
    );
  });

  it('aggregate: several grouping fields keep the _id object; no grouping is one group', async () => {
    const result = await client.items
      .aggregate('Cities')
      .filter(client.items.filter().eq('state', 'TX'))
      .group('state', 'city')
      .count()
      .ascending('city')
      .run();
    assert.deepEqual(result.items[0]?._id, { state: 'TX', city: 'Austin' });
    assert.equal(result.items[0]?.city, 'Austin');
    assert.equal(result.items.length, 3);
    const whole = await client.items.aggregate('Cities').count().max('population', 'largest').run();
    assert.equal(whole.items.length, 1);
    assert.equal(whole.items[0]?.count, cities.length);
    assert.equal(whole.items[0]?.largest, 8400);
  });

  it('keeps SANDBOX and LIVE apart', async () => {
    await client.items
      .withEnvironment(Environment.SANDBOX)
      .insert('Cities', { city: 'Sandbox', state: 'SB' });
    const live = await client.items.query('Cities').distinct('state');
    assert.equal(live.items.includes('SB'), false);
    const sandbox = await client.items.withEnvironment(Environment.SANDBOX).query('Cities').distinct('state');
    assert.deepEqual(sandbox.items, ['SB']);
  });

  it('answers bad requests with 400 in the error shape, naming what is wrong', async () => {
    const bad = async (path: string, body: unknown) => {
      const res = await env.call('POST', path, { key: site.apiKey, body });
      assertErrorShape(res.body);
      return res;
    };
    const res = await bad('/_api/cloud-data/v2/items/aggregate', {
      dataCollectionId: 'Cities',
      aggregation: { operations: [{ resultFieldName: 'x', sum: { itemFieldName: 'a' }, itemCount: {} }] },
    });
    assert.equal(res.status, 400);
    const dup = await bad('/wix-data/v2/items/aggregate', {
      dataCollectionId: 'Cities',
      aggregation: { groupingFields: ['state'], operations: [{ resultFieldName: 'state', itemCount: {} }] },
    });
    assert.equal(dup.status, 400);
    const noField = await bad('/wix-data/v2/items/query-distinct-values', {
      dataCollectionId: 'Cities',
    });
    assert.equal(noField.status, 400);
    const cursor = await bad('/wix-data/v2/items/query-distinct-values', {
      dataCollectionId: 'Cities',
      fieldName: 'state',
      cursorPaging: { cursor: 'abc' },
    });
    assert.equal(cursor.status, 400);
    assert.equal(await rejectionCode(client.items.query('Missing').distinct('state')), 'WDE0025');
    assert.equal(await rejectionCode(client.items.aggregate('Missing').count().run()), 'WDE0025');
  });
});
