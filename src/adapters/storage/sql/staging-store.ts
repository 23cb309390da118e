import { sql, type Kysely } from 'kysely';
import type {
  RestorationJobState,
  SecondaryIndex,
  StagedItem,
  StagedLink,
  StagingStore,
  SwitchPlan,
} from '../../../ports/backup-store.js';
import { emitBackupEvent } from './backup-rows.js';
import { discardStaging } from './restoration-store.js';
import { insertBackup } from './backup-store.js';
import type { GenerationRegistry } from './generation-registry.js';
import { itemTable, type Database } from './schema.js';
import type { SqlEngine } from './sql-engine.js';

/** How an engine appends many rows without holding up live writes. */
export interface BulkAppender {
  appendItems(gen: number, items: readonly StagedItem[]): Promise<void>;
  appendLinks(links: readonly StagedLink[]): Promise<void>;
}

export class SqlStagingStore implements StagingStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly generations: GenerationRegistry,
    private readonly engine: SqlEngine,
    private readonly appender: BulkAppender,
  ) {}

  async createGeneration(
    siteId: string,
    collectionId: string,
    restorationId: string,
    at: number,
  ): Promise<number> {
    return this.db.transaction().execute((trx) =>
      this.generations.allocate(trx, { siteId, collectionId, environment: 'LIVE' }, 'BUILDING', at, {
        ownerRestoration: restorationId,
        deferSecondaryIndexes: true,
      }),
    );
  }

  appendItems(gen: number, items: readonly StagedItem[]): Promise<void> {
    return this.appender.appendItems(gen, items);
  }

  async buildIndexes(gen: number, which?: readonly SecondaryIndex[]): Promise<void> {
    await this.engine.createSecondaryIndexes(this.db, gen, which);
  }

  appendLinks(links: readonly StagedLink[]): Promise<void> {
    return this.appender.appendLinks(links);
  }

  async liveGenerations(siteId: string): Promise<Map<string, number>> {
    const rows = await this.db
      .selectFrom('collections')
      .select(['id', 'live_gen'])
      .where('site_id', '=', siteId)
      .execute();
    return new Map(rows.map((r) => [r.id, r.live_gen]));
  }

  async existingIds(gen: number, ids: readonly string[]): Promise<Set<string>> {
    const found = new Set<string>();
    const unique = [...new Set(ids)];
    for (let i = 0; i < unique.length; i += 500) {
      const part = unique.slice(i, i + 500);
      const { rows } = await sql<{
        id: string;
      }>`SELECT id FROM ${sql.table(itemTable(gen))} WHERE id IN (${sql.join(part)})`.execute(this.db);
      for (const row of rows) found.add(row.id);
    }
    return found;
  }

  async switchLive(plan: SwitchPlan): Promise<RestorationJobState | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const restoration = await trx
        .selectFrom('restorations')
        .select(['state'])
        .where('id', '=', plan.restorationId)
        .where('lease_owner', '=', plan.workerId)
        .where('status', '=', 'PENDING')
        .executeTakeFirst();
      if (!restoration) return undefined;
      const job = JSON.parse(restoration.state) as RestorationJobState;
      const liveAtSwitch = Object.fromEntries(
        (
          await trx
            .selectFrom('collections')
            .select(['id', 'live_gen'])
            .where('site_id', '=', plan.siteId)
            .execute()
        ).map((r) => [r.id, r.live_gen]),
      );
      const replaced: Record<string, number | null> = {};
      const replacedNames: Record<string, string> = {};
      const replacedVersions: Record<string, number> = {};
      for (const destination of plan.destinations) {
        const current = await trx
          .selectFrom('collections')
          .select(['live_gen', 'display_name', 'live_version'])
          .where('site_id', '=', plan.siteId)
          .where('id', '=', destination.collectionId)
          .executeTakeFirst();
        if (current) {
          replaced[destination.collectionId] = current.live_gen;
          replacedNames[destination.collectionId] = current.display_name;
          replacedVersions[destination.collectionId] = current.live_version;
          await trx
            .updateTable('collections')
            .set((eb) => ({ live_gen: destination.stagedGen, live_version: eb('live_version', '+', 1) }))
            .where('site_id', '=', plan.siteId)
            .where('id', '=', destination.collectionId)
            .execute();
        } else {
          // A destination that does not exist (deleted since, or a new id) is created without a schema.
          replaced[destination.collectionId] = null;
          replacedNames[destination.collectionId] = destination.displayName;
          const sandboxGen = await this.generations.allocate(
            trx,
            { siteId: plan.siteId, collectionId: destination.collectionId, environment: 'SANDBOX' },
            'ACTIVE',
            plan.at,
          );
          await trx
            .insertInto('collections')
            .values({
              site_id: plan.siteId,
              id: destination.collectionId,
              display_name: destination.displayName,
              collection_type: 'NATIVE',
              fields: '[]',
              permissions: null,
              views: '[]',
              extra: '{}',
              revision: 1,
              created_at: plan.at,
              updated_at: plan.at,
              live_gen: destination.stagedGen,
              sandbox_gen: sandboxGen,
              live_version: 1,
            })
            .execute();
        }
      }
      const staged = plan.destinations.map((d) => d.stagedGen);
      await trx
        .updateTable('generations')
        .set({ state: 'ACTIVE', owner_restoration: null })
        .where('id', 'in', staged)
        .execute();
      const frozen = Object.values(replaced).filter((g): g is number => g !== null);
      if (frozen.length > 0) {
        // Frozen until the safety backup has read them; then released to the sweeper.
        await trx.updateTable('generations').set({ state: 'RETIRING' }).where('id', 'in', frozen).execute();
        // Collections whose links into the destinations changed must be read again by the next backup.
        await trx
          .updateTable('collections')
          .set((eb) => ({ live_version: eb('live_version', '+', 1) }))
          .where('site_id', '=', plan.siteId)
          .where('live_gen', 'in', (eb) =>
            eb
              .selectFrom('links')
              .select('from_gen')
              .distinct()
              .where('to_gen', 'in', [...frozen, ...staged]),
          )
          .execute();
      }
      await insertBackup(trx, plan.safetyBackup);
      await trx
        .updateTable('backups')
        .set({ lease_owner: plan.workerId, lease_expires_at: plan.at + plan.leaseMs, started_at: plan.at })
        .where('id', '=', plan.safetyBackup.id)
        .execute();
      await emitBackupEvent(trx, plan.safetyBackup.id, plan.at);
      const next: RestorationJobState = {
        ...job,
        phase: 'SWITCHED',
        staged: Object.fromEntries(plan.destinations.map((d) => [d.collectionId, d.stagedGen])),
        replaced,
        replacedNames,
        replacedVersions,
        liveAtSwitch,
      };
      await trx
        .updateTable('restorations')
        .set({ phase: next.phase, state: JSON.stringify(next), safety_backup_id: plan.safetyBackup.id })
        .where('id', '=', plan.restorationId)
        .execute();
      return next;
    });
  }

  async discard(restorationId: string): Promise<void> {
    await discardStaging(this.db, restorationId);
  }

  async releaseReplaced(gens: readonly number[]): Promise<void> {
    if (gens.length === 0) return;
    await this.db
      .updateTable('generations')
      .set({ state: 'RETIRED' })
      .where('id', 'in', gens)
      .where('state', '=', 'RETIRING')
      .execute();
  }
}
