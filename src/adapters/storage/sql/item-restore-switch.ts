/**
 * The item restores of a restoration's switch (an extension of backups-api.md §6, README "Restoring only some items"), inside its one transaction: the chosen
 * items are written into the destination's live generation in place, and what they replace is copied into a
 * small frozen generation for the safety backup. The rest of the collection is never read or copied.
 */
import { sql, type Kysely } from 'kysely';
import { errors } from '../../../contracts/errors.js';
import type { ItemSelection } from '../../../domain/backup.js';
import type { RecordedItemSelection } from '../../../domain/manifest.js';
import type { GenerationRegistry } from './generation-registry.js';
import { itemRelation } from './item-relation.js';
import type { Database } from './schema.js';
import { bumpGenerationOwners, removeLinksOf } from './sql-item-store.js';

/** Ids per statement: well under SQLite's bound-parameter limit. */
const PART = 500;

function parts<T>(values: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < values.length; i += PART) out.push(values.slice(i, i + PART));
  return out;
}

/** Which of `ids` generation `gen` holds (all of its ids when `ids` is null). */
async function idsIn(
  trx: Kysely<Database>,
  gen: number,
  ids: readonly string[] | null,
): Promise<Set<string>> {
  const { table, scope } = itemRelation(gen);
  const found = new Set<string>();
  if (ids === null) {
    const { rows } = await sql<{ id: string }>`SELECT id FROM ${sql.table(table)} WHERE ${scope}`.execute(
      trx,
    );
    for (const row of rows) found.add(row.id);
    return found;
  }
  for (const part of parts([...new Set(ids)])) {
    const { rows } = await sql<{
      id: string;
    }>`SELECT id FROM ${sql.table(table)} WHERE ${scope} AND id IN (${sql.join(part)})`.execute(trx);
    for (const row of rows) found.add(row.id);
  }
  return found;
}

/** Copies items of `from` into `to` (ids in `ids`), each row carrying change number `seq`. */
async function copyItems(
  trx: Kysely<Database>,
  from: number,
  to: number,
  ids: readonly string[],
  seq: number,
): Promise<number> {
  const source = itemRelation(from);
  const target = itemRelation(to);
  const columns = target.hasGenColumn ? sql`gen, ` : sql``;
  const gen = target.hasGenColumn ? sql`CAST(${to} AS BIGINT), ` : sql``;
  let copied = 0;
  for (const part of parts(ids)) {
    const result =
      await sql`INSERT INTO ${sql.table(target.table)} (${columns}id, created_at, updated_at, data, seq)
      SELECT ${gen}id, created_at, updated_at, data, CAST(${seq} AS BIGINT) FROM ${sql.table(source.table)}
      WHERE ${source.scope} AND id IN (${sql.join(part)})`.execute(trx);
    copied += Number(result.numAffectedRows ?? 0n);
  }
  return copied;
}

/** One item restore, as the switch applied it. */
export interface AppliedItemRestore {
  readonly collectionId: string;
  /** The destination's live generation, written in place. */
  readonly liveGen: number;
  /** The generation staged with the backup's versions of the items. */
  readonly stagedGen: number;
  /** The frozen copy of what the changed items were (RETIRING): what the safety backup holds. */
  readonly replacedGen: number;
  /** The change number the destination took for these writes. */
  readonly version: number;
  /** The ids the switch changed. */
  readonly affected: ReadonlySet<string>;
  readonly recorded: RecordedItemSelection;
}

/**
 * Writes one item restore into its destination's live generation: RESTORE_ITEMS removes the selected items
 * and puts back the backup's versions of those the backup holds; ONLY_MISSING inserts the backup's items the
 * live generation lacks. Removed ids leave tombstones and every written row carries the new change number,
 * so the next incremental backup sees exactly these changes; the generation's item count follows. The
 * items' links are replaced by `restoreItemLinks` once every destination is written.
 * @throws AppError RESTORE_DESTINATION_GONE when the destination was deleted since the request
 */
export async function applyItemRestore(
  trx: Kysely<Database>,
  generations: GenerationRegistry,
  args: {
    readonly siteId: string;
    readonly collectionId: string;
    readonly stagedGen: number;
    readonly selection: ItemSelection;
    readonly restorationId: string;
    readonly at: number;
    /** The destination's declared TEXT fields: the full-text index of the items written follows them. */
    readonly textFields: readonly string[];
  },
): Promise<AppliedItemRestore> {
  const { siteId, collectionId, stagedGen, selection } = args;
  // The destination's next change number, taken first as every item write does (writers queue behind it).
  const row = await trx
    .updateTable('collections')
    .set((eb) => ({ live_version: eb('live_version', '+', 1) }))
    .where('site_id', '=', siteId)
    .where('id', '=', collectionId)
    .returning(['live_gen', 'live_version'])
    .executeTakeFirst();
  if (!row) throw errors.RESTORE_DESTINATION_GONE(collectionId);
  const liveGen = row.live_gen;
  const seq = row.live_version;
  const inBackup = await idsIn(trx, stagedGen, selection.itemIds);
  let affected: string[];
  let before: string[];
  if (selection.mode === 'RESTORE_ITEMS') {
    affected = [...new Set(selection.itemIds ?? inBackup)];
    before = [...(await idsIn(trx, liveGen, affected))];
  } else {
    const present = await idsIn(trx, liveGen, [...inBackup]);
    affected = [...inBackup].filter((id) => !present.has(id));
    before = [];
  }
  // What the changed items were, with their links, frozen for the safety backup.
  const replacedGen = await generations.allocate(
    trx,
    { siteId, collectionId, environment: 'LIVE' },
    'RETIRING',
    args.at,
    {
      ownerRestoration: args.restorationId,
    },
  );
  for (const part of parts(before)) {
    await sql`INSERT INTO ${sql.table(itemRelation(replacedGen).table)} (gen, id, created_at, updated_at, data, seq)
      SELECT CAST(${replacedGen} AS BIGINT), id, created_at, updated_at, data, seq FROM ${sql.table(itemRelation(liveGen).table)}
      WHERE ${itemRelation(liveGen).scope} AND id IN (${sql.join(part)})`.execute(trx);
    await sql`INSERT INTO links (from_gen, from_id, field, to_gen, to_id, pos)
      SELECT CAST(${replacedGen} AS BIGINT), from_id, field, to_gen, to_id, pos FROM links
      WHERE from_gen = ${liveGen} AND from_id IN (${sql.join(part)})
      ON CONFLICT DO NOTHING`.execute(trx);
    await sql`INSERT INTO links (from_gen, from_id, field, to_gen, to_id, pos)
      SELECT from_gen, from_id, field, CAST(${replacedGen} AS BIGINT), to_id, pos FROM links
      WHERE to_gen = ${liveGen} AND to_id IN (${sql.join(part)})
      ON CONFLICT DO NOTHING`.execute(trx);
  }
  // Then the writes, in place.
  const { table, scope } = itemRelation(liveGen);
  let delta = 0;
  for (const part of parts(before)) {
    await removeLinksOf(trx, liveGen, part);
    const deleted = await sql`DELETE FROM ${sql.table(table)} WHERE ${scope} AND id IN (${sql.join(
      part,
    )})`.execute(trx);
    delta -= Number(deleted.numAffectedRows ?? 0n);
  }
  const restored = affected.filter((id) => inBackup.has(id));
  delta += await copyItems(trx, stagedGen, liveGen, restored, seq);
  const gone = before.filter((id) => !inBackup.has(id));
  for (const part of parts(gone)) {
    // Tombstones tell the next incremental backup which ids went away.
    const values = part.map((id) => sql`(CAST(${liveGen} AS BIGINT), ${id}, CAST(${seq} AS BIGINT))`);
    await sql`INSERT INTO tombstones (gen, id, seq) VALUES ${sql.join(values)}
      ON CONFLICT (gen, id) DO UPDATE SET seq = excluded.seq`.execute(trx);
  }
  // The full-text index of the live generation follows the rows written: each affected id's entries are
  // replaced by those of its restored version, or dropped when it is gone.
  for (const part of parts(affected)) await generations.textIndex.index(trx, liveGen, args.textFields, part);
  if (delta !== 0) {
    await trx
      .updateTable('generations')
      .set((eb) => ({ item_count: eb('item_count', '+', delta) }))
      .where('id', '=', liveGen)
      .execute();
  }
  return {
    collectionId,
    liveGen,
    stagedGen,
    replacedGen,
    version: seq,
    affected: new Set(affected),
    recorded: { mode: selection.mode, itemIds: affected },
  };
}

interface LinkRow {
  from_gen: number;
  from_id: string;
  field: string;
  to_gen: number;
  to_id: string;
  pos: number;
}

/**
 * Puts back the backed-up links of the items the item restores changed (§6.5: a link with at least one end
 * restored), staged against their staged generations: each such end now means the live generation. Links
 * between a staged item that was not restored and a collection restored whole are kept too (that
 * collection's links are all restored). A link is written only if both ends exist after the writes.
 */
export async function restoreItemLinks(
  trx: Kysely<Database>,
  applied: readonly AppliedItemRestore[],
  wholeStaged: ReadonlySet<number>,
): Promise<void> {
  if (applied.length === 0) return;
  const byStaged = new Map(applied.map((a) => [a.stagedGen, a]));
  const stagedGens = [...byStaged.keys()];
  const rows = await trx
    .selectFrom('links')
    .select(['from_gen', 'from_id', 'field', 'to_gen', 'to_id', 'pos'])
    .where((eb) => eb.or([eb('from_gen', 'in', stagedGens), eb('to_gen', 'in', stagedGens)]))
    .execute();
  const kept: LinkRow[] = [];
  for (const link of rows as LinkRow[]) {
    const from = byStaged.get(link.from_gen);
    const to = byStaged.get(link.to_gen);
    const touched = (from?.affected.has(link.from_id) ?? false) || (to?.affected.has(link.to_id) ?? false);
    const withWhole =
      (from !== undefined && wholeStaged.has(link.to_gen)) ||
      (to !== undefined && wholeStaged.has(link.from_gen));
    if (!touched && !withWhole) continue;
    kept.push({
      ...link,
      from_gen: from ? from.liveGen : link.from_gen,
      to_gen: to ? to.liveGen : link.to_gen,
    });
  }
  // Ends in a live generation were written (or removed) just now: check them again.
  const liveGens = new Set(applied.map((a) => a.liveGen));
  const exists = new Map<number, Set<string>>();
  for (const gen of liveGens) {
    const ids = kept.flatMap((l) => [
      ...(l.from_gen === gen ? [l.from_id] : []),
      ...(l.to_gen === gen ? [l.to_id] : []),
    ]);
    exists.set(gen, await idsIn(trx, gen, ids));
  }
  const ok = (gen: number, id: string) => !liveGens.has(gen) || (exists.get(gen)?.has(id) ?? false);
  const written = kept.filter((l) => ok(l.from_gen, l.from_id) && ok(l.to_gen, l.to_id));
  for (const part of parts(written)) {
    const values = part.map(
      (l) =>
        sql`(CAST(${l.from_gen} AS BIGINT), ${l.from_id}, ${l.field}, CAST(${l.to_gen} AS BIGINT), ${l.to_id}, CAST(${l.pos} AS BIGINT))`,
    );
    await sql`INSERT INTO links (from_gen, from_id, field, to_gen, to_id, pos) VALUES ${sql.join(values)}
      ON CONFLICT DO NOTHING`.execute(trx);
  }
  // Collections whose links changed are read again by their next backup.
  await bumpGenerationOwners(trx, [...new Set(written.map((l) => l.from_gen))]);
}
