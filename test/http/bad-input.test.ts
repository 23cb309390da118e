/** Bad input gets a clear 4xx in the spec's error shape and changes nothing; never a 5xx. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertErrorShape } from '../helpers/error-shape.js';
import { startTestEnv, type TestEnv, type TestSite } from '../helpers/harness.js';

const P = '/wix-data/v2';

describe('bad input', () => {
  let env: TestEnv;
  let site: TestSite;

  before(async () => {
    env = await startTestEnv({ env: { SAFEKEEP_BODY_LIMIT_MB: '2' } });
    site = await env.createSite();
    await env.call('POST', `${P}/collections`, { key: site.apiKey, body: { collection: { id: 'Books' } } });
    await env.call('POST', `${P}/items`, {
      key: site.apiKey,
      body: { dataCollectionId: 'Books', dataItem: { id: 'keep', data: { title: 'kept' } } },
    });
  });

  after(() => env.close());

  async function expect4xx(
    method: string,
    path: string,
    init: { body?: unknown; rawBody?: string; headers?: Record<string, string> },
    status: number,
    code?: string,
  ): Promise<{ body: any }> {
    const res = await env.call(method, path, { key: site.apiKey, ...init });
    assert.equal(res.status, status, `${method} ${path}: ${res.text.slice(0, 300)}`);
    const actual = assertErrorShape(res.body);
    if (code) assert.equal(actual, code);
    return res;
  }

  it('refuses malformed JSON, a missing body, and non-JSON content types', async () => {
    for (const rawBody of [
      '{',
      '{"dataCollectionId": "Books",}',
      'null',
      '[1,2]',
      '"text"',
      '{"__proto__": {"admin": true}}',
    ]) {
      await expect4xx(
        'POST',
        `${P}/items/query`,
        { rawBody, headers: { 'content-type': 'application/json' } },
        400,
        'INVALID_ARGUMENT',
      );
    }
    await expect4xx(
      'POST',
      `${P}/items/query`,
      { rawBody: '', headers: { 'content-type': 'application/json' } },
      400,
    );
    await expect4xx(
      'POST',
      `${P}/items/query`,
      { rawBody: 'dataCollectionId=Books', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
      400,
    );
  });

  it('refuses wrong types and unknown fields, naming the field', async () => {
    const wrongType = await expect4xx('POST', `${P}/items/query`, { body: { dataCollectionId: 5 } }, 400);
    assert.equal(wrongType.body.details.validationError.fieldViolations[0].field, 'dataCollectionId');
    const unknown = await expect4xx(
      'POST',
      `${P}/items`,
      { body: { dataCollectionId: 'Books', dataItem: { data: {} }, surprise: 1 } },
      400,
    );
    assert.equal(unknown.body.details.validationError.fieldViolations[0].field, 'surprise');
    assert.equal(unknown.body.details.validationError.fieldViolations[0].violatedRule, 'FIELD_NOT_ALLOWED');
    await expect4xx(
      'POST',
      `${P}/items/query`,
      { body: { dataCollectionId: 'Books', query: { paging: { limit: 'ten' } } } },
      400,
    );
    await expect4xx(
      'POST',
      `${P}/items/query`,
      { body: { dataCollectionId: 'Books', query: { paging: { limit: 1001 } } } },
      400,
    );
    await expect4xx(
      'POST',
      `${P}/items/query`,
      { body: { dataCollectionId: 'Books', returnTotalCount: 'yes' } },
      400,
    );
    await expect4xx(
      'POST',
      `${P}/items`,
      { body: { dataCollectionId: 'Books', dataItem: { data: [1, 2] } } },
      400,
    );
    await expect4xx(
      'POST',
      `${P}/items`,
      { body: { dataCollectionId: 'Books', dataItem: { id: 'x'.repeat(129), data: {} } } },
      400,
    );
    await expect4xx(
      'POST',
      `${P}/items`,
      { body: { dataCollectionId: 'Books', dataItem: { data: { when: { $date: 'not a date' } } } } },
      400,
    );
    await expect4xx(
      'POST',
      `${P}/items`,
      { body: { dataCollectionId: 'Books', dataItem: { data: { $where: 'x' } } } },
      400,
    );
    await expect4xx(
      'POST',
      `${P}/items`,
      { body: { dataCollectionId: 'Books', dataItem: { id: 'a', data: { _id: 'b' } } } },
      400,
    );
    await expect4xx('GET', `${P}/items/query?.r=%%%`, {}, 400);
    await expect4xx('GET', `${P}/items/query?.r=${Buffer.from('[1]').toString('base64url')}`, {}, 400);
    await expect4xx('GET', `${P}/items/keep?dataCollectionId=Books&dataCollectionId=Other`, {}, 400);
    await expect4xx('GET', `${P}/items/%E0%A4%A?dataCollectionId=Books`, {}, 400);
  });

  it('refuses items larger than 500 KB with 413 WDE0109, singly and per item in a bulk', async () => {
    const big = 'x'.repeat(500 * 1024);
    await expect4xx(
      'POST',
      `${P}/items`,
      { body: { dataCollectionId: 'Books', dataItem: { id: 'big', data: { big } } } },
      413,
      'WDE0109',
    );
    await expect4xx(
      'POST',
      `${P}/items/save`,
      { body: { dataCollectionId: 'Books', dataItem: { id: 'keep', data: { big } } } },
      413,
      'WDE0109',
    );
    const bulk = await env.call('POST', `${P}/bulk/items/insert`, {
      key: site.apiKey,
      body: {
        dataCollectionId: 'Books',
        dataItems: [
          { id: 'small', data: { a: 1 } },
          { id: 'big', data: { big } },
        ],
      },
    });
    assert.equal(bulk.status, 200);
    assert.equal(bulk.body.results[0].itemMetadata.success, true);
    assert.equal(bulk.body.results[1].itemMetadata.success, false);
    assert.equal(bulk.body.results[1].itemMetadata.error.code, 'WDE0109');
    // Just under the limit is fine (the limit counts the stored JSON, system fields included).
    const fits = await env.call('POST', `${P}/items`, {
      key: site.apiKey,
      body: {
        dataCollectionId: 'Books',
        dataItem: { id: 'fits', data: { big: 'x'.repeat(500 * 1024 - 300) } },
      },
    });
    assert.equal(fits.status, 200);
    const tooBig = await env.call('POST', `${P}/items/query`, {
      key: site.apiKey,
      rawBody: `{"dataCollectionId":"${'x'.repeat(3 * 1024 * 1024)}"}`,
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(tooBig.status, 413);
    assert.equal(assertErrorShape(tooBig.body), 'PAYLOAD_TOO_LARGE');
  });

  it('refuses bulks of more than 1000 items', async () => {
    const items = Array.from({ length: 1001 }, (_, i) => ({ id: `i${i}`, data: {} }));
    const res = await expect4xx(
      'POST',
      `${P}/bulk/items/insert`,
      { body: { dataCollectionId: 'Books', dataItems: items } },
      400,
    );
    assert.equal(res.body.details.validationError.fieldViolations[0].violatedRule, 'MAX_SIZE');
    await expect4xx(
      'POST',
      `${P}/bulk/items/remove`,
      { body: { dataCollectionId: 'Books', dataItemIds: items.map((i) => i.id) } },
      400,
    );
    const count = await env.call('POST', `${P}/items/count`, {
      key: site.apiKey,
      body: { dataCollectionId: 'Books' },
    });
    assert.equal(count.body.totalCount, 3, 'nothing from the refused bulks was written');
  });

  it('refuses bad, tampered and foreign cursors', async () => {
    await env.call('POST', `${P}/bulk/items/insert`, {
      key: site.apiKey,
      body: { dataCollectionId: 'Books', dataItems: Array.from({ length: 5 }, () => ({ data: {} })) },
    });
    const first = await env.call('POST', `${P}/items/query`, {
      key: site.apiKey,
      body: { dataCollectionId: 'Books', query: { cursorPaging: { limit: 2 } } },
    });
    const cursor = first.body.pagingMetadata.cursors.next as string;
    assert.equal(typeof cursor, 'string');
    const ok = await env.call('POST', `${P}/items/query`, {
      key: site.apiKey,
      body: { dataCollectionId: 'Books', query: { cursorPaging: { cursor } } },
    });
    assert.equal(ok.status, 200);
    const [payload, mac] = cursor.split('.');
    const forged = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()), limit: 100 }),
    ).toString('base64url');
    for (const bad of ['garbage', `${payload}.AAAA`, `${forged}.${mac}`, `${payload}`, `${cursor}.extra`]) {
      await expect4xx(
        'POST',
        `${P}/items/query`,
        { body: { dataCollectionId: 'Books', query: { cursorPaging: { cursor: bad } } } },
        400,
        'INVALID_ARGUMENT',
      );
    }
    const other = await env.createSite('other');
    await env.call('POST', `${P}/collections`, { key: other.apiKey, body: { collection: { id: 'Books' } } });
    const foreign = await env.call('POST', `${P}/items/query`, {
      key: other.apiKey,
      body: { dataCollectionId: 'Books', query: { cursorPaging: { cursor } } },
    });
    assert.equal(foreign.status, 400, 'a cursor of another site is refused');
    await expect4xx(
      'POST',
      `${P}/items/query`,
      { body: { dataCollectionId: 'Books', query: { cursorPaging: { cursor }, filter: { a: 1 } } } },
      400,
    );
  });

  it('treats injection attempts in field names, filters and ids as data, or refuses them', async () => {
    const filters: unknown[] = [
      { "title') OR 1=1 --": 'x' },
      { title: "' OR 1=1 --" },
      { 'a"b': 1 },
      { 'a\\b': 1 },
      { '': 1 },
      { 'a..b': 1 },
      { title: { $regex: '.*' } },
      { $where: 'sleep(1)' },
      { title: { $in: 'not-an-array' } },
      { title: { a: 1 } },
      { title: { $exists: 'yes' } },
      { $and: {} },
      { title: { $gt: true } },
    ];
    for (const filter of filters) {
      const res = await env.call('POST', `${P}/items/query`, {
        key: site.apiKey,
        body: { dataCollectionId: 'Books', query: { filter } },
      });
      assert.ok(res.status === 200 || res.status === 400, `${JSON.stringify(filter)} → ${res.status}`);
      if (res.status === 200)
        assert.equal(res.body.dataItems.length, 0, `${JSON.stringify(filter)} matched nothing`);
      else assertErrorShape(res.body);
    }
    const sort = await env.call('POST', `${P}/items/query`, {
      key: site.apiKey,
      body: { dataCollectionId: 'Books', query: { sort: [{ fieldName: 'x); DROP TABLE sites; --' }] } },
    });
    assert.equal(sort.status, 200);
    await expect4xx(
      'POST',
      `${P}/items/query`,
      { body: { dataCollectionId: 'Books"; DROP TABLE sites; --' } },
      400,
    );
    await expect4xx('POST', `${P}/collections`, { body: { collection: { id: '../etc/passwd' } } }, 400);
    let deep: unknown = { v: 1 };
    for (let i = 0; i < 100; i++) deep = { $and: [deep] };
    await expect4xx(
      'POST',
      `${P}/items/query`,
      { body: { dataCollectionId: 'Books', query: { filter: deep } } },
      400,
    );
    let nested: unknown = 1;
    for (let i = 0; i < 200; i++) nested = { n: nested };
    await expect4xx(
      'POST',
      `${P}/items`,
      { body: { dataCollectionId: 'Books', dataItem: { data: { nested } } } },
      400,
    );
    // A definition nested 20,000 levels deep (sent as text: JSON.stringify would overflow first).
    const deepDefinition = await env.call('POST', `${P}/collections`, {
      key: site.apiKey,
      rawBody: `{"collection":{"id":"Deep","permissions":{"a":${'['.repeat(20_000)}1${']'.repeat(20_000)}}}}`,
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(deepDefinition.status, 400, deepDefinition.text);
    assert.equal(assertErrorShape(deepDefinition.body), 'INVALID_ARGUMENT');
    const kept = await env.call('GET', `${P}/items/keep?dataCollectionId=Books`, { key: site.apiKey });
    assert.equal(kept.body.dataItem.data.title, 'kept');
    const sites = await env.call('GET', '/_api/safekeep/v1/sites', { key: env.adminKey });
    assert.equal(sites.status, 200);
  });

  it('answers unknown routes and methods with 404 in the error shape', async () => {
    await expect4xx('GET', '/nope', {}, 404, 'ROUTE_NOT_FOUND');
    await expect4xx('PATCH', `${P}/items`, { body: {} }, 404, 'ROUTE_NOT_FOUND');
    await expect4xx('GET', `${P}/items/nope?dataCollectionId=Books`, {}, 404, 'WDE0073');
    await expect4xx('POST', `${P}/items/query`, { body: { dataCollectionId: 'NoSuch' } }, 404, 'WDE0025');
  });

  // Issue 10, item 3: an offset of 2^63 or more answered 500 (SQLite "datatype mismatch"), one past 2^53
  // answered 200 with a rounded offset.
  it('refuses paging offsets past 2^53 − 1 on items query, backups list and restorations list, naming the field', async () => {
    const r = (value: unknown) => `.r=${Buffer.from(JSON.stringify(value)).toString('base64url')}`;
    const offsets = [
      '9007199254740992',
      '9007199254740993',
      '9223372036854775807',
      '9223372036854775808',
      '18446744073709551616',
      '1e308',
    ];
    for (const offset of offsets) {
      const asJson = (o: string) => JSON.parse(`{"offset":${o}}`) as unknown;
      const cases: [string, string, unknown, string][] = [
        [
          'GET',
          `${P}/items/query?dataCollectionId=Books&query.paging.offset=${offset}`,
          undefined,
          'query.paging.offset',
        ],
        [
          'GET',
          `${P}/items/query?${r({ dataCollectionId: 'Books', query: { paging: asJson(offset) } })}`,
          undefined,
          'query.paging.offset',
        ],
        ['POST', `${P}/items/query`, undefined, 'query.paging.offset'],
        ['GET', `${P}/backups?paging.offset=${offset}`, undefined, 'paging.offset'],
        ['GET', `${P}/backups?${r({ paging: asJson(offset) })}`, undefined, 'paging.offset'],
        ['GET', `${P}/backups/restorations?paging.offset=${offset}`, undefined, 'paging.offset'],
        ['GET', `/data/v2/backups/restorations?${r({ paging: asJson(offset) })}`, undefined, 'paging.offset'],
        ['GET', `${P}/collections?paging.offset=${offset}`, undefined, 'paging.offset'],
      ];
      for (const [method, path, , field] of cases) {
        // The POST body is written as text: 2^53 + 1 and beyond are not JavaScript numbers.
        const init =
          method === 'POST'
            ? {
                rawBody: `{"dataCollectionId":"Books","query":{"paging":{"offset":${offset}}}}`,
                headers: { 'content-type': 'application/json' },
              }
            : {};
        const res = await expect4xx(method, path, init, 400, 'INVALID_ARGUMENT');
        const violation = res.body.details.validationError.fieldViolations[0];
        assert.equal(violation.field, field, `${method} ${path}`);
        assert.equal(violation.violatedRule, 'MAX', `${method} ${path}`);
      }
    }
    // The largest offset storage can be asked for is answered (with nothing).
    const max = Number.MAX_SAFE_INTEGER;
    for (const path of [
      `${P}/items/query?dataCollectionId=Books&query.paging.offset=${max}`,
      `${P}/backups?paging.offset=${max}`,
      `${P}/backups/restorations?paging.offset=${max}`,
    ]) {
      const res = await env.call('GET', path, { key: site.apiKey });
      assert.equal(res.status, 200, `${path}: ${res.text.slice(0, 200)}`);
      assert.equal(res.body.pagingMetadata.offset, max, path);
      assert.equal(res.body.pagingMetadata.count, 0, path);
    }
    const post = await env.call('POST', `${P}/items/query`, {
      key: site.apiKey,
      body: { dataCollectionId: 'Books', query: { paging: { offset: max } } },
    });
    assert.equal(post.status, 200, post.text.slice(0, 200));
    assert.equal(post.body.pagingMetadata.offset, max);
    // Item data is content, not a request integer: large numbers in it are kept as they are.
    const big = await env.call('POST', `${P}/items`, {
      key: site.apiKey,
      rawBody:
        '{"dataCollectionId":"Books","dataItem":{"id":"big-number","data":{"n":9223372036854775808,"m":1e308}}}',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(big.status, 200, big.text.slice(0, 200));
    const removed = await env.call('POST', `${P}/items/remove`, {
      key: site.apiKey,
      body: { dataCollectionId: 'Books', dataItemId: 'big-number' },
    });
    assert.equal(removed.status, 200);
  });

  // Issue 10, item 3: an id holding a lone surrogate was accepted, and the item could then be neither
  // updated nor removed.
  it('refuses ids and text holding a lone UTF-16 surrogate on every item operation, naming the field', async () => {
    const lone = 'id\ud800x';
    const r = (value: unknown) => `.r=${Buffer.from(JSON.stringify(value)).toString('base64url')}`;
    const cases: [string, string, unknown, string][] = [
      ['POST', `${P}/items`, { dataCollectionId: 'Books', dataItem: { id: lone, data: {} } }, 'dataItem.id'],
      [
        'POST',
        `${P}/items`,
        { dataCollectionId: 'Books', dataItem: { data: { _id: lone } } },
        'dataItem.data._id',
      ],
      [
        'POST',
        `${P}/items`,
        { dataCollectionId: 'Books', dataItem: { id: 'ok', data: { title: `a\udc00` } } },
        'dataItem.data.title',
      ],
      [
        'POST',
        `${P}/items`,
        { dataCollectionId: 'Books', dataItem: { id: 'ok', data: { [`t\ud800`]: 1 } } },
        'dataItem.data.t\ufffd',
      ],
      [
        'POST',
        `${P}/items/save`,
        { dataCollectionId: 'Books', dataItem: { id: lone, data: {} } },
        'dataItem.id',
      ],
      [
        'POST',
        `${P}/items/update`,
        { dataCollectionId: 'Books', dataItem: { id: lone, data: {} } },
        'dataItem.id',
      ],
      [
        'PUT',
        `${P}/items/keep`,
        { dataCollectionId: 'Books', dataItem: { id: lone, data: {} } },
        'dataItem.id',
      ],
      ['POST', `${P}/items/remove`, { dataCollectionId: 'Books', dataItemId: lone }, 'dataItemId'],
      [
        'GET',
        `${P}/items/keep?${r({ dataCollectionId: 'Books', dataItemId: lone })}`,
        undefined,
        'dataItemId',
      ],
      [
        'DELETE',
        `${P}/items/keep?${r({ dataCollectionId: 'Books', dataItemId: lone })}`,
        undefined,
        'dataItemId',
      ],
      [
        'GET',
        `${P}/items/query?${r({ dataCollectionId: 'Books', query: { filter: { _id: lone } } })}`,
        undefined,
        'query.filter._id',
      ],
      [
        'POST',
        `${P}/items/query`,
        { dataCollectionId: 'Books', query: { sort: [{ fieldName: lone }] } },
        'query.sort[0].fieldName',
      ],
      [
        'POST',
        `${P}/bulk/items/insert`,
        {
          dataCollectionId: 'Books',
          dataItems: [
            { id: 'fine', data: {} },
            { id: lone, data: {} },
          ],
        },
        'dataItems[1].id',
      ],
      [
        'POST',
        `${P}/bulk/items/save`,
        { dataCollectionId: 'Books', dataItems: [{ id: lone, data: {} }] },
        'dataItems[0].id',
      ],
      [
        'POST',
        `${P}/bulk/items/update`,
        { dataCollectionId: 'Books', dataItems: [{ id: lone, data: {} }] },
        'dataItems[0].id',
      ],
      [
        'POST',
        `${P}/bulk/items/remove`,
        { dataCollectionId: 'Books', dataItemIds: ['keep', lone] },
        'dataItemIds[1]',
      ],
      ['POST', `${P}/items/count`, { dataCollectionId: `Books${'\udfff'}` }, 'dataCollectionId'],
      ['POST', `${P}/collections`, { collection: { id: lone } }, 'collection.id'],
      [
        'POST',
        `${P}/backups/not-a-backup/partial-restore`,
        { restorationCollections: [{ dataCollectionId: lone }] },
        'restorationCollections[0].dataCollectionId',
      ],
      [
        'POST',
        '/_api/safekeep/v1/api-keys',
        { name: lone, siteIds: [site.siteId], scopes: ['data.read'] },
        'name',
      ],
    ];
    for (const [method, path, body, field] of cases) {
      const res = await expect4xx(method, path, body === undefined ? {} : { body }, 400, 'INVALID_ARGUMENT');
      const violation = res.body.details.validationError.fieldViolations[0];
      assert.equal(violation.field, field, `${method} ${path}`);
      assert.equal(violation.violatedRule, 'FORMAT', `${method} ${path}`);
    }
    // Nothing was written: the collection still holds only what it held.
    const list = await env.call('POST', `${P}/items/query`, {
      key: site.apiKey,
      body: { dataCollectionId: 'Books', query: { paging: { limit: 1000 } } },
    });
    assert.equal(list.status, 200);
    for (const item of list.body.dataItems as { id: string }[]) {
      assert.notEqual(item.id, 'fine', 'a refused bulk wrote nothing');
      assert.notEqual(item.id, 'ok');
    }
    // A surrogate pair (an emoji) is well formed and welcome.
    const emoji = await env.call('POST', `${P}/items`, {
      key: site.apiKey,
      body: { dataCollectionId: 'Books', dataItem: { id: 'id\ud83d\ude00x', data: { t: '\ud83d\ude00' } } },
    });
    assert.equal(emoji.status, 200, emoji.text.slice(0, 200));
    const got = await env.call(
      'GET',
      `${P}/items/${encodeURIComponent('id\ud83d\ude00x')}?dataCollectionId=Books`,
      {
        key: site.apiKey,
      },
    );
    assert.equal(got.status, 200);
    assert.equal(got.body.dataItem.data.t, '\ud83d\ude00');
    const gone = await env.call('POST', `${P}/items/remove`, {
      key: site.apiKey,
      body: { dataCollectionId: 'Books', dataItemId: 'id\ud83d\ude00x' },
    });
    assert.equal(gone.status, 200);
  });
});
