/**
 * `npm run bench -- --engine postgres`: the scale-out figures of the PostgreSQL adapter, each against a
 * baseline run in the same script on the same data:
 * - a full backup's wall time ÷ `pg_dump -Fc` of the same item tables (goal ≤ 0.5);
 * - a full restore's wall time ÷ `pg_restore` of that dump into an empty database (goal ≤ 1.0);
 * Backups per second of many small sites are in small-sites.bench.ts (suite `small-sites`).
 * The server is `postgres://postgres@127.0.0.1:5432/postgres` unless SAFEKEEP_BENCH_PG_URL names another;
 * the bench creates its databases there and drops them at the end.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import type { PostgresStorage } from '../src/adapters/storage/postgres/postgres-storage.js';
import { itemRelation } from '../src/adapters/storage/sql/item-relation.js';
import { openSafekeep, type Safekeep } from '../src/app/composition-root.js';
import { loadConfig } from '../src/config.js';
import { composeItem } from '../src/domain/item-codec.js';
import { createBenchDatabase } from './bench-database.js';
import { sampleItem, timed, type BenchResult } from './bench-kit.js';

export interface PostgresBenchOptions {
  readonly items: number;
  readonly collections: number;
}

async function runJobs(safekeep: Safekeep): Promise<void> {
  const { worker } = safekeep.background();
  const signal = new AbortController().signal;
  while (await worker.runOne(signal));
}

/** Fills `collections` collections with `items` ~1 KB items in all, through the item store (1,000 a call). */
async function fill(safekeep: Safekeep, siteId: string, items: number, collections: number): Promise<void> {
  const now = Date.now();
  for (let c = 0; c < collections; c++) {
    const collectionId = `c${c}`;
    await safekeep.storage.collections.create(
      siteId,
      {
        id: collectionId,
        displayName: collectionId,
        collectionType: 'NATIVE',
        fields: [],
        permissions: null,
        views: [],
        extra: {},
      },
      now,
    );
    const target = { siteId, collectionId, environment: 'LIVE' as const };
    const share = Math.ceil(items / collections);
    for (let i = 0; i < share; i += 1000) {
      const batch: ReturnType<typeof composeItem>[] = [];
      for (let k = i; k < Math.min(share, i + 1000); k++) {
        const n = c * share + k;
        batch.push(
          composeItem({
            id: `item-${String(n).padStart(8, '0')}`,
            owner: 'bench',
            createdAt: now,
            updatedAt: now,
            fields: sampleItem(n),
          }),
        );
      }
      await safekeep.storage.items.write(target, (tx) => tx.insert(batch));
    }
  }
}

export async function runPostgresBench(
  options: PostgresBenchOptions,
  log: (line: string) => void,
): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const database = await createBenchDatabase('main');
  const restoreTarget = await createBenchDatabase('pgrestore');
  const dataDir = mkdtempSync(join(tmpdir(), 'safekeep-bench-pg-'));
  const config = loadConfig({
    DATABASE_URL: database.url,
    SAFEKEEP_DATA_DIR: dataDir,
    SAFEKEEP_LOG_LEVEL: 'silent',
  });
  // When the restoration switched live data: its end, as a user sees it (the safety backup follows).
  let switchedAt = 0;
  const safekeep = await openSafekeep(config, {
    failpoint: (name) => {
      if (name === 'restore:switched') switchedAt = performance.now();
      return Promise.resolve();
    },
  });
  try {
    const site = await safekeep.services.admin.createSite('bench');
    log(`filling ${options.items} items in ${options.collections} collections…`);
    const filled = await timed(() => fill(safekeep, site.id, options.items, options.collections));
    log(`  filled in ${(filled.ms / 1000).toFixed(1)} s`);
    const storage = safekeep.storage as PostgresStorage;
    await sql`VACUUM ANALYZE`.execute(storage.db);

    // Full backup vs pg_dump -Fc of the same tables.
    const backupId = randomUUID();
    const collections = await safekeep.storage.collections.names(site.id);
    await safekeep.storage.backups.createBackup({
      id: backupId,
      siteId: site.id,
      trigger: 'ON_DEMAND',
      requestedAt: Date.now(),
      requestedCollections: null,
      collections,
    });
    const backup = await timed(() => runJobs(safekeep));
    const record = await safekeep.storage.backups.getBackup(site.id, backupId);
    if (record?.status !== 'READY')
      throw new Error(`backup ended ${record?.status}: ${JSON.stringify(record?.error)}`);
    log(`  backup: ${(backup.ms / 1000).toFixed(1)} s, ${record.sizeBytes} bytes stored`);
    const gens = (
      await storage.db.selectFrom('collections').select('live_gen').where('site_id', '=', site.id).execute()
    ).map((r) => r.live_gen);
    const dumpFile = join(dataDir, 'items.dump');
    const dump = await timed(() =>
      Promise.resolve(
        execFileSync('pg_dump', [
          '-Fc',
          '-f',
          dumpFile,
          // A shared generation's rows are in the leaves of `items`' default partition: the dump takes the
          // parent and the default partition with them, so that pg_restore can create the leaves.
          ...[...new Set(gens.map((g) => itemRelation(g).table))].flatMap((t) =>
            t === 'items' ? ['-t', 'items', '-t', 'items_shared*'] : ['-t', t],
          ),
          database.url,
        ]),
      ),
    );
    log(`  pg_dump -Fc: ${(dump.ms / 1000).toFixed(1)} s`);
    results.push({
      name: `full backup ÷ pg_dump -Fc (${options.items} items)`,
      value: backup.ms / dump.ms,
      unit: 'x',
      goal: '≤ 0.5',
      pass: backup.ms / dump.ms <= 0.5,
      note: `${(backup.ms / 1000).toFixed(1)} s vs ${(dump.ms / 1000).toFixed(1)} s`,
    });

    // Full restore vs pg_restore of that dump into an empty database.
    const restorationId = randomUUID();
    await safekeep.storage.restorations.createRestoration({
      id: restorationId,
      siteId: site.id,
      backupId,
      requestedAt: Date.now(),
      collections: collections.map((c) => ({
        dataCollectionId: c.id,
        restoreDestination: { dataCollectionId: c.id, displayName: c.displayName },
      })),
    });
    // The restoration writes a safety backup of the replaced content; only the switch counts here.
    const restoreStart = performance.now();
    const restore = await timed(async () => {
      const { worker } = safekeep.background();
      const signal = new AbortController().signal;
      for (;;) {
        const r = await safekeep.storage.restorations.getRestoration(site.id, restorationId);
        if (r?.status !== 'PENDING') break;
        await worker.runOne(signal);
      }
    });
    const restoration = await safekeep.storage.restorations.getRestoration(site.id, restorationId);
    if (restoration?.status !== 'COMPLETED') throw new Error(`restoration ended ${restoration?.status}`);
    const toSwitch = switchedAt - restoreStart;
    log(
      `  restore: live data switched after ${(toSwitch / 1000).toFixed(1)} s, safety backup done after ${(restore.ms / 1000).toFixed(1)} s`,
    );
    const pgRestore = await timed(() =>
      Promise.resolve(execFileSync('pg_restore', ['-d', restoreTarget.url, dumpFile])),
    );
    log(`  pg_restore: ${(pgRestore.ms / 1000).toFixed(1)} s`);
    results.push({
      name: `full restore (to the switch) ÷ pg_restore (${options.items} items)`,
      value: toSwitch / pgRestore.ms,
      unit: 'x',
      goal: '≤ 1.0',
      pass: toSwitch / pgRestore.ms <= 1.0,
      note: `${(toSwitch / 1000).toFixed(1)} s vs ${(pgRestore.ms / 1000).toFixed(1)} s`,
    });
    results.push({
      name: `full restore with its safety backup ÷ pg_restore (${options.items} items)`,
      value: restore.ms / pgRestore.ms,
      unit: 'x',
      note: `${(restore.ms / 1000).toFixed(1)} s vs ${(pgRestore.ms / 1000).toFixed(1)} s`,
    });
  } finally {
    await safekeep.close();
    await database.drop();
    await restoreTarget.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return results;
}
