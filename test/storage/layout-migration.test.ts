/**
 * Issue 12, item 3: a deployment written by the table-per-generation release (test/fixtures/layout-v1, see its
 * README) is opened by this one and migrated to the shared layout site by site, on both stacks (SQLite and a
 * folder; PostgreSQL and S3). Checked against what the old release itself read back (expected.json): before
 * the migration the legacy tables still serve; while a site is migrated its writes answer 503 with
 * Retry-After and another site's succeed; a crash between batches resumes into the same plan and completes;
 * afterwards every item and link (LIVE, SANDBOX), backup, restoration and deleted collection is there, the
 * next backup is incremental on the migrated generations (tombstones kept), an old backup restores to its
 * content, and once the sweeper ran no legacy table is left.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { sql, type Kysely } from 'kysely';
import { PostgresStorage } from '../../src/adapters/storage/postgres/postgres-storage.js';
import { generationLayout, SHARED_GEN_BASE } from '../../src/adapters/storage/sql/item-relation.js';
import { SqliteStorage } from '../../src/adapters/storage/sqlite/sqlite-storage.js';
import type { Database, GenerationState } from '../../src/adapters/storage/sql/schema.js';
import { composeItem } from '../../src/domain/item-codec.js';
import { readManifest } from '../../src/engine/manifest-io.js';
import { SimulatedCrash, type FailpointName } from '../../src/engine/failpoints.js';
import { sweepOnce } from '../../src/jobs/generation-sweep-task.js';
import { migrateSite, runLayoutMigration } from '../../src/jobs/layout-migration-task.js';
import type { Logger } from '../../src/ports/logger.js';
import { linksFrom } from '../helpers/storage-rows.js';
import { runJobs } from '../helpers/backup-helpers.js';
import { startTestEnv, type TestEnv } from '../helpers/harness.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { startTestS3 } from '../helpers/s3.js';
import { TestClock } from '../helpers/test-clock.js';
import { embeddedChildEnv } from '../faults/crash-scenario.js';
import { siteContent, type FixtureExpectation, type FixtureSite } from '../fixtures/make-layout-fixture.js';

const P = '/wix-data/v2';
const BATCH = 500;

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** A logger that keeps what it is told, for checking the migration's progress lines. */
function recordingLogger(lines: string[]): Logger {
  const keep = (obj: object, msg?: string) => lines.push(`${msg ?? ''} ${JSON.stringify(obj)}`);
  return { info: keep, warn: keep, error: keep };
}

/**
 * A copy of the fixture to open: the data directory (the SQLite file and the blob folder), or a fresh
 * PostgreSQL database loaded from the dump and an S3 prefix holding the blobs.
 */
async function loadFixture(
  stack: 'embedded' | 'scaleout',
  fixture: string,
): Promise<{ dataDir: string; stackEnv: Record<string, string>; cleanUp: () => Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'safekeep-layout-'));
  if (stack === 'embedded') {
    writeFileSync(join(dataDir, 'safekeep.db'), gunzipSync(readFileSync(join(fixture, 'safekeep.db.gz'))));
    cpSync(join(fixture, 'blobs'), join(dataDir, 'blobs'), { recursive: true });
    return {
      dataDir,
      stackEnv: {},
      cleanUp: () => Promise.resolve(rmSync(dataDir, { recursive: true, force: true })),
    };
  }
  const database = await createTestDatabase('layout_migration');
  execFileSync('psql', ['-q', '-v', 'ON_ERROR_STOP=1', database.url], {
    input: gunzipSync(readFileSync(join(fixture, 'dump.sql.gz'))),
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  const s3 = await startTestS3();
  const root = join(fixture, 'blobs');
  for (const file of filesUnder(root)) {
    const key = relative(root, file).split(sep).join('/');
    await s3.client.send(
      new PutObjectCommand({ Bucket: s3.bucket, Key: `${s3.prefix}${key}`, Body: readFileSync(file) }),
    );
  }
  return {
    dataDir,
    stackEnv: { ...s3.env, DATABASE_URL: database.url },
    cleanUp: async () => {
      rmSync(dataDir, { recursive: true, force: true });
      await database.drop();
      await s3.close();
    },
  };
}

const fixtureOf = (stack: 'embedded' | 'scaleout') =>
  join('test', 'fixtures', 'layout-v1', stack === 'embedded' ? 'embedded' : 'postgres');

/** What the release that wrote `fixture` read back from it (its expected.json). */
const expectationOf = (fixture: string) =>
  JSON.parse(readFileSync(join(fixture, 'expected.json'), 'utf8')) as FixtureExpectation;

/** Opens the storage of a loaded fixture directly (no server, no background migration). */
async function openFixtureStorage(
  stack: 'embedded' | 'scaleout',
  loaded: { dataDir: string; stackEnv: Record<string, string> },
  options: { largeGenerationItems?: number } = {},
): Promise<SqliteStorage | PostgresStorage> {
  return stack === 'embedded'
    ? SqliteStorage.open({ path: join(loaded.dataDir, 'safekeep.db'), ...options })
    : PostgresStorage.open({ url: loaded.stackEnv.DATABASE_URL ?? '', poolSize: 2, ...options });
}

for (const stack of ['embedded', 'scaleout'] as const) {
  describe(`layout migration of a deployment written by the table-per-generation release (${stack})`, () => {
    const fixture = fixtureOf(stack);
    const expected = expectationOf(fixture);
    const site = (name: string): FixtureSite => {
      const found = expected.sites.find((s) => s.name === name);
      assert.ok(found, name);
      return found;
    };
    const shop = site('Shop');
    const blog = site('Blog');
    let dataDir: string;
    let stackEnv: Record<string, string> = {};
    let cleanUp: () => Promise<void> = () => Promise.resolve();
    let env: TestEnv;
    const clock = new TestClock(expected.clock + 60_000);
    const lines: string[] = [];
    const logger = recordingLogger(lines);
    const db = () => (env.safekeep.storage as unknown as { db: Kysely<Database> }).db;
    const call = (s: FixtureSite, method: string, path: string, body?: unknown) =>
      env.call(method, path, { key: s.apiKey, body });
    const open = (failpoint?: (name: FailpointName) => Promise<void>) =>
      startTestEnv({
        dataDir,
        clock,
        stack: 'embedded',
        env: { ...stackEnv, SAFEKEEP_LAYOUT_MIGRATION_BATCH_ROWS: String(BATCH) },
        ...(failpoint && { failpoint }),
      });

    before(async () => {
      const loaded = await loadFixture(stack, fixture);
      ({ dataDir, stackEnv, cleanUp } = loaded);
      env = await open();
    });

    after(async () => {
      await env.close();
      await cleanUp();
    });

    const assertContent = async (s: FixtureSite, what: string) => {
      assert.deepEqual(await siteContent(env, s.siteId), s.content, `${s.name}: ${what}`);
    };
    const legacyGenerations = async (states: readonly GenerationState[]) =>
      Number(
        (
          await db()
            .selectFrom('generations')
            .select((eb) => eb.fn.countAll<number | string>().as('n'))
            .where('id', '<', SHARED_GEN_BASE)
            .where('state', 'in', states)
            .executeTakeFirstOrThrow()
        ).n,
      );
    const backupsOf = async (s: FixtureSite) =>
      ((await call(s, 'GET', `${P}/backups`)).body.backups as Record<string, unknown>[])
        .map((b) => ({
          id: String(b.id),
          status: String(b.status),
          type: String(b.type),
          trigger: String(b.trigger),
          itemCount: String(b.itemCount),
        }))
        .sort((a, b) => a.id.localeCompare(b.id));

    it('serves the legacy tables as the old release did, before migrating', async () => {
      assert.equal(expected.writtenBy, '5f54155');
      for (const s of expected.sites) await assertContent(s, 'before the migration');
      assert.ok((await legacyGenerations(['ACTIVE', 'BINNED'])) > 0, 'the fixture is in the legacy layout');
      assert.equal(
        await env.safekeep.storage.layout.countSitesToMigrate(),
        2,
        'Shop and Blog (Empty has none)',
      );
    });

    let planBefore: { old_gen: number; new_gen: number }[] = [];

    it('refuses the writes of a site being migrated (503, Retry-After) while another site writes; a crash between batches leaves it fenced', async () => {
      let hits = 0;
      let reached!: () => void;
      let resume!: () => void;
      const atPause = new Promise<void>((r) => (reached = r));
      const resumed = new Promise<void>((r) => (resume = r));
      const migrating = migrateSite(env.safekeep.storage.layout, shop.siteId, {
        signal: new AbortController().signal,
        logger,
        clock: clock.now,
        owner: 'first-process',
        leaseMs: 60_000,
        batchRows: BATCH,
        failpoint: async (name) => {
          if (name !== 'layout:batch-copied') return;
          hits += 1;
          if (hits === 1) {
            reached();
            await resumed;
          }
          // Well inside the site: its 8 generations take at least 4 batches each.
          if (hits === 12) throw new SimulatedCrash('between two batches');
        },
      });
      await atPause;

      const refused = await call(shop, 'POST', `${P}/items`, {
        dataCollectionId: 'Books',
        dataItem: { id: 'late', data: { title: 'Late' } },
      });
      assert.equal(refused.status, 503, refused.text);
      assert.equal(refused.headers['retry-after'], '5');
      assert.equal(refused.body.details.applicationError.code, 'SITE_MIGRATING');
      assert.match(refused.body.message, /storage layout/);
      const links = await call(shop, 'POST', `${P}/bulk/items/insert-references`, {
        dataCollectionId: 'Books',
        dataItemReferences: [
          { referringItemFieldName: 'coauthors', referringItemId: 'book-02', referencedItemId: 'author-1' },
        ],
      });
      assert.equal(links.status, 503, links.text);
      const truncate = await call(shop, 'POST', `${P}/items/truncate`, { dataCollectionId: 'Catalogue' });
      assert.equal(truncate.status, 503, truncate.text);
      const drop = await call(shop, 'DELETE', `${P}/collections/Authors`);
      assert.equal(drop.status, 503, drop.text);
      // Reads still serve, from the legacy tables.
      const read = await call(shop, 'GET', `${P}/items/book-02?dataCollectionId=Books`);
      assert.equal(read.status, 200, read.text);
      await assertContent(shop, 'while migrating, after refused writes');
      // Another site (legacy too, not being migrated) writes as usual.
      const written = await call(blog, 'POST', `${P}/items`, {
        dataCollectionId: 'Posts',
        dataItem: { id: 'probe', data: { body: 'written during the migration of another site' } },
      });
      assert.equal(written.status, 200, written.text);
      const removed = await call(blog, 'POST', `${P}/bulk/items/remove`, {
        dataCollectionId: 'Posts',
        dataItemIds: ['probe'],
      });
      assert.equal(removed.status, 200, removed.text);

      resume();
      await assert.rejects(migrating, SimulatedCrash);
      assert.equal(hits, 12);
      const plan = await db()
        .selectFrom('layout_migration')
        .select(['old_gen', 'new_gen', 'step'])
        .where('site_id', '=', shop.siteId)
        .orderBy('old_gen')
        .execute();
      assert.ok(plan.length >= 8, `a plan for every kept generation (${plan.length})`);
      assert.ok(plan.some((p) => p.step === 'COPIED') && plan.some((p) => p.step !== 'COPIED'), 'mid-site');
      planBefore = plan.map((p) => ({ old_gen: Number(p.old_gen), new_gen: Number(p.new_gen) }));
      await env.close(true);

      // The restarted process: the site is still fenced, although the dead process's lease ran out.
      clock.advance(5 * 60_000);
      env = await open();
      const still = await call(shop, 'POST', `${P}/items`, {
        dataCollectionId: 'Books',
        dataItem: { id: 'late', data: {} },
      });
      assert.equal(still.status, 503, still.text);
    });

    it('resumes after the crash with the same plan and moves every site, from the background loop', async () => {
      await env.safekeep.startBackground(logger);
      for (let polls = 0; (await env.safekeep.storage.layout.countSitesToMigrate()) > 0; polls++) {
        assert.ok(polls < 20_000, `the migration did not finish: ${lines.slice(-5).join('\n')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      // Stop the background loops (the jobs below run in this process) and reopen on the same data.
      await env.close(true);
      env = await open();
      const switched = lines.filter((l) => l.startsWith('layout migration: site switched'));
      assert.equal(switched.length, 2, lines.join('\n'));
      assert.ok(lines.some((l) => l.startsWith('layout migration: progress') && l.includes('"sitesLeft":0')));
      // The resumed run filled the generations the crashed one planned: they are what collections use now.
      const collections = await db()
        .selectFrom('collections')
        .select(['live_gen', 'sandbox_gen'])
        .where('site_id', '=', shop.siteId)
        .execute();
      const planned = new Set(planBefore.map((p) => p.new_gen));
      for (const c of collections) {
        assert.ok(planned.has(Number(c.live_gen)) && planned.has(Number(c.sandbox_gen)), JSON.stringify(c));
      }
      assert.equal(await legacyGenerations(['ACTIVE', 'BINNED', 'MIGRATING', 'BUILDING', 'RETIRING']), 0);
      assert.equal(await env.safekeep.storage.layout.countSitesToMigrate(), 0);
      const leases = await db()
        .selectFrom('site_leases')
        .selectAll()
        .where('purpose', '=', 'layout')
        .execute();
      assert.deepEqual(leases, []);
    });

    it('keeps every item and link (LIVE and SANDBOX), backup, restoration and the bin, and writes again', async () => {
      for (const s of expected.sites) {
        await assertContent(s, 'after the migration');
        assert.deepEqual(await backupsOf(s), s.backups, `${s.name}: backups`);
        const restorations = (await call(s, 'GET', `${P}/backups/restorations`)).body.restorations as {
          id: string;
          status: string;
          backup: { id: string };
          safetyBackupId: string | null;
        }[];
        assert.deepEqual(
          restorations
            .map((r) => ({
              id: r.id,
              status: r.status,
              backupId: r.backup.id,
              safetyBackupId: r.safetyBackupId,
            }))
            .sort((a, b) => a.id.localeCompare(b.id)),
          s.restorations,
          `${s.name}: restorations`,
        );
        const bin = await env.safekeep.storage.collections.listDeleted(s.siteId, 0);
        assert.deepEqual(
          bin.map((c) => c.id),
          s.bin,
          `${s.name}: bin`,
        );
      }
      const written = await call(shop, 'POST', `${P}/items`, {
        dataCollectionId: 'Books',
        dataItem: { id: 'after', data: { title: 'After the migration' } },
      });
      assert.equal(written.status, 200, written.text);
      const gone = await call(shop, 'POST', `${P}/bulk/items/remove`, {
        dataCollectionId: 'Books',
        dataItemIds: ['after'],
      });
      assert.equal(gone.status, 200, gone.text);

      // The deleted collection comes back from the bin whole: LIVE and SANDBOX items.
      const restored = await call(shop, 'POST', `${P}/collections/restore/Drafts`, {});
      assert.equal(restored.status, 200, restored.text);
      const drafts = await siteContent(env, shop.siteId);
      assert.equal(drafts.Drafts?.LIVE?.items, 1);
      assert.equal(drafts.Drafts?.SANDBOX?.items, 1);
      const d1 = await call(shop, 'GET', `${P}/items/d1?dataCollectionId=Drafts`);
      assert.equal(d1.body.dataItem.data.text, 'to be deleted');
    });

    it('takes the next backup incrementally on the migrated generations (tombstones kept), and restores it', async () => {
      const before = await siteContent(env, shop.siteId);
      const onDemand = shop.backups.filter((b) => b.trigger === 'ON_DEMAND');
      const records = await Promise.all(
        onDemand.map((b) => env.safekeep.storage.backups.getBackup(shop.siteId, b.id)),
      );
      const base = records.sort((a, b) => (b?.requestedAt ?? 0) - (a?.requestedAt ?? 0))[0];
      assert.ok(base?.manifest);
      const created = await call(shop, 'POST', `${P}/backups`, {});
      assert.equal(created.status, 200, created.text);
      await runJobs(env);
      const id = created.body.backup.id as string;
      const backup = await env.safekeep.storage.backups.getBackup(shop.siteId, id);
      assert.equal(backup?.status, 'READY', JSON.stringify(backup?.error));
      assert.ok(backup.manifest);
      const manifest = await readManifest(env.safekeep.blobs, backup.manifest, {
        backupId: id,
        siteId: shop.siteId,
      });
      const previous = await readManifest(env.safekeep.blobs, base.manifest, {
        backupId: base.id,
        siteId: shop.siteId,
      });
      const entry = (m: typeof manifest, c: string) => m.collections.find((x) => x.id === c);
      const catalogue = entry(manifest, 'Catalogue');
      assert.ok(catalogue && catalogue.gen >= SHARED_GEN_BASE, 'the backup read the migrated generation');
      const delta = catalogue.layers.at(-1);
      assert.equal(delta?.kind, 'delta', 'an incremental layer on the backup taken before the migration');
      assert.equal(
        delta.kind === 'delta' && delta.deletes?.count,
        3,
        'the tombstones of sku-00003/4 and 01999',
      );
      assert.equal(delta.kind === 'delta' && delta.upserts.count, 1, 'sku-00010 changed');
      assert.deepEqual(
        entry(manifest, 'Authors')?.layers,
        entry(previous, 'Authors')?.layers,
        'unchanged: reused',
      );

      const restore = await call(shop, 'POST', `${P}/backups/${id}/restore`, {});
      assert.equal(restore.status, 200, restore.text);
      await runJobs(env);
      const r = await call(shop, 'GET', `${P}/backups/restorations/${restore.body.restoration.id}`);
      assert.equal(r.body.restoration.status, 'COMPLETED', JSON.stringify(r.body.restoration.error));
      const now = await siteContent(env, shop.siteId);
      for (const [collection, content] of Object.entries(before)) {
        assert.deepEqual(now[collection]?.LIVE, content.LIVE, `${collection} after restoring the new backup`);
      }
    });

    it('restores a backup written before the migration to exactly the content it was taken from', async () => {
      const oldest = [...shop.backups]
        .filter((b) => b.trigger === 'ON_DEMAND')
        .map((b) => b.id)
        .find((b) => shop.backupContent[b] && shop.backupContent[b].Books?.LIVE?.items === 50);
      assert.ok(oldest, 'the first backup (50 books) is in the fixture');
      const restore = await call(shop, 'POST', `${P}/backups/${oldest}/restore`, {});
      assert.equal(restore.status, 200, restore.text);
      await runJobs(env);
      const r = await call(shop, 'GET', `${P}/backups/restorations/${restore.body.restoration.id}`);
      assert.equal(r.body.restoration.status, 'COMPLETED', JSON.stringify(r.body.restoration.error));
      const now = await siteContent(env, shop.siteId);
      for (const [collection, content] of Object.entries(shop.backupContent[oldest] ?? {})) {
        assert.deepEqual(now[collection]?.LIVE, content.LIVE, `${collection} restored from ${oldest}`);
      }
    });

    it('leaves no legacy table once the sweeper ran', async () => {
      const cutoff = () => 0;
      for (
        let round = 0;
        (await sweepOnce(env.safekeep.storage.sweeper, { batchRows: 500, binCutoff: cutoff })) > 0;
      ) {
        assert.ok(++round < 100_000, 'the sweeper did not finish');
      }
      const { rows } =
        stack === 'embedded'
          ? await sql<{ name: string }>`SELECT name FROM sqlite_schema WHERE type = 'table'`.execute(db())
          : await sql<{ name: string }>`SELECT tablename AS name FROM pg_tables
              WHERE schemaname = current_schema()`.execute(db());
      const legacy = rows
        .map((r) => /^items_(\d+)$/.exec(r.name)?.[1])
        .filter((n): n is string => n !== undefined && Number(n) < SHARED_GEN_BASE);
      assert.deepEqual(legacy, []);
      const old = await db()
        .selectFrom('generations')
        .select('id')
        .where('id', '<', SHARED_GEN_BASE)
        .execute();
      assert.deepEqual(old, []);
      const tablesWithItems = rows.filter((r) => /^items_\d+$/.test(r.name)).length;
      assert.ok(rows.length > tablesWithItems, 'the catalog was read');
    });
  });
}

for (const stack of ['embedded', 'scaleout'] as const) {
  it(`copies a legacy generation at or above the large-generation threshold into a table of its own (${stack})`, async () => {
    const fixture = fixtureOf(stack);
    const expected = expectationOf(fixture);
    const shop = expected.sites.find((s) => s.name === 'Shop');
    assert.ok(shop);
    const loaded = await loadFixture(stack, fixture);
    const { cleanUp } = loaded;
    // The threshold lowered under the 2,000-item catalogue and above every other collection.
    const storage = await openFixtureStorage(stack, loaded, { largeGenerationItems: 1000 });
    try {
      const outcome = await migrateSite(storage.layout, shop.siteId, {
        signal: new AbortController().signal,
        logger: recordingLogger([]),
        clock: () => expected.clock + 60_000,
        owner: 'own-table-test',
        leaseMs: 60_000,
        batchRows: 700,
      });
      assert.equal(outcome, 'migrated');
      const view = { safekeep: { storage } } as unknown as TestEnv;
      assert.deepEqual(await siteContent(view, shop.siteId), shop.content);
      const catalogue = await storage.db
        .selectFrom('collections')
        .select(['live_gen', 'sandbox_gen'])
        .where('site_id', '=', shop.siteId)
        .where('id', '=', 'Catalogue')
        .executeTakeFirstOrThrow();
      assert.equal(generationLayout(Number(catalogue.live_gen)), 'own', 'the 2,000 LIVE items');
      assert.equal(generationLayout(Number(catalogue.sandbox_gen)), 'shared', 'the empty SANDBOX');
      if (stack === 'scaleout') {
        const { rows } = await sql<{
          parent: string;
        }>`SELECT inhparent::regclass::text AS parent FROM pg_inherits
          WHERE inhrelid = to_regclass(${`items_${catalogue.live_gen}`})`.execute(storage.db);
        assert.deepEqual(rows, [{ parent: 'items' }], 'attached as a partition of items');
      }
    } finally {
      await storage.close();
      await cleanUp();
    }
  });
}

for (const stack of ['embedded', 'scaleout'] as const) {
  it(`keeps links between a legacy collection and one created after the upgrade exactly as at the switch; jobs wait for it (${stack})`, async () => {
    const fixture = fixtureOf(stack);
    const expected = expectationOf(fixture);
    const blog = expected.sites.find((s) => s.name === 'Blog');
    assert.ok(blog);
    const loaded = await loadFixture(stack, fixture);
    const { cleanUp } = loaded;
    const storage = await openFixtureStorage(stack, loaded);
    try {
      const at = expected.clock + 60_000;
      const target = (collectionId: string) => ({
        siteId: blog.siteId,
        collectionId,
        environment: 'LIVE' as const,
      });
      const item = (id: string) =>
        composeItem({ id, owner: 'o', createdAt: at, updatedAt: at, fields: { id } });
      // A collection created by this release (a shared generation), linked both ways with the legacy Posts.
      await storage.collections.create(
        blog.siteId,
        {
          id: 'Tags',
          displayName: 'Tags',
          collectionType: 'NATIVE',
          fields: [],
          permissions: null,
          views: [],
          extra: {},
        },
        at,
      );
      await storage.items.write(target('Tags'), (tx) => tx.insert([item('t1'), item('t2')]));
      const link = (fromId: string, toCollectionId: string, toId: string) => ({
        field: 'f',
        fromId,
        toCollectionId,
        toId,
      });
      await storage.links.insert(target('Tags'), [
        link('t1', 'Posts', 'post-1'),
        link('t2', 'Posts', 'post-2'),
      ]);
      await storage.links.insert(target('Posts'), [
        link('post-3', 'Tags', 't1'),
        link('post-4', 'Tags', 't2'),
      ]);

      const layout = storage.layout;
      assert.ok(await layout.acquire(blog.siteId, 'links-test', at, 60_000));
      await layout.plan(blog.siteId, at);
      for (
        let batches = 0;
        (await layout.copyBatch(blog.siteId, 'links-test', at, 60_000, 3)).state === 'more';
      ) {
        assert.ok(++batches < 10_000);
      }
      // Before the switch: the legacy Posts refuse links; Tags (not legacy) still writes, and removing t2
      // takes its links both ways with it.
      await assert.rejects(
        storage.links.insert(target('Posts'), [link('post-5', 'Tags', 't1')]),
        (error: unknown) => (error as { code?: string }).code === 'SITE_MIGRATING',
      );
      await storage.items.write(target('Tags'), (tx) => tx.remove(['t2']));
      // Its jobs wait: a backup asked for now is not claimed while the lease is current, and is after.
      const { backup } = await storage.backups.createBackup({
        id: 'waits-for-the-migration',
        siteId: blog.siteId,
        trigger: 'ON_DEMAND',
        requestedAt: at,
        requestedCollections: null,
        collections: [],
      });
      assert.equal(
        await storage.backups.claimBackup({ workerId: 'worker', now: at, leaseMs: 60_000, maxAttempts: 3 }),
        undefined,
      );
      assert.ok(await layout.switchSite(blog.siteId, 'links-test'));
      assert.equal(
        (await storage.backups.claimBackup({ workerId: 'worker', now: at, leaseMs: 60_000, maxAttempts: 3 }))
          ?.id,
        backup.id,
      );

      const listed = async (collectionId: string) =>
        (await linksFrom(storage, target(collectionId))).map(
          (l) => `${l.fromId}>${l.toCollectionId}:${l.toId}`,
        );
      assert.deepEqual(await listed('Tags'), ['t1>Posts:post-1']);
      assert.ok((await listed('Posts')).includes('post-3>Tags:t1'));
      assert.ok(
        !(await listed('Posts')).includes('post-4>Tags:t2'),
        'the link removed before the switch stays removed',
      );
      assert.equal((await listed('Posts')).length, (blog.content.Posts?.LIVE?.links ?? -1) + 1);
      assert.equal(await layout.countSitesToMigrate(), 1, 'Shop is left');
    } finally {
      await storage.close();
      await cleanUp();
    }
  });
}

it('a `safekeep worker` SIGKILLed between two batches (SAFEKEEP_FAILPOINT) is resumed by the next process (embedded)', async () => {
  const fixture = fixtureOf('embedded');
  const expected = expectationOf(fixture);
  const { dataDir, cleanUp } = await loadFixture('embedded', fixture);
  try {
    const clockFile = join(dataDir, 'clock');
    writeFileSync(clockFile, String(expected.clock + 60_000));
    const proc = spawn(process.execPath, ['bin/safekeep.js', 'worker'], {
      env: embeddedChildEnv({
        SAFEKEEP_DATA_DIR: dataDir,
        SAFEKEEP_FAILPOINT: 'layout:batch-copied:9',
        SAFEKEEP_TEST_CLOCK_FILE: clockFile,
        SAFEKEEP_LAYOUT_MIGRATION_BATCH_ROWS: String(BATCH),
        SAFEKEEP_WORKER_THREADS: '1',
      }),
    });
    let output = '';
    proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const signal = await new Promise<NodeJS.Signals | null>((resolve) =>
      proc.on('exit', (_code, s) => resolve(s)),
    );
    assert.equal(signal, 'SIGKILL', `the worker died at its 9th batch:\n${output}`);
    assert.match(output, /layout migration: site started/);

    const clock = new TestClock(expected.clock + 5 * 60_000);
    const env = await startTestEnv({ dataDir, clock, stack: 'embedded' });
    try {
      const { db } = env.safekeep.storage as unknown as { db: Kysely<Database> };
      const steps = await db.selectFrom('layout_migration').select('step').execute();
      assert.ok(steps.length > 0 && steps.some((s) => s.step !== 'COPIED'), 'killed mid-site');
      const lines: string[] = [];
      await runLayoutMigration(env.safekeep.storage.layout, {
        signal: new AbortController().signal,
        logger: recordingLogger(lines),
        clock: clock.now,
        owner: 'second-process',
        leaseMs: 60_000,
        batchRows: BATCH,
        idleMs: 10,
      });
      assert.equal(await env.safekeep.storage.layout.countSitesToMigrate(), 0, lines.join('\n'));
      for (const s of expected.sites) {
        assert.deepEqual(
          await siteContent(env, s.siteId),
          s.content,
          `${s.name} after the resumed migration`,
        );
      }
    } finally {
      await env.close(true);
    }
  } finally {
    await cleanUp();
  }
});

it('two processes on one PostgreSQL database share the sites, one at a time each, and both finish', async () => {
  const fixture = fixtureOf('scaleout');
  const expected = expectationOf(fixture);
  const { stackEnv, cleanUp } = await loadFixture('scaleout', fixture);
  const processes = await Promise.all(
    [1, 2].map(() => PostgresStorage.open({ url: stackEnv.DATABASE_URL ?? '', poolSize: 2 })),
  );
  try {
    const lines: string[][] = [[], []];
    await Promise.all(
      processes.map((storage, i) =>
        runLayoutMigration(storage.layout, {
          signal: new AbortController().signal,
          logger: recordingLogger(lines[i] ?? []),
          clock: () => expected.clock + 60_000,
          owner: `process-${i}`,
          leaseMs: 60_000,
          batchRows: 200,
          idleMs: 20,
        }),
      ),
    );
    const switched = lines.flat().filter((l) => l.startsWith('layout migration: site switched'));
    assert.equal(switched.length, 2, 'each of the two sites switched exactly once');
    const [first] = processes;
    assert.ok(first);
    assert.equal(await first.layout.countSitesToMigrate(), 0);
    const view = { safekeep: { storage: first } } as unknown as TestEnv;
    for (const s of expected.sites) {
      assert.deepEqual(await siteContent(view, s.siteId), s.content, `${s.name} after two processes`);
    }
  } finally {
    await Promise.all(processes.map((p) => p.close()));
    await cleanUp();
  }
});

for (const stack of ['embedded', 'scaleout'] as const) {
  it(`a site deleted while it is being migrated leaves nothing behind once swept (${stack})`, async () => {
    const fixture = fixtureOf(stack);
    const expected = expectationOf(fixture);
    const shop = expected.sites.find((s) => s.name === 'Shop');
    assert.ok(shop);
    const loaded = await loadFixture(stack, fixture);
    const { cleanUp } = loaded;
    const storage = await openFixtureStorage(stack, loaded);
    try {
      const at = expected.clock + 60_000;
      assert.ok(await storage.layout.acquire(shop.siteId, 'deleted-site-test', at, 60_000));
      await storage.layout.plan(shop.siteId, at);
      for (let i = 0; i < 3; i++)
        await storage.layout.copyBatch(shop.siteId, 'deleted-site-test', at, 60_000, 100);
      assert.equal(await storage.sites.delete(shop.siteId), true);
      await runLayoutMigration(storage.layout, {
        signal: new AbortController().signal,
        logger: recordingLogger([]),
        clock: () => at + 5 * 60_000,
        owner: 'next-process',
        leaseMs: 60_000,
        batchRows: 100,
        idleMs: 10,
      });
      assert.equal(await storage.layout.countSitesToMigrate(), 0);
      for (let round = 0; (await sweepOnce(storage.sweeper, { batchRows: 500 })) > 0;)
        assert.ok(++round < 100_000);
      const left = await storage.db
        .selectFrom('generations')
        .select('id')
        .where('site_id', '=', shop.siteId)
        .execute();
      assert.deepEqual(left, [], "the deleted site's generations, legacy and copies, are gone");
      const { rows } = await sql<{ n: number | string }>`SELECT count(*) AS n FROM items
        WHERE gen NOT IN (SELECT id FROM generations)`.execute(storage.db);
      assert.equal(Number(rows[0]?.n), 0, 'no copied row outlives its generation');
      const plan = await storage.db.selectFrom('layout_migration').selectAll().execute();
      assert.deepEqual(plan, []);
    } finally {
      await storage.close();
      await cleanUp();
    }
  });
}
