import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../../src/contracts/errors.js';
import { composeItem, MAX_ITEM_BYTES, parseDateValue, readItemInput } from '../../src/domain/item-codec.js';
import { newItemId } from '../../src/services/ids.js';

describe('item codec', () => {
  it('normalises dates anywhere in the data and splits off system fields', () => {
    const input = readItemInput(
      undefined,
      {
        _id: 'x',
        _createdDate: { $date: '1999-01-01T00:00:00Z' },
        _owner: 'someone',
        a: { $date: '2020-01-01T10:00:00+02:00' },
        list: [{ $date: '2020-01-02' }],
      },
      'dataItem',
    );
    assert.equal(input.id, 'x');
    assert.equal(input.owner, 'someone');
    assert.deepEqual(input.fields, {
      a: { $date: '2020-01-01T08:00:00.000Z' },
      list: [{ $date: '2020-01-02T00:00:00.000Z' }],
    });
  });

  it('composes the stored JSON with the system fields in a fixed order', () => {
    const item = composeItem({ id: 'i', owner: 'o', createdAt: 0, updatedAt: 1000, fields: { b: 1, a: 2 } });
    assert.equal(
      item.json,
      '{"_id":"i","b":1,"a":2,"_owner":"o","_createdDate":{"$date":"1970-01-01T00:00:00.000Z"},"_updatedDate":{"$date":"1970-01-01T00:00:01.000Z"}}',
    );
  });

  it('refuses items over 500 KB, counting UTF-8 bytes', () => {
    const fits = composeItem({
      id: 'i',
      owner: 'o',
      createdAt: 0,
      updatedAt: 0,
      fields: { s: 'é'.repeat(200_000) },
    });
    assert.ok(Buffer.byteLength(fits.json) <= MAX_ITEM_BYTES);
    assert.throws(
      () =>
        composeItem({ id: 'i', owner: 'o', createdAt: 0, updatedAt: 0, fields: { s: 'é'.repeat(260_000) } }),
      (e: unknown) => e instanceof AppError && e.code === 'WDE0109',
    );
  });

  it('refuses $-keys, bad dates, deep nesting and mismatched ids', () => {
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return (e as AppError).code;
      }
      return 'none';
    };
    assert.equal(
      code(() => readItemInput(undefined, { a: { $set: 1 } }, 'd')),
      'INVALID_ARGUMENT',
    );
    assert.equal(
      code(() => readItemInput(undefined, { a: { $date: 'soon' } }, 'd')),
      'INVALID_ARGUMENT',
    );
    assert.equal(
      code(() => readItemInput(undefined, { a: { $date: '2020-01-01', x: 1 } }, 'd')),
      'INVALID_ARGUMENT',
    );
    let deep: unknown = 1;
    for (let i = 0; i < 80; i++) deep = [deep];
    assert.equal(
      code(() => readItemInput(undefined, { deep }, 'd')),
      'INVALID_ARGUMENT',
    );
    assert.equal(
      code(() => readItemInput('a', { _id: 'b' }, 'd')),
      'INVALID_ARGUMENT',
    );
    assert.equal(
      code(() => readItemInput('a\u0000', {}, 'd')),
      'INVALID_ARGUMENT',
    );
    assert.equal(parseDateValue('+275760-09-13T00:00:00.000Z'), undefined);
  });

  it('generates time-ordered, unique item ids', () => {
    const ids = Array.from({ length: 5000 }, () => newItemId(1_800_000_000_000));
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual([...ids].sort(), ids);
    assert.match(ids[0] ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
