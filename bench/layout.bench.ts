/**
 * The storage layout's cost per tenant (docs/ARCHITECTURE.md, "Storage"), through the storage port:
 * - PostgreSQL: relations and bytes added per empty collection (goals: 0 relations, ≤ 2 KB);
 * - collection create p50/p99 with many collections in the database ÷ with few (goal ≤ 1.5): 100,000 ÷ 100
 *   on PostgreSQL (filled as 10,000 sites × 10 collections), 10,000 ÷ 10 on the embedded default.
 * Both sides of each ratio are measured in this run, on the same database, the "few" side first.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import type { Storage, CollectionDefinition } from '../src/ports/storage.js';
import { createBenchDatabase } from './bench-database.js';
import { latencies, percentile, timed, type BenchResult } from './bench-kit.js';

export interface LayoutBenchOptions {
  readonly engine: 'sqlite' | 'postgres';
  /** Collections in the database for the "few" side. */
  readonly few: number;
  /** Collections in the database for the "many" side (filled as sites of 10 collections). */
  readonly many: number;
  /** Creates timed on each side. */
  readonly samples: number;
}

const PER_SITE = 10;

function definition(id: string): CollectionDefinition {
  return {
    id,
    displayName: id,
    collectionType: 'NATIVE',
    fields: [{ key: 'title', type: 'TEXT' }],
    permissions: null,
    views: [],
    extra: {},
  };
}

async function addSite(storage: Storage, siteId: string): Promise<void> {
  await storage.sites.create({
    id: siteId,
    name: siteId,
    createdAt: Date.now(),
    settings: { autoBackupIntervalDays: null, autoBackupRetention: null },
  });
}

/** Adds sites of ten collections until the database holds `total` collections; `width` at once. */
async function fillTo(storage: Storage, from: number, total: number, width: number): Promise<void> {
  let site = Math.ceil(from / PER_SITE);
  const last = Math.ceil(total / PER_SITE);
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (site < last) {
        const siteId = `fill-${site++}`;
        await addSite(storage, siteId);
        for (let c = 0; c < PER_SITE; c++) await storage.collections.create(siteId, definition(`C${c}`), 0);
      }
    }),
  );
}

/** Latencies of `samples` collection creates, in a site of their own. */
async function createLatencies(storage: Storage, samples: number): Promise<number[]> {
  const siteId = `probe-${randomUUID()}`;
  await addSite(storage, siteId);
  return latencies(samples, (i) => storage.collections.create(siteId, definition(`P${i}`), 0));
}

function ratios(
  label: string,
  few: readonly number[],
  many: readonly number[],
  options: LayoutBenchOptions,
): BenchResult[] {
  return [50, 99].map((p) => {
    const value = percentile(many, p) / percentile(few, p);
    return {
      name: `${label}: collection create p${p} at ${options.many} ÷ at ${options.few}`,
      value,
      unit: 'x',
      goal: '≤ 1.5',
      pass: value <= 1.5,
      note: `${percentile(many, p).toFixed(2)} ms vs ${percentile(few, p).toFixed(2)} ms`,
    };
  });
}

async function runSqlite(options: LayoutBenchOptions, log: (line: string) => void): Promise<BenchResult[]> {
  const { SqliteStorage } = await import('../src/adapters/storage/sqlite/sqlite-storage.js');
  const dir = mkdtempSync(join(tmpdir(), 'safekeep-layout-bench-'));
  const storage = await SqliteStorage.open({ path: join(dir, 'bench.db') });
  try {
    const schema = async () =>
      Number(
        (await sql<{ n: number }>`SELECT count(*) AS n FROM sqlite_schema`.execute(storage.db)).rows[0]?.n,
      );
    await fillTo(storage, 0, options.few, 1);
    const schemaBefore = await schema();
    const few = await createLatencies(storage, options.samples);
    const { ms } = await timed(() => fillTo(storage, options.few + options.samples, options.many, 1));
    log(`filled to ${options.many} collections in ${(ms / 1000).toFixed(1)} s`);
    const many = await createLatencies(storage, options.samples);
    const added = (await schema()) - schemaBefore;
    return [
      ...ratios('SQLite', few, many, options),
      {
        name: 'SQLite: schema objects added per collection',
        value: added / (options.many - options.few + options.samples),
        unit: 'objects',
        goal: '0',
        pass: added === 0,
      },
    ];
  } finally {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function runPostgres(options: LayoutBenchOptions, log: (line: string) => void): Promise<BenchResult[]> {
  const { PostgresStorage } = await import('../src/adapters/storage/postgres/postgres-storage.js');
  const database = await createBenchDatabase('layout');
  const storage = await PostgresStorage.open({ url: database.url, poolSize: 4 });
  try {
    const figures = async () => {
      const { rows } = await sql<{
        relations: string;
        bytes: string;
      }>`SELECT (SELECT count(*) FROM pg_class) AS relations, pg_database_size(current_database()) AS bytes`.execute(
        storage.db,
      );
      return { relations: Number(rows[0]?.relations), bytes: Number(rows[0]?.bytes) };
    };
    // Relations and bytes per empty collection: 1,000 collections on a fresh database, checkpointed so that
    // the sizes are the files' own.
    const empty = 1000;
    await sql`CHECKPOINT`.execute(storage.db);
    const start = await figures();
    await fillTo(storage, 0, empty, 4);
    await sql`CHECKPOINT`.execute(storage.db);
    const filled = await figures();
    const relationsPer = (filled.relations - start.relations) / empty;
    const bytesPer = (filled.bytes - start.bytes) / empty;

    await fillTo(storage, empty, Math.max(empty, options.few), 4);
    const few = await createLatencies(storage, options.samples);
    const { ms } = await timed(() =>
      fillTo(storage, Math.max(empty, options.few) + options.samples, options.many, 4),
    );
    log(`filled to ${options.many} collections in ${(ms / 1000).toFixed(1)} s`);
    await sql`ANALYZE`.execute(storage.db);
    const many = await createLatencies(storage, options.samples);
    return [
      {
        name: 'PostgreSQL: relations added per empty collection',
        value: relationsPer,
        unit: 'relations',
        goal: '0',
        pass: relationsPer === 0,
      },
      {
        name: 'PostgreSQL: bytes added per empty collection',
        value: Math.round(bytesPer),
        unit: 'B',
        goal: '≤ 2048',
        pass: bytesPer <= 2048,
        note: 'database size after CHECKPOINT, 1,000 collections',
      },
      ...ratios('PostgreSQL', few, many, options),
    ];
  } finally {
    await storage.close();
    await database.drop();
  }
}

export async function runLayoutBench(
  options: LayoutBenchOptions,
  log: (line: string) => void,
): Promise<BenchResult[]> {
  return options.engine === 'postgres' ? runPostgres(options, log) : runSqlite(options, log);
}
