/**
 * Conformance: `aggregatePipeline` (and `aggregate(id, pipeline)`, its other spelling) through Wix's own
 * SDK (@wix/sdk + @wix/wix-data-items-sdk) over real HTTP on loopback, with pipelines built by the SDK's
 * `pipelineBuilder`, `stages` and `expressions`, checked against Wix's documentation:
 * - aggregatePipeline: https://dev.wix.com/docs/sdk/backend-modules/data/items/aggregate-pipeline
 * - Run an Aggregation Pipeline: https://dev.wix.com/docs/sdk/backend-modules/data/items/run-an-aggregation-pipeline
 * - stages (filter, group, project, sort, skip, limit, unwind, objectToArray):
 *   https://dev.wix.com/docs/sdk/backend-modules/data/items/wix-data-aggregate-pipeline-stages/introduction
 * - objectToArray's `{ k, v }` elements:
 *   https://dev.wix.com/docs/sdk/backend-modules/data/items/wix-data-aggregate-pipeline-stages/object-to-array
 * The SDK posts to `/v2/items/aggregate-pipeline` with `pipeline: { stages, paging }`; that is served.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Environment, expressions, pipelineBuilder, stages } from '@wix/wix-data-items-sdk';
import { startTestEnv, wixDataClient, type TestEnv, type TestSite } from '../helpers/harness.js';
import { rejectionCode } from '../helpers/wix-rejection.js';

type Client = ReturnType<typeof wixDataClient>;
type Row = Record<string, unknown>;

const cities = [
  { _id: 'c1', city: 'Austin', state: 'TX', population: 950, tags: ['music', 'tech'], sizes: { s: 1, m: 2 } },
  { _id: 'c2', city: 'Dallas', state: 'TX', population: 1300, tags: ['oil'] },
  { _id: 'c3', city: 'Houston', state: 'TX', population: 2300, tags: [] },
  { _id: 'c4', city: 'Buffalo', state: 'NY', population: 278 },
  { _id: 'c5', city: 'New York', state: 'NY', population: 8400, tags: ['finance', 'music'] },
  { _id: 'c6', city: 'Reno', state: 'NV', population: 264.5 },
  { _id: 'c7', city: 'Nowhere', state: 'NV', population: 'unknown' },
];

describe('aggregatePipeline through the Wix SDK', () => {
  let env: TestEnv;
  let site: TestSite;
  let client: Client;

  before(async () => {
    env = await startTestEnv();
    const port = await env.listen();
    site = await env.createSite();
    client = wixDataClient(port, site);
    await client.collections.createDataCollection({ _id: 'Cities', displayName: 'Cities', fields: [] });
    await client.items.bulkInsert('Cities', cities);
  });

  after(() => env.close());

  it('filters, groups with accumulators, sorts and pages', async () => {
    const pipeline = pipelineBuilder()
      .withStages([
        stages.filter().gt('population', 500),
        stages
          .group()
          .by(expressions.field('state'), 'state')
          .count('cities')
          .sum(expressions.field('population'), 'total')
          .avg(expressions.field('population'), 'average')
          .max(expressions.field('city'), 'last')
          .push(expressions.field('city'), 'names'),
        stages.sort().descending('total'),
      ])
      .withPaging({ limit: 10, offset: 0 })
      .build();
    const { results, pagingMetadata } = await client.items.aggregatePipeline('Cities', pipeline);
    assert.deepEqual(results, [
      { _id: { state: 'NY' }, cities: 1, total: 8400, average: 8400, last: 'New York', names: ['New York'] },
      {
        _id: { state: 'TX' },
        cities: 3,
        total: 4550,
        average: 4550 / 3,
        last: 'Houston',
        names: ['Austin', 'Dallas', 'Houston'],
      },
    ]);
    assert.equal(typeof (results as Row[])[0]?.total, 'number');
    assert.equal(pagingMetadata?.count, 2);
    assert.equal(pagingMetadata?.hasNext, false);
    // The same pipeline through aggregate(id, pipeline), and a second page.
    const paged = await client.items.aggregate(
      'Cities',
      pipelineBuilder()
        .withStages([stages.sort().ascending('city'), stages.project().include('city')])
        .withPaging({ limit: 3, offset: 3 })
        .build(),
    );
    assert.deepEqual(paged.results, [
      { _id: 'c3', city: 'Houston' },
      { _id: 'c5', city: 'New York' },
      { _id: 'c7', city: 'Nowhere' },
    ]);
    assert.equal(paged.pagingMetadata?.hasNext, true);
  });

  it('reshapes with expressions, unwinds arrays, turns objects into { k, v } arrays, skips and limits', async () => {
    const reshaped = await client.items.aggregatePipeline(
      'Cities',
      pipelineBuilder()
        .withStages([
          stages.filter().eq('state', 'TX'),
          stages
            .project()
            .reshape(
              expressions.concat(
                expressions.toUpper(expressions.field('city')),
                expressions.text(':'),
                expressions.stringify(
                  expressions.divide(expressions.field('population'), expressions.numeric(10)),
                ),
              ),
              'label',
            )
            .reshape(expressions.length(expressions.field('city')), 'letters')
            .reshape(
              expressions.substring(
                expressions.field('city'),
                expressions.numeric(0),
                expressions.numeric(3),
              ),
              'short',
            ),
          stages.skip(1),
          stages.limit(1),
        ])
        .build(),
    );
    assert.deepEqual(reshaped.results, [{ _id: 'c2', label: 'DALLAS:130', letters: 6, short: 'Dal' }]);
    const unwound = await client.items.aggregatePipeline(
      'Cities',
      pipelineBuilder()
        .withStages([
          stages.unwind('tags'),
          stages.group().by(expressions.field('tags'), 'tag').count('n'),
          stages.sort().descending('n').ascending('_id.tag'),
        ])
        .build(),
    );
    assert.deepEqual(unwound.results, [
      { _id: { tag: 'music' }, n: 2 },
      { _id: { tag: 'finance' }, n: 1 },
      { _id: { tag: 'oil' }, n: 1 },
      { _id: { tag: 'tech' }, n: 1 },
    ]);
    const pairs = await client.items.aggregatePipeline(
      'Cities',
      pipelineBuilder()
        .withStages([
          stages.filter().eq('_id', 'c1'),
          stages.objectToArray('sizes', 'kv'),
          stages.project().include('kv'),
        ])
        .build(),
    );
    assert.deepEqual(pairs.results, [
      {
        _id: 'c1',
        kv: [
          { k: 's', v: 1 },
          { k: 'm', v: 2 },
        ],
      },
    ]);
  });

  it('counts every result with returnTotalCount, in either environment', async () => {
    const counted = await client.items.aggregatePipeline(
      'Cities',
      pipelineBuilder()
        .withStages([stages.limit(100)])
        .withPaging({ limit: 2 })
        .build(),
      { returnTotalCount: true },
    );
    assert.equal(counted.results?.length, 2);
    assert.equal(counted.pagingMetadata?.total, cities.length);
    const sandbox = client.items.withEnvironment(Environment.SANDBOX);
    await sandbox.insert('Cities', { _id: 's1', state: 'CA', population: 1 });
    const grouped = await sandbox.aggregatePipeline(
      'Cities',
      pipelineBuilder()
        .withStages([stages.group().sum(expressions.field('population'), 'all')])
        .build(),
    );
    assert.deepEqual(grouped.results, [{ _id: null, all: 1 }]);
  });

  it('refuses a missing collection with WDE0025 and a bad stage with 400', async () => {
    assert.equal(
      await rejectionCode(client.items.aggregatePipeline('Nope', pipelineBuilder().withStages([]).build())),
      'WDE0025',
    );
    const bad = client.items.aggregatePipeline('Cities', { stages: [{ limit: -1 }] });
    await assert.rejects(bad);
  });
});
