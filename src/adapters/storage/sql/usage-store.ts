import { sql, type Kysely } from 'kysely';
import type { UsageStore } from '../../../ports/storage.js';
import { itemRelation } from './item-relation.js';
import type { Database } from './schema.js';
import { siteItemCount } from './sql-item-store.js';

/** What a site uses of its quotas, from indexed counts and kept counters (README, "Quotas"). */
export class SqlUsageStore implements UsageStore {
  constructor(private readonly db: Kysely<Database>) {}

  async collections(siteId: string): Promise<number> {
    const row = await this.db
      .selectFrom('collections')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('site_id', '=', siteId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  items(siteId: string): Promise<number> {
    return siteItemCount(this.db, siteId);
  }

  async backupBytes(siteId: string): Promise<number> {
    const backups = await this.db
      .selectFrom('backups')
      .select((eb) => eb.fn.coalesce(eb.fn.sum<number | string>('size_bytes'), eb.lit(0)).as('bytes'))
      .where('site_id', '=', siteId)
      .where('deleted_at', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(backups.bytes) + (await this.binBytes(siteId));
  }

  async binnedItems(siteId: string, collectionId: string): Promise<number> {
    const row = await this.db
      .selectFrom('collection_bin as b')
      .innerJoin('generations as g', (join) =>
        join.on((eb) =>
          eb.or([eb('g.id', '=', eb.ref('b.live_gen')), eb('g.id', '=', eb.ref('b.sandbox_gen'))]),
        ),
      )
      .select((eb) => eb.fn.coalesce(eb.fn.sum<number | string>('g.item_count'), eb.lit(0)).as('items'))
      .where('b.site_id', '=', siteId)
      .where('b.id', '=', collectionId)
      .executeTakeFirstOrThrow();
    return Number(row.items);
  }

  /**
   * Item JSON bytes of the site's deleted collections in the bin. A binned generation never changes, so each
   * entry is measured once (a scan of its items) and its figure kept in the bin row.
   */
  private async binBytes(siteId: string): Promise<number> {
    const entries = await this.db
      .selectFrom('collection_bin')
      .select(['id', 'live_gen', 'sandbox_gen', 'size_bytes'])
      .where('site_id', '=', siteId)
      .execute();
    let total = 0;
    for (const entry of entries) {
      if (entry.size_bytes !== null) {
        total += Number(entry.size_bytes);
        continue;
      }
      let bytes = 0;
      for (const gen of [entry.live_gen, entry.sandbox_gen]) {
        const { table, scope } = itemRelation(Number(gen));
        const { rows } = await sql<{ bytes: number | string | null }>`SELECT SUM(octet_length(data)) AS bytes
          FROM ${sql.table(table)} WHERE ${scope}`.execute(this.db);
        bytes += Number(rows[0]?.bytes ?? 0);
      }
      await this.db
        .updateTable('collection_bin')
        .set({ size_bytes: bytes })
        .where('site_id', '=', siteId)
        .where('id', '=', entry.id)
        .where('live_gen', '=', entry.live_gen)
        .execute();
      total += bytes;
    }
    return total;
  }
}
