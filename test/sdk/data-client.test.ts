/**
 * The SDK's Data Items and Data Collections clients against the server over real loopback HTTP: every
 * method, its errors, and (last) that every Data API route was reached and every answer matched the
 * OpenAPI document.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { unsupportedOperations } from '../../src/contracts/unsupported-operations.js';
import { SafekeepApiError, SafekeepClient } from '../../src/sdk/index.js';
import { runJobs } from '../helpers/backup-helpers.js';
import { startTestEnv, type TestEnv } from '../helpers/harness.js';
import { mismatches, recordingFetch, unreached, type Exchange } from './api-recorder.js';

const rejectsWith = async (
  call: Promise<unknown>,
  status: number,
  code: string,
): Promise<SafekeepApiError> => {
  const error = await call.then(
    () => assert.fail(`expected ${status} ${code}`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof SafekeepApiError, String(error));
  assert.equal(error.status, status, error.message);
  assert.equal(error.code, code, error.message);
  assert.ok(error.body, 'the error keeps the body in the spec shape');
  return error;
};

describe('SafekeepClient: items and collections', () => {
  let env: TestEnv;
  let client: SafekeepClient;
  const log: Exchange[] = [];

  before(async () => {
    env = await startTestEnv();
    const port = await env.listen();
    const site = await env.createSite('SDK data');
    client = new SafekeepClient({
      baseUrl: `http://127.0.0.1:${port}`,
      apiKey: site.apiKey,
      siteId: site.siteId,
      fetch: recordingFetch(fetch, log),
    });
  });
  after(() => env.close());

  it('creates, gets, lists, updates and deletes collections', async () => {
    const authors = await client.collections.create({ id: 'Authors', displayName: 'Authors' });
    assert.equal(authors.revision, '1');
    const books = await client.collections.create({
      id: 'Books',
      displayName: 'Books',
      fields: [
        { key: 'title', type: 'TEXT' },
        {
          key: 'authors',
          type: 'MULTI_REFERENCE',
          typeMetadata: { multiReference: { referencedCollectionId: 'Authors' } },
        },
      ],
    });
    assert.deepEqual(
      books.fields.filter((f) => f.systemField !== true).map((f) => f.key),
      ['title', 'authors'],
    );
    assert.equal(books.maxPageSize, 1000);
    await rejectsWith(client.collections.create({ id: 'Books' }), 409, 'COLLECTION_ALREADY_EXISTS');

    const app = await client.collections.create({ id: '@app/Notes', displayName: 'Notes' });
    assert.equal((await client.collections.get('@app/Notes')).id, app.id, 'an id with a slash');

    const renamed = await client.collections.update({ ...books, displayName: 'All books' });
    assert.equal(renamed.displayName, 'All books');
    assert.equal(renamed.revision, '2');
    await rejectsWith(
      client.collections.update({ ...books, displayName: 'Stale' }),
      409,
      'REVISION_MISMATCH',
    );

    const page = await client.collections.list({ limit: 2, offset: 1 });
    assert.deepEqual(
      page.collections.map((c) => c.id),
      ['Authors', 'Books'],
    );
    assert.deepEqual(page.pagingMetadata, { count: 2, offset: 1, total: 3, hasNext: false });

    const byName = await client.collections.list({
      sort: { fieldName: 'displayName', order: 'DESC' },
      fields: ['title'],
    });
    assert.deepEqual(
      byName.collections.map((c) => [c.displayName, c.fields.map((f) => f.key)]),
      [
        ['Notes', []],
        ['Authors', []],
        ['All books', ['title']],
      ],
    );

    // Partial changes: the collection, then its fields; each increments the revision.
    await client.collections.create({ id: '@app/Fields', displayName: 'Fields' });
    const patched = await client.collections.patch('@app/Fields', { displayField: 'text', revision: '1' });
    assert.equal(patched.displayField, 'text');
    assert.equal(patched.revision, '2');
    await rejectsWith(client.collections.patch('@app/Fields', { revision: '1' }), 409, 'REVISION_MISMATCH');
    await client.collections.createField('@app/Fields', { key: 'text', type: 'TEXT' });
    await rejectsWith(
      client.collections.createField('@app/Fields', { key: 'text', type: 'TEXT' }),
      409,
      'FIELD_ALREADY_EXISTS',
    );
    await client.collections.patchField('@app/Fields', { key: 'text', displayName: 'Text' });
    const replaced = await client.collections.updateField('@app/Fields', { key: 'text', type: 'RICH_TEXT' });
    assert.deepEqual(replaced.fields.at(-1), { key: 'text', type: 'RICH_TEXT' });
    const emptied = await client.collections.deleteField('@app/Fields', 'text');
    assert.equal(emptied.revision, '6');
    assert.equal(
      emptied.fields.every((f) => f.systemField === true),
      true,
    );
    await rejectsWith(client.collections.deleteField('@app/Fields', 'text'), 404, 'FIELD_NOT_FOUND');

    await client.collections.delete('@app/Notes');
    await rejectsWith(client.collections.get('@app/Notes'), 404, 'WDE0025');
    await rejectsWith(client.collections.delete('@app/Notes'), 404, 'WDE0025');

    // Deleted collections wait in the bin: listed, and restored whole.
    const [deleted] = await client.collections.listDeleted();
    assert.equal(deleted?.collection.id, '@app/Notes');
    assert.equal(
      Date.parse(deleted?.expirationDate ?? '') - Date.parse(deleted?.deletedDate ?? ''),
      30 * 24 * 3600 * 1000,
    );
    const restored = await client.collections.restoreDeleted('@app/Notes');
    assert.deepEqual(restored, app);
    assert.deepEqual(await client.collections.listDeleted(), []);
    await rejectsWith(client.collections.restoreDeleted('@app/Notes'), 404, 'WDE0025');
    await client.collections.delete('@app/Notes');
    await client.collections.create({ id: '@app/Notes', displayName: 'Notes again' });
    await rejectsWith(client.collections.restoreDeleted('@app/Notes'), 409, 'COLLECTION_ALREADY_EXISTS');
    await client.collections.delete('@app/Notes');
    await rejectsWith(client.collections.restoreDeleted('Never'), 404, 'WDE0025');
  });

  it('inserts, gets, updates, saves and removes items', async () => {
    const dune = await client.items.insert('Books', { _id: 'dune', title: 'Dune', year: 1965 });
    assert.equal(dune.id, 'dune');
    assert.equal(dune.dataCollectionId, 'Books');
    assert.ok(dune.data._createdDate?.$date);
    const generated = await client.items.insert('Books', { title: 'Emma', year: 1815 });
    assert.match(generated.id, /^[0-9a-f-]{36}$/);
    await rejectsWith(client.items.insert('Books', { _id: 'dune', title: 'Again' }), 409, 'WDE0074');
    await rejectsWith(client.items.insert('Nope', { title: 'x' }), 404, 'WDE0025');

    assert.deepEqual((await client.items.get('Books', 'dune')).data, dune.data);
    const projected = await client.items.get('Books', 'dune', { fields: ['title'] });
    assert.equal(projected.data.title, 'Dune');
    assert.equal(projected.data.year, undefined);
    await rejectsWith(client.items.get('Books', 'missing'), 404, 'WDE0073');

    const odd = await client.items.insert('Books', { _id: 'a/b é?#', title: 'Odd id' });
    assert.equal((await client.items.get('Books', odd.id)).id, 'a/b é?#', 'ids are encoded in the path');

    const updated = await client.items.update('Books', { _id: 'dune', title: 'Dune', year: 1966 });
    assert.equal(updated.data.year, 1966);
    assert.deepEqual(updated.data._createdDate, dune.data._createdDate, 'replace keeps _createdDate');
    await rejectsWith(client.items.update('Books', { _id: 'missing', title: 'x' }), 404, 'WDE0073');

    const inserted = await client.items.save('Books', { _id: 'ulysses', title: 'Ulysses' });
    assert.equal(inserted.action, 'INSERTED');
    const saved = await client.items.save('Books', { _id: 'ulysses', title: 'Ulysses', year: 1922 });
    assert.equal(saved.action, 'UPDATED');
    assert.equal(saved.dataItem.data.year, 1922);

    const removed = await client.items.remove('Books', odd.id);
    assert.equal(removed.data.title, 'Odd id');
    await rejectsWith(client.items.remove('Books', odd.id), 404, 'WDE0073');
  });

  it('queries, counts and pages items, in either environment', async () => {
    const all = await client.items.query(
      'Books',
      { sort: [{ fieldName: 'year', order: 'ASC' }] },
      { returnTotalCount: true },
    );
    assert.deepEqual(
      all.dataItems.map((i) => i.data.title),
      ['Emma', 'Ulysses', 'Dune'],
    );
    assert.equal(all.pagingMetadata.total, 3);
    const recent = await client.items.query('Books', {
      filter: { year: { $gt: 1900 } },
      paging: { limit: 1 },
    });
    assert.equal(recent.dataItems.length, 1);
    assert.equal(recent.pagingMetadata.hasNext, true);
    const next = await client.items.query('Books', {
      cursorPaging: { cursor: recent.pagingMetadata.cursors.next ?? '' },
    });
    assert.equal(next.dataItems.length, 1);
    assert.notEqual(next.dataItems[0]?.id, recent.dataItems[0]?.id);
    const bad = await rejectsWith(
      client.items.query('Books', { filter: { year: { $regex: 'x' } } }),
      400,
      'INVALID_ARGUMENT',
    );
    assert.ok(bad.fieldViolations.length > 0);

    assert.equal(await client.items.count('Books'), 3);
    assert.equal(await client.items.count('Books', { year: { $lt: 1900 } }), 1);
    const years = (await client.items.query('Books')).dataItems.map((i) => i.data.year as number);
    const distinct = await client.items.distinct('Books', 'year', { order: 'ASC' });
    assert.deepEqual(
      distinct.distinctValues,
      [...new Set(years)].sort((x, y) => x - y),
    );
    const totals = await client.items.aggregate('Books', {
      aggregation: { operations: [{ resultFieldName: 'n', itemCount: {} }] },
    });
    assert.equal(totals.results[0]?.n, 3);
    const found = await client.items.search('Books', { search: { expression: 'dune', fuzzy: true } });
    assert.deepEqual(
      found.dataItems.map((i) => i.id),
      ['dune'],
    );
    await rejectsWith(client.items.search('Books', { search: {} }), 400, 'INVALID_ARGUMENT');

    await client.items.insert('Books', { _id: 'draft', title: 'Draft' }, { environment: 'SANDBOX' });
    assert.equal(await client.items.count('Books', undefined, { environment: 'SANDBOX' }), 1);
    assert.equal(await client.items.count('Books', undefined, { environment: 'LIVE' }), 3);
    assert.equal((await client.items.get('Books', 'draft', { environment: 'SANDBOX' })).data.title, 'Draft');
    await rejectsWith(client.items.get('Books', 'draft'), 404, 'WDE0073');
    await client.items.truncate('Books', { environment: 'SANDBOX' });
    assert.equal(await client.items.count('Books', undefined, { environment: 'SANDBOX' }), 0);
    assert.equal(await client.items.count('Books'), 3, 'truncating the sandbox leaves LIVE alone');
  });

  it('patches items one by one and in bulk, under a condition', async () => {
    await client.items.insert('Books', { _id: 'patchme', title: 'P', reads: 1 });
    const set = (value: string) => ({
      fieldPath: 'title',
      action: 'SET_FIELD' as const,
      setFieldOptions: { value },
    });
    const patched = await client.items.patch('Books', 'patchme', [
      set('Patched'),
      { fieldPath: 'reads', action: 'INCREMENT_FIELD', incrementFieldOptions: { value: 2 } },
    ]);
    assert.deepEqual([patched.data.title, patched.data.reads], ['Patched', 3]);
    await rejectsWith(
      client.items.patch('Books', 'patchme', [set('x')], { condition: { reads: 1 } }),
      409,
      'CONDITION_NOT_MET',
    );
    await rejectsWith(client.items.patch('Books', 'absent', [set('x')]), 404, 'WDE0073');
    const updated = await client.items.update(
      'Books',
      { _id: 'patchme', title: 'Replaced' },
      { condition: { reads: 3 } },
    );
    assert.equal(updated.data.reads, undefined);
    const bulk = await client.items.bulkPatch('Books', ['patchme', 'absent'], [set('Bulk')], {
      condition: { title: 'Replaced' },
      returnEntity: true,
    });
    assert.deepEqual(bulk.bulkActionMetadata, { totalSuccesses: 1, totalFailures: 1 });
    assert.equal(bulk.results[0]?.action, 'PATCH');
    assert.equal(bulk.results[0]?.dataItem?.data.title, 'Bulk');
    assert.equal(bulk.results[1]?.itemMetadata.error?.code, 'WDE0073');
    await rejectsWith(
      client.items.remove('Books', 'patchme', { condition: { title: 'Replaced' } }),
      409,
      'CONDITION_NOT_MET',
    );
    const removed = await client.items.remove('Books', 'patchme', { condition: { title: 'Bulk' } });
    assert.equal(removed.data.title, 'Bulk');
  });

  it('writes and removes items in bulk, reporting each entry', async () => {
    const inserted = await client.items.bulkInsert(
      'Authors',
      [
        { _id: 'herbert', name: 'Herbert' },
        { _id: 'austen', name: 'Austen' },
        { _id: 'herbert', name: 'Twice' },
      ],
      { returnEntity: true },
    );
    assert.deepEqual(inserted.bulkActionMetadata, { totalSuccesses: 2, totalFailures: 1 });
    assert.equal(inserted.results[2]?.itemMetadata.error?.code, 'WDE0074');
    assert.equal(inserted.results[0]?.dataItem?.data.name, 'Herbert');

    const updated = await client.items.bulkUpdate('Authors', [
      { _id: 'austen', name: 'Jane Austen' },
      { _id: 'nobody', name: 'x' },
    ]);
    assert.deepEqual(updated.bulkActionMetadata, { totalSuccesses: 1, totalFailures: 1 });
    assert.equal(updated.results[1]?.itemMetadata.error?.code, 'WDE0073');

    const saved = await client.items.bulkSave('Authors', [
      { _id: 'joyce', name: 'Joyce' },
      { _id: 'austen', name: 'Austen' },
    ]);
    assert.deepEqual(
      saved.results.map((r) => r.action),
      ['INSERT', 'UPDATE'],
    );

    const removed = await client.items.bulkRemove('Authors', ['joyce', 'ghost'], { returnEntity: true });
    assert.deepEqual(removed.bulkActionMetadata, { totalSuccesses: 1, totalFailures: 1 });
    assert.equal(await client.items.count('Authors'), 2);
    await client.items.bulkInsert('Authors', [
      { _id: 'gone', name: 'Gone', kept: false },
      { _id: 'kept', name: 'Kept', kept: true },
    ]);
    const conditional = await client.items.bulkRemove('Authors', ['gone', 'kept'], {
      condition: { kept: false },
    });
    assert.deepEqual(
      conditional.results.map((r) => [r.itemMetadata.id, r.itemMetadata.error?.code]),
      [
        ['gone', undefined],
        ['kept', 'CONDITION_NOT_MET'],
      ],
    );
    assert.equal((await client.items.get('Authors', 'kept')).data.name, 'Kept');
    await client.items.remove('Authors', 'kept');
    assert.equal(await client.items.count('Authors'), 2);
  });

  it('adds, reads, replaces and removes multi-reference links', async () => {
    const ref = (referencedItemId: string) => ({
      referringItemFieldName: 'authors',
      referringItemId: 'dune',
      referencedItemId,
    });
    const added = await client.items.insertReferences('Books', [ref('herbert'), ref('ghost')]);
    assert.deepEqual(added.bulkActionMetadata, { totalSuccesses: 1, totalFailures: 1 });
    assert.equal(await client.items.isReferenced('Books', 'authors', 'dune', 'herbert'), true);
    assert.equal(await client.items.isReferenced('Books', 'authors', 'dune', 'austen'), false);

    const replaced = await client.items.replaceReferences('Books', 'authors', 'dune', ['austen', 'herbert']);
    assert.deepEqual(
      replaced.map((r) => r.referencedItemId),
      ['austen', 'herbert'],
    );
    const page = await client.items.queryReferenced('Books', 'dune', 'authors', { returnTotalCount: true });
    assert.deepEqual(
      page.dataItems.map((i) => i.id),
      ['austen', 'herbert'],
    );
    assert.equal(page.dataItems[0]?.dataCollectionId, 'Authors');

    // includeReferences holds objects, so the GET travels as `.r`.
    const withAuthors = await client.items.get('Books', 'dune', {
      includeReferences: [{ field: 'authors' }],
    });
    assert.deepEqual(
      (withAuthors.data.authors as { _id: string }[]).map((a) => a._id),
      ['austen', 'herbert'],
    );
    assert.ok(log.some((e) => e.method === 'GET' && e.path === '/wix-data/v2/items/dune'));
    const queried = await client.items.query(
      'Books',
      { filter: { _id: 'dune' } },
      { includeReferences: [{ field: 'authors', limit: 1 }] },
    );
    assert.equal((queried.dataItems[0]?.data.authors as unknown[]).length, 1);

    const removed = await client.items.removeReferences('Books', [ref('austen')]);
    assert.equal(removed.bulkActionMetadata.totalSuccesses, 1);
    assert.equal(await client.items.isReferenced('Books', 'authors', 'dune', 'austen'), false);
  });

  it('runs aggregation pipelines, and jobs that remove or patch by filter', async () => {
    await client.collections.create({ id: 'Jobs', displayName: 'Jobs' });
    await client.items.bulkInsert(
      'Jobs',
      Array.from({ length: 12 }, (_, n) => ({ _id: `j${String(n).padStart(2, '0')}`, n, odd: n % 2 === 1 })),
    );
    const grouped = await client.items.aggregatePipeline(
      'Jobs',
      {
        stages: [
          { filter: { n: { $gte: 2 } } },
          {
            group: {
              groupIds: [{ key: 'odd', expression: { fieldPath: 'odd' } }],
              accumulators: [{ sum: { expression: { fieldPath: 'n' } }, resultFieldName: 'total' }],
            },
          },
          { sort: { values: [{ fieldName: 'total', order: 'DESC' }] } },
        ],
      },
      { returnTotalCount: true },
    );
    assert.deepEqual(grouped.results, [
      { _id: { odd: true }, total: 3 + 5 + 7 + 9 + 11 },
      { _id: { odd: false }, total: 2 + 4 + 6 + 8 + 10 },
    ]);
    assert.equal(grouped.pagingMetadata.total, 2);
    const refused = await rejectsWith(
      client.items.aggregatePipeline('Jobs', { stages: [{ lookup: {} }] }),
      400,
      'INVALID_ARGUMENT',
    );
    assert.match(refused.message, /lookup/);

    const patch = await client.items.asyncPatchByFilter('Jobs', { odd: true }, [
      { fieldPath: 'n', action: 'INCREMENT_FIELD', incrementFieldOptions: { value: 100 } },
    ]);
    assert.equal((await client.items.asyncJobStatus(patch.jobId)).status, 'INITIALIZED');
    assert.equal(await runJobs(env), 1);
    assert.deepEqual(await client.items.waitForAsyncJob(patch.jobId, { pollMs: 10 }), {
      status: 'SUCCEEDED',
      successCount: 6,
    });
    const removal = await client.items.asyncRemoveByFilter('Jobs', { n: { $gt: 100 } });
    assert.equal(await runJobs(env), 1);
    assert.equal((await client.items.waitForAsyncJob(removal.jobId)).successCount, 6);
    assert.equal(await client.items.count('Jobs'), 6);
    await rejectsWith(client.items.asyncJobStatus('nope'), 404, 'ASYNC_JOB_NOT_FOUND');
    await rejectsWith(client.items.asyncRemoveByFilter('NoSuch', {}), 404, 'WDE0025');
  });

  it('reached every Data API route, and every answer matched the OpenAPI document', async () => {
    const missing = unreached(
      env.app.declaredRoutes,
      log,
      ['/wix-data/v2/items', '/wix-data/v2/bulk', '/wix-data/v2/collections', '/wix-data/v2/async-jobs'],
      // Alternative forms of operations the SDK sends once; they are there for Wix's own clients. And the
      // routes of out-of-scope Wix operations, which only refuse.
      [
        'PUT /wix-data/v2/items/*',
        'PATCH /wix-data/v2/items/*',
        'DELETE /wix-data/v2/items/*',
        'GET /wix-data/v2/items/query',
        ...unsupportedOperations.map((o) => `POST /wix-data/v2${o.path}`),
      ],
    );
    assert.deepEqual(missing, []);
    assert.deepEqual(await mismatches(env, log), []);
    assert.ok(log.length > 50, `${log.length} exchanges checked`);
  });
});
