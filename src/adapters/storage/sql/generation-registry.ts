import { sql, type Kysely } from 'kysely';
import type { Environment } from '../../../domain/environment.js';
import type { GenerationSweeper } from '../../../ports/storage.js';
import type { Database, GenerationState } from './schema.js';
import { itemTable } from './schema.js';
import type { SqlEngine } from './sql-engine.js';

/**
 * Generations are the item sets of collections (docs/ARCHITECTURE.md, "Generations"). A collection row
 * points at one ACTIVE generation per environment; truncating, deleting or restoring makes a new one and
 * RETIRES the old, whose rows the sweeper reclaims in small batches later.
 */
export class GenerationRegistry implements GenerationSweeper {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly engine: SqlEngine,
  ) {}

  /** Allots a generation id and creates its empty table, inside the caller's transaction. */
  async allocate(
    trx: Kysely<Database>,
    owner: { siteId: string; collectionId: string; environment: Environment },
    state: GenerationState,
    at: number,
    options: { ownerRestoration?: string; deferSecondaryIndexes?: boolean } = {},
  ): Promise<number> {
    const row = await trx
      .insertInto('generations')
      .values({
        site_id: owner.siteId,
        collection_id: owner.collectionId,
        environment: owner.environment,
        state,
        created_at: at,
        owner_restoration: options.ownerRestoration ?? null,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await this.engine.createItemTable(trx, row.id, { deferSecondaryIndexes: options.deferSecondaryIndexes });
    return row.id;
  }

  /**
   * Retires generations nothing points at any more. Links into them vanish from view, so the LIVE
   * collections referring to them are marked changed (their next backup reads their links again).
   */
  async retire(trx: Kysely<Database>, gens: readonly number[]): Promise<void> {
    if (gens.length === 0) return;
    await trx.updateTable('generations').set({ state: 'RETIRED' }).where('id', 'in', gens).execute();
    await trx
      .updateTable('collections')
      .set((eb) => ({ live_version: eb('live_version', '+', 1) }))
      .where('live_gen', 'in', (eb) =>
        eb
          .selectFrom('links')
          .select('from_gen')
          .distinct()
          .where('to_gen', 'in', gens)
          .where('from_gen', 'not in', gens),
      )
      .execute();
  }

  async retireSite(trx: Kysely<Database>, siteId: string): Promise<void> {
    await trx.updateTable('generations').set({ state: 'RETIRED' }).where('site_id', '=', siteId).execute();
  }

  /**
   * Deletes rows of one retired generation at a time (items, then links from and to it), dropping the
   * table once it is empty. Each batch is its own short transaction, so live writes never wait long.
   */
  async sweep(maxRows: number): Promise<number> {
    const victim = await this.db
      .selectFrom('generations')
      .select('id')
      .where('state', '=', 'RETIRED')
      .orderBy('id')
      .limit(1)
      .executeTakeFirst();
    if (!victim) return 0;
    const gen = victim.id;
    const table = sql.table(itemTable(gen));
    const exists = await this.engine.hasItemTable(this.db, gen);
    let deleted = 0;
    if (exists) {
      const result =
        await sql`DELETE FROM ${table} WHERE id IN (SELECT id FROM ${table} LIMIT ${maxRows})`.execute(
          this.db,
        );
      deleted += Number(result.numAffectedRows ?? 0n);
    }
    if (deleted < maxRows) {
      const result = await sql`DELETE FROM tombstones WHERE (gen, id) IN (
        SELECT gen, id FROM tombstones WHERE gen = ${gen} LIMIT ${maxRows - deleted})`.execute(this.db);
      deleted += Number(result.numAffectedRows ?? 0n);
    }
    for (const column of ['from_gen', 'to_gen'] as const) {
      if (deleted >= maxRows) break;
      const result = await sql`DELETE FROM links WHERE (from_gen, field, from_id, to_gen, to_id) IN (
        SELECT from_gen, field, from_id, to_gen, to_id FROM links WHERE ${sql.ref(column)} = ${gen}
        LIMIT ${maxRows - deleted})`.execute(this.db);
      deleted += Number(result.numAffectedRows ?? 0n);
    }
    if (deleted < maxRows) {
      await this.db.transaction().execute(async (trx) => {
        await this.engine.dropItemTable(trx, gen);
        await trx.deleteFrom('generations').where('id', '=', gen).execute();
      });
      deleted += 1;
    }
    return deleted;
  }
}
