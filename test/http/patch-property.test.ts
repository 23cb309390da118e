/**
 * Property: a random sequence of patches sent through the Data API leaves an item exactly as the same
 * field modifications applied to a plain object by the model below, written apart from the server's code
 * (Wix: https://dev.wix.com/docs/rest/business-solutions/cms/data-items/patch-data-item). A patch whose
 * modification does not fit the current value is refused whole (400) and changes nothing.
 */
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { startTestEnv, type TestEnv, type TestSite } from '../helpers/harness.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Fields = Record<string, Json>;

type Modification =
  | { action: 'SET_FIELD'; fieldPath: string; value: Json }
  | { action: 'REMOVE_FIELD'; fieldPath: string }
  | { action: 'INCREMENT_FIELD'; fieldPath: string; value: number }
  | { action: 'APPEND_TO_ARRAY'; fieldPath: string; value: Json }
  | { action: 'REMOVE_FROM_ARRAY'; fieldPath: string; value: Json };

const paths = ['a', 'n', 'list', 'obj', 'obj.x', 'obj.list', 'obj.deep.z'];

const scalar: fc.Arbitrary<Json> = fc.oneof(
  fc.integer({ min: -5, max: 5 }),
  fc.constantFrom('x', 'y', ''),
  fc.boolean(),
  fc.constant(null),
);
const value: fc.Arbitrary<Json> = fc.oneof(
  { weight: 4, arbitrary: scalar },
  { weight: 1, arbitrary: fc.array(scalar, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.constantFrom('x', 'k'), scalar, { maxKeys: 2 }) },
);
const modification: fc.Arbitrary<Modification> = fc.oneof(
  fc.record({ action: fc.constant('SET_FIELD' as const), fieldPath: fc.constantFrom(...paths), value }),
  fc.record({ action: fc.constant('REMOVE_FIELD' as const), fieldPath: fc.constantFrom(...paths) }),
  fc.record({
    action: fc.constant('INCREMENT_FIELD' as const),
    fieldPath: fc.constantFrom(...paths),
    value: fc.integer({ min: -3, max: 3 }),
  }),
  fc.record({ action: fc.constant('APPEND_TO_ARRAY' as const), fieldPath: fc.constantFrom(...paths), value }),
  fc.record({
    action: fc.constant('REMOVE_FROM_ARRAY' as const),
    fieldPath: fc.constantFrom(...paths),
    value: scalar,
  }),
);

class Refused extends Error {}

const isObject = (v: Json | undefined): v is { [key: string]: Json } =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The model: applies one patch to a copy of the fields, or throws Refused. */
function applyModel(fields: Fields, patch: readonly Modification[]): Fields {
  const out = structuredClone(fields);
  for (const m of patch) {
    const segments = m.fieldPath.split('.');
    const last = segments.pop() as string;
    const writes = m.action !== 'REMOVE_FIELD' && m.action !== 'REMOVE_FROM_ARRAY';
    let parent: { [key: string]: Json } | undefined = out;
    for (const s of segments) {
      const next: Json | undefined = parent[s];
      if (isObject(next)) parent = next;
      else if (!writes) {
        parent = undefined;
        break;
      } else if (next === undefined || next === null) parent = parent[s] = {};
      else throw new Refused();
    }
    if (!parent) continue;
    const current = parent[last];
    const absent = current === undefined || current === null;
    switch (m.action) {
      case 'SET_FIELD':
        parent[last] = structuredClone(m.value);
        break;
      case 'REMOVE_FIELD':
        delete parent[last];
        break;
      case 'INCREMENT_FIELD':
        if (!absent && typeof current !== 'number') throw new Refused();
        parent[last] = (absent ? 0 : current) + m.value;
        break;
      case 'APPEND_TO_ARRAY':
        if (absent) parent[last] = [structuredClone(m.value)];
        else if (Array.isArray(current)) current.push(structuredClone(m.value));
        else throw new Refused();
        break;
      case 'REMOVE_FROM_ARRAY':
        if (absent) break;
        if (!Array.isArray(current)) throw new Refused();
        parent[last] = current.filter((e) => !isDeepStrictEqual(e, m.value));
        break;
    }
  }
  return out;
}

/** A modification on the wire, in the shape the Wix SDK sends. */
function wire(m: Modification): Record<string, unknown> {
  switch (m.action) {
    case 'SET_FIELD':
      return { fieldPath: m.fieldPath, action: m.action, setFieldOptions: { value: m.value } };
    case 'REMOVE_FIELD':
      return { fieldPath: m.fieldPath, action: m.action };
    case 'INCREMENT_FIELD':
      return { fieldPath: m.fieldPath, action: m.action, incrementFieldOptions: { value: m.value } };
    case 'APPEND_TO_ARRAY':
      return { fieldPath: m.fieldPath, action: m.action, appendToArrayOptions: { value: m.value } };
    case 'REMOVE_FROM_ARRAY':
      return { fieldPath: m.fieldPath, action: m.action, removeFromArrayOptions: { value: m.value } };
  }
}

function userFields(data: Record<string, Json>): Fields {
  return Object.fromEntries(Object.entries(data).filter(([key]) => !key.startsWith('_')));
}

describe('patches through the API equal the same modifications on a plain object', () => {
  let env: TestEnv;
  let site: TestSite;
  let run = 0;

  before(async () => {
    env = await startTestEnv();
    site = await env.createSite();
    const res = await env.call('POST', '/wix-data/v2/collections', {
      key: site.apiKey,
      site: site.siteId,
      body: { collection: { id: 'Things', fields: [] } },
    });
    assert.equal(res.status, 200);
  });

  after(() => env.close());

  it('holds for random sequences of patches', async () => {
    let refusals = 0;
    let applied = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.constantFrom(...paths.filter((p) => !p.includes('.'))), value, { maxKeys: 4 }),
        fc.array(fc.array(modification, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 8 }),
        async (initial, patches) => {
          const id = `t${run++}`;
          const call = (method: string, path: string, body?: unknown) =>
            env.call(method, path, { key: site.apiKey, site: site.siteId, body });
          const inserted = await call('POST', '/wix-data/v2/items', {
            dataCollectionId: 'Things',
            dataItem: { id, data: initial },
          });
          assert.equal(inserted.status, 200);
          let model: Fields = structuredClone(initial);
          for (const patch of patches) {
            let expected: Fields | undefined;
            try {
              expected = applyModel(model, patch);
            } catch (error) {
              if (!(error instanceof Refused)) throw error;
            }
            const res = await call('POST', '/wix-data/v2/items/patch', {
              dataCollectionId: 'Things',
              patch: { dataItemId: id, fieldModifications: patch.map(wire) },
            });
            if (expected === undefined) {
              assert.equal(res.status, 400, JSON.stringify({ model, patch, body: res.body }));
              refusals += 1;
            } else {
              assert.equal(res.status, 200, JSON.stringify({ model, patch, body: res.body }));
              assert.deepStrictEqual(userFields(res.body.dataItem.data), expected);
              model = expected;
              applied += 1;
            }
          }
          const got = await call('GET', `/wix-data/v2/items/${id}?dataCollectionId=Things`);
          assert.deepStrictEqual(userFields(got.body.dataItem.data), model);
        },
      ),
      { numRuns: 40, seed: 15 },
    );
    // Both outcomes were exercised, or the property would say little.
    assert.ok(applied > 0 && refusals > 0, `applied ${applied}, refused ${refusals}`);
  });
});
