/**
 * A write's `condition` is decided in memory (src/domain/query/match.ts) while queries are decided by the
 * engine's SQL. Property: for random items and random filters, the items a query returns are exactly the
 * items the in-memory matcher accepts, so a condition means what the same filter means in a query.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { parseFilter } from '../../src/domain/query/filter.js';
import { matchesFilter } from '../../src/domain/query/match.js';
import { startTestEnv, type TestEnv, type TestSite } from '../helpers/harness.js';

const date = (day: number) => ({ $date: new Date(Date.UTC(2024, 0, day)).toISOString() });

const scalar = fc.oneof(
  fc.integer({ min: -3, max: 3 }),
  fc.constantFrom('a', 'B', 'ab', 'Éa', 'é', ''),
  fc.boolean(),
  fc.constant(null),
  fc.integer({ min: 1, max: 4 }).map(date),
);
const fieldValue = fc.oneof(
  { weight: 4, arbitrary: scalar },
  { weight: 1, arbitrary: fc.array(scalar, { maxLength: 3 }) },
);
const item = fc.record(
  {
    a: fieldValue,
    n: fieldValue,
    list: fc.array(scalar, { maxLength: 3 }),
    obj: fc.record({ x: scalar, y: fieldValue }, { requiredKeys: [] }),
  },
  { requiredKeys: [] },
);

const field = fc.constantFrom('a', 'n', 'list', 'obj', 'obj.x', 'obj.y', '_id', 'missing');
const operand = fc.oneof(
  fc.integer({ min: -3, max: 3 }),
  fc.constantFrom('a', 'b', 'ab', 'éa', ''),
  fc.integer({ min: 1, max: 4 }).map(date),
);
const leaf = fc.oneof(
  fc
    .tuple(field, fc.constantFrom('$eq', '$ne', '$lt', '$lte', '$gt', '$gte'), operand)
    .map(([f, op, v]) => ({ [f]: { [op]: v } })),
  fc
    .tuple(field, fc.constantFrom('$eq', '$ne'), fc.oneof(fc.boolean(), fc.constant(null)))
    .map(([f, op, v]) => ({ [f]: { [op]: v } })),
  fc
    .tuple(
      field,
      fc.constantFrom('$in', '$hasSome', '$hasAll'),
      fc.array(fc.oneof(operand, fc.constant(null), fc.boolean()), { minLength: 1, maxLength: 3 }),
    )
    .map(([f, op, v]) => ({ [f]: { [op]: v } })),
  fc
    .tuple(
      field,
      fc.constantFrom('$startsWith', '$endsWith', '$contains'),
      fc.constantFrom('a', 'A', 'É', 'b', ''),
    )
    .map(([f, op, v]) => ({ [f]: { [op]: v } })),
  fc.tuple(field, fc.boolean()).map(([f, v]) => ({ [f]: { $exists: v } })),
);
const filter: fc.Arbitrary<Record<string, unknown>> = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('node'), { minLength: 1, maxLength: 3 }).map((nodes) => ({ $and: nodes })),
    fc.array(tie('node'), { minLength: 1, maxLength: 3 }).map((nodes) => ({ $or: nodes })),
    tie('node').map((node) => ({ $not: [node] })),
  ),
})).node;

describe('a condition means what the same filter means in a query', () => {
  let env: TestEnv;
  let site: TestSite;
  let stored: Record<string, unknown>[] = [];

  before(async () => {
    env = await startTestEnv();
    site = await env.createSite();
    const call = (path: string, body: unknown) =>
      env.call('POST', path, { key: site.apiKey, site: site.siteId, body });
    assert.equal(
      (await call('/wix-data/v2/collections', { collection: { id: 'Mixed', fields: [] } })).status,
      200,
    );
    const items = fc.sample(item, { numRuns: 60, seed: 15 });
    const res = await call('/wix-data/v2/bulk/items/insert', {
      dataCollectionId: 'Mixed',
      dataItems: items.map((data, i) => ({ id: `m${i}`, data })),
      returnEntity: true,
    });
    assert.equal(res.status, 200);
    stored = res.body.results.map((r: any) => r.dataItem.data);
    assert.equal(stored.length, 60);
  });

  after(() => env.close());

  it('selects the same items in memory as the engine does', async () => {
    let nonTrivial = 0;
    await fc.assert(
      fc.asyncProperty(filter, async (raw) => {
        const res = await env.call('POST', '/wix-data/v2/items/query', {
          key: site.apiKey,
          site: site.siteId,
          body: { dataCollectionId: 'Mixed', query: { filter: raw, paging: { limit: 100 } } },
        });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        const byEngine = res.body.dataItems.map((i: any) => i.id).sort();
        const node = parseFilter(raw);
        const inMemory = stored
          .filter((data) => matchesFilter(node, data))
          .map((data) => data._id)
          .sort();
        assert.deepEqual(inMemory, byEngine, JSON.stringify(raw));
        if (byEngine.length > 0 && byEngine.length < stored.length) nonTrivial += 1;
      }),
      { numRuns: 300, seed: 15 },
    );
    // Most filters split the items, or agreeing would prove little.
    assert.ok(nonTrivial > 100, `${nonTrivial} filters selected some but not all items`);
  });
});
