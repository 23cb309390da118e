import { sql, type Kysely } from 'kysely';
import { errors } from '../../../contracts/errors.js';
import type { ItemTarget, LinkOutcome, LinkRef, LinkStore, StoredItem } from '../../../ports/storage.js';
import { itemRelation } from './item-relation.js';
import type { Database, ItemRow } from './schema.js';
import { fenceLegacyWrite } from './site-lock.js';
import { bumpLiveVersion, currentGeneration, findItems } from './sql-item-store.js';

/**
 * Multi-reference links, stored apart from items as (from generation, from item, field, to generation,
 * to item). A link is visible while both generations are their collections' current ones, so restoring or
 * truncating either end hides its old links at once, with no rows to rewrite.
 */
export class SqlLinkStore implements LinkStore {
  private counter = 0;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => number,
    /** Row locks exist (PostgreSQL): the layout migration's write fence holds the site row (site-lock.ts). */
    private readonly options: { rowLocks: boolean } = { rowLocks: false },
  ) {}

  /** Link order: increasing within a process, and across processes to the millisecond. */
  private nextPosition(): number {
    this.counter = (this.counter + 1) % 1000;
    return this.now() * 1000 + this.counter;
  }

  private async targetGenerations(
    trx: Kysely<Database>,
    from: ItemTarget,
    links: readonly LinkRef[],
  ): Promise<{ fromGen: number; toGens: Map<string, number> }> {
    const fromGen = await currentGeneration(trx, from);
    const toGens = new Map<string, number>();
    for (const collectionId of new Set(links.map((l) => l.toCollectionId))) {
      toGens.set(collectionId, await currentGeneration(trx, { ...from, collectionId }));
    }
    // Only the writers call this: a link written to a generation being copied would miss its copy.
    await fenceLegacyWrite(trx, from.siteId, [fromGen, ...toGens.values()], this.options);
    return { fromGen, toGens };
  }

  private async existing(
    trx: Kysely<Database>,
    fromGen: number,
    toGens: Map<string, number>,
    links: readonly LinkRef[],
  ): Promise<{ referring: Set<string>; referenced: Map<number, Set<string>> }> {
    const referring = new Set(
      (
        await findItems(
          trx,
          fromGen,
          links.map((l) => l.fromId),
        )
      ).keys(),
    );
    const referenced = new Map<number, Set<string>>();
    for (const [collectionId, gen] of toGens) {
      const ids = links.filter((l) => l.toCollectionId === collectionId).map((l) => l.toId);
      referenced.set(gen, new Set((await findItems(trx, gen, ids)).keys()));
    }
    return { referring, referenced };
  }

  async insert(from: ItemTarget, links: readonly LinkRef[]): Promise<LinkOutcome[]> {
    return this.db.transaction().execute(async (trx) => {
      const { fromGen, toGens } = await this.targetGenerations(trx, from, links);
      const { referring, referenced } = await this.existing(trx, fromGen, toGens, links);
      const outcomes: LinkOutcome[] = [];
      let inserted = 0;
      for (const link of links) {
        const toGen = toGens.get(link.toCollectionId) ?? 0;
        if (!referring.has(link.fromId)) outcomes.push({ ok: false, missing: 'referring' });
        else if (!referenced.get(toGen)?.has(link.toId)) outcomes.push({ ok: false, missing: 'referenced' });
        else {
          await trx
            .insertInto('links')
            .values({
              from_gen: fromGen,
              from_id: link.fromId,
              field: link.field,
              to_gen: toGen,
              to_id: link.toId,
              pos: this.nextPosition(),
            })
            .onConflict((oc) => oc.columns(['from_gen', 'from_id', 'field', 'to_gen', 'to_id']).doNothing())
            .execute();
          inserted += 1;
          outcomes.push({ ok: true });
        }
      }
      if (inserted > 0 && from.environment === 'LIVE')
        await bumpLiveVersion(trx, from.siteId, from.collectionId);
      return outcomes;
    });
  }

  async remove(from: ItemTarget, links: readonly LinkRef[]): Promise<LinkOutcome[]> {
    return this.db.transaction().execute(async (trx) => {
      const { fromGen, toGens } = await this.targetGenerations(trx, from, links);
      const referring = new Set(
        (
          await findItems(
            trx,
            fromGen,
            links.map((l) => l.fromId),
          )
        ).keys(),
      );
      const outcomes: LinkOutcome[] = [];
      let removed = 0;
      for (const link of links) {
        if (!referring.has(link.fromId)) {
          outcomes.push({ ok: false, missing: 'referring' });
          continue;
        }
        const result = await trx
          .deleteFrom('links')
          .where('from_gen', '=', fromGen)
          .where('from_id', '=', link.fromId)
          .where('field', '=', link.field)
          .where('to_gen', '=', toGens.get(link.toCollectionId) ?? 0)
          .where('to_id', '=', link.toId)
          .executeTakeFirst();
        removed += Number(result.numDeletedRows);
        outcomes.push({ ok: true });
      }
      if (removed > 0 && from.environment === 'LIVE')
        await bumpLiveVersion(trx, from.siteId, from.collectionId);
      return outcomes;
    });
  }

  async replace(
    from: ItemTarget,
    field: string,
    fromId: string,
    toCollectionId: string,
    toIds: readonly string[],
  ): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const fromGen = await currentGeneration(trx, from);
      const toGen = await currentGeneration(trx, { ...from, collectionId: toCollectionId });
      await fenceLegacyWrite(trx, from.siteId, [fromGen, toGen], this.options);
      if ((await findItems(trx, fromGen, [fromId])).size === 0) {
        throw errors.WDE0073(fromId);
      }
      const present = await findItems(trx, toGen, toIds);
      const missing = toIds.find((id) => !present.has(id));
      if (missing !== undefined) {
        throw errors.WDE0073(missing);
      }
      await trx
        .deleteFrom('links')
        .where('from_gen', '=', fromGen)
        .where('from_id', '=', fromId)
        .where('field', '=', field)
        .execute();
      for (const toId of new Set(toIds)) {
        await trx
          .insertInto('links')
          .values({
            from_gen: fromGen,
            from_id: fromId,
            field,
            to_gen: toGen,
            to_id: toId,
            pos: this.nextPosition(),
          })
          .execute();
      }
      if (from.environment === 'LIVE') await bumpLiveVersion(trx, from.siteId, from.collectionId);
    });
  }

  async exists(from: ItemTarget, link: LinkRef): Promise<boolean> {
    const fromGen = await currentGeneration(this.db, from);
    const toGen = await currentGeneration(this.db, { ...from, collectionId: link.toCollectionId });
    const row = await this.db
      .selectFrom('links')
      .select('pos')
      .where('from_gen', '=', fromGen)
      .where('from_id', '=', link.fromId)
      .where('field', '=', link.field)
      .where('to_gen', '=', toGen)
      .where('to_id', '=', link.toId)
      .executeTakeFirst();
    return row !== undefined;
  }

  async queryReferenced(
    from: ItemTarget,
    field: string,
    fromId: string,
    toCollectionId: string,
    page: { limit: number; offset: number; descending: boolean; withTotal: boolean },
  ): Promise<{ items: StoredItem[]; total?: number; hasMore: boolean }> {
    const fromGen = await currentGeneration(this.db, from);
    const toGen = await currentGeneration(this.db, { ...from, collectionId: toCollectionId });
    const { table, scope } = itemRelation(toGen);
    const matching = sql`FROM links AS l JOIN ${sql.table(table)} AS i ON ${scope} AND i.id = l.to_id
      WHERE l.from_gen = ${fromGen} AND l.from_id = ${fromId} AND l.field = ${field} AND l.to_gen = ${toGen}`;
    const direction = page.descending ? sql`DESC` : sql`ASC`;
    const { rows } = await sql<ItemRow>`SELECT i.id, i.created_at, i.updated_at, i.data ${matching}
      ORDER BY l.pos ${direction}, l.to_id LIMIT ${page.limit + 1} OFFSET ${page.offset}`.execute(this.db);
    let total: number | undefined;
    if (page.withTotal) {
      const counted = await sql<{ n: number }>`SELECT count(*) AS n ${matching}`.execute(this.db);
      total = Number(counted.rows[0]?.n ?? 0);
    }
    return {
      items: rows.slice(0, page.limit).map((r) => ({
        id: r.id,
        createdAt: Number(r.created_at),
        updatedAt: Number(r.updated_at),
        json: r.data,
      })),
      total,
      hasMore: rows.length > page.limit,
    };
  }
}
