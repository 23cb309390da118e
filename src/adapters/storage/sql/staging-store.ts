import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { sql, type Kysely } from 'kysely';
import type {
  RestorationJobState,
  SecondaryIndex,
  StagedItem,
  StagedLink,
  StagingStore,
  SwitchPlan,
} from '../../../ports/backup-store.js';
import type { DefinitionMode } from '../../../domain/backup.js';
import { definitionOfColumns, type BackedUpDefinition } from '../../../domain/manifest.js';
import {
  assertNoConflicts,
  resolveDefinition,
  type DestinationConflict,
} from '../../../domain/restore-definitions.js';
import { errors } from '../../../contracts/errors.js';
import type { RecordedItemSelection } from '../../../domain/manifest.js';
import { emitBackupEvent } from './backup-rows.js';
import { applyItemRestore, restoreItemLinks, type AppliedItemRestore } from './item-restore-switch.js';
import type { SqlCollectionStore } from './collection-store.js';
import { discardStaging } from './restoration-store.js';
import { insertBackup } from './backup-store.js';
import type { GenerationRegistry } from './generation-registry.js';
import { itemRelation } from './item-relation.js';
import type { Database } from './schema.js';
import type { SqlEngine } from './sql-engine.js';
import { textFieldsOf } from '../../../domain/text-search.js';

/** A definition as a collection row stores it. */
function definitionColumns(definition: BackedUpDefinition) {
  return {
    display_name: definition.displayName,
    fields: JSON.stringify(definition.fields),
    permissions: definition.permissions === null ? null : JSON.stringify(definition.permissions),
    views: JSON.stringify(definition.views),
    extra: JSON.stringify(definition.extra),
  };
}

/** Destinations per statement of the switch's set-based updates (2 parameters each, far under the limits). */
const SWITCH_CHUNK = 500;

/**
 * `ids` in pieces of SWITCH_CHUNK: an IN list per piece stays far under SQLite's 32,766 bound parameters
 * whatever the number of destinations (a site may be allowed a million collections).
 */
function chunked<T>(ids: readonly T[]): T[][] {
  const parts: T[][] = [];
  for (let i = 0; i < ids.length; i += SWITCH_CHUNK) parts.push(ids.slice(i, i + SWITCH_CHUNK));
  return parts;
}

/**
 * Points each collection at its staged generation (live_version + 1), a chunk of collections per statement:
 * on SQLite the switch holds the event loop and the write lock, and a full restore names thousands.
 */
async function repoint(
  trx: Kysely<Database>,
  siteId: string,
  collections: readonly [id: string, gen: number][],
): Promise<void> {
  for (let i = 0; i < collections.length; i += SWITCH_CHUNK) {
    const rows = collections
      .slice(i, i + SWITCH_CHUNK)
      .map(([id, gen]) => sql`(${id}, CAST(${gen} AS BIGINT))`);
    // VALUES columns are column1, column2 on both engines (SQLite takes no column list on the alias).
    await sql`UPDATE collections SET live_gen = v.column2, live_version = live_version + 1
      FROM (VALUES ${sql.join(rows)}) AS v
      WHERE collections.site_id = ${siteId} AND collections.id = v.column1`.execute(trx);
  }
}

/** How an engine appends many rows without holding up live writes. */
export interface BulkAppender {
  appendItems(gen: number, items: readonly StagedItem[]): Promise<void>;
  appendLinks(links: readonly StagedLink[]): Promise<void>;
}

function sameFields(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((f, i) => f === b[i]);
}

/** Replaces a generation's whole full-text index by one of `fields`. */
async function reindex(engine: SqlEngine, db: Kysely<Database>, gen: number, fields: readonly string[]) {
  await engine.textIndex.remove(db, gen);
  await engine.textIndex.index(db, gen, fields);
}

export class SqlStagingStore implements StagingStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly generations: GenerationRegistry,
    private readonly engine: SqlEngine,
    private readonly appender: BulkAppender,
    private readonly collections: SqlCollectionStore,
    /** Items from which a staged generation gets a table of its own; the engine's measured default. */
    largeGenerationItems?: number,
  ) {
    this.largeGenerationItems = largeGenerationItems ?? engine.largeGenerationItems;
  }

  private readonly largeGenerationItems: number;

  async createGeneration(
    siteId: string,
    collectionId: string,
    restorationId: string,
    at: number,
    expectedItems = 0,
  ): Promise<number> {
    return this.db.transaction().execute((trx) =>
      this.generations.allocate(trx, { siteId, collectionId, environment: 'LIVE' }, 'BUILDING', at, {
        ownerRestoration: restorationId,
        deferSecondaryIndexes: true,
        large: expectedItems >= this.largeGenerationItems,
      }),
    );
  }

  appendItems(gen: number, items: readonly StagedItem[]): Promise<void> {
    return this.appender.appendItems(gen, items);
  }

  async buildIndexes(gen: number, which?: readonly SecondaryIndex[]): Promise<void> {
    await this.engine.createSecondaryIndexes(this.db, gen, which);
  }

  async recordItemCount(gen: number): Promise<void> {
    const { table, scope } = itemRelation(gen);
    await sql`UPDATE generations SET item_count = (SELECT COUNT(*) FROM ${sql.table(table)} WHERE ${scope})
      WHERE id = ${gen}`.execute(this.db);
  }

  async buildTextIndex(
    gen: number,
    siteId: string,
    collectionId: string,
    definition: BackedUpDefinition | undefined,
    mode: DefinitionMode,
  ): Promise<readonly string[]> {
    const current = await this.collections.get(siteId, collectionId);
    const resolved = resolveDefinition({
      // Only the fields matter here (which of them are TEXT).
      current: current && {
        displayName: current.displayName,
        fields: current.fields,
        permissions: null,
        views: [],
        extra: {},
      },
      backup: definition,
      mode,
      displayName: current?.displayName ?? definition?.displayName ?? collectionId,
      referenceTargets: {},
    });
    const fields = textFieldsOf(resolved.definition.fields);
    await this.engine.textIndex.index(this.db, gen, fields);
    return fields;
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
    const { table, scope } = itemRelation(gen);
    for (let i = 0; i < unique.length; i += 500) {
      const part = unique.slice(i, i + 500);
      const { rows } = await sql<{
        id: string;
      }>`SELECT id FROM ${sql.table(table)} WHERE ${scope} AND id IN (${sql.join(part)})`.execute(this.db);
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
      // Every collection of the site in one read, not one per destination: the switch holds the write lock
      // (and on SQLite the event loop), and a full restore may name thousands of destinations.
      const currentRows = new Map(
        (
          await trx
            .selectFrom('collections')
            .select([
              'id',
              'live_gen',
              'sandbox_gen',
              'live_version',
              'display_name',
              'fields',
              'permissions',
              'views',
              'extra',
            ])
            .where('site_id', '=', plan.siteId)
            .execute()
        ).map((r) => [r.id, r]),
      );
      const liveAtSwitch = Object.fromEntries([...currentRows].map(([id, r]) => [id, r.live_gen]));
      const replaced: Record<string, number | null> = {};
      const replacedNames: Record<string, string> = {};
      const replacedVersions: Record<string, number> = {};
      const replacedDefinitions: Record<string, BackedUpDefinition> = {};
      const removed: string[] = [];
      const removedGens: number[] = [];
      const applied: AppliedItemRestore[] = [];
      const itemSelections: Record<string, RecordedItemSelection> = {};
      const conflicts: DestinationConflict[] = [];
      /** Destinations whose definition stays: [collection id, staged generation]. */
      const repointed: [string, number][] = [];
      for (const [i, destination] of plan.destinations.entries()) {
        // A turn of the event loop every 100 destinations (the definitions are compared in JavaScript):
        // other requests wait for this transaction, but the server keeps answering meanwhile.
        if (i > 0 && i % 100 === 0) await yieldToEventLoop();
        const id = destination.collectionId;
        const current = currentRows.get(id);
        const before = current && definitionOfColumns(current);
        if (current && before) {
          replaced[id] = current.live_gen;
          replacedNames[id] = current.display_name;
          replacedVersions[id] = current.live_version;
          replacedDefinitions[id] = before;
        } else {
          replaced[id] = null;
          replacedNames[id] = destination.displayName;
        }
        if (destination.items) {
          // An item restore: written in place below the definition, which stays as it is.
          if (!current) throw errors.RESTORE_DESTINATION_GONE(id);
          const done = await applyItemRestore(trx, this.generations, {
            siteId: plan.siteId,
            collectionId: id,
            stagedGen: destination.stagedGen,
            selection: destination.items,
            restorationId: plan.restorationId,
            at: plan.at,
            textFields: before ? textFieldsOf(before.fields) : [],
          });
          applied.push(done);
          replaced[id] = done.replacedGen;
          // The frozen copy is a generation of its own: no earlier backup is a base for it.
          replacedVersions[id] = 0;
          itemSelections[id] = done.recorded;
          continue;
        }
        if (destination.remove) {
          // The undo of a restoration that created this collection: deleted the way any collection is.
          if (current && (await this.collections.deleteIn(trx, plan.siteId, id))) {
            removed.push(id);
            removedGens.push(current.live_gen);
            await plan.afterRemove?.();
          }
          continue;
        }
        const resolved = resolveDefinition({
          current: before,
          backup: destination.definition,
          mode: destination.mode,
          displayName: destination.displayName,
          referenceTargets: destination.referenceTargets,
        });
        if (destination.mode === 'MERGE')
          conflicts.push({ dataCollectionId: id, fields: resolved.changes.conflicts });
        const columns = definitionColumns(resolved.definition);
        // The full-text index follows the resulting definition: the staged generation's if the definition
        // changed since it was staged, the SANDBOX items' if the TEXT fields change now.
        const textFields = textFieldsOf(resolved.definition.fields);
        if (!sameFields(textFields, destination.textFields ?? []))
          await reindex(this.engine, trx, destination.stagedGen, textFields);
        if (current && before && !sameFields(textFields, textFieldsOf(before.fields)))
          await reindex(this.engine, trx, current.sandbox_gen, textFields);
        if (current && before) {
          const changed = JSON.stringify(before) !== JSON.stringify(resolved.definition);
          if (!changed) {
            // The usual case: pointed at its new generation by one set-based statement per chunk below.
            repointed.push([id, destination.stagedGen]);
            continue;
          }
          await trx
            .updateTable('collections')
            .set((eb) => ({
              live_gen: destination.stagedGen,
              live_version: eb('live_version', '+', 1),
              ...columns,
              revision: eb('revision', '+', 1),
              updated_at: plan.at,
            }))
            .where('site_id', '=', plan.siteId)
            .where('id', '=', id)
            .execute();
        } else {
          // A destination that does not exist (deleted since, or a new id) is created from the backup's
          // definition (an empty one for backups that recorded none).
          const sandboxGen = await this.generations.allocate(
            trx,
            { siteId: plan.siteId, collectionId: id, environment: 'SANDBOX' },
            'ACTIVE',
            plan.at,
          );
          await trx
            .insertInto('collections')
            .values({
              site_id: plan.siteId,
              id,
              ...columns,
              collection_type: 'NATIVE',
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
      await repoint(trx, plan.siteId, repointed);
      const whole = plan.destinations.filter((d) => !d.remove && !d.items).map((d) => d.stagedGen);
      await restoreItemLinks(trx, applied, new Set(whole));
      // The destination may have changed since the request was checked: a conflict found now refuses the
      // restoration here, and the whole switch rolls back.
      assertNoConflicts(conflicts);
      await plan.afterDefinitions?.();
      const staged = whole;
      for (const part of chunked(staged)) {
        await trx
          .updateTable('generations')
          .set({ state: 'ACTIVE', owner_restoration: null })
          .where('id', 'in', part)
          .execute();
      }
      if (applied.length > 0) {
        // What item restores staged was copied where it belongs: nothing points at it.
        await trx
          .updateTable('generations')
          .set({ state: 'RETIRED', owner_restoration: null })
          .where(
            'id',
            'in',
            applied.map((a) => a.stagedGen),
          )
          .execute();
      }
      const frozen = Object.values(replaced).filter((g): g is number => g !== null);
      const removedSet = new Set(removedGens);
      const replacedGens = frozen.filter((g) => !removedSet.has(g));
      for (const part of chunked(replacedGens)) {
        await trx.updateTable('generations').set({ state: 'RETIRING' }).where('id', 'in', part).execute();
      }
      for (const part of chunked(removedGens)) {
        // A deleted collection's items are read by this undo's own safety backup: kept until then when the
        // delete handed them to the sweeper (RETIRED); left as they are when it kept them otherwise.
        await trx
          .updateTable('generations')
          .set({ state: 'RETIRING' })
          .where('id', 'in', part)
          .where('state', '=', 'RETIRED')
          .execute();
      }
      if (frozen.length > 0) {
        // Frozen until the safety backup has read them; then released to the sweeper.
        // Collections whose links into the destinations changed must be read again by the next backup
        // (bumping a change number twice is harmless, so the generations may go a chunk at a time).
        for (const part of chunked([...frozen, ...staged])) {
          await trx
            .updateTable('collections')
            .set((eb) => ({ live_version: eb('live_version', '+', 1) }))
            .where('site_id', '=', plan.siteId)
            .where('live_gen', 'in', (eb) =>
              eb.selectFrom('links').select('from_gen').distinct().where('to_gen', 'in', part),
            )
            .execute();
        }
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
        staged: Object.fromEntries([
          ...plan.destinations
            .filter((d) => !d.remove && !d.items)
            .map((d): [string, number] => [d.collectionId, d.stagedGen]),
          ...applied.map((a): [string, number] => [a.collectionId, a.liveGen]),
        ]),
        replaced,
        replacedNames,
        replacedVersions,
        replacedDefinitions,
        removed,
        liveAtSwitch,
        ...(applied.length > 0 && { itemSelections }),
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
}
