import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../../src/contracts/errors.js';
import { parseFilter } from '../../src/domain/query/filter.js';
import { parseSort } from '../../src/domain/query/sort.js';

function violation(fn: () => unknown): { field: string; rule: string } {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof AppError);
    assert.equal(error.code, 'INVALID_ARGUMENT');
    return { field: error.violations[0]?.field ?? '', rule: error.violations[0]?.violatedRule ?? '' };
  }
  assert.fail('expected INVALID_ARGUMENT');
}

describe('filter parsing', () => {
  it('reads equality, operators, dates and combinators into a typed tree', () => {
    assert.equal(parseFilter(undefined), null);
    assert.equal(parseFilter({}), null);
    assert.deepEqual(parseFilter({ a: 1 }), {
      kind: 'compare',
      field: ['a'],
      op: 'eq',
      value: { type: 'number', value: 1 },
    });
    assert.deepEqual(parseFilter({ 'a.b': { $gt: 'x', $lt: 'z' } }), {
      kind: 'and',
      nodes: [
        { kind: 'compare', field: ['a', 'b'], op: 'gt', value: { type: 'string', value: 'x' } },
        { kind: 'compare', field: ['a', 'b'], op: 'lt', value: { type: 'string', value: 'z' } },
      ],
    });
    assert.deepEqual(parseFilter({ d: { $date: '2020-01-01T00:00:00Z' } }), {
      kind: 'compare',
      field: ['d'],
      op: 'eq',
      value: { type: 'date', iso: '2020-01-01T00:00:00.000Z', ms: Date.UTC(2020, 0, 1) },
    });
    assert.equal(
      (parseFilter({ _createdDate: { $gt: '2020-01-01' } }) as { value: { type: string } }).value.type,
      'date',
    );
    assert.deepEqual(parseFilter({ $not: [{ a: null }] }), {
      kind: 'not',
      node: { kind: 'and', nodes: [{ kind: 'compare', field: ['a'], op: 'eq', value: { type: 'null' } }] },
    });
    assert.equal(parseFilter({ $or: [{ a: 1 }, { b: { $exists: true } }] })?.kind, 'or');
  });

  it('refuses what it cannot mean, naming the place', () => {
    assert.deepEqual(
      violation(() => parseFilter({ a: { $regex: 'x' } })),
      { field: 'filter.a.$regex', rule: 'VALIDATION' },
    );
    assert.equal(violation(() => parseFilter({ $where: 'x' })).field, 'filter.$where');
    assert.equal(violation(() => parseFilter({ a: { $in: 'x' } })).field, 'filter.a.$in');
    assert.equal(violation(() => parseFilter({ a: { b: 1 } })).field, 'filter.a.b');
    assert.equal(violation(() => parseFilter({ a: [1] })).field, 'filter.a');
    assert.equal(violation(() => parseFilter({ a: { $gt: null } })).field, 'filter.a.$gt');
    assert.equal(violation(() => parseFilter({ a: { $date: 'yesterday' } })).rule, 'FORMAT');
    assert.equal(violation(() => parseFilter({ 'a"b': 1 })).rule, 'FORMAT');
    assert.equal(violation(() => parseFilter({ 'a..b': 1 })).rule, 'FORMAT');
    assert.equal(violation(() => parseFilter([1])).field, 'filter');
    let deep: unknown = { a: 1 };
    for (let i = 0; i < 20; i++) deep = { $and: [deep] };
    assert.equal(violation(() => parseFilter(deep)).rule, 'MAX');
    assert.equal(
      violation(() => parseFilter({ a: { $in: Array.from({ length: 1001 }, (_, i) => i) } })).rule,
      'MAX_SIZE',
    );
  });
});

describe('sort parsing', () => {
  it('defaults to ascending and refuses duplicates and unknown properties', () => {
    assert.deepEqual(parseSort([{ fieldName: 'a' }, { fieldName: 'b.c', order: 'DESC' }]), [
      { field: ['a'], order: 'ASC' },
      { field: ['b', 'c'], order: 'DESC' },
    ]);
    assert.equal(violation(() => parseSort([{ fieldName: 'a' }, { fieldName: 'a' }])).field, 'sort[1]');
    assert.equal(violation(() => parseSort([{ fieldName: 'a', order: 'UP' }])).field, 'sort[0].order');
    assert.equal(violation(() => parseSort([{ fieldName: 'a', extra: 1 }])).rule, 'FIELD_NOT_ALLOWED');
  });
});
