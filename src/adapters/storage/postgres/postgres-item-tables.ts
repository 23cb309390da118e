import { setTimeout as sleep } from 'node:timers/promises';
import { sql, type Kysely } from 'kysely';
import { StorageError } from '../../../ports/storage-error.js';
import { generationLayout, itemRelation } from '../sql/item-relation.js';
import type { Database } from '../sql/schema.js';
import type { SqlEngine } from '../sql/sql-engine.js';
import { postgresTextIndex } from './postgres-text-index.js';

const secondaryColumns = { created: 'created_at', updated: 'updated_at', seq: 'seq' } as const;

/**
 * How long an ATTACH or DETACH waits for its locks before it lets go and tries again. ATTACH takes an
 * exclusive lock on the default partition (every small generation) and DETACH one on `items`; while either
 * waits, every new reader queues behind it, so a wait is kept short rather than stalling requests behind a
 * long transaction (a big backup's snapshot holds its locks until it ends).
 */
const PARTITION_LOCK_TIMEOUT = '500ms';
const ATTACH_ATTEMPTS = 20;

/**
 * Item sets on PostgreSQL. A shared generation is rows of `items` (LIST-partitioned by gen; its default
 * partition, hash-partitioned in 32, holds every small generation). An own generation's table is created
 * bare — no key, no index — and filled by COPY; the key and the indexes are built in one pass each when it
 * is full (keeping the key during the load measured 1.5x slower), then it gets `CHECK (gen = X)` and is
 * attached as a partition of `items` (no scan: the CHECK proves the table, and the default partition's
 * `CHECK (gen < 10^12)` proves the default partition). Until attached it is read by its own name, which
 * also works after. A legacy generation's table (before migration 0006) has no gen column and is keyed by id.
 */
export const postgresItemTables: SqlEngine = {
  // From here a bare table, indexed and attached, wins clearly: 1.3 s vs 5.7 s into the shared table at
  // 100,000 ~1 KB items, 12.5 s vs 23.5 s at 1 M, and no index bloat once replaced (docs/ARCHITECTURE.md).
  largeGenerationItems: 100_000,
  textIndex: postgresTextIndex,

  async nextGenerationId(db, layout) {
    if (layout === 'shared') return undefined;
    const { rows } = await sql<{ id: string | number }>`SELECT nextval('generations_large_id') AS id`.execute(
      db,
    );
    return Number(rows[0]?.id);
  },

  async createItemTable(db, gen, options) {
    const layout = generationLayout(gen);
    if (layout === 'shared') return;
    const { table: t } = itemRelation(gen);
    const genColumn = layout === 'own' ? 'gen BIGINT NOT NULL, ' : '';
    await sql
      .raw(
        `CREATE TABLE ${t} (${genColumn}id TEXT COLLATE "C" NOT NULL, created_at BIGINT NOT NULL,
         updated_at BIGINT NOT NULL, data TEXT NOT NULL, seq BIGINT NOT NULL DEFAULT 0)`,
      )
      .execute(db);
    if (!options?.deferSecondaryIndexes) await this.createSecondaryIndexes(db, gen);
  },

  async createSecondaryIndexes(db, gen, which) {
    const layout = generationLayout(gen);
    if (layout === 'shared') return;
    // Indexes asked for while the table fills are left for the final build (see above).
    if (which !== undefined && !(await hasKey(db, gen))) return;
    await ensureKey(db, gen);
    const { table: t } = itemRelation(gen);
    for (const index of which ?? (['created', 'updated', 'seq'] as const)) {
      const statement =
        layout === 'legacy'
          ? `CREATE INDEX IF NOT EXISTS ${t}_${index} ON ${t} (${secondaryColumns[index]})`
          : `CREATE INDEX IF NOT EXISTS ${t}_gen_${index} ON ${t} (gen, ${secondaryColumns[index]})`;
      await sql.raw(statement).execute(db);
    }
    if (layout === 'own' && which === undefined) await attach(db, gen);
  },

  async hasItemTable(db, gen) {
    if (generationLayout(gen) === 'shared') return true;
    return (await regclass(db, itemRelation(gen).table)) !== null;
  },

  async dropItemTable(db, gen) {
    const layout = generationLayout(gen);
    if (layout === 'shared') return;
    const { table: t } = itemRelation(gen);
    if (layout === 'own' && (await isAttached(db, t))) {
      await withPartitionLock(db, `ALTER TABLE items DETACH PARTITION ${t}`);
    }
    await sql.raw(`DROP TABLE IF EXISTS ${t}`).execute(db);
  },
};

async function regclass(db: Kysely<Database>, name: string): Promise<string | null> {
  const { rows } = await sql<{ t: string | null }>`SELECT to_regclass(${name})::text AS t`.execute(db);
  return rows[0]?.t ?? null;
}

/** Whether an own or legacy generation's table has its key yet (it is built once the table is full). */
export async function hasKey(db: Kysely<Database>, gen: number): Promise<boolean> {
  return (await regclass(db, `${itemRelation(gen).table}_pkey`)) !== null;
}

/** Builds the key of an own or legacy generation's table (the staging lookups and ATTACH need it). */
export async function ensureKey(db: Kysely<Database>, gen: number): Promise<void> {
  const layout = generationLayout(gen);
  if (layout === 'shared' || (await hasKey(db, gen))) return;
  const { table: t } = itemRelation(gen);
  const columns = layout === 'own' ? 'gen, id' : 'id';
  await sql
    .raw(`ALTER TABLE ${t} ADD CONSTRAINT ${t}_pkey PRIMARY KEY (${columns})`)
    .execute(db)
    .catch(ignoreDuplicate);
}

/** A key or constraint that exists already (built by an earlier call or attempt) is what was wanted. */
function ignoreDuplicate(error: unknown): void {
  const code = (error as { code?: unknown }).code;
  if (code !== '42P16' && code !== '42P07' && code !== '42710') throw error;
}

async function isAttached(db: Kysely<Database>, table: string): Promise<boolean> {
  const { rows } = await sql`SELECT 1 AS one FROM pg_inherits WHERE inhrelid = to_regclass(${table})`.execute(
    db,
  );
  return rows.length > 0;
}

/**
 * Makes a filled own table a partition of `items`. Its CHECK lets ATTACH skip scanning it; the default
 * partition's CHECK (gen < 10^12, migration 0006) lets ATTACH skip scanning every small generation. Every
 * statement reads and writes the table by its own name, attached or not, so when the lock cannot be had
 * for a while (long transactions on small generations, one after another) the table stays as it is rather
 * than failing the restoration; the sweeper drops it either way.
 */
async function attach(db: Kysely<Database>, gen: number): Promise<void> {
  const { table: t } = itemRelation(gen);
  if (await isAttached(db, t)) return;
  await sql
    .raw(`ALTER TABLE ${t} ADD CONSTRAINT ${t}_gen CHECK (gen = ${gen})`)
    .execute(db)
    .catch(ignoreDuplicate);
  const statement = `ALTER TABLE items ATTACH PARTITION ${t} FOR VALUES IN (${gen})`;
  for (let attempt = 1; attempt <= ATTACH_ATTEMPTS; attempt++) {
    try {
      await withPartitionLock(db, statement);
      return;
    } catch (error) {
      // The lock timeout (55P03) reaches here as the storage boundary's BUSY (postgres-connection.ts).
      if (!(error instanceof StorageError && error.kind === 'BUSY')) throw error;
      await sleep(Math.min(100 * attempt, 1000));
    }
  }
}

/**
 * Runs a statement that locks partitions with a short lock timeout, in the caller's transaction when there
 * is one (a timeout there fails the caller, which tries again later: the sweeper does) or in one of its own.
 */
async function withPartitionLock(db: Kysely<Database>, statement: string): Promise<void> {
  const run = async (trx: Kysely<Database>) => {
    await sql.raw(`SET LOCAL lock_timeout = '${PARTITION_LOCK_TIMEOUT}'`).execute(trx);
    await sql.raw(statement).execute(trx);
  };
  if (db.isTransaction) await run(db);
  else await db.transaction().execute(run);
}
