/**
 * Scale-out on one PostgreSQL database: two `safekeep worker` processes (each with its scheduler) and a
 * local-folder blob store they share.
 * 1. 2,000 sites (10,000 at the soak size, `npm run test:soak`) with automatic backups due over a simulated
 *    week give exactly one backup per site per slot: none missing, none twice.
 * 2. A worker SIGKILLed in the middle of a backup: the other takes the backup over once its lease has run
 *    out (the clock moved by one lease, no more) and finishes it, and that backup restores byte-identically.
 * The children's clock is a file (SAFEKEEP_TEST_CLOCK_FILE, test-only) that this test moves.
 */
import { itemRelation } from '../../src/adapters/storage/sql/item-relation.js';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { PostgresStorage } from '../../src/adapters/storage/postgres/postgres-storage.js';
import { composeItem } from '../../src/domain/item-codec.js';
import { size } from '../helpers/fault-run.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { seededRandom } from '../helpers/seeded-random.js';

const bin = join(process.cwd(), 'bin', 'safekeep.js');
const DAY = 24 * 60 * 60 * 1000;
const SITES = size(2_000, 10_000);
const LEASE_SECONDS = 5;
const T0 = Date.UTC(2030, 0, 7);

interface Worker {
  readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<number | null>;
  output: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('two workers on one PostgreSQL database', () => {
  let dataDir: string;
  let clockFile: string;
  let database: { url: string; drop(): Promise<void> };
  let storage: PostgresStorage;
  const workers: Worker[] = [];
  let now = T0;

  const setClock = (ms: number) => {
    now = ms;
    writeFileSync(clockFile, String(ms));
  };

  const count = async (query: ReturnType<typeof sql<{ n: number }>>): Promise<number> =>
    Number((await query.execute(storage.db)).rows[0]?.n ?? 0);

  /** Waits until `done` holds, failing with the workers' output if one of them died unexpectedly. */
  async function until(what: string, done: () => Promise<boolean>): Promise<void> {
    while (!(await done())) {
      const dead = workers.find((w) => w.child.exitCode !== null && w.child.signalCode !== 'SIGKILL');
      if (dead) assert.fail(`a worker exited while waiting for ${what}:\n${dead.output}`);
      await sleep(50);
    }
  }

  function startWorker(): Worker {
    const child = spawn(process.execPath, [bin, 'worker'], {
      env: {
        ...process.env,
        DATABASE_URL: database.url,
        SAFEKEEP_DATA_DIR: dataDir,
        SAFEKEEP_TEST_CLOCK_FILE: clockFile,
        SAFEKEEP_SCHEDULER_TICK_SECONDS: '1',
        SAFEKEEP_JOB_LEASE_SECONDS: String(LEASE_SECONDS),
        SAFEKEEP_GC_INTERVAL_MINUTES: '1440',
        SAFEKEEP_FSYNC: 'false',
        SAFEKEEP_WORKER_THREADS: '1',
        SAFEKEEP_DB_POOL_SIZE: '4',
        SAFEKEEP_LOG_LEVEL: 'error',
      },
    });
    const worker: Worker = {
      child,
      exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
      output: '',
    };
    child.stdout.on('data', (d: Buffer) => (worker.output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (worker.output += d.toString()));
    workers.push(worker);
    return worker;
  }

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'safekeep-two-workers-'));
    clockFile = join(dataDir, 'clock');
    setClock(T0);
    database = await createTestDatabase('two-workers');
    storage = await PostgresStorage.open({ url: database.url, poolSize: 4, now: () => now });
  });

  after(async () => {
    for (const w of workers)
      if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await storage.close();
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('takes every slot of a simulated week exactly once: 0 missing, 0 duplicates', async () => {
    // Sites created over the week before T0: each one's first weekly backup falls due during the week after.
    for (let i = 0; i < SITES; i += 1000) {
      const rows = [];
      for (let j = i; j < Math.min(SITES, i + 1000); j++) {
        const createdAt = T0 - 7 * DAY + Math.floor(((j + 1) * 7 * DAY) / SITES);
        rows.push(sql`(${`site-${String(j).padStart(5, '0')}`}, ${'s'}, ${createdAt})`);
      }
      await sql`INSERT INTO sites (id, name, created_at) VALUES ${sql.join(rows)}`.execute(storage.db);
    }
    await Promise.all([startWorker(), startWorker()].map((w) => waitRunning(w)));
    await until('every site to be scheduled', async () => {
      return (await count(sql`SELECT count(*) AS n FROM sites WHERE next_auto_backup_at IS NULL`)) === 0;
    });
    // The week after T0, in half-day steps; the workers catch up before the clock moves on.
    for (let t = T0 + DAY / 2; t <= T0 + 7 * DAY; t += DAY / 2) {
      setClock(t);
      await until(`the slots due by ${new Date(t).toISOString()}`, async () => {
        const due = await count(sql`SELECT count(*) AS n FROM sites WHERE next_auto_backup_at <= ${t}`);
        const pending = await count(sql`SELECT count(*) AS n FROM backups WHERE status = 'PENDING'`);
        return due === 0 && pending === 0;
      });
    }
    const scheduled = await count(sql`SELECT count(*) AS n FROM backups WHERE trigger = 'SCHEDULE'`);
    const missing = await count(sql`SELECT count(*) AS n FROM sites s
      WHERE NOT EXISTS (SELECT 1 FROM backups b WHERE b.site_id = s.id AND b.trigger = 'SCHEDULE')`);
    const duplicates = await count(sql`SELECT count(*) AS n FROM (
      SELECT site_id FROM backups WHERE trigger = 'SCHEDULE' GROUP BY site_id HAVING count(*) > 1) d`);
    const notReady = await count(sql`SELECT count(*) AS n FROM backups WHERE status <> 'READY'`);
    assert.equal(missing, 0, 'sites without their weekly backup');
    assert.equal(duplicates, 0, 'sites with more than one backup for the week');
    assert.equal(scheduled, SITES);
    assert.equal(notReady, 0, 'backups that did not end READY');
    // Each backup was claimed once: no worker took over a job another was still running.
    assert.equal(await count(sql`SELECT count(*) AS n FROM backups WHERE attempts <> 1`), 0);
  });

  it('finishes a backup whose worker was SIGKILLed, within one lease, and it restores byte-identically', async () => {
    const siteId = 'big-site';
    await storage.sites.create({
      id: siteId,
      name: 'Big',
      createdAt: now,
      settings: { autoBackupIntervalDays: null, autoBackupRetention: null },
    });
    await storage.collections.create(
      siteId,
      {
        id: 'items',
        displayName: 'Items',
        collectionType: 'NATIVE',
        fields: [],
        permissions: null,
        views: [],
        extra: {},
      },
      now,
    );
    const random = seededRandom(4242);
    const filler = (n: number) =>
      Array.from({ length: n }, () => String.fromCharCode(32 + Math.floor(random() * 90))).join('');
    const target = { siteId, collectionId: 'items', environment: 'LIVE' as const };
    for (let i = 0; i < 40_000; i += 2000) {
      const batch = Array.from({ length: 2000 }, (_, k) =>
        composeItem({
          id: `item-${String(i + k).padStart(6, '0')}`,
          owner: 'owner',
          createdAt: now,
          updatedAt: now,
          fields: { title: `Item ${i + k} "quoted" \\ back\tslash`, body: filler(900), n: i + k },
        }),
      );
      await storage.items.write(target, (tx) => tx.insert(batch));
    }
    const backupId = randomUUID();
    await storage.backups.createBackup({
      id: backupId,
      siteId,
      trigger: 'ON_DEMAND',
      requestedAt: now,
      requestedCollections: null,
      collections: [{ id: 'items', displayName: 'Items' }],
    });

    // The moment its worker has taken the snapshot and is writing chunks: kill that worker.
    let owner = '';
    await until('the backup to be under way', async () => {
      const row = await storage.db
        .selectFrom('backups')
        .select(['lease_owner', 'progress_total', 'status'])
        .where('id', '=', backupId)
        .executeTakeFirstOrThrow();
      assert.equal(row.status, 'PENDING', 'the backup ended before it could be interrupted');
      owner = row.lease_owner ?? '';
      return row.progress_total !== null && owner !== '';
    });
    const pid = Number(owner.split(':')[1]);
    const victim = workers.find((w) => w.child.pid === pid);
    assert.ok(victim, `the lease owner ${owner} is one of the two workers`);
    victim.child.kill('SIGKILL');
    await victim.exited;
    const atKill = await storage.backups.getBackup(siteId, backupId);
    assert.equal(atKill?.status, 'PENDING', 'killed in the middle of the backup');

    // One lease later (on the children's clock) the other worker takes it over and finishes it.
    setClock(now + LEASE_SECONDS * 1000 + 1);
    await until(
      'the backup to end',
      async () => (await storage.backups.getBackup(siteId, backupId))?.status !== 'PENDING',
    );
    const row = await storage.db
      .selectFrom('backups')
      .selectAll()
      .where('id', '=', backupId)
      .executeTakeFirstOrThrow();
    assert.equal(row.status, 'READY', `${row.error_code}: ${row.error_message}`);
    assert.equal(Number(row.attempts), 2);
    assert.equal(Number(row.item_count), 40_000);

    const restorationId = randomUUID();
    await storage.restorations.createRestoration({
      id: restorationId,
      siteId,
      backupId,
      requestedAt: now,
      collections: [
        {
          dataCollectionId: 'items',
          restoreDestination: { dataCollectionId: 'items_copy', displayName: 'Copy' },
        },
      ],
    });
    await until(
      'the restoration to end',
      async () => (await storage.restorations.getRestoration(siteId, restorationId))?.status !== 'PENDING',
    );
    assert.equal((await storage.restorations.getRestoration(siteId, restorationId))?.status, 'COMPLETED');
    const digest = async (collectionId: string) => {
      const gen = (await storage.collections.get(siteId, collectionId)) && (await liveGen(collectionId));
      const { table, scope } = itemRelation(Number(gen));
      const { rows } = await sql<{ n: number; h: string }>`SELECT count(*) AS n,
        md5(string_agg(id || E'\\t' || created_at || E'\\t' || updated_at || E'\\t' || data, E'\\n' ORDER BY id)) AS h
        FROM ${sql.table(table)} WHERE ${scope}`.execute(storage.db);
      return rows[0];
    };
    const liveGen = async (collectionId: string) =>
      (
        await storage.db
          .selectFrom('collections')
          .select('live_gen')
          .where('site_id', '=', siteId)
          .where('id', '=', collectionId)
          .executeTakeFirstOrThrow()
      ).live_gen;
    const original = await digest('items');
    const restored = await digest('items_copy');
    assert.equal(Number(original?.n), 40_000);
    assert.deepEqual(restored, original, 'the restored items are byte-identical to the backed-up ones');
  });
});

async function waitRunning(worker: Worker): Promise<void> {
  while (!/safekeep worker \d+ is running/.test(worker.output)) {
    if (worker.child.exitCode !== null) throw new Error(`worker exited:\n${worker.output}`);
    await sleep(50);
  }
}
