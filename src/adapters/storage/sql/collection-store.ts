import { textFieldsOf } from '../../../domain/text-search.js';
import type { Kysely, Selectable, Transaction } from 'kysely';
import { errors } from '../../../contracts/errors.js';
import type {
  CollectionDefinition,
  CollectionRecord,
  CollectionSort,
  CollectionStore,
  CollectionView,
  DeletedCollectionRecord,
} from '../../../ports/storage.js';
import type { CollectionsTable, Database } from './schema.js';
import type { GenerationRegistry } from './generation-registry.js';
import { fenceLegacyWrite } from './site-lock.js';

function toRecord(row: Selectable<CollectionsTable>): CollectionRecord {
  return {
    siteId: row.site_id,
    id: row.id,
    displayName: row.display_name,
    collectionType: 'NATIVE',
    fields: JSON.parse(row.fields) as Record<string, unknown>[],
    permissions: row.permissions === null ? null : (JSON.parse(row.permissions) as Record<string, unknown>),
    views: JSON.parse(row.views) as CollectionView[],
    extra: JSON.parse(row.extra) as Record<string, unknown>,
    revision: Number(row.revision),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

const sortColumns = {
  id: 'id',
  displayName: 'display_name',
  createdAt: 'created_at',
  updatedAt: 'updated_at',
} as const satisfies Record<CollectionSort['by'], keyof CollectionsTable>;

function definitionColumns(definition: CollectionDefinition) {
  return {
    display_name: definition.displayName,
    collection_type: definition.collectionType,
    fields: JSON.stringify(definition.fields),
    permissions: definition.permissions === null ? null : JSON.stringify(definition.permissions),
    views: JSON.stringify(definition.views),
    extra: JSON.stringify(definition.extra),
  };
}

export class SqlCollectionStore implements CollectionStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly generations: GenerationRegistry,
    /** When a deletion happened, for the bin's retention window. */
    private readonly now: () => number,
    /** Row locks exist (PostgreSQL): the layout migration's write fence holds the site row (site-lock.ts). */
    private readonly options: { rowLocks: boolean } = { rowLocks: false },
  ) {}

  async create(siteId: string, definition: CollectionDefinition, at: number): Promise<CollectionRecord> {
    return this.db.transaction().execute(async (trx) => {
      const existing = await trx
        .selectFrom('collections')
        .select('id')
        .where('site_id', '=', siteId)
        .where('id', '=', definition.id)
        .executeTakeFirst();
      if (existing) {
        throw errors.COLLECTION_ALREADY_EXISTS(definition.id);
      }
      const owner = { siteId, collectionId: definition.id };
      const liveGen = await this.generations.allocate(trx, { ...owner, environment: 'LIVE' }, 'ACTIVE', at);
      const sandboxGen = await this.generations.allocate(
        trx,
        { ...owner, environment: 'SANDBOX' },
        'ACTIVE',
        at,
      );
      const row = {
        site_id: siteId,
        id: definition.id,
        ...definitionColumns(definition),
        revision: 1,
        created_at: at,
        updated_at: at,
        live_gen: liveGen,
        sandbox_gen: sandboxGen,
        live_version: 0,
      };
      // Two creators racing past the check above (possible on PostgreSQL): the second one loses here, and
      // its transaction, generations included, rolls back.
      const inserted = await trx
        .insertInto('collections')
        .values(row)
        .onConflict((oc) => oc.columns(['site_id', 'id']).doNothing())
        .executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) {
        throw errors.COLLECTION_ALREADY_EXISTS(definition.id);
      }
      return toRecord(row);
    });
  }

  async get(siteId: string, id: string): Promise<CollectionRecord | undefined> {
    const row = await this.db
      .selectFrom('collections')
      .selectAll()
      .where('site_id', '=', siteId)
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toRecord(row);
  }

  async list(
    siteId: string,
    page: { limit: number; offset: number; sort?: CollectionSort },
  ): Promise<{ collections: CollectionRecord[]; total: number }> {
    const sort = page.sort ?? { by: 'id', descending: false };
    const direction = sort.descending ? 'desc' : 'asc';
    let query = this.db
      .selectFrom('collections')
      .selectAll()
      .where('site_id', '=', siteId)
      .orderBy(sortColumns[sort.by], direction);
    if (sort.by !== 'id') query = query.orderBy('id', direction);
    const rows = await query.limit(page.limit).offset(page.offset).execute();
    const { total } = await this.db
      .selectFrom('collections')
      .select((eb) => eb.fn.countAll<number>().as('total'))
      .where('site_id', '=', siteId)
      .executeTakeFirstOrThrow();
    return { collections: rows.map(toRecord), total: Number(total) };
  }

  async names(siteId: string): Promise<{ id: string; displayName: string }[]> {
    const rows = await this.db
      .selectFrom('collections')
      .select(['id', 'display_name'])
      .where('site_id', '=', siteId)
      .orderBy('id')
      .execute();
    return rows.map((r) => ({ id: r.id, displayName: r.display_name }));
  }

  async update(
    siteId: string,
    definition: CollectionDefinition,
    expectedRevision: number,
    at: number,
  ): Promise<CollectionRecord> {
    return this.db.transaction().execute(async (trx) => {
      const current = await trx
        .selectFrom('collections')
        .selectAll()
        .where('site_id', '=', siteId)
        .where('id', '=', definition.id)
        .executeTakeFirst();
      if (!current) throw errors.WDE0025(definition.id);
      if (Number(current.revision) !== expectedRevision) {
        throw errors.REVISION_MISMATCH(definition.id, current.revision, expectedRevision);
      }
      const changes = {
        ...definitionColumns(definition),
        revision: Number(current.revision) + 1,
        updated_at: at,
      };
      // Compare-and-set: on PostgreSQL a concurrent writer may have moved the revision on since the read
      // above (READ COMMITTED, no row lock taken), and this UPDATE then waits for it and must not overwrite it.
      const updated = await trx
        .updateTable('collections')
        .set(changes)
        .where('site_id', '=', siteId)
        .where('id', '=', definition.id)
        .where('revision', '=', expectedRevision)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) === 0) {
        const now = await trx
          .selectFrom('collections')
          .select('revision')
          .where('site_id', '=', siteId)
          .where('id', '=', definition.id)
          .executeTakeFirst();
        if (!now) throw errors.WDE0025(definition.id);
        throw errors.REVISION_MISMATCH(definition.id, now.revision, expectedRevision);
      }
      // A change of the declared TEXT fields re-indexes both environments' items, in this transaction.
      const textFields = textFieldsOf(definition.fields);
      const before = textFieldsOf(JSON.parse(current.fields) as Record<string, unknown>[]);
      if (textFields.join('\u0000') !== before.join('\u0000')) {
        const { textIndex } = this.generations;
        for (const gen of [Number(current.live_gen), Number(current.sandbox_gen)]) {
          await textIndex.remove(trx, gen);
          await textIndex.index(trx, gen, textFields);
        }
      }
      return toRecord({ ...current, ...changes });
    });
  }

  async delete(siteId: string, id: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const gens = await trx
        .selectFrom('collections')
        .select(['live_gen', 'sandbox_gen'])
        .where('site_id', '=', siteId)
        .where('id', '=', id)
        .executeTakeFirst();
      if (gens) await fenceLegacyWrite(trx, siteId, [gens.live_gen, gens.sandbox_gen], this.options);
      return this.deleteIn(trx, siteId, id);
    });
  }

  /**
   * A collection delete inside the caller's transaction. It is the one way a collection is deleted: the
   * undo of a restoration deletes the collections that restoration created through it, in its switch, so
   * they go to the bin like any other.
   */
  async deleteIn(trx: Transaction<Database>, siteId: string, id: string): Promise<boolean> {
    // DELETE … RETURNING: of two deleters racing on PostgreSQL, exactly one gets the row.
    const removed = await trx
      .deleteFrom('collections')
      .where('site_id', '=', siteId)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    if (!removed) return false;
    // Only the newest deleted copy of an id can ever be restored, so an older one is dropped now.
    const older = await trx
      .deleteFrom('collection_bin')
      .where('site_id', '=', siteId)
      .where('id', '=', id)
      .returning(['live_gen', 'sandbox_gen'])
      .executeTakeFirst();
    if (older) await this.generations.retire(trx, [older.live_gen, older.sandbox_gen]);
    await trx
      .insertInto('collection_bin')
      .values({ ...removed, deleted_at: this.now() })
      .execute();
    // The generations stay, and so do the links in both directions (rows keyed by generation): they are
    // invisible while no collection points at the generations, and visible again after a restore.
    await this.generations.bin(trx, [removed.live_gen, removed.sandbox_gen]);
    return true;
  }

  async listDeleted(siteId: string, deletedSince: number): Promise<DeletedCollectionRecord[]> {
    const rows = await this.db
      .selectFrom('collection_bin')
      .selectAll()
      .where('site_id', '=', siteId)
      .where('deleted_at', '>=', deletedSince)
      .orderBy('deleted_at', 'desc')
      .orderBy('id')
      .execute();
    return rows.map(({ deleted_at, ...row }) => ({ ...toRecord(row), deletedAt: Number(deleted_at) }));
  }

  async restoreDeleted(siteId: string, id: string, deletedSince: number): Promise<CollectionRecord> {
    return this.db.transaction().execute(async (trx) => {
      const binned = await trx
        .deleteFrom('collection_bin')
        .where('site_id', '=', siteId)
        .where('id', '=', id)
        .where('deleted_at', '>=', deletedSince)
        .returningAll()
        .executeTakeFirst();
      if (!binned) {
        throw errors.WDE0025(id, 'deleted copy');
      }
      await fenceLegacyWrite(trx, siteId, [binned.live_gen, binned.sandbox_gen], this.options);
      const { deleted_at: _deletedAt, size_bytes: _sizeBytes, ...row } = binned;
      // Its links may have changed while it was deleted (a referenced collection truncated): the next backup
      // must read it again rather than reuse an older backup's copy.
      const restored = { ...row, live_version: Number(row.live_version) + 1 };
      const inserted = await trx
        .insertInto('collections')
        .values(restored)
        .onConflict((oc) => oc.columns(['site_id', 'id']).doNothing())
        .executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) {
        // Rolls back the bin row's removal too: the deleted copy stays restorable.
        throw errors.COLLECTION_ALREADY_EXISTS(id);
      }
      await this.generations.unbin(trx, [row.live_gen, row.sandbox_gen]);
      return toRecord(restored);
    });
  }
}
