/**
 * Portable archives (docs/ARCHIVE-FORMAT.md): a backup downloaded from site A, imported into site B and
 * restored there gives A's items, links and definitions byte for byte; an archive written by an
 * independent writer here (from the documented format alone) imports; every kind of damage is refused with
 * its own code and creates nothing; an administrator's copy restores the same.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import zstdNapi from 'zstd-napi';
import { chunkKey } from '../../src/domain/manifest.js';
import { composeItem, type StoredItem } from '../../src/domain/item-codec.js';
import { readManifest } from '../../src/engine/manifest-io.js';
import type { ItemTarget } from '../../src/ports/storage.js';
import { assertSameSite, contentOf, runJobs, type CollectionContent } from '../helpers/backup-helpers.js';
import { assertErrorShape } from '../helpers/error-shape.js';
import { startTestEnv, type TestEnv, type TestSite } from '../helpers/harness.js';
import { pick, randomId, randomItem, type Random } from '../helpers/random-data.js';
import { seededRandom } from '../helpers/seeded-random.js';

const seed = Number(process.env.TEST_SEED ?? 20261203);
const B = '/wix-data/v2/backups';
const P = '/wix-data/v2';
const IMPORT_LIMIT = 4 * 1024 * 1024;

/** A random item the items API accepts (the shared generator also makes lone surrogates, which it refuses). */
function acceptedItem(random: Random, id: string, at: number): StoredItem {
  for (;;) {
    const item = randomItem(random, id, at);
    if (!/\\ud[89a-f]/i.test(item.json)) return item;
  }
}

const sha256 = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');

/**
 * An archive written from the documented format alone (not safekeep's writer): each section's lines in
 * blocks of `blockLines`, the whole text as one zstd frame or one frame per line group.
 */
interface IndependentCollection {
  id: string;
  displayName: string;
  definition?: unknown;
  items: string[];
  links: string[];
}
function independentArchive(
  collections: IndependentCollection[],
  options: {
    blockLines?: number;
    order?: (sections: string[][]) => string[][];
    tamper?: (manifest: any) => void;
    frames?: 'one' | 'many';
  } = {},
): Buffer {
  const blockLines = options.blockLines ?? 2;
  const section = (lines: string[]) => {
    const blocks = [];
    for (let i = 0; i < lines.length; i += blockLines) {
      const text = lines
        .slice(i, i + blockLines)
        .map((l) => `${l}\n`)
        .join('');
      blocks.push({
        count: lines.slice(i, i + blockLines).length,
        bytes: Buffer.byteLength(text),
        sha256: sha256(text),
      });
    }
    return {
      count: lines.length,
      bytes: blocks.reduce((n, b) => n + b.bytes, 0),
      blocks,
    };
  };
  const manifest: any = {
    format: 'safekeep.archive/1',
    backupId: 'written-by-hand',
    siteId: 'elsewhere',
    snapshotDate: '2026-01-02T03:04:05.678Z',
    exportedDate: '2026-01-02T03:04:05.678Z',
    collections: collections.map((c) => ({
      id: c.id,
      displayName: c.displayName,
      ...(c.definition !== undefined && { definition: c.definition }),
      items: section(c.items),
      links: section(c.links),
    })),
    incomingLinks: section([]),
  };
  options.tamper?.(manifest);
  let sections: string[][] = collections.flatMap((c) => [
    [JSON.stringify({ section: 'items', collection: c.id }), ...c.items],
    [JSON.stringify({ section: 'links', collection: c.id }), ...c.links],
  ]);
  if (options.order) sections = options.order(sections);
  const groups = [
    [JSON.stringify(manifest)],
    ...sections,
    [JSON.stringify({ section: 'incomingLinks' })],
    [JSON.stringify({ section: 'end' })],
  ];
  const text = (lines: string[]) => Buffer.from(lines.map((l) => `${l}\n`).join(''));
  if (options.frames === 'many') return Buffer.concat(groups.map((g) => zstdNapi.compress(text(g))));
  return zstdNapi.compress(text(groups.flat()));
}

/** The lines of an archive, decoded with nothing but zstd. */
function archiveLines(archive: Buffer): string[] {
  return zstdNapi.decompress(archive).toString('utf8').split('\n').slice(0, -1);
}

describe(`portable archives (seed ${seed}; replay with TEST_SEED=${seed})`, () => {
  let env: TestEnv;
  let siteA: TestSite;
  let siteB: TestSite;
  let random: Random;
  let fullBackupId = '';
  let layeredBackupId = '';
  let atLayered: Record<string, CollectionContent> = {};
  let definitionsAtLayered: Map<string, unknown> = new Map();

  const target = (siteId: string, collectionId: string): ItemTarget => ({
    siteId,
    collectionId,
    environment: 'LIVE',
  });

  const definitions = async (siteId: string) => {
    const { collections } = await env.safekeep.storage.collections.list(siteId, { limit: 100, offset: 0 });
    return new Map(
      collections.map((c) => [
        c.id,
        { displayName: c.displayName, fields: c.fields, views: c.views, permissions: c.permissions },
      ]),
    );
  };

  const download = async (site: TestSite, backupId: string) => {
    const res = await env.app.inject({
      method: 'GET',
      url: `${B}/${backupId}/archive`,
      headers: { authorization: site.apiKey },
    });
    assert.equal(res.statusCode, 200, res.body.slice(0, 500));
    return { bytes: res.rawPayload, headers: res.headers };
  };

  const upload = async (site: TestSite, archive: Buffer, headers: Record<string, string> = {}) => {
    const res = await env.app.inject({
      method: 'POST',
      url: `${B}/import`,
      headers: { authorization: site.apiKey, 'content-type': 'application/zstd', ...headers },
      payload: archive,
    });
    let body: any;
    try {
      body = JSON.parse(res.body);
    } catch {
      body = undefined;
    }
    return { status: res.statusCode, body };
  };

  const backupsOf = async (siteId: string) =>
    (await env.safekeep.storage.backups.listBackups(siteId, { limit: 1000, offset: 0 })).backups;

  const restoreAll = async (site: TestSite, backupId: string, body: unknown = {}) => {
    const path =
      body && (body as { restorationCollections?: unknown }).restorationCollections
        ? 'partial-restore'
        : 'restore';
    const res = await env.call('POST', `${B}/${backupId}/${path}`, { key: site.apiKey, body });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    await runJobs(env);
    const done = await env.call('GET', `${B}/restorations/${res.body.restoration.id}`, { key: site.apiKey });
    assert.equal(done.body.restoration.status, 'COMPLETED', JSON.stringify(done.body.restoration.error));
  };

  before(async () => {
    random = seededRandom(seed);
    env = await startTestEnv({ env: { SAFEKEEP_IMPORT_MAX_BYTES: String(IMPORT_LIMIT) } });
    siteA = await env.createSite('A');
    siteB = await env.createSite('B');
    const call = (method: string, path: string, body?: unknown) =>
      env.call(method, path, { key: siteA.apiKey, body });
    for (const collection of [
      { id: 'Authors', displayName: 'Authors', fields: [{ key: 'name', type: 'TEXT' }] },
      {
        id: 'Books',
        displayName: 'Books ü',
        fields: [
          { key: 'title', type: 'TEXT' },
          {
            key: 'authors',
            type: 'MULTI_REFERENCE',
            typeMetadata: { multiReference: { referencedCollectionId: 'Authors' } },
          },
        ],
        views: [{ name: 'Titled', filter: { title: { $exists: true } } }],
      },
      { id: 'Empty', displayName: 'Nothing here', fields: [] },
    ]) {
      const res = await call('POST', `${P}/collections`, { collection });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
    const at = Date.UTC(2026, 0, 1);
    const authors = Array.from({ length: 40 }, (_, i) =>
      acceptedItem(random, `author-${i}-${randomId(random)}`, at),
    );
    const books = Array.from({ length: 1500 }, (_, i) =>
      acceptedItem(random, `${randomId(random)}${i}`, at + i),
    );
    await env.safekeep.storage.items.write(target(siteA.siteId, 'Authors'), (tx) => tx.insert(authors));
    for (let i = 0; i < books.length; i += 500)
      await env.safekeep.storage.items.write(target(siteA.siteId, 'Books'), (tx) =>
        tx.insert(books.slice(i, i + 500)),
      );
    await env.safekeep.storage.links.insert(
      target(siteA.siteId, 'Books'),
      Array.from({ length: 200 }, () => ({
        field: 'authors',
        fromId: pick(random, books).id,
        toCollectionId: 'Authors',
        toId: pick(random, authors).id,
      })),
    );
    const first = await call('POST', B, {});
    await runJobs(env);
    fullBackupId = first.body.backup.id;
    // A few changes, so that the next backup of Books is a delta layer on this one's.
    await env.safekeep.storage.items.write(target(siteA.siteId, 'Books'), async (tx) => {
      await tx.update(
        books.slice(0, 10).map((b) =>
          composeItem({
            id: b.id,
            owner: 'o',
            createdAt: at,
            updatedAt: at + 5e6,
            fields: { title: 'changed' },
          }),
        ),
      );
      await tx.remove(books.slice(10, 15).map((b) => b.id));
      await tx.insert(Array.from({ length: 5 }, (_, i) => acceptedItem(random, `zz-new-${i}`, at + 6e6)));
    });
    const second = await call('POST', B, {});
    await runJobs(env);
    layeredBackupId = second.body.backup.id;
    const got = await env.call('GET', `${B}/${layeredBackupId}`, { key: siteA.apiKey });
    assert.equal(got.body.backup.status, 'READY', JSON.stringify(got.body.backup.error));
    atLayered = await contentOf(env, siteA.siteId);
    definitionsAtLayered = await definitions(siteA.siteId);
    // The second backup really holds a delta layer for Books (the download merges it).
    const record = await env.safekeep.storage.backups.getBackup(siteA.siteId, layeredBackupId);
    const manifest = await readManifest(env.safekeep.blobs, record!.manifest!, {
      backupId: layeredBackupId,
      siteId: siteA.siteId,
    });
    assert.ok(
      (manifest.collections.find((c) => c.id === 'Books')?.layers.length ?? 0) > 1,
      'Books has a delta layer',
    );
    // Site A moves on; what was backed up is what must come back on B.
    await call('POST', `${P}/items/truncate`, { dataCollectionId: 'Books' });
  });

  after(() => env.close());

  it('round trip: download from A, import into B, restore: items, links and definitions byte for byte', async () => {
    const { bytes, headers } = await download(siteA, layeredBackupId);
    assert.equal(headers['content-type'], 'application/zstd');
    // Readable with nothing but zstd and a JSON parser.
    const lines = archiveLines(bytes);
    const manifest = JSON.parse(lines[0] ?? '{}');
    assert.equal(manifest.format, 'safekeep.archive/1');
    const books = manifest.collections.find((c: { id: string }) => c.id === 'Books');
    assert.equal(books.items.count, atLayered.Books?.items.length, 'delta layers merged into the live items');
    assert.equal(books.links.count, atLayered.Books?.links.length);
    assert.equal(lines.at(-1), '{"section":"end"}');

    const imported = await upload(siteB, bytes);
    assert.equal(imported.status, 200, JSON.stringify(imported.body));
    const backup = imported.body.backup;
    assert.equal(backup.status, 'READY');
    assert.equal(backup.trigger, 'IMPORT');
    assert.equal(backup.type, 'ON_DEMAND');
    assert.equal(Number(backup.itemCount), 40 + atLayered.Books!.items.length);
    assert.deepEqual(backup.collections.map((c: { id: string }) => c.id).sort(), [
      'Authors',
      'Books',
      'Empty',
    ]);
    await restoreAll(siteB, backup.id);
    assertSameSite(await contentOf(env, siteB.siteId), atLayered, 'site B after restoring the import');
    assert.deepEqual(await definitions(siteB.siteId), definitionsAtLayered, 'definitions');
  });

  it('passes stored frames through unchanged and sends Content-Length when nothing is merged', async () => {
    const { bytes, headers } = await download(siteA, fullBackupId);
    assert.equal(Number(headers['content-length']), bytes.length);
    const record = await env.safekeep.storage.backups.getBackup(siteA.siteId, fullBackupId);
    const manifest = await readManifest(env.safekeep.blobs, record!.manifest!, {
      backupId: fullBackupId,
      siteId: siteA.siteId,
    });
    const chunks = manifest.collections.flatMap((c) => c.layers[0]?.upserts.chunks ?? []);
    assert.ok(chunks.length > 0);
    for (const ref of chunks) {
      const stored = await env.safekeep.blobs.get(chunkKey(siteA.siteId, ref.hash), ref.storedSize + 1);
      assert.ok(bytes.indexOf(stored) >= 0, `chunk ${ref.hash} is in the archive as stored`);
    }
  });

  it('imports an archive written from the documented format by another writer', async () => {
    const at = Date.UTC(2026, 1, 1);
    const notes = ['a-1', 'b-2', 'c-3', 'd-ü'].map(
      (id, i) =>
        composeItem({
          id,
          owner: 'me',
          createdAt: at + i,
          updatedAt: at + i,
          fields: { text: `note ${i}`, n: i },
        }).json,
    );
    const tags = ['t1', 't2'].map(
      (id) => composeItem({ id, owner: 'me', createdAt: at, updatedAt: at, fields: { label: id } }).json,
    );
    const definition = {
      displayName: 'Notes',
      fields: [
        { key: 'text', type: 'TEXT' },
        {
          key: 'tags',
          type: 'MULTI_REFERENCE',
          typeMetadata: { multiReference: { referencedCollectionId: 'HandTags' } },
        },
      ],
      permissions: null,
      views: [],
      extra: {},
    };
    for (const frames of ['one', 'many'] as const) {
      const archive = independentArchive(
        [
          {
            id: 'HandNotes',
            displayName: 'Notes',
            definition,
            items: notes,
            links: [JSON.stringify(['HandNotes', 'a-1', 'tags', 'HandTags', 't2', 0])],
          },
          { id: 'HandTags', displayName: 'Tags', items: tags, links: [] },
        ],
        { frames },
      );
      const imported = await upload(siteB, archive);
      assert.equal(imported.status, 200, JSON.stringify(imported.body));
      assert.equal(imported.body.backup.status, 'READY');
      assert.equal(imported.body.backup.snapshotDate, '2026-01-02T03:04:05.678Z');
      await restoreAll(siteB, imported.body.backup.id);
      const content = await contentOf(env, siteB.siteId);
      assert.deepEqual(
        content.HandNotes?.items.map(([, json]) => json),
        notes,
        `${frames}: items byte for byte`,
      );
      assert.deepEqual(
        content.HandTags?.items.map(([, json]) => json),
        tags,
      );
      assert.deepEqual(content.HandNotes?.links, ['a-1|tags|HandTags|t2']);
      const defs = await definitions(siteB.siteId);
      assert.deepEqual((defs.get('HandNotes') as { fields: unknown }).fields, definition.fields);
    }
  });

  it('refuses every kind of damage with its own code, and creates nothing', async () => {
    const { bytes: real } = await download(siteA, layeredBackupId);
    const at = Date.UTC(2026, 1, 1);
    const item = (id: string) =>
      composeItem({ id, owner: 'me', createdAt: at, updatedAt: at, fields: { v: id } }).json;
    const two: IndependentCollection[] = [
      { id: 'One', displayName: 'One', items: [item('a'), item('b'), item('c')], links: [] },
      { id: 'Two', displayName: 'Two', items: [item('x')], links: [] },
    ];
    const flipped = Buffer.from(real);
    flipped[40] = (flipped[40] ?? 0) ^ 0x10;
    const cases: [string, Buffer, number, string][] = [
      ['a flipped bit', flipped, 400, 'ARCHIVE_CORRUPT'],
      ['not zstd at all', Buffer.from('{"format":"safekeep.archive/1"}\n'), 400, 'ARCHIVE_CORRUPT'],
      ['truncated', real.subarray(0, Math.floor(real.length * 0.6)), 400, 'ARCHIVE_TRUNCATED'],
      ['empty', Buffer.alloc(0), 400, 'ARCHIVE_TRUNCATED'],
      [
        'collections reordered',
        independentArchive(two, { order: (s) => [s[2]!, s[3]!, s[0]!, s[1]!] }),
        400,
        'ARCHIVE_SECTION_MISMATCH',
      ],
      [
        'a collection missing',
        independentArchive(two, { order: (s) => s.slice(0, 2) }),
        400,
        'ARCHIVE_SECTION_MISMATCH',
      ],
      [
        'a wrong count',
        independentArchive(two, {
          blockLines: 3,
          tamper: (m) => {
            // Says 2 lines (with the checksum of those 2), holds 3.
            const first = two[0]!.items
              .slice(0, 2)
              .map((l) => `${l}\n`)
              .join('');
            m.collections[0].items = {
              count: 2,
              bytes: Buffer.byteLength(first),
              blocks: [{ count: 2, bytes: Buffer.byteLength(first), sha256: sha256(first) }],
            };
          },
        }),
        400,
        'ARCHIVE_COUNT_MISMATCH',
      ],
      [
        'a wrong checksum',
        independentArchive(two, {
          tamper: (m) => (m.collections[1].items.blocks[0].sha256 = sha256('other')),
        }),
        400,
        'ARCHIVE_CHECKSUM_MISMATCH',
      ],
      [
        'an unknown format',
        independentArchive(two, { tamper: (m) => (m.format = 'safekeep.archive/9') }),
        400,
        'ARCHIVE_MANIFEST_INVALID',
      ],
      [
        'an item the API refuses',
        independentArchive([
          {
            id: 'Bad',
            displayName: 'Bad',
            items: [
              '{"_id":"q","$where":1,"_createdDate":{"$date":"2026-01-01T00:00:00.000Z"},"_updatedDate":{"$date":"2026-01-01T00:00:00.000Z"}}',
            ],
            links: [],
          },
        ]),
        400,
        'ARCHIVE_ITEM_INVALID',
      ],
      [
        'items out of id order',
        independentArchive([{ id: 'Bad', displayName: 'Bad', items: [item('b'), item('a')], links: [] }]),
        400,
        'ARCHIVE_ITEM_INVALID',
      ],
      ['oversize', Buffer.concat([real, Buffer.alloc(IMPORT_LIMIT)]), 413, 'ARCHIVE_TOO_LARGE'],
    ];
    const existing = await backupsOf(siteB.siteId);
    for (const [what, archive, status, code] of cases) {
      const res = await upload(siteB, archive);
      assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
      assert.equal(assertErrorShape(res.body), code, `${what}: ${JSON.stringify(res.body)}`);
      assert.deepEqual(
        (await backupsOf(siteB.siteId)).map((b) => b.id),
        existing.map((b) => b.id),
        `${what}: nothing created`,
      );
    }
  });

  it('copies a backup to another site (admin), trigger COPY, and it restores the same', async () => {
    const siteC = await env.createSite('C');
    const res = await env.call(
      'POST',
      `/_api/safekeep/v1/sites/${siteA.siteId}/backups/${layeredBackupId}/copy`,
      {
        key: env.adminKey,
        body: { targetSiteId: siteC.siteId },
      },
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.backup.trigger, 'COPY');
    assert.equal(res.body.backup.status, 'READY');
    await restoreAll(siteC, res.body.backup.id);
    assertSameSite(await contentOf(env, siteC.siteId), atLayered, 'site C after restoring the copy');
    // A site key cannot copy; an unknown target is not found.
    const denied = await env.call(
      'POST',
      `/_api/safekeep/v1/sites/${siteA.siteId}/backups/${layeredBackupId}/copy`,
      {
        key: siteA.apiKey,
        body: { targetSiteId: siteC.siteId },
      },
    );
    assert.equal(denied.status, 403);
    const unknown = await env.call(
      'POST',
      `/_api/safekeep/v1/sites/${siteA.siteId}/backups/${layeredBackupId}/copy`,
      {
        key: env.adminKey,
        body: { targetSiteId: 'no-such-site' },
      },
    );
    assert.equal(unknown.status, 404);
  });

  it('keeps imports outside the on-demand limit and counts them in the bytes quota', async () => {
    const { bytes } = await download(siteA, fullBackupId);
    for (let i = 0; i < 4; i++) assert.equal((await upload(siteB, bytes)).status, 200);
    const ready = (await backupsOf(siteB.siteId)).filter(
      (b) => b.status === 'READY' && b.trigger === 'IMPORT',
    );
    assert.ok(ready.length >= 6, `every import kept (${ready.length})`);
    const usage = await env.call('GET', `/_api/safekeep/v1/sites/${siteB.siteId}/settings`, {
      key: env.adminKey,
    });
    const stored = ready.reduce((n, b) => n + (b.sizeBytes ?? 0), 0);
    assert.ok(Number(usage.body.usage.backupBytes) >= stored, 'imports count in backupBytes');
  });
});
