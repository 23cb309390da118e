/**
 * Distinct and aggregate (issue 15): the storage layer's `aggregate` (what Query Distinct Values and
 * Aggregate Data Items run, compiled by the item-query compiler) ÷ the same query written directly in the
 * engine's SQL on the same table, over N items. Runs alternate, so both sides see the same machine; the
 * figure is the ratio of medians.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../src/adapters/storage/sql/schema.js';
import { itemRelation } from '../src/adapters/storage/sql/item-relation.js';
import { currentGeneration } from '../src/adapters/storage/sql/sql-item-store.js';
import { composeItem, type StoredItem } from '../src/domain/item-codec.js';
import type { ItemAggregation, Storage } from '../src/ports/storage.js';
import { createBenchDatabase } from './bench-database.js';
import { percentile, timed, type BenchResult } from './bench-kit.js';

export interface AggregateBenchOptions {
  readonly engine: 'sqlite' | 'postgres';
  readonly items: number;
  /** Runs of each query on each side. */
  readonly runs: number;
}

const GROUPS = 100;
type Sql = RawBuilder<unknown>;

async function fill(storage: Storage, items: number, log: (line: string) => void): Promise<void> {
  await storage.sites.create({
    id: 'bench',
    name: 'bench',
    createdAt: Date.now(),
    settings: { autoBackupIntervalDays: null, autoBackupRetention: null },
  });
  await storage.collections.create(
    'bench',
    {
      id: 'Sales',
      displayName: 'Sales',
      collectionType: 'NATIVE',
      fields: [],
      permissions: null,
      views: [],
      extra: {},
    },
    0,
  );
  const target = { siteId: 'bench', collectionId: 'Sales', environment: 'LIVE' as const };
  const at = Date.UTC(2024, 0, 1);
  const { ms } = await timed(async () => {
    for (let start = 0; start < items; start += 5000) {
      const batch: StoredItem[] = [];
      for (let i = start; i < Math.min(items, start + 5000); i++)
        batch.push(
          composeItem({
            id: `s${i}`,
            owner: 'bench',
            createdAt: at,
            updatedAt: at,
            fields: { city: `city ${i % GROUPS}`, amount: (i * 7919) % 1000, note: `sale ${i}` },
          }),
        );
      await storage.items.write(target, (tx) => tx.insert(batch));
    }
  });
  log(`  filled ${items} items in ${(ms / 1000).toFixed(1)} s`);
}

/** Median ms of `ours` and `direct`, alternating which runs first. */
async function compare(
  runs: number,
  ours: () => Promise<unknown>,
  direct: () => Promise<unknown>,
): Promise<{ ours: number; direct: number }> {
  await ours();
  await direct();
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < runs; r++) {
    if (r % 2 === 0) {
      a.push((await timed(ours)).ms);
      b.push((await timed(direct)).ms);
    } else {
      b.push((await timed(direct)).ms);
      a.push((await timed(ours)).ms);
    }
  }
  a.sort((x, y) => x - y);
  b.sort((x, y) => x - y);
  return { ours: percentile(a, 50), direct: percentile(b, 50) };
}

export async function runAggregateBench(
  options: AggregateBenchOptions,
  log: (line: string) => void,
): Promise<BenchResult[]> {
  let storage: Storage & { db: Kysely<Database> };
  let cleanup: () => Promise<void>;
  if (options.engine === 'sqlite') {
    const { SqliteStorage } = await import('../src/adapters/storage/sqlite/sqlite-storage.js');
    const dir = mkdtempSync(join(tmpdir(), 'safekeep-aggregate-bench-'));
    storage = await SqliteStorage.open({ path: join(dir, 'bench.db') });
    cleanup = async () => {
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    };
  } else {
    const { PostgresStorage } = await import('../src/adapters/storage/postgres/postgres-storage.js');
    const database = await createBenchDatabase('aggregate');
    storage = await PostgresStorage.open({ url: database.url, poolSize: 4 });
    cleanup = async () => {
      await storage.close();
      await database.drop();
    };
  }
  try {
    await fill(storage, options.items, log);
    const target = { siteId: 'bench', collectionId: 'Sales', environment: 'LIVE' as const };
    const gen = await currentGeneration(storage.db, target);
    const { table, scope } = itemRelation(gen);
    const sqlite = options.engine === 'sqlite';
    const city = sqlite ? sql`json_extract(data, '$.city')` : sql`(data::jsonb ->> 'city')`;
    const amount = sqlite ? sql`json_extract(data, '$.amount')` : sql`(data::jsonb ->> 'amount')::float8`;
    const base: Omit<ItemAggregation, 'filter' | 'groupBy' | 'operations' | 'sort'> = {
      having: null,
      limit: 1000,
      offset: 0,
      withTotal: false,
    };
    // Each side must find every group, so neither is timed doing less.
    const groupsOf = async (rows: Promise<readonly unknown[]>) => {
      const n = (await rows).length;
      if (n !== GROUPS) throw new Error(`expected ${GROUPS} groups, got ${n}`);
    };
    const versus = (ours: Pick<ItemAggregation, 'filter' | 'groupBy' | 'operations' | 'sort'>, direct: Sql) =>
      compare(
        options.runs,
        () => groupsOf(storage.items.aggregate(target, { ...base, ...ours }).then((p) => p.results)),
        () => groupsOf(direct.execute(storage.db).then((r) => r.rows)),
      );
    const byCity = [{ key: 'city', field: ['city'] }];
    const distinct = await versus(
      {
        filter: { kind: 'exists', field: ['city'], exists: true },
        groupBy: byCity,
        operations: [],
        sort: [{ field: ['city'], order: 'ASC' }],
      },
      sql`SELECT ${city} AS v FROM ${sql.table(table)} WHERE ${scope} AND ${city} IS NOT NULL
        GROUP BY v ORDER BY v LIMIT 1001`,
    );
    const aggregate = await versus(
      {
        filter: null,
        groupBy: byCity,
        operations: [
          { name: 'count', op: 'count' },
          { name: 'total', op: 'sum', field: ['amount'] },
        ],
        sort: [],
      },
      sql`SELECT ${city} AS k, count(*) AS n, sum(${amount}) AS total FROM ${sql.table(table)}
        WHERE ${scope} GROUP BY k LIMIT 1001`,
    );
    const label = `${options.engine}, ${options.items} items`;
    return [
      { name: `distinct (${label}), median`, value: distinct.ours, unit: 'ms' },
      { name: `distinct in plain SQL (${label}), median`, value: distinct.direct, unit: 'ms' },
      {
        name: `distinct ÷ plain SQL (${label})`,
        value: distinct.ours / distinct.direct,
        unit: '×',
        goal: '≤ 1.5',
        pass: distinct.ours / distinct.direct <= 1.5,
      },
      { name: `aggregate count+sum by one field (${label}), median`, value: aggregate.ours, unit: 'ms' },
      { name: `aggregate in plain SQL (${label}), median`, value: aggregate.direct, unit: 'ms' },
      {
        name: `aggregate ÷ plain SQL (${label})`,
        value: aggregate.ours / aggregate.direct,
        unit: '×',
        goal: '≤ 1.5',
        pass: aggregate.ours / aggregate.direct <= 1.5,
      },
    ];
  } finally {
    await cleanup();
  }
}
