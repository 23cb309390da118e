import { sql } from 'kysely';
import { generationLayout, itemRelation } from '../sql/item-relation.js';
import type { SqlEngine } from '../sql/sql-engine.js';
import { sqliteTextIndex } from './sqlite-text-index.js';

const secondaryColumns = { created: 'created_at', updated: 'updated_at', seq: 'seq' } as const;

/** Columns of a legacy item table (written before migration 0006), in order. */
const legacyColumns =
  '(rid INTEGER PRIMARY KEY, id TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, data TEXT NOT NULL, seq INTEGER NOT NULL DEFAULT 0)';

/** Columns of `items` and of every own table (migration 0006), in order. */
const itemColumns =
  '(rid INTEGER PRIMARY KEY, gen INTEGER NOT NULL, id TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, data TEXT NOT NULL, seq INTEGER NOT NULL DEFAULT 0)';

/**
 * Item sets on SQLite. Tables are rowid tables with a unique index on the id (with the gen first where
 * there is a gen column): appends stay cheap even when ids arrive in random order (a WITHOUT ROWID table of
 * ~1 KB rows measured 4x slower for random inserts, see docs/ARCHITECTURE.md). Generation ids come from two
 * counters in `meta` (migration 0006): AUTOINCREMENT would jump past every shared id after one own id.
 */
export const sqliteItemTables: SqlEngine = {
  // From here a table of its own (date indexes built after the load) wins clearly: 0.58 s vs 1.17 s into the
  // shared table at 20,000 ~1 KB items, 2.8 s vs 12.4 s at 100,000 (docs/ARCHITECTURE.md, "Generations").
  largeGenerationItems: 20_000,
  textIndex: sqliteTextIndex,

  async nextGenerationId(db, layout) {
    const key = layout === 'own' ? 'generation_next_large' : 'generation_next_shared';
    const { rows } = await sql<{
      id: number;
    }>`UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)
      WHERE key = ${key} RETURNING CAST(value AS INTEGER) - 1 AS id`.execute(db);
    const id = rows[0]?.id;
    if (id === undefined) throw new Error(`meta has no ${key} (migration 0006 did not run)`);
    return Number(id);
  },

  async createItemTable(db, gen, options) {
    const layout = generationLayout(gen);
    if (layout === 'shared') return;
    const { table: t } = itemRelation(gen);
    if (layout === 'legacy') {
      await sql.raw(`CREATE TABLE ${t} ${legacyColumns}`).execute(db);
      await sql.raw(`CREATE UNIQUE INDEX ${t}_id ON ${t} (id)`).execute(db);
    } else {
      await sql.raw(`CREATE TABLE ${t} ${itemColumns}`).execute(db);
      await sql.raw(`CREATE UNIQUE INDEX ${t}_gen_id ON ${t} (gen, id)`).execute(db);
    }
    if (!options?.deferSecondaryIndexes) await this.createSecondaryIndexes(db, gen);
  },

  async createSecondaryIndexes(db, gen, which = ['created', 'updated', 'seq']) {
    const layout = generationLayout(gen);
    if (layout === 'shared') return;
    const { table: t } = itemRelation(gen);
    for (const index of which) {
      const statement =
        layout === 'legacy'
          ? `CREATE INDEX IF NOT EXISTS ${t}_${index} ON ${t} (${secondaryColumns[index]})`
          : `CREATE INDEX IF NOT EXISTS ${t}_gen_${index} ON ${t} (gen, ${secondaryColumns[index]})`;
      await sql.raw(statement).execute(db);
    }
  },

  async hasItemTable(db, gen) {
    if (generationLayout(gen) === 'shared') return true;
    const { rows } = await sql`SELECT 1 AS one FROM sqlite_schema WHERE type = 'table'
      AND name = ${itemRelation(gen).table}`.execute(db);
    return rows.length > 0;
  },

  async dropItemTable(db, gen) {
    if (generationLayout(gen) === 'shared') return;
    await sql.raw(`DROP TABLE IF EXISTS ${itemRelation(gen).table}`).execute(db);
  },
};
