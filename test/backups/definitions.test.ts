/**
 * Issue 11, items 1–3: a backup records each collection's definition, and a restore gives it back
 * (backups-api.md §5, §6.1, §6.2, §6.5, §6.6). Driven through Wix's SDK packages over real HTTP where they
 * have the method (items, references, collections, restore), through this server's SDK for the extensions
 * (`definitionMode`, the preview), and with plain HTTP for collection views (an extension Wix's SDK does
 * not carry). Runs on both stacks (`scripts/run-tests.js` runs test/backups on PostgreSQL + S3 too).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ApiKeyStrategy, createClient } from '@wix/sdk';
import * as backups from '@wix/auto_sdk_data_backups';
import type { Kysely } from 'kysely';
import type { Database } from '../../src/adapters/storage/sql/schema.js';
import {
  MANIFEST_FORMAT,
  MANIFEST_FORMAT_V1,
  encodeManifest,
  type ChunkList,
  type Manifest,
} from '../../src/domain/manifest.js';
import { readManifest } from '../../src/engine/manifest-io.js';
import { SafekeepApiError, SafekeepClient } from '../../src/sdk/index.js';
import { fieldTypes } from '../../src/services/collection-service.js';
import { runJobs } from '../helpers/backup-helpers.js';
import { startTestEnv, wixDataClient, type TestEnv, type TestSite } from '../helpers/harness.js';
import { loopbackFetch } from '../helpers/inject-fetch.js';

const P = '/wix-data/v2';

function backupsClient(port: number, site: TestSite) {
  return createClient({
    modules: { backups },
    auth: ApiKeyStrategy({ apiKey: site.apiKey, siteId: site.siteId }),
    host: { apiBaseUrl: `localhost:${port}` },
    fetch: loopbackFetch(port),
  });
}

interface Definition {
  displayName: string;
  fields: Record<string, unknown>[];
  permissions?: Record<string, unknown> | null;
  views?: Record<string, unknown>[];
  revision?: string;
  [key: string]: unknown;
}

const ref = (key: string, target: string) => ({
  key,
  type: 'REFERENCE',
  typeMetadata: { reference: { referencedCollectionId: target } },
});
const multi = (key: string, target: string) => ({
  key,
  type: 'MULTI_REFERENCE',
  typeMetadata: { multiReference: { referencedCollectionId: target } },
});

describe('definitions in backups, restored with the content (issue 11)', () => {
  let env: TestEnv;
  let port: number;
  let sites = 0;

  before(async () => {
    env = await startTestEnv();
    port = await env.listen();
  });
  after(() => env.close());

  /** A fresh site with its clients: Wix's data and backups SDKs, this server's SDK, and plain HTTP. */
  async function fresh() {
    const site = await env.createSite(`definitions ${++sites}`);
    const http = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, {
        method,
        headers: {
          authorization: site.apiKey,
          'wix-site-id': site.siteId,
          ...(body !== undefined && { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, any> };
    };
    const data = wixDataClient(port, site);
    const wix = backupsClient(port, site);
    const sk = new SafekeepClient({
      baseUrl: `http://127.0.0.1:${port}`,
      apiKey: site.apiKey,
      siteId: site.siteId,
    });
    const create = async (id: string, definition: Definition) => {
      const res = await http('POST', `${P}/collections`, { collection: { id, ...definition } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    };
    const get = async (id: string): Promise<Definition | undefined> => {
      const res = await http('GET', `${P}/collections/${encodeURIComponent(id)}`);
      if (res.status === 404) return undefined;
      assert.equal(res.status, 200, JSON.stringify(res.body));
      // The definition as stored: the system fields are the server's, added to every collection it renders.
      const collection = res.body.collection as Definition;
      return { ...collection, fields: collection.fields.filter((f) => f.systemField !== true) };
    };
    const backUp = async (): Promise<string> => {
      const { backup } = await wix.backups.createBackup();
      await runJobs(env);
      const ready = await sk.getBackup(backup?._id ?? '');
      assert.equal(ready.status, 'READY', JSON.stringify(ready.error));
      env.clock.advance(1000);
      return ready.id;
    };
    const finish = async (restorationId: string | null | undefined) => {
      await runJobs(env);
      const done = await sk.getRestoration(restorationId ?? '');
      assert.equal(done.status, 'COMPLETED', JSON.stringify(done.error));
      assert.equal(done.error, null);
      env.clock.advance(1000);
      return done;
    };
    return { site, http, data, wix, sk, create, get, backUp, finish };
  }

  /** What a definition is, without what the server keeps for itself (revision and dates). */
  const shape = (d: Definition | undefined) => {
    assert.ok(d, 'the collection exists');
    const { revision: _r, createdDate: _c, updatedDate: _u, _id: _i, id: _id, ...rest } = d;
    return rest;
  };

  it('round trip: a deleted collection comes back with every field type, its views and permissions', async () => {
    const t = await fresh();
    const fields = fieldTypes.map((type) =>
      type === 'MULTI_REFERENCE'
        ? multi('f_MULTI_REFERENCE', 'Authors')
        : type === 'REFERENCE'
          ? ref('f_REFERENCE', 'Authors')
          : { key: `f_${type}`, displayName: `Field ${type}`, type },
    );
    await t.create('Authors', { displayName: 'Authors', fields: [{ key: 'name', type: 'TEXT' }] });
    const books: Definition = {
      displayName: 'Books',
      fields,
      permissions: { insert: 'ADMIN', update: 'ADMIN', remove: 'ADMIN', read: 'ANYONE' },
      views: [
        { name: 'Cheap', filter: { f_NUMBER: { $lt: 10 } }, sort: [{ fieldName: 'f_TEXT', order: 'ASC' }] },
        { name: 'Titles', fields: ['f_TEXT'] },
      ],
      displayField: 'f_TEXT',
    };
    await t.create('Books', books);
    const before = shape(await t.get('Books'));
    assert.equal((before.fields as unknown[]).length, fieldTypes.length);
    await t.data.items.insert('Authors', { _id: 'herbert', name: 'Frank Herbert' });
    await t.data.items.insert('Books', { _id: 'dune', f_TEXT: 'Dune', f_NUMBER: 9 });
    await t.data.items.insertReference('Books', 'f_MULTI_REFERENCE', 'dune', ['herbert']);
    const backupId = await t.backUp();

    await t.data.collections.deleteDataCollection('Books');
    const { restoration } = await t.wix.backups.restoreBackup(backupId);
    await t.finish(restoration?._id);
    assert.deepEqual(shape(await t.get('Books')), before, 'the definition came back as it was backed up');
    const referenced = await t.data.items.queryReferenced('Books', 'dune', 'f_MULTI_REFERENCE');
    assert.deepEqual(
      referenced.items.map((i) => i._id),
      ['herbert'],
    );
  });

  it('the definition is the snapshot’s even when no item changed since the previous backup', async () => {
    const t = await fresh();
    await t.create('Notes', { displayName: 'Notes', fields: [{ key: 'text', type: 'TEXT' }] });
    await t.data.items.insert('Notes', { _id: 'n1', text: 'one' });
    await t.backUp();
    const current = await t.get('Notes');
    assert.ok(current);
    const changed = await t.http('PUT', `${P}/collections`, {
      collection: {
        ...current,
        displayName: 'Notebook',
        fields: [...current.fields, { key: 'tags', type: 'ARRAY_STRING' }],
      },
    });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    const second = await t.backUp();
    const row = await t.sk.getBackup(second);
    assert.deepEqual(row.collections, [{ id: 'Notes', displayName: 'Notebook' }]);
    const manifest = await manifestOf(env, t.site, second);
    assert.equal(manifest.format, MANIFEST_FORMAT);
    const entry = manifest.collections[0];
    assert.equal(entry?.definition?.displayName, 'Notebook');
    assert.deepEqual(
      entry?.definition?.fields.map((f) => f.key),
      ['text', 'tags'],
    );
    const chunk = entry?.layers[0]?.upserts.chunks[0];
    assert.deepEqual([chunk?.count, chunk?.firstId, chunk?.lastId], [1, 'n1', 'n1']);
  });

  it('links stay readable: delete a referenced collection, restore both, then queryReferenced and include()', async () => {
    const t = await fresh();
    await t.create('Authors', { displayName: 'Authors', fields: [{ key: 'name', type: 'TEXT' }] });
    await t.create('Books', {
      displayName: 'Books',
      fields: [{ key: 'title', type: 'TEXT' }, multi('authors', 'Authors'), ref('editor', 'Authors')],
      views: [{ name: 'All' }],
    });
    await t.data.items.bulkInsert('Authors', [{ _id: 'herbert' }, { _id: 'anderson' }]);
    await t.data.items.insert('Books', { _id: 'dune', title: 'Dune', editor: 'anderson' });
    await t.data.items.insertReference('Books', 'authors', 'dune', ['herbert', 'anderson']);
    const backupId = await t.backUp();
    await t.data.collections.deleteDataCollection('Books');
    await t.data.collections.deleteDataCollection('Authors');
    const { restoration } = await t.wix.backups.restoreBackup(backupId);
    await t.finish(restoration?._id);
    const books = await t.get('Books');
    assert.deepEqual(
      books?.fields.map((f) => f.key),
      ['title', 'authors', 'editor'],
    );
    assert.deepEqual(
      books?.views?.map((v) => v.name),
      ['All'],
    );
    assert.deepEqual(
      (await t.data.items.queryReferenced('Books', 'dune', 'authors')).items.map((i) => i._id),
      ['herbert', 'anderson'],
    );
    const included = await t.data.items.query('Books').eq('_id', 'dune').include('authors').find();
    assert.deepEqual(
      (included.items[0]?.authors as { _id: string }[]).map((a) => a._id),
      ['herbert', 'anderson'],
    );
  });

  it('a partial restore into a new id copies the definition under a name that tells the copy apart', async () => {
    const t = await fresh();
    await t.create('Authors', { displayName: 'Authors', fields: [] });
    await t.create('Books', {
      displayName: 'Books',
      fields: [{ key: 'title', type: 'TEXT' }, multi('authors', 'Authors')],
      permissions: { insert: 'ADMIN', update: 'ADMIN', remove: 'ADMIN', read: 'ANYONE' },
    });
    await t.data.items.insert('Authors', { _id: 'herbert' });
    await t.data.items.insert('Books', { _id: 'dune', title: 'Dune' });
    await t.data.items.insertReference('Books', 'authors', 'dune', ['herbert']);
    const backupId = await t.backUp();
    const preview = await t.sk.previewRestore(backupId, [
      { dataCollectionId: 'Books', restoreDestination: { dataCollectionId: 'Books2' } },
    ]);
    const today = new Date(env.clock.current).toISOString().slice(0, 10);
    assert.equal(preview.collections[0]?.restoreDestination.displayName, `Books (restored ${today})`);
    assert.equal(preview.collections[0]?.definition?.created, true);
    assert.deepEqual(preview.collections[0]?.definition?.addedFields, ['title', 'authors']);
    const { restoration } = await t.wix.backups.restorePartialBackup(backupId, [
      { dataCollectionId: 'Books', restoreDestination: { dataCollectionId: 'Books2' } },
    ]);
    const done = await t.finish(restoration?._id);
    const copy = await t.get('Books2');
    const original = await t.get('Books');
    assert.equal(copy?.displayName, `Books (restored ${today})`);
    assert.notEqual(copy?.displayName, original?.displayName, 'two collections are not both called Books');
    assert.deepEqual(copy?.fields, original?.fields);
    assert.deepEqual(copy?.permissions, original?.permissions);
    assert.equal(done.restorationCollections[0]?.restoreDestination.displayName, copy?.displayName);
    assert.deepEqual(
      (await t.data.items.queryReferenced('Books2', 'dune', 'authors')).items.map((i) => i._id),
      ['herbert'],
      'the copy refers to the original Authors',
    );
    const named = await t.wix.backups.restorePartialBackup(backupId, [
      {
        dataCollectionId: 'Books',
        restoreDestination: { dataCollectionId: 'Books3', displayName: 'Archive' },
      },
    ]);
    await t.finish(named.restoration?._id);
    assert.equal((await t.get('Books3'))?.displayName, 'Archive');
  });

  it('a swap restore (X→Y and Y→X) keeps every moved link readable', async () => {
    const t = await fresh();
    await t.create('Authors', { displayName: 'Authors', fields: [{ key: 'name', type: 'TEXT' }] });
    await t.create('Books', {
      displayName: 'Books',
      fields: [{ key: 'title', type: 'TEXT' }, multi('authors', 'Authors')],
    });
    await t.data.items.bulkInsert('Authors', [{ _id: 'herbert' }, { _id: 'asimov' }]);
    await t.data.items.insert('Books', { _id: 'dune', title: 'Dune' });
    await t.data.items.insertReference('Books', 'authors', 'dune', ['herbert', 'asimov']);
    const backupId = await t.backUp();
    const { restoration } = await t.wix.backups.restorePartialBackup(backupId, [
      { dataCollectionId: 'Books', restoreDestination: { dataCollectionId: 'Authors' } },
      { dataCollectionId: 'Authors', restoreDestination: { dataCollectionId: 'Books' } },
    ]);
    await t.finish(restoration?._id);
    const authors = await t.get('Authors');
    const field = authors?.fields.find((f) => f.key === 'authors');
    assert.deepEqual(field?.typeMetadata, { multiReference: { referencedCollectionId: 'Books' } });
    assert.deepEqual(
      (await t.data.items.queryReferenced('Authors', 'dune', 'authors')).items.map((i) => i._id),
      ['herbert', 'asimov'],
    );
    const included = await t.data.items.query('Authors').eq('_id', 'dune').include('authors').find();
    assert.deepEqual(
      (included.items[0]?.authors as { _id: string }[]).map((a) => a._id),
      ['herbert', 'asimov'],
    );
  });

  it('undoing a restore into a new id leaves no collection behind, and puts back a changed definition', async () => {
    const t = await fresh();
    await t.create('Books', { displayName: 'Books', fields: [{ key: 'title', type: 'TEXT' }] });
    await t.data.items.insert('Books', { _id: 'dune', title: 'Dune' });
    const backupId = await t.backUp();
    const { restoration } = await t.wix.backups.restorePartialBackup(backupId, [
      { dataCollectionId: 'Books', restoreDestination: { dataCollectionId: 'Copy' } },
    ]);
    const done = await t.finish(restoration?._id);
    assert.ok(await t.get('Copy'));
    await t.data.items.insert('Copy', { _id: 'written-since' });
    const safety = done.safetyBackupId ?? '';
    const preview = await t.sk.previewRestore(safety);
    assert.equal(preview.collections[0]?.definition?.deleted, true, 'the preview says the copy goes');
    const undo = await t.wix.backups.restoreBackup(safety);
    await t.finish(undo.restoration?._id);
    assert.equal(await t.get('Copy'), undefined, 'the collection the restoration created is gone');
    assert.deepEqual(
      (await t.data.collections.listDataCollections()).collections?.map((c) => c._id),
      ['Books'],
    );

    // A restoration that changed an existing definition (BACKUP mode) is undone to the definition before.
    const before = shape(await t.get('Books'));
    const current = await t.get('Books');
    assert.ok(current);
    await t.http('PUT', `${P}/collections`, {
      collection: { ...current, displayName: 'Library', fields: [{ key: 'title', type: 'NUMBER' }] },
    });
    const changed = shape(await t.get('Books'));
    const replace = await t.sk.restoreBackup(backupId, { definitionMode: 'BACKUP' });
    const replaced = await t.finish(replace.id);
    assert.deepEqual(shape(await t.get('Books')), { ...before, displayName: 'Library' });
    const back = await t.wix.backups.restoreBackup(replaced.safetyBackupId ?? '');
    await t.finish(back.restoration?._id);
    assert.deepEqual(shape(await t.get('Books')), changed);
    assert.ok(before);
  });

  it('an existing destination gains missing fields and keeps its own; a conflict is 409 in MERGE, replaced in BACKUP', async () => {
    const t = await fresh();
    await t.create('Books', {
      displayName: 'Books',
      fields: [
        { key: 'title', type: 'TEXT' },
        { key: 'pages', type: 'NUMBER' },
      ],
    });
    await t.data.items.insert('Books', { _id: 'dune', title: 'Dune', pages: 412 });
    const backupId = await t.backUp();
    const current = await t.get('Books');
    assert.ok(current);
    await t.http('PUT', `${P}/collections`, {
      collection: {
        ...current,
        fields: [
          { key: 'title', type: 'TEXT' },
          { key: 'isbn', type: 'TEXT' },
        ],
      },
    });
    const merged = await t.wix.backups.restoreBackup(backupId);
    await t.finish(merged.restoration?._id);
    assert.deepEqual(
      (await t.get('Books'))?.fields.map((f) => [f.key, f.type]),
      [
        ['title', 'TEXT'],
        ['isbn', 'TEXT'],
        ['pages', 'NUMBER'],
      ],
    );

    const now = await t.get('Books');
    assert.ok(now);
    await t.http('PUT', `${P}/collections`, {
      collection: {
        ...now,
        fields: [
          { key: 'title', type: 'RICH_TEXT' },
          { key: 'isbn', type: 'TEXT' },
        ],
      },
    });
    const preview = await t.sk.previewRestore(backupId);
    assert.deepEqual(preview.collections[0]?.definition?.conflicts, ['title']);
    const refused = await t.http('POST', `${P}/backups/${backupId}/restore`, {});
    assert.equal(refused.status, 409);
    assert.equal(refused.body.details.applicationError.code, 'DEFINITION_CONFLICT');
    assert.deepEqual(refused.body.details.applicationError.data.conflicts, [
      { dataCollectionId: 'Books', fields: ['title'] },
    ]);
    assert.match(refused.body.message, /Books: title/);
    await assert.rejects(
      t.sk.restorePartialBackup(backupId, [{ dataCollectionId: 'Books' }]),
      (e: unknown) => e instanceof SafekeepApiError && e.status === 409 && e.code === 'DEFINITION_CONFLICT',
    );
    assert.deepEqual((await t.sk.listRestorations({ status: ['PENDING'] })).restorations, []);

    const replaced = await t.sk.restoreBackup(backupId, { definitionMode: 'BACKUP' });
    await t.finish(replaced.id);
    assert.deepEqual(
      (await t.get('Books'))?.fields.map((f) => [f.key, f.type]),
      [
        ['title', 'TEXT'],
        ['pages', 'NUMBER'],
      ],
    );
  });

  it('a backup written in the previous manifest format (no definitions) restores as before', async () => {
    const t = await fresh();
    await t.create('Books', { displayName: 'Books', fields: [{ key: 'title', type: 'TEXT' }] });
    await t.data.items.bulkInsert('Books', [
      { _id: 'a', title: 'A' },
      { _id: 'b', title: 'B' },
    ]);
    const backupId = await t.backUp();
    await rewriteAsV1(env, t.site, backupId);
    assert.equal((await manifestOf(env, t.site, backupId)).format, MANIFEST_FORMAT_V1);
    await t.data.items.remove('Books', 'a');
    const inPlace = await t.wix.backups.restoreBackup(backupId);
    await t.finish(inPlace.restoration?._id);
    assert.deepEqual(
      (await t.get('Books'))?.fields.map((f) => f.key),
      ['title'],
      'an existing destination keeps its definition',
    );
    assert.equal((await t.data.items.query('Books').find()).items.length, 2);
    await t.data.collections.deleteDataCollection('Books');
    const recreated = await t.wix.backups.restoreBackup(backupId);
    await t.finish(recreated.restoration?._id);
    const books = await t.get('Books');
    assert.equal(books?.displayName, 'Books');
    assert.deepEqual(books?.fields, [], 'created with its display name only');
    assert.deepEqual(
      (await t.data.items.query('Books').find()).items.map((i) => i._id),
      ['a', 'b'],
    );
  });
});

function dbOf(env: TestEnv): Kysely<Database> {
  return (env.safekeep.storage as unknown as { db: Kysely<Database> }).db;
}

async function manifestOf(env: TestEnv, site: TestSite, backupId: string): Promise<Manifest> {
  const row = await dbOf(env)
    .selectFrom('backups')
    .select(['manifest_key', 'manifest_sha256', 'manifest_size'])
    .where('id', '=', backupId)
    .executeTakeFirstOrThrow();
  return readManifest(
    env.safekeep.blobs,
    { key: row.manifest_key ?? '', sha256: row.manifest_sha256 ?? '', size: Number(row.manifest_size) },
    { backupId, siteId: site.siteId },
  );
}

/**
 * Turns a backup into one the previous version wrote: its manifest in format 1 (no definitions, no chunk
 * key ranges), stored in place of the current one with the catalog's checksum to match. This is the
 * format-1 writer, kept for this test: the chunks themselves did not change between the formats.
 */
async function rewriteAsV1(env: TestEnv, site: TestSite, backupId: string): Promise<void> {
  const manifest = await manifestOf(env, site, backupId);
  const list = (l: ChunkList | undefined) =>
    l && {
      count: l.count,
      chunks: l.chunks.map(({ firstId: _f, lastId: _l, ...chunk }) => chunk),
    };
  const v1 = {
    ...manifest,
    format: MANIFEST_FORMAT_V1,
    collections: manifest.collections.map(({ definition: _d, absentBefore: _a, ...c }) => ({
      ...c,
      layers: c.layers.map((layer) => ({
        ...layer,
        upserts: list(layer.upserts),
        ...(layer.deletes && { deletes: list(layer.deletes) }),
      })),
      links: list(c.links),
    })),
    incomingLinks: list(manifest.incomingLinks),
  } as unknown as Manifest;
  const bytes = encodeManifest(v1);
  assert.doesNotMatch(bytes.toString(), /definition|firstId/);
  const row = await dbOf(env)
    .selectFrom('backups')
    .select(['manifest_key', 'manifest_size', 'size_bytes'])
    .where('id', '=', backupId)
    .executeTakeFirstOrThrow();
  await env.safekeep.blobs.put(row.manifest_key ?? '', bytes);
  await dbOf(env)
    .updateTable('backups')
    .set({
      manifest_sha256: createHash('sha256').update(bytes).digest('hex'),
      manifest_size: bytes.length,
      size_bytes: Number(row.size_bytes) - Number(row.manifest_size) + bytes.length,
    })
    .where('id', '=', backupId)
    .execute();
}
