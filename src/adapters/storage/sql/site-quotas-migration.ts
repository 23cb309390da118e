import { sql, type Kysely, type Migration } from 'kysely';
import { generationLayout, itemRelation } from './item-relation.js';

/**
 * Migration 0009 on either engine: gives every generation a collection points at, or the bin keeps, its
 * item count (`generations.item_count`, kept from then on by the transactions that write items). Shared
 * generations are counted in one grouped statement; the others (own and legacy tables) one table each.
 */
export async function backfillItemCounts(db: Kysely<unknown>): Promise<void> {
  const kept = sql`state IN ('ACTIVE', 'BINNED', 'RETIRING')`;
  await sql`UPDATE generations SET item_count = (
      SELECT COUNT(*) FROM items WHERE items.gen = generations.id)
    WHERE ${kept} AND id >= 10000000000 AND id < 1000000000000`.execute(db);
  const { rows } = await sql<{ id: number }>`SELECT id FROM generations WHERE ${kept}
    AND (id < 10000000000 OR id >= 1000000000000)`.execute(db);
  for (const { id } of rows) {
    const gen = Number(id);
    const { table, scope } = itemRelation(gen);
    if (generationLayout(gen) === 'shared') continue;
    await sql`UPDATE generations SET item_count = (SELECT COUNT(*) FROM ${sql.table(table)} WHERE ${scope})
      WHERE id = ${gen}`.execute(db);
  }
}

/**
 * Migration 0009-site-quotas, written once for both engines, which differ only by their integer type: the
 * sites' quota overrides, a kept item count per generation (the site's item usage adds up those of its
 * ACTIVE generations, found by site) and, for the bin, the bytes of each deleted copy once counted.
 */
export function siteQuotasMigration(integer: 'INTEGER' | 'BIGINT'): Migration {
  return {
    async up(db) {
      for (const statement of [
        `ALTER TABLE sites ADD COLUMN max_collections ${integer}`,
        `ALTER TABLE sites ADD COLUMN max_items ${integer}`,
        `ALTER TABLE sites ADD COLUMN max_backup_bytes ${integer}`,
        `ALTER TABLE sites ADD COLUMN max_request_body_bytes ${integer}`,
        `ALTER TABLE generations ADD COLUMN item_count ${integer} NOT NULL DEFAULT 0`,
        `ALTER TABLE collection_bin ADD COLUMN size_bytes ${integer}`,
        `CREATE INDEX generations_site ON generations (site_id, state)`,
      ])
        await sql.raw(statement).execute(db);
      await backfillItemCounts(db);
    },
  };
}
