/**
 * Property: Query Distinct Values and Aggregate Data Items, run in the database, agree with a brute-force
 * computation in JavaScript over the same random items, for random filters, groupings, operations and
 * final filters (on whichever stack SAFEKEEP_TEST_STACK selects).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestEnv, type TestEnv, type TestSite } from '../helpers/harness.js';
import { pick, type Random } from '../helpers/random-data.js';
import { seededRandom } from '../helpers/seeded-random.js';

type Row = Record<string, unknown>;
const P = '/wix-data/v2';
const GROUPS = ['alpha', 'beta', 'Gamma', 'delta', 'épsilon'];
const ROUNDS = 40;

function randomRow(random: Random, i: number): Row {
  const row: Row = { _id: `r${i}` };
  if (random() < 0.9) row.g = pick(random, GROUPS);
  if (random() < 0.9) row.h = Math.floor(random() * 4);
  const x = random();
  if (x < 0.6) row.x = Math.floor(random() * 1000) - 300;
  else if (x < 0.85) row.x = Math.round(random() * 100000) / 100;
  else if (x < 0.95) row.x = 'text';
  return row;
}

const isNumber = (v: unknown): v is number => typeof v === 'number';

/** The groups and operation values Aggregate Data Items should return, computed the obvious way. */
function bruteAggregate(
  rows: readonly Row[],
  threshold: number,
  keys: readonly string[],
  ops: readonly { name: string; op: string; field: string }[],
  minCount: number,
): Row[] {
  const groups = new Map<string, Row[]>();
  for (const row of rows) {
    if (!(isNumber(row.x) && row.x > threshold)) continue;
    const id = JSON.stringify(keys.map((k) => row[k] ?? null));
    groups.set(id, [...(groups.get(id) ?? []), row]);
  }
  if (keys.length === 0 && groups.size === 0) groups.set('[]', []);
  const results: Row[] = [];
  for (const members of groups.values()) {
    const first = members[0] ?? {};
    const id = Object.fromEntries(keys.map((k) => [k, first[k] ?? null]));
    const result: Row = { _id: keys.length === 0 ? null : id, ...id };
    for (const o of ops) {
      const numbers = members.map((m) => m[o.field]).filter(isNumber);
      const sum = numbers.reduce((a, b) => a + b, 0);
      result[o.name] =
        o.op === 'count'
          ? members.length
          : o.op === 'sum'
            ? sum
            : numbers.length === 0
              ? null
              : o.op === 'avg'
                ? sum / numbers.length
                : o.op === 'min'
                  ? Math.min(...numbers)
                  : Math.max(...numbers);
    }
    if ((result.n as number) >= minCount) results.push(result);
  }
  return results;
}

/**
 * Results in a canonical order, keys sorted (PostgreSQL's jsonb orders an object's keys its own way), numbers
 * rounded so that summing in another order compares equal.
 */
function canonical(results: readonly Row[]): string[] {
  const normal = (_key: string, v: unknown): unknown =>
    typeof v === 'number'
      ? Number(v.toPrecision(12))
      : v !== null && typeof v === 'object' && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)))
        : v;
  return results.map((r) => JSON.stringify(r, normal)).sort();
}

describe('distinct and aggregate against a brute-force computation', () => {
  let env: TestEnv;
  let site: TestSite;
  const random = seededRandom(1515);
  const rows = Array.from({ length: 400 }, (_, i) => randomRow(random, i));

  const call = async (path: string, body: Row) => {
    const res = await env.call('POST', `${P}${path}`, { key: site.apiKey, body });
    assert.equal(res.status, 200, res.text.slice(0, 300));
    return res.body as Row;
  };

  before(async () => {
    env = await startTestEnv();
    site = await env.createSite();
    await env.call('POST', `${P}/collections`, { key: site.apiKey, body: { collection: { id: 'R' } } });
    const res = await env.call('POST', `${P}/bulk/items/insert`, {
      key: site.apiKey,
      body: { dataCollectionId: 'R', dataItems: rows.map((data) => ({ id: data._id, data })) },
    });
    assert.equal(res.status, 200, res.text.slice(0, 300));
  });

  after(() => env.close());

  it('distinct values equal the brute-force set, in order, for random filters', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const field = pick(random, ['g', 'h', 'x']);
      const threshold = Math.floor(random() * 800) - 300;
      const order = pick(random, ['ASC', 'DESC'] as const);
      const kept = rows.filter((r) => isNumber(r.x) && r.x > threshold).map((r) => r[field]);
      const values = [...new Set(kept.filter((v) => v !== undefined && v !== null))];
      // Numbers before text; text bytewise (UTF-16 order equals code point order for these strings).
      values.sort((a, b) =>
        typeof a !== typeof b
          ? isNumber(a)
            ? -1
            : 1
          : (a as string) < (b as string)
            ? -1
            : (a as string) > (b as string)
              ? 1
              : 0,
      );
      if (order === 'DESC') values.reverse();
      const body = await call('/items/query-distinct-values', {
        dataCollectionId: 'R',
        fieldName: field,
        filter: { x: { $gt: threshold } },
        order,
        paging: { limit: 1000 },
        returnTotalCount: true,
      });
      assert.deepEqual(body.distinctValues, values, `round ${round}: ${field} > ${threshold} ${order}`);
      assert.equal((body.pagingMetadata as Row).total, values.length);
    }
  });

  it('aggregate results equal the brute-force groups for random groupings, operations and having', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const keys = pick(random, [[], ['g'], ['h'], ['g', 'h']]);
      const threshold = Math.floor(random() * 800) - 300;
      const minCount = Math.floor(random() * 12);
      const ops = [
        { name: 'n', op: 'count', field: 'x' },
        ...['sum', 'avg', 'min', 'max']
          .filter(() => random() < 0.6)
          .map((op) => ({ name: `${op}X`, op, field: pick(random, ['x', 'h']) })),
      ];
      const expected = bruteAggregate(rows, threshold, keys, ops, minCount);
      const body = await call('/items/aggregate', {
        dataCollectionId: 'R',
        initialFilter: { x: { $gt: threshold } },
        aggregation: {
          groupingFields: keys,
          operations: ops.map((o) => ({
            resultFieldName: o.name,
            ...(o.op === 'count'
              ? { itemCount: {} }
              : { [o.op === 'avg' ? 'average' : o.op]: { itemFieldName: o.field } }),
          })),
        },
        finalFilter: { n: { $gte: minCount } },
        sort: [{ fieldName: 'n', order: 'DESC' }],
        paging: { limit: 1000 },
        returnTotalCount: true,
      });
      const results = body.results as Row[];
      const where = `round ${round}: by [${keys.join(',')}] x > ${threshold}, n >= ${minCount}`;
      assert.deepEqual(canonical(results), canonical(expected), where);
      assert.equal((body.pagingMetadata as Row).total, expected.length, where);
      const counts = results.map((r) => r.n as number);
      assert.deepEqual(
        counts,
        [...counts].sort((a, b) => b - a),
        `${where}: sorted by n descending`,
      );
    }
  });
});
