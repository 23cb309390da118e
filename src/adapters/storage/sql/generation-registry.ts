import { sql, type Kysely } from 'kysely';
import type { Environment } from '../../../domain/environment.js';
import type { GenerationSweeper } from '../../../ports/storage.js';
import { generationLayout, itemRelation } from './item-relation.js';
import type { Database, GenerationState } from './schema.js';
import type { SqlEngine } from './sql-engine.js';
import type { TextIndex } from './text-index.js';

/**
 * Generations are the item sets of collections (docs/ARCHITECTURE.md, "Generations"). A collection row
 * points at one ACTIVE generation per environment; truncating or restoring makes a new one and RETIRES the
 * old, whose rows the sweeper reclaims in small batches later. Deleting a collection BINS its generations
 * until its bin entry is restored or expires (then they are retired too).
 */
export class GenerationRegistry implements GenerationSweeper {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly engine: SqlEngine,
  ) {}

  /** The engine's full-text index, whose rows live and die with their generations. */
  get textIndex(): TextIndex {
    return this.engine.textIndex;
  }

  /**
   * Allots a generation id inside the caller's transaction: a shared generation (rows of `items`, no DDL)
   * unless `large`, which gets a table of its own (created empty here) for a restoration to load.
   */
  async allocate(
    trx: Kysely<Database>,
    owner: { siteId: string; collectionId: string; environment: Environment },
    state: GenerationState,
    at: number,
    options: { ownerRestoration?: string; deferSecondaryIndexes?: boolean; large?: boolean } = {},
  ): Promise<number> {
    const id = await this.engine.nextGenerationId(trx, options.large ? 'own' : 'shared');
    const row = await trx
      .insertInto('generations')
      .values({
        ...(id !== undefined && { id }),
        site_id: owner.siteId,
        collection_id: owner.collectionId,
        environment: owner.environment,
        state,
        created_at: at,
        owner_restoration: options.ownerRestoration ?? null,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const gen = Number(row.id);
    await this.engine.createItemTable(trx, gen, { deferSecondaryIndexes: options.deferSecondaryIndexes });
    return gen;
  }

  /**
   * Retires generations nothing points at any more. Links into them vanish from view, so the LIVE
   * collections referring to them are marked changed (their next backup reads their links again).
   */
  async retire(trx: Kysely<Database>, gens: readonly number[]): Promise<void> {
    await this.setState(trx, gens, 'RETIRED');
  }

  /** Puts generations of a deleted collection in the bin: kept whole, invisible, never swept. */
  async bin(trx: Kysely<Database>, gens: readonly number[]): Promise<void> {
    await this.setState(trx, gens, 'BINNED');
  }

  /** Takes binned generations back (their collection was restored); links into them are visible again. */
  async unbin(trx: Kysely<Database>, gens: readonly number[]): Promise<void> {
    await this.setState(trx, gens, 'ACTIVE');
  }

  private async setState(
    trx: Kysely<Database>,
    gens: readonly number[],
    state: GenerationState,
  ): Promise<void> {
    if (gens.length === 0) return;
    await trx.updateTable('generations').set({ state }).where('id', 'in', gens).execute();
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

  async expireBin(deletedBefore: number, maxEntries: number): Promise<number> {
    // The sweeper asks every few seconds; most of the time nothing is due, and no transaction is needed.
    const any = await this.db
      .selectFrom('collection_bin')
      .select('id')
      .where('deleted_at', '<', deletedBefore)
      .limit(1)
      .executeTakeFirst();
    if (!any) return 0;
    return this.db.transaction().execute(async (trx) => {
      const due = await trx
        .selectFrom('collection_bin')
        .select(['site_id', 'id'])
        .where('deleted_at', '<', deletedBefore)
        .orderBy('deleted_at')
        .limit(maxEntries)
        .execute();
      let expired = 0;
      for (const entry of due) {
        // Deleted again here (not by the select) so that a restore racing on PostgreSQL wins or loses whole.
        const gone = await trx
          .deleteFrom('collection_bin')
          .where('site_id', '=', entry.site_id)
          .where('id', '=', entry.id)
          .where('deleted_at', '<', deletedBefore)
          .returning(['live_gen', 'sandbox_gen'])
          .executeTakeFirst();
        if (!gone) continue;
        await this.retire(trx, [gone.live_gen, gone.sandbox_gen]);
        expired += 1;
      }
      return expired;
    });
  }

  /** Retires every generation of a site, those of its binned collections included (they go with it). */
  async retireSite(trx: Kysely<Database>, siteId: string): Promise<void> {
    await trx.updateTable('generations').set({ state: 'RETIRED' }).where('site_id', '=', siteId).execute();
    await trx.deleteFrom('collection_bin').where('site_id', '=', siteId).execute();
  }

  /**
   * Reclaims one retired generation at a time, in batches of at most `maxRows` rows, each its own short
   * transaction so that live writes never wait long: the items of a shared or legacy generation, then its
   * tombstones, the links from and to it and its full-text index rows; last its table (an own one is detached first on PostgreSQL,
   * then dropped whole) and its generations row.
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
    const gen = Number(victim.id);
    let deleted = 0;
    if (generationLayout(gen) !== 'own' && (await this.engine.hasItemTable(this.db, gen))) {
      const { table: name, scope } = itemRelation(gen);
      const table = sql.table(name);
      const result = await sql`DELETE FROM ${table} WHERE ${scope} AND id IN (
        SELECT id FROM ${table} WHERE ${scope} LIMIT ${maxRows})`.execute(this.db);
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
    // Its full-text index rows (text-index.ts) go with it, in the same batches.
    if (deleted < maxRows) deleted += await this.engine.textIndex.sweep(this.db, gen, maxRows - deleted);
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
