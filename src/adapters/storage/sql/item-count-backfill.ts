import { sql, type Kysely } from 'kysely';
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
