import { sql, type Kysely, type Transaction } from 'kysely';
import type { Environment } from '../../../domain/environment.js';
import type { LayoutCopyOutcome, LayoutMigrationStore } from '../../../ports/storage.js';
import type { GenerationRegistry } from './generation-registry.js';
import { generationLayout, itemRelation, SHARED_GEN_BASE } from './item-relation.js';
import type { Database, LayoutCopyStep } from './schema.js';
import { takeSiteLease } from './site-lock.js';
import type { SqlEngine } from './sql-engine.js';
import { storedTextFields } from './sql-item-store.js';

const LEASE = 'layout' as const;
/** States of a legacy generation that hold data someone may read again: what is copied. */
const KEPT = ['ACTIVE', 'BINNED'] as const;

type Key = (string | number)[];

/** The declared TEXT fields of the collection (live or binned) a generation of the site belongs to. */
async function textFieldsOfGeneration(
  trx: Transaction<Database>,
  siteId: string,
  gen: number,
): Promise<readonly string[]> {
  for (const table of ['collections', 'collection_bin'] as const) {
    const row = await trx
      .selectFrom(table)
      .select('fields')
      .where('site_id', '=', siteId)
      .where((eb) => eb.or([eb('live_gen', '=', gen), eb('sandbox_gen', '=', gen)]))
      .executeTakeFirst();
    if (row) return storedTextFields(row.fields);
  }
  return [];
}

/**
 * Moves sites from the legacy layout (a table `items_<gen>` per generation, ids below SHARED_GEN_BASE) to the
 * shared one, a site at a time, resumably (docs/ARCHITECTURE.md, "Layout migration"). Per site: a `layout`
 * lease (taken like GC's, only while no job of the site is pending); a plan giving each ACTIVE or BINNED
 * legacy generation a new one (state MIGRATING, kept in `layout_migration` so that a crash resumes into the
 * same ones); batches, each its own short transaction, copying items, tombstones and links (both ends mapped
 * old → new) from where the last batch stopped; then one short transaction copying the few links between
 * legacy and newer generations and switching the site's collections, bin entries and backup bases to the new
 * generations, retiring the old ones for the sweeper. While the
 * lease row exists, writes to the site's legacy generations are refused (site-lock.ts, fenceLegacyWrite), so
 * the copies stay exact; reads keep using the legacy tables until the switch.
 */
export class SqlLayoutMigrator implements LayoutMigrationStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly generations: GenerationRegistry,
    private readonly engine: SqlEngine,
    private readonly options: {
      /** Row locks exist (PostgreSQL): the lease is taken under the site row's lock (see site-lock.ts). */
      rowLocks?: boolean;
      /** Items from which a copy gets a table of its own, as a restore's staging does (tests lower it). */
      largeGenerationItems?: number;
    } = {},
  ) {}

  async sitesToMigrate(limit: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('generations')
      .select('site_id')
      .where('id', '<', SHARED_GEN_BASE)
      .where('state', 'in', KEPT)
      .union(this.db.selectFrom('layout_migration').select('site_id'))
      .orderBy('site_id')
      .limit(limit)
      .execute();
    return rows.map((r) => r.site_id);
  }

  async countSitesToMigrate(): Promise<number> {
    const { rows } = await sql<{ n: number | string }>`SELECT count(*) AS n FROM (
        SELECT site_id FROM generations WHERE id < ${SHARED_GEN_BASE} AND state IN ('ACTIVE', 'BINNED')
        UNION SELECT site_id FROM layout_migration) AS s`.execute(this.db);
    return Number(rows[0]?.n ?? 0);
  }

  async hasLegacyInFlight(): Promise<boolean> {
    const row = await this.db
      .selectFrom('generations')
      .select('id')
      .where('id', '<', SHARED_GEN_BASE)
      .where('state', 'in', ['BUILDING', 'RETIRING'])
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  async acquire(siteId: string, owner: string, now: number, leaseMs: number): Promise<boolean> {
    // A pending backup may be running (its snapshot reads the legacy tables and records their ids as its
    // base) and a pending restoration may be staging or switching: both finish first.
    return takeSiteLease(this.db, {
      siteId,
      purpose: LEASE,
      owner,
      now,
      leaseMs,
      rowLocks: this.options.rowLocks === true,
    });
  }

  async plan(siteId: string, now: number): Promise<{ generations: number; items: number }> {
    const legacy = await this.db
      .selectFrom('generations')
      .select(['id', 'collection_id', 'environment', 'tombstone_floor'])
      .where('site_id', '=', siteId)
      .where('id', '<', SHARED_GEN_BASE)
      .where('state', 'in', KEPT)
      .where('id', 'not in', (eb) => eb.selectFrom('layout_migration').select('old_gen'))
      .orderBy('id')
      .execute();
    let items = 0;
    for (const old of legacy) {
      const gen = Number(old.id);
      const count = await this.countItems(gen);
      items += count;
      await this.db.transaction().execute(async (trx) => {
        const created = await this.generations.allocate(
          trx,
          { siteId, collectionId: old.collection_id, environment: old.environment as Environment },
          'MIGRATING',
          now,
          // A large generation is loaded bare into a table of its own and indexed once full, as a restore does.
          {
            large: count >= (this.options.largeGenerationItems ?? this.engine.largeGenerationItems),
            deferSecondaryIndexes: true,
          },
        );
        await trx
          .updateTable('generations')
          .set({ tombstone_floor: Number(old.tombstone_floor) })
          .where('id', '=', created)
          .execute();
        await trx
          .insertInto('layout_migration')
          .values({ site_id: siteId, old_gen: gen, new_gen: created, step: 'ITEMS', after: null })
          .execute();
      });
    }
    const planned = await this.db
      .selectFrom('layout_migration')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('site_id', '=', siteId)
      .executeTakeFirstOrThrow();
    return { generations: Number(planned.n), items };
  }

  private async countItems(gen: number): Promise<number> {
    if (!(await this.engine.hasItemTable(this.db, gen))) return 0;
    const { rows } = await sql<{ n: number | string }>`SELECT count(*) AS n FROM ${sql.table(
      itemRelation(gen).table,
    )}`.execute(this.db);
    return Number(rows[0]?.n ?? 0);
  }

  async copyBatch(
    siteId: string,
    owner: string,
    now: number,
    leaseMs: number,
    maxRows: number,
  ): Promise<LayoutCopyOutcome> {
    const next = await this.db
      .selectFrom('layout_migration')
      .selectAll()
      .where('site_id', '=', siteId)
      .where('step', '!=', 'COPIED')
      .orderBy('old_gen')
      .limit(1)
      .executeTakeFirst();
    if (!next) return { state: (await this.holds(this.db, siteId, owner)) ? 'copied' : 'lost', rows: 0 };
    const oldGen = Number(next.old_gen);
    const newGen = Number(next.new_gen);
    const after = next.after === null ? undefined : (JSON.parse(next.after) as Key);
    return this.db.transaction().execute(async (trx) => {
      // The lease is renewed by every batch; a batch of a process that lost it changes nothing.
      if (!(await this.renew(trx, siteId, owner, now, leaseMs))) return { state: 'lost', rows: 0 };
      // A copy the site's deletion retired is the sweeper's now: copying on would leave rows it never sees.
      // On PostgreSQL the row is held FOR SHARE, so the retiring waits for this batch to commit.
      let copy = trx.selectFrom('generations').select('state').where('id', '=', newGen);
      if (this.options.rowLocks === true) copy = copy.forShare();
      if ((await copy.executeTakeFirst())?.state !== 'MIGRATING') {
        await trx
          .updateTable('layout_migration')
          .set({ step: 'COPIED', after: null })
          .where('site_id', '=', siteId)
          .where('old_gen', '=', oldGen)
          .execute();
        return { state: 'more', rows: 0 };
      }
      const { rows, last } = await this.copyStep(trx, next.step, siteId, oldGen, newGen, after, maxRows);
      const done = last === undefined;
      if (done && next.step === 'ITEMS' && generationLayout(newGen) === 'own') {
        // The bare table gets its key and indexes (and on PostgreSQL is attached) once it is full.
        await this.engine.createSecondaryIndexes(trx, newGen);
      }
      await trx
        .updateTable('layout_migration')
        .set(
          done
            ? { step: nextStep(next.step), after: null }
            : { step: next.step, after: JSON.stringify(last) },
        )
        .where('site_id', '=', siteId)
        .where('old_gen', '=', oldGen)
        .execute();
      return { state: 'more', rows };
    });
  }

  /**
   * One batch of one step: the rows after `after` in key order, at most `maxRows`, copied with INSERT …
   * SELECT (nothing travels through the process). Returns how many rows it copied and the key of its last
   * one, undefined when the step is finished (the batch held fewer than `maxRows`).
   */
  private async copyStep(
    trx: Transaction<Database>,
    step: LayoutCopyStep,
    siteId: string,
    oldGen: number,
    newGen: number,
    after: Key | undefined,
    maxRows: number,
  ): Promise<{ rows: number; last: Key | undefined }> {
    switch (step) {
      case 'ITEMS': {
        if (!(await this.engine.hasItemTable(trx, oldGen))) return { rows: 0, last: undefined };
        const from = sql.table(itemRelation(oldGen).table);
        const to = itemRelation(newGen);
        const lower = after ? sql`id > ${after[0]}` : sql`TRUE`;
        const bound = await sql<{ id: string }>`SELECT id FROM ${from} WHERE ${lower}
          ORDER BY id LIMIT 1 OFFSET ${maxRows - 1}`.execute(trx);
        const upper = bound.rows[0]?.id;
        const range = upper === undefined ? lower : sql`${lower} AND id <= ${upper}`;
        const result = to.hasGenColumn
          ? await sql`INSERT INTO ${sql.table(to.table)} (gen, id, created_at, updated_at, data, seq)
              SELECT ${newGen}, id, created_at, updated_at, data, seq FROM ${from} WHERE ${range}`.execute(
              trx,
            )
          : await sql`INSERT INTO ${sql.table(to.table)} (id, created_at, updated_at, data, seq)
              SELECT id, created_at, updated_at, data, seq FROM ${from} WHERE ${range}`.execute(trx);
        // The copy's full-text index, from the rows just copied (the legacy one is swept with its table).
        const fields = await textFieldsOfGeneration(trx, siteId, oldGen);
        if (fields.length > 0) {
          const copied = await sql<{ id: string }>`SELECT id FROM ${from} WHERE ${range}`.execute(trx);
          await this.engine.textIndex.index(
            trx,
            newGen,
            fields,
            copied.rows.map((r) => r.id),
          );
        }
        return {
          rows: Number(result.numAffectedRows ?? 0n),
          last: upper === undefined ? undefined : [upper],
        };
      }
      case 'TOMBSTONES': {
        const lower = after ? sql`id > ${after[0]}` : sql`TRUE`;
        const bound = await sql<{ id: string }>`SELECT id FROM tombstones WHERE gen = ${oldGen} AND ${lower}
          ORDER BY id LIMIT 1 OFFSET ${maxRows - 1}`.execute(trx);
        const upper = bound.rows[0]?.id;
        const range = upper === undefined ? lower : sql`${lower} AND id <= ${upper}`;
        const result = await sql`INSERT INTO tombstones (gen, id, seq)
          SELECT ${newGen}, id, seq FROM tombstones WHERE gen = ${oldGen} AND ${range}
          ON CONFLICT (gen, id) DO NOTHING`.execute(trx);
        return {
          rows: Number(result.numAffectedRows ?? 0n),
          last: upper === undefined ? undefined : [upper],
        };
      }
      case 'LINKS_OUT': {
        // Links from this generation into another one being migrated, both ends mapped. Links between a
        // legacy generation and one that is not (a collection created since the upgrade) are copied by the
        // switch, where no write can slip in between: removing an item of that other collection is not
        // fenced. Links into a legacy generation that is not migrated (a retired one) are invisible and left
        // for the sweeper.
        const keyOf = sql`(l.from_id, l.field, l.to_gen, l.to_id)`;
        const lower = after ? sql`${keyOf} > (${sql.join(after)})` : sql`TRUE`;
        const bound = await sql<{ from_id: string; field: string; to_gen: number | string; to_id: string }>`
          SELECT l.from_id, l.field, l.to_gen, l.to_id FROM links AS l WHERE l.from_gen = ${oldGen} AND ${lower}
          ORDER BY l.from_id, l.field, l.to_gen, l.to_id LIMIT 1 OFFSET ${maxRows - 1}`.execute(trx);
        const b = bound.rows[0];
        const upper: Key | undefined = b && [b.from_id, b.field, Number(b.to_gen), b.to_id];
        const range = upper === undefined ? lower : sql`${lower} AND ${keyOf} <= (${sql.join(upper)})`;
        const result = await sql`INSERT INTO links (from_gen, from_id, field, to_gen, to_id, pos)
          SELECT ${newGen}, l.from_id, l.field, m.new_gen, l.to_id, l.pos
          FROM links AS l JOIN layout_migration AS m ON m.site_id = ${siteId} AND m.old_gen = l.to_gen
          WHERE l.from_gen = ${oldGen} AND ${range}
          ON CONFLICT (from_gen, from_id, field, to_gen, to_id) DO NOTHING`.execute(trx);
        return { rows: Number(result.numAffectedRows ?? 0n), last: upper };
      }
      case 'COPIED':
        return { rows: 0, last: undefined };
    }
  }

  async switchSite(siteId: string, owner: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      if (!(await this.holds(trx, siteId, owner))) return false;
      const plan = await trx
        .selectFrom('layout_migration')
        .select(['old_gen', 'new_gen', 'step'])
        .where('site_id', '=', siteId)
        .execute();
      if (plan.some((p) => p.step !== 'COPIED')) throw new Error(`site ${siteId}: copy not finished`);
      // Links between the site's legacy generations and its newer ones, both ways (see copyStep): few, and
      // copied here so that they are exactly those at the switch.
      await sql`INSERT INTO links (from_gen, from_id, field, to_gen, to_id, pos)
        SELECT l.from_gen, l.from_id, l.field, m.new_gen, l.to_id, l.pos
        FROM layout_migration AS m JOIN links AS l ON l.to_gen = m.old_gen
        WHERE m.site_id = ${siteId} AND l.from_gen >= ${SHARED_GEN_BASE}
        ON CONFLICT (from_gen, from_id, field, to_gen, to_id) DO NOTHING`.execute(trx);
      await sql`INSERT INTO links (from_gen, from_id, field, to_gen, to_id, pos)
        SELECT m.new_gen, l.from_id, l.field, l.to_gen, l.to_id, l.pos
        FROM layout_migration AS m JOIN links AS l ON l.from_gen = m.old_gen
        WHERE m.site_id = ${siteId} AND l.to_gen >= ${SHARED_GEN_BASE}
        ON CONFLICT (from_gen, from_id, field, to_gen, to_id) DO NOTHING`.execute(trx);
      for (const { old_gen: oldGen, new_gen: newGen } of plan) {
        for (const table of ['collections', 'collection_bin'] as const) {
          for (const column of ['live_gen', 'sandbox_gen'] as const) {
            await trx
              .updateTable(table)
              .set({ [column]: newGen })
              .where('site_id', '=', siteId)
              .where(column, '=', oldGen)
              .execute();
          }
        }
        // The copy holds what the legacy generation held (its writes were fenced), and so does its count.
        await sql`UPDATE generations SET item_count = (SELECT o.item_count FROM generations AS o
            WHERE o.id = ${oldGen}) WHERE id = ${newGen}`.execute(trx);
        // The next backup finds its base under the new id and stays incremental.
        await trx.updateTable('backup_collections').set({ gen: newGen }).where('gen', '=', oldGen).execute();
      }
      const news = plan.map((p) => Number(p.new_gen));
      const olds = plan.map((p) => Number(p.old_gen));
      if (news.length > 0) {
        // States follow what points at each copy now: a collection deleted, restored from the bin or
        // truncated while this site waited (a crash) has moved on, and its stale copy is simply retired.
        await sql`UPDATE generations SET state = CASE
            WHEN EXISTS (SELECT 1 FROM collections c WHERE c.site_id = ${siteId}
              AND (c.live_gen = generations.id OR c.sandbox_gen = generations.id)) THEN 'ACTIVE'
            WHEN EXISTS (SELECT 1 FROM collection_bin b WHERE b.site_id = ${siteId}
              AND (b.live_gen = generations.id OR b.sandbox_gen = generations.id)) THEN 'BINNED'
            ELSE 'RETIRED' END
          WHERE id IN (${sql.join(news)}) AND state = 'MIGRATING'`.execute(trx);
        await trx
          .updateTable('generations')
          .set({ state: 'RETIRED' })
          .where('id', 'in', olds)
          .where('state', 'in', KEPT)
          .execute();
      }
      await trx.deleteFrom('layout_migration').where('site_id', '=', siteId).execute();
      await trx
        .deleteFrom('site_leases')
        .where('site_id', '=', siteId)
        .where('purpose', '=', LEASE)
        .where('owner', '=', owner)
        .execute();
      return true;
    });
  }

  async release(siteId: string, owner: string): Promise<void> {
    // Only the expiry is given up: the row stays, and with it the write fence, until the switch.
    await this.db
      .updateTable('site_leases')
      .set({ expires_at: 0 })
      .where('site_id', '=', siteId)
      .where('purpose', '=', LEASE)
      .where('owner', '=', owner)
      .execute();
  }

  private async renew(
    trx: Kysely<Database>,
    siteId: string,
    owner: string,
    now: number,
    leaseMs: number,
  ): Promise<boolean> {
    const result = await trx
      .updateTable('site_leases')
      .set({ expires_at: now + leaseMs })
      .where('site_id', '=', siteId)
      .where('purpose', '=', LEASE)
      .where('owner', '=', owner)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  private async holds(db: Kysely<Database>, siteId: string, owner: string): Promise<boolean> {
    const row = await db
      .selectFrom('site_leases')
      .select('owner')
      .where('site_id', '=', siteId)
      .where('purpose', '=', LEASE)
      .executeTakeFirst();
    return row?.owner === owner;
  }
}

function nextStep(step: LayoutCopyStep): LayoutCopyStep {
  const order: LayoutCopyStep[] = ['ITEMS', 'TOMBSTONES', 'LINKS_OUT', 'COPIED'];
  return order[Math.min(order.indexOf(step) + 1, order.length - 1)] ?? 'COPIED';
}
