/**
 * Property: Aggregate Pipeline Data Items agrees with a brute-force computation in plain JavaScript over
 * the same random items, for random pipelines of the stages the SDK's pipelineBuilder produces (filter,
 * group, projection, sort, skip, limit, unwindArray, objectToArray) and its expressions; the seed is printed
 * (SAFEKEEP_SEED replays it). Runs on whichever stack SAFEKEEP_TEST_STACK selects.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { seedFor } from '../helpers/fault-run.js';
import { startTestEnv, type TestEnv, type TestSite } from '../helpers/harness.js';
import { pick, type Random } from '../helpers/random-data.js';
import { seededRandom } from '../helpers/seeded-random.js';

type Row = Record<string, unknown>;
const P = '/wix-data/v2';
const ROUNDS = 60;
const NAMES = ['alpha', 'Beta', 'gamma', 'Délta', 'eps'];

function randomRow(random: Random, i: number): Row {
  const row: Row = { _id: `r${String(i).padStart(4, '0')}` };
  if (random() < 0.9) row.g = pick(random, ['a', 'b', 'c', 'd']);
  if (random() < 0.9) row.h = Math.floor(random() * 4);
  const x = random();
  if (x < 0.6) row.x = Math.floor(random() * 1000) - 300;
  else if (x < 0.85) row.x = Math.round(random() * 10000) / 100;
  else if (x < 0.95) row.x = 'text';
  if (random() < 0.8) row.name = pick(random, NAMES);
  const t = random();
  if (t < 0.6)
    row.tags = Array.from({ length: Math.floor(random() * 4) }, () => pick(random, ['p', 'q', 'r']));
  else if (t < 0.7) row.tags = 'solo';
  if (random() < 0.7) row.obj = { a: Math.floor(random() * 10), b: pick(random, ['u', 'v']) };
  return row;
}

// ---- the brute force: plain array code, written apart from src/domain/query/pipeline.ts ----

const rank = (v: unknown) =>
  v === undefined || v === null
    ? 0
    : typeof v === 'number' || typeof v === 'boolean'
      ? 1
      : typeof v === 'string'
        ? 2
        : 3;

function order(a: unknown, b: unknown): number {
  if (rank(a) !== rank(b)) return rank(a) - rank(b);
  if (rank(a) === 0) return 0;
  if (rank(a) === 1) return Number(a) - Number(b);
  const [s, t] = rank(a) === 2 ? [a as string, b as string] : [JSON.stringify(a), JSON.stringify(b)];
  // Code point order (these strings have no surrogate pairs, so UTF-16 order is the same).
  return s < t ? -1 : s > t ? 1 : 0;
}

type Expr = Row;

function evalExpr(e: Expr, doc: Row): unknown {
  if ('fieldPath' in e)
    return (e.fieldPath as string)
      .split('.')
      .reduce<unknown>(
        (v, k) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Row)[k] : undefined),
        doc,
      );
  if ('numeric' in e) return e.numeric;
  if ('text' in e) return e.text;
  if ('add' in e) {
    const values = ((e.add as Row).expressions as Expr[]).map((x) => evalExpr(x, doc));
    return values.every((v) => typeof v === 'number') ? values.reduce((a, b) => a + b, 0) : null;
  }
  if ('multiply' in e) {
    const values = ((e.multiply as Row).expressions as Expr[]).map((x) => evalExpr(x, doc));
    return values.every((v) => typeof v === 'number') ? values.reduce((a, b) => a * b, 1) : null;
  }
  if ('concat' in e) {
    const values = ((e.concat as Row).expressions as Expr[]).map((x) => evalExpr(x, doc));
    return values.every((v) => typeof v === 'string') ? values.join('') : null;
  }
  if ('toUpper' in e) {
    const v = evalExpr((e.toUpper as Row).expression as Expr, doc);
    return typeof v === 'string' ? v.toUpperCase() : null;
  }
  if ('stringify' in e) {
    const v = evalExpr((e.stringify as Row).expression as Expr, doc);
    return v === undefined || v === null
      ? null
      : typeof v === 'string'
        ? v
        : typeof v === 'number' || typeof v === 'boolean'
          ? String(v)
          : JSON.stringify(v);
  }
  if ('mod' in e) {
    const a = evalExpr((e.mod as Row).firstExpression as Expr, doc);
    const b = evalExpr((e.mod as Row).secondExpression as Expr, doc);
    return typeof a === 'number' && typeof b === 'number' && b !== 0 ? a % b : null;
  }
  if ('length' in e) {
    const v = evalExpr((e.length as Row).expression as Expr, doc);
    return typeof v === 'string' ? [...v].length : null;
  }
  throw new Error(`the test made an expression it cannot compute: ${JSON.stringify(e)}`);
}

function brute(rows: readonly Row[], stages: readonly Row[]): Row[] {
  let docs: Row[] = rows.map((r) => structuredClone(r));
  for (const stage of stages) {
    if ('filter' in stage) {
      const f = stage.filter as Row;
      const [field, cond] = Object.entries(f)[0] as [string, Row];
      docs = docs.filter((d) => {
        const v = d[field];
        if ('$gt' in cond) return typeof v === 'number' && v > (cond.$gt as number);
        if ('$eq' in cond) return v === cond.$eq;
        throw new Error('filter the test cannot compute');
      });
    } else if ('group' in stage) {
      const g = stage.group as { groupIds: { key: string; expression: Expr }[]; accumulators: Row[] };
      const groups = new Map<string, { id: unknown; members: Row[] }>();
      for (const d of docs) {
        const id =
          g.groupIds.length === 0
            ? null
            : Object.fromEntries(g.groupIds.map((i) => [i.key, evalExpr(i.expression, d) ?? null]));
        const key = JSON.stringify(id);
        if (!groups.has(key)) groups.set(key, { id, members: [] });
        groups.get(key)!.members.push(d);
      }
      docs = [...groups.values()].map(({ id, members }) => {
        const out: Row = { _id: id };
        for (const acc of g.accumulators) {
          const [op, spec] = Object.entries(acc).find(([k]) => k !== 'resultFieldName') as [string, Row];
          const values = members.map((m) => evalExpr(spec.expression as Expr, m));
          const nums = values.filter((v): v is number => typeof v === 'number');
          const present = values.filter((v) => v !== undefined && v !== null);
          const name = acc.resultFieldName as string;
          if (op === 'sum') out[name] = nums.reduce((a, b) => a + b, 0);
          else if (op === 'avg')
            out[name] = nums.length ? nums.reduce((a, b) => a + b, 0) / nums.length : null;
          else if (op === 'min')
            out[name] = present.length ? present.reduce((a, b) => (order(b, a) < 0 ? b : a)) : null;
          else if (op === 'max')
            out[name] = present.length ? present.reduce((a, b) => (order(b, a) > 0 ? b : a)) : null;
          else if (op === 'first') out[name] = values[0] ?? null;
          else if (op === 'last') out[name] = values.at(-1) ?? null;
          else if (op === 'push') out[name] = values.filter((v) => v !== undefined);
        }
        return out;
      });
    } else if ('sort' in stage) {
      const keys = (stage.sort as { values: { fieldName: string; order: string }[] }).values;
      docs = [...docs].sort((a, b) => {
        for (const k of keys) {
          const d = order(evalExpr({ fieldPath: k.fieldName }, a), evalExpr({ fieldPath: k.fieldName }, b));
          if (d !== 0) return k.order === 'DESC' ? -d : d;
        }
        return 0;
      });
    } else if ('projection' in stage) {
      const fields = (stage.projection as { fields: Row[] }).fields;
      const inclusive = fields.some((f) => !('exclude' in f));
      docs = docs.map((d) => {
        let out: Row;
        if (inclusive) {
          out = d._id === undefined ? {} : { _id: d._id };
          for (const f of fields) {
            if ('include' in f) {
              const name = (f.include as Row).fieldName as string;
              if (d[name] !== undefined) out[name] = d[name];
            } else if ('reshape' in f) {
              const r = f.reshape as Row;
              out[r.resultFieldName as string] = evalExpr(r.expression as Expr, d) ?? null;
            }
          }
        } else out = { ...d };
        for (const f of fields) if ('exclude' in f) delete out[(f.exclude as Row).fieldName as string];
        return out;
      });
    } else if ('unwindArray' in stage) {
      const field = (stage.unwindArray as Row).arrayFieldName as string;
      docs = docs.flatMap((d) => {
        const v = d[field];
        if (v === undefined || v === null) return [];
        if (!Array.isArray(v)) return [d];
        return v.map((e) => ({ ...d, [field]: e }));
      });
    } else if ('objectToArray' in stage) {
      const o = stage.objectToArray as Row;
      docs = docs.map((d) => {
        const v = d[o.objectFieldName as string];
        const kv =
          v !== null && typeof v === 'object' && !Array.isArray(v)
            ? Object.entries(v).map(([k, x]) => ({ k, v: x }))
            : null;
        return { ...d, [o.destinationFieldName as string]: kv };
      });
    } else if ('skip' in stage) docs = docs.slice(stage.skip as number);
    else if ('limit' in stage) docs = docs.slice(0, stage.limit as number);
  }
  return docs;
}

// ---- random pipelines ----

const field = (fieldPath: string): Expr => ({ fieldPath });

function randomExpr(random: Random, fields: readonly string[]): Expr {
  const f = () => field(pick(random, fields));
  switch (Math.floor(random() * 7)) {
    case 0:
      return { add: { expressions: [f(), { numeric: Math.floor(random() * 10) }] } };
    case 1:
      return { multiply: { expressions: [f(), { numeric: 2 }] } };
    case 2:
      return {
        concat: {
          expressions: [{ toUpper: { expression: f() } }, { text: '-' }, { stringify: { expression: f() } }],
        },
      };
    case 3:
      return { mod: { firstExpression: f(), secondExpression: { numeric: 3 } } };
    case 4:
      return { length: { expression: f() } };
    default:
      return f();
  }
}

function randomPipeline(random: Random): Row[] {
  const stages: Row[] = [];
  if (random() < 0.7) stages.push({ filter: { x: { $gt: Math.floor(random() * 600) - 300 } } });
  // `_id` stays through every stage (a projection never drops it here), so a sort always has a field.
  let fields = ['_id', 'g', 'h', 'x', 'name', 'tags', 'obj'];
  const steps = 1 + Math.floor(random() * 4);
  for (let i = 0; i < steps; i++) {
    const kind = pick(random, [
      'group',
      'sort',
      'projection',
      'unwind',
      'objectToArray',
      'skip',
      'limit',
      'filter',
    ]);
    if (kind === 'group') {
      const ids = fields.filter((f) => ['g', 'h', 'name'].includes(f) && random() < 0.5);
      const accumulators = [
        { sum: { expression: { numeric: 1 } }, resultFieldName: 'n' },
        ...['sum', 'avg', 'min', 'max', 'first', 'last', 'push']
          .filter(() => random() < 0.5)
          .map((op, j) => ({
            [op]: { expression: randomExpr(random, fields) },
            resultFieldName: `${op}${j}`,
          })),
      ];
      stages.push({ group: { groupIds: ids.map((key) => ({ key, expression: field(key) })), accumulators } });
      fields = ['_id', ...accumulators.map((a) => a.resultFieldName)];
    } else if (kind === 'sort') {
      const keys = [pick(random, fields), pick(random, fields)];
      stages.push({
        sort: { values: keys.map((fieldName) => ({ fieldName, order: pick(random, ['ASC', 'DESC']) })) },
      });
    } else if (kind === 'projection') {
      const kept = fields.filter((f) => f !== '_id' && random() < 0.5);
      if (random() < 0.3 && kept.length > 0) {
        stages.push({ projection: { fields: kept.map((fieldName) => ({ exclude: { fieldName } })) } });
        fields = fields.filter((f) => !kept.includes(f));
      } else {
        const reshaped = { reshape: { resultFieldName: 'y', expression: randomExpr(random, fields) } };
        stages.push({
          projection: { fields: [...kept.map((fieldName) => ({ include: { fieldName } })), reshaped] },
        });
        fields = ['_id', ...kept, 'y'];
      }
    } else if (kind === 'unwind' && fields.includes('tags')) {
      stages.push({ unwindArray: { arrayFieldName: 'tags' } });
    } else if (kind === 'objectToArray' && fields.includes('obj')) {
      stages.push({ objectToArray: { objectFieldName: 'obj', destinationFieldName: 'kv' } });
      fields = [...fields.filter((f) => f !== 'kv'), 'kv'];
    } else if (kind === 'skip') stages.push({ skip: Math.floor(random() * 20) });
    else if (kind === 'limit') stages.push({ limit: Math.floor(random() * 60) });
    else if (kind === 'filter' && fields.includes('x'))
      stages.push({ filter: { x: { $gt: Math.floor(random() * 300) } } });
  }
  return stages;
}

/** Numbers rounded so that sums in another order compare equal; keys in one order. */
function canonical(docs: readonly Row[]): string[] {
  const normal = (_key: string, v: unknown): unknown =>
    typeof v === 'number'
      ? Number(v.toPrecision(12))
      : v !== null && typeof v === 'object' && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)))
        : v;
  return docs.map((d) => JSON.stringify(d, normal));
}

describe('aggregatePipeline against a brute-force computation', () => {
  let env: TestEnv;
  let site: TestSite;
  const seed = seedFor('pipeline-property');
  const random = seededRandom(seed);
  const rows = Array.from({ length: 600 }, (_, i) => randomRow(random, i));

  before(async () => {
    env = await startTestEnv();
    site = await env.createSite();
    await env.call('POST', `${P}/collections`, { key: site.apiKey, body: { collection: { id: 'R' } } });
    const res = await env.call('POST', `${P}/bulk/items/insert`, {
      key: site.apiKey,
      body: { dataCollectionId: 'R', dataItems: rows.map((data) => ({ id: data._id as string, data })) },
    });
    assert.equal(res.status, 200, res.text.slice(0, 300));
  });

  after(() => env.close());

  it('returns exactly the brute-force results, in order, for random pipelines', async () => {
    // The stored items carry system fields; the brute force reads the items as stored.
    const stored: Row[] = [];
    for (let offset = 0; ; offset += 1000) {
      const page = await env.call('POST', `${P}/items/query`, {
        key: site.apiKey,
        body: {
          dataCollectionId: 'R',
          query: { paging: { limit: 1000, offset }, sort: [{ fieldName: '_id' }] },
        },
      });
      const items = (page.body as { dataItems: { data: Row }[] }).dataItems;
      stored.push(...items.map((i) => i.data));
      if (items.length < 1000) break;
    }
    assert.equal(stored.length, rows.length);
    for (let round = 0; round < ROUNDS; round++) {
      const stages = randomPipeline(random);
      const expected = brute(stored, stages);
      const limit = 1 + Math.floor(random() * 300);
      const offset = Math.floor(random() * 40);
      const res = await env.call('POST', `${P}/items/aggregate-pipeline`, {
        key: site.apiKey,
        body: {
          dataCollectionId: 'R',
          pipeline: { stages, paging: { limit, offset } },
          returnTotalCount: true,
        },
      });
      const what = `seed ${seed} round ${round}: ${JSON.stringify(stages)}`;
      assert.equal(res.status, 200, `${what}: ${res.text.slice(0, 300)}`);
      const body = res.body as { results: Row[]; pagingMetadata: Row };
      assert.deepEqual(canonical(body.results), canonical(expected.slice(offset, offset + limit)), what);
      assert.equal(body.pagingMetadata.total, expected.length, what);
      assert.equal(body.pagingMetadata.hasNext, offset + limit < expected.length, what);
    }
  });

  it('refuses an unsupported stage or expression with 400 naming it', async () => {
    const call = (stages: unknown[]) =>
      env.call('POST', `${P}/items/aggregate-pipeline`, {
        key: site.apiKey,
        body: { dataCollectionId: 'R', pipeline: { stages } },
      });
    const lookup = await call([{ filter: { x: { $gt: 1 } } }, { lookup: { from: 'Other' } }]);
    assert.equal(lookup.status, 400);
    const violation = (lookup.body as { details: { validationError: { fieldViolations: Row[] } } }).details
      .validationError.fieldViolations[0]!;
    assert.equal(violation.field, 'pipeline.stages[1]');
    assert.match(String(violation.description), /the stage lookup is not supported/);
    const expression = await call([
      { projection: { fields: [{ reshape: { resultFieldName: 'y', expression: { power: {} } } }] } },
    ]);
    assert.equal(expression.status, 400);
    assert.match(expression.text, /the expression power is not supported/);
    const two = await call([{ skip: 1, limit: 2 }]);
    assert.equal(two.status, 400);
    assert.match(two.text, /more than one stage/);
    const missing = await env.call('POST', `${P}/items/aggregate-pipeline`, {
      key: site.apiKey,
      body: { dataCollectionId: 'Nope', pipeline: { stages: [{ limit: 0 }] } },
    });
    assert.equal(missing.status, 404);
    assert.equal(
      (missing.body as { details: { applicationError: Row } }).details.applicationError.code,
      'WDE0025',
    );
  });
});
