/**
 * Looking inside a READY backup without restoring it (admin extension, docs/ARCHITECTURE.md "Browsing and
 * comparing backups"): its collections, and each collection's items queried with the live query language —
 * the same filter (src/domain/query/match.ts, the in-memory twin of the engines' SQL, proven equal by
 * test/http/condition-semantics.test.ts), the same order (src/domain/query/order.ts), the same offset and
 * cursor paging, projections and page byte bound as ItemService.query. Items come from the backup's chunks
 * through BackupReader, which reads only the chunks a page needs when the order is by id (the default) and
 * caches decoded chunks within a byte budget; any other order reads the whole collection once per request,
 * keeping only the best `offset + limit + 1` items.
 */
import type { CountItemsRequest, QueryItemsRequest } from '../contracts/data-api.js';
import { AppError, errors, invalidArgument } from '../contracts/errors.js';
import type { BackupRecord } from '../domain/backup.js';
import { checkCollectionId } from '../domain/collection-id.js';
import { checkItemId, type StoredItem } from '../domain/item-codec.js';
import type { Manifest, ManifestCollection } from '../domain/manifest.js';
import { parseFilter, type FilterNode } from '../domain/query/filter.js';
import { matchesFilter } from '../domain/query/match.js';
import {
  compareCodePoints,
  comparePositions,
  itemOrder,
  sortValueOf,
  type ItemOrder,
  type OrderPosition,
} from '../domain/query/order.js';
import { parseSort } from '../domain/query/sort.js';
import { referenceFieldsOf } from '../domain/reference-fields.js';
import { readVerifiedManifest } from '../engine/backup-verifier.js';
import {
  entryBytes,
  entryId,
  entryJson,
  type BackupEntry,
  type BackupReader,
  type CollectionView,
} from '../engine/backup-reader.js';
import { jobErrorOf } from '../engine/job-failure.js';
import type { BlobStore } from '../ports/blob-store.js';
import type { Clock } from '../ports/clock.js';
import type { ItemPage, ItemQuery, KeysetPosition, Storage } from '../ports/storage.js';
import type { SiteContext } from './auth-service.js';
import {
  backupSide,
  decodeDiffCursor,
  definitionChanges,
  differingPaths,
  encodeDiffCursor,
  LiveSide,
  mergeSides,
  sharedUntouched,
  type ChangeKind,
  type CollectionDiff,
  noItems,
} from './backup-diff.js';
import type { CursorCodec, CursorState } from './cursor-codec.js';
import { isGuid } from './ids.js';
import {
  DEFAULT_PAGE,
  MAX_CURSOR_PAGE,
  MAX_OFFSET_PAGE,
  MAX_PAGE_BYTES,
  project,
  type ItemList,
} from './item-service.js';

/** A collection a backup holds, as listed. */
export interface BackupCollectionSummary {
  readonly id: string;
  readonly displayName: string;
  readonly itemCount: number;
  /** The definition at the snapshot (absent for backups written before definitions were kept). */
  readonly fields: readonly Record<string, unknown>[] | null;
}

/** A backup opened for reading: its record and its verified manifest. */
export interface OpenedBackup {
  readonly backup: BackupRecord;
  readonly manifest: Manifest;
}

function limitOf(raw: number | null | undefined, max: number): number {
  return raw === undefined || raw === null || raw === 0 ? DEFAULT_PAGE : Math.min(raw, max);
}

/**
 * What a backup's damage means for a request: a clear 409 naming the failed check, or 503 when the backup
 * storage cannot answer now; anything else is rethrown as it is.
 */
export function asRequestError(backupId: string, error: unknown): unknown {
  if (error instanceof AppError && error.category !== 'BACKGROUND') return error;
  const failure = jobErrorOf(error);
  if (failure.code.startsWith('INTEGRITY_')) return errors.BACKUP_DAMAGED(backupId, failure.code);
  if (failure.code === 'STORAGE_UNAVAILABLE') return errors.STORAGE_UNAVAILABLE();
  return error;
}

/** Whether a filter uses `$hasSome`/`$hasAll` on a field the definition declares MULTI_REFERENCE. */
function usesLinks(node: FilterNode, multi: ReadonlySet<string>): boolean {
  switch (node.kind) {
    case 'and':
    case 'or':
      return node.nodes.some((n) => usesLinks(n, multi));
    case 'not':
      return usesLinks(node.node, multi);
    case 'hasSome':
    case 'hasAll':
      return node.field.length === 1 && multi.has(node.field[0] ?? '');
    case 'compare':
    case 'in':
    case 'string':
    case 'exists':
    case 'linked':
      return false;
  }
}

/** A match found by a scan, with its place in the order. */
interface Candidate {
  readonly entry: BackupEntry;
  readonly position: OrderPosition;
}

function dataOf(entry: BackupEntry): Record<string, unknown> {
  return JSON.parse(entryJson(entry)) as Record<string, unknown>;
}

function storedItemOf(entry: BackupEntry): StoredItem {
  return { id: entry.row[0], createdAt: entry.row[1], updatedAt: entry.row[2], json: entryJson(entry) };
}

/**
 * Runs one page of a query over a backed-up collection, with the meaning of `ItemStore.query`: items
 * strictly after `after` (before it, `backwards`), `offset` skipped, at most `limit` and `maxBytes`, and
 * `hasMore` when more follow.
 */
export async function queryView(
  view: CollectionView,
  query: ItemQuery,
  signal?: AbortSignal,
): Promise<ItemPage> {
  const order = itemOrder(query.sort, query.backwards ?? false);
  const offset = query.offset ?? 0;
  const want = offset + query.limit + 1;
  const after: OrderPosition | undefined = query.after;
  const byIdOnly = order.keys.length === 0 && !order.idDescending;
  const needsData = query.filter !== null || order.readsData;
  let matched = 0;
  const best: Candidate[] = [];
  const consider = (entry: BackupEntry): void => {
    const data = needsData ? dataOf(entry) : undefined;
    if (query.filter !== null && !matchesFilter(query.filter, data ?? {})) return;
    matched += 1;
    const sortable = { createdAt: entry.row[1], updatedAt: entry.row[2], data };
    const position: OrderPosition = {
      values: order.keys.map((k) => sortValueOf(sortable, k.field)),
      id: entryId(entry),
    };
    if (after && comparePositions(order, position, after) <= 0) return;
    insertBounded(best, { entry, position }, order, want);
  };
  let complete = true;
  if (byIdOnly) {
    // In id order the backup's chunks are already sorted: stop as soon as the page (and one more) is found.
    for await (const batch of view.scan({ after: after?.id, signal })) {
      for (const entry of batch) consider(entry);
      if (best.length >= want) {
        complete = false;
        break;
      }
    }
  } else {
    for await (const batch of view.scan({ signal })) for (const entry of batch) consider(entry);
  }
  const rows = best.slice(offset);
  let kept = 0;
  let bytes = 0;
  while (kept < Math.min(query.limit, rows.length)) {
    const size = entryBytes((rows[kept] as Candidate).entry);
    if (kept > 0 && query.maxBytes !== undefined && bytes + size > query.maxBytes) break;
    bytes += size;
    kept += 1;
  }
  const page = rows.slice(0, kept);
  const hasMore = rows.length > kept;
  if (query.backwards) page.reverse();
  const positionOf = (c: Candidate | undefined): KeysetPosition | undefined =>
    c && { values: c.position.values, id: c.position.id };
  let total: number | undefined;
  if (query.withTotal) {
    if (query.filter === null) total = view.itemCount;
    else if (complete && !after) total = matched;
    else total = await countView(view, query.filter, signal);
  }
  return {
    items: page.map((c) => storedItemOf(c.entry)),
    hasMore,
    first: positionOf(page[0]),
    last: positionOf(page[page.length - 1]),
    total,
  };
}

/** Keeps `list` sorted and at most `max` long with one more candidate. */
function insertBounded(list: Candidate[], candidate: Candidate, order: ItemOrder, max: number): void {
  const last = list[list.length - 1];
  if (list.length >= max && last && comparePositions(order, candidate.position, last.position) >= 0) return;
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (comparePositions(order, (list[mid] as Candidate).position, candidate.position) < 0) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, candidate);
  if (list.length > max) list.pop();
}

/** How many items of a backed-up collection match a filter. */
export async function countView(
  view: CollectionView,
  filter: FilterNode | null,
  signal?: AbortSignal,
): Promise<number> {
  if (filter === null) return view.itemCount;
  let n = 0;
  for await (const batch of view.scan({ signal }))
    for (const entry of batch) if (matchesFilter(filter, dataOf(entry))) n += 1;
  return n;
}

/** Reads READY backups of the caller's site: their collections and items, read-only. */
export class BrowseService {
  private readonly manifests = new Map<string, Promise<Manifest>>();

  constructor(
    private readonly storage: Pick<Storage, 'backups' | 'snapshots' | 'collections' | 'items'>,
    private readonly blobs: BlobStore,
    readonly reader: BackupReader,
    private readonly cursors: CursorCodec,
    private readonly clock: Clock,
  ) {}

  /**
   * A READY backup of the site with its verified manifest (manifests never change: a few are kept).
   * @throws AppError BACKUP_NOT_FOUND, BACKUP_NOT_READY, BACKUP_DAMAGED
   */
  async open(ctx: SiteContext, backupId: string): Promise<OpenedBackup> {
    const backup = isGuid(backupId) ? await this.storage.backups.getBackup(ctx.siteId, backupId) : undefined;
    if (!backup || backup.status === 'DELETED') throw errors.BACKUP_NOT_FOUND(backupId);
    if (backup.status !== 'READY') throw errors.BACKUP_NOT_READY(backup);
    const key = `${backup.siteId}/${backup.id}`;
    let manifest = this.manifests.get(key);
    if (!manifest) {
      manifest = readVerifiedManifest(this.blobs, backup);
      manifest.catch(() => this.manifests.delete(key));
      this.manifests.set(key, manifest);
      for (const oldest of this.manifests.keys()) {
        if (this.manifests.size <= 8) break;
        this.manifests.delete(oldest);
      }
    }
    try {
      return { backup, manifest: await manifest };
    } catch (error) {
      throw asRequestError(backupId, error);
    }
  }

  /** A collection of an opened backup. @throws AppError COLLECTION_NOT_IN_BACKUP */
  static entryOf(opened: OpenedBackup, collectionId: string): ManifestCollection {
    const entry = opened.manifest.collections.find((c) => c.id === collectionId);
    if (!entry) throw errors.COLLECTION_NOT_IN_BACKUP(collectionId);
    return entry;
  }

  /** The merged view of one collection of an opened backup. */
  async view(opened: OpenedBackup, entry: ManifestCollection): Promise<CollectionView> {
    try {
      return await this.reader.view(opened.backup.siteId, opened.backup.id, entry);
    } catch (error) {
      throw asRequestError(opened.backup.id, error);
    }
  }

  private async openCollection(
    ctx: SiteContext,
    backupId: string,
    rawCollectionId: string,
  ): Promise<{ opened: OpenedBackup; entry: ManifestCollection; view: CollectionView }> {
    const collectionId = checkCollectionId(rawCollectionId, 'dataCollectionId');
    const opened = await this.open(ctx, backupId);
    const entry = BrowseService.entryOf(opened, collectionId);
    return { opened, entry, view: await this.view(opened, entry) };
  }

  /** The collections a backup holds, with their item counts and fields. */
  async collections(ctx: SiteContext, backupId: string): Promise<BackupCollectionSummary[]> {
    const { manifest } = await this.open(ctx, backupId);
    return manifest.collections.map((c) => ({
      id: c.id,
      displayName: c.displayName,
      itemCount: c.itemCount,
      fields: c.definition?.fields ?? null,
    }));
  }

  /** The filter of a request, refused where it needs the link store (multi-reference `$hasSome`/`$hasAll`). */
  private static filterOf(entry: ManifestCollection, raw: unknown, where: string): FilterNode | null {
    const filter = parseFilter(raw, where);
    if (filter === null) return null;
    const multi = new Set(
      [...referenceFieldsOf(entry.definition?.fields ?? []).values()]
        .filter((r) => r.multiple)
        .map((r) => r.key),
    );
    if (usesLinks(filter, multi))
      throw invalidArgument(
        where,
        '$hasSome and $hasAll on a MULTI_REFERENCE field are not supported when browsing a backup',
        'OTHER',
      );
    return filter;
  }

  /**
   * Query Data Items over a backed-up collection: the request and answer of the live query (data-api.md
   * §2), `includeReferences` aside.
   * @throws AppError INVALID_ARGUMENT, BACKUP_NOT_FOUND, BACKUP_NOT_READY, COLLECTION_NOT_IN_BACKUP, BACKUP_DAMAGED
   */
  async query(ctx: SiteContext, backupId: string, request: QueryItemsRequest): Promise<ItemList> {
    const query = request.query ?? {};
    if (query.paging && query.cursorPaging)
      throw invalidArgument('query', 'use either paging or cursorPaging, not both', 'OTHER');
    if (request.includeReferences && request.includeReferences.length > 0)
      throw invalidArgument('includeReferences', 'is not supported when browsing a backup', 'OTHER');
    const { entry, view } = await this.openCollection(ctx, backupId, request.dataCollectionId);
    // A cursor is bound to the backup and collection it pages: it names both where a live cursor names the
    // collection, so that neither kind of cursor is taken for the other.
    const cursorCollection = `backup:${backupId}:${entry.id}`;
    const token = query.cursorPaging?.cursor;
    let state: Omit<CursorState, 'position' | 'direction'>;
    let after: KeysetPosition | undefined;
    let backwards = false;
    let offset = 0;
    if (token) {
      const hasFilter = query.filter && Object.keys(query.filter).length > 0;
      if (hasFilter || (query.sort && query.sort.length > 0))
        throw invalidArgument(
          'query',
          'a cursor already carries its filter and sort; send only the cursor',
          'OTHER',
        );
      const decoded = this.cursors.decode(ctx.siteId, token);
      if (decoded.collectionId !== cursorCollection)
        throw invalidArgument('cursorPaging.cursor', 'belongs to another backup or collection', 'FORMAT');
      state = {
        ...decoded,
        limit: query.cursorPaging?.limit ? limitOf(query.cursorPaging.limit, MAX_CURSOR_PAGE) : decoded.limit,
      };
      after = decoded.position;
      backwards = decoded.direction === 'before';
    } else {
      const cursorMode = query.cursorPaging !== undefined;
      state = {
        collectionId: cursorCollection,
        environment: 'LIVE',
        filter: query.filter ?? null,
        sort: query.sort ?? [],
        limit: cursorMode
          ? limitOf(query.cursorPaging?.limit, MAX_CURSOR_PAGE)
          : limitOf(query.paging?.limit, MAX_OFFSET_PAGE),
      };
      offset = cursorMode ? 0 : (query.paging?.offset ?? 0);
    }
    const filter = BrowseService.filterOf(entry, state.filter, token ? 'cursor.filter' : 'query.filter');
    const sort = parseSort(state.sort, token ? 'cursor.sort' : 'query.sort');
    let page: ItemPage;
    try {
      page = await queryView(view, {
        filter,
        sort,
        limit: state.limit,
        maxBytes: MAX_PAGE_BYTES,
        offset,
        after,
        backwards,
        withTotal: request.returnTotalCount === true,
      });
    } catch (error) {
      throw asRequestError(backupId, error);
    }
    const cursor = (position: KeysetPosition | undefined, direction: 'after' | 'before') =>
      position ? this.cursors.encode(ctx.siteId, { ...state, position, direction }) : null;
    const moreAfter = backwards ? page.items.length > 0 : page.hasMore;
    const moreBefore = backwards ? page.hasMore : after !== undefined || offset > 0;
    return {
      items: page.items.map((item) => project(item, query.fields)),
      pagingMetadata: {
        count: page.items.length,
        ...(token || query.cursorPaging ? {} : { offset }),
        ...(page.total !== undefined && { total: page.total }),
        hasNext: moreAfter,
        cursors: {
          next: moreAfter ? cursor(page.last, 'after') : null,
          prev: moreBefore ? cursor(page.first, 'before') : null,
        },
      },
    };
  }

  /**
   * One item as the backup holds it.
   * @throws AppError WDE0073 (not in the backup), and as {@link query}
   */
  async get(
    ctx: SiteContext,
    backupId: string,
    request: { dataCollectionId: string; dataItemId: string; fields?: readonly string[] },
  ): Promise<StoredItem> {
    const id = checkItemId(request.dataItemId, 'dataItemId');
    const { view } = await this.openCollection(ctx, backupId, request.dataCollectionId);
    let found: BackupEntry | undefined;
    try {
      found = await view.get(id);
    } catch (error) {
      throw asRequestError(backupId, error);
    }
    if (!found) throw errors.WDE0073(id);
    return project(storedItemOf(found), request.fields);
  }

  /** How many items of a backed-up collection match a filter. @throws as {@link query} */
  async count(ctx: SiteContext, backupId: string, request: CountItemsRequest): Promise<number> {
    const { entry, view } = await this.openCollection(ctx, backupId, request.dataCollectionId);
    const filter = BrowseService.filterOf(entry, request.filter, 'filter');
    try {
      return await countView(view, filter);
    } catch (error) {
      throw asRequestError(backupId, error);
    }
  }

  /** The other side of a comparison: live data, or another READY backup of the site. */
  private async otherOf(ctx: SiteContext, against: string | undefined): Promise<OpenedBackup | 'live'> {
    if (against === undefined || against === 'live') return 'live';
    return this.open(ctx, against);
  }

  /** Runs `work` mapping a damaged backup to a clear error. */
  private static async reading<T>(backupId: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw asRequestError(backupId, error);
    }
  }

  /**
   * Compares a backup with live data (`against` absent or `live`) or with another backup of the site, per
   * collection: items added, removed and changed from the backup to the other side, and field changes.
   * @throws AppError BACKUP_NOT_FOUND, BACKUP_NOT_READY, BACKUP_DAMAGED, COLLECTION_NOT_IN_BACKUP
   */
  async diff(
    ctx: SiteContext,
    backupId: string,
    request: { against?: string; dataCollectionId?: string },
  ): Promise<{ backupId: string; against: string; collections: CollectionDiff[] }> {
    const only =
      request.dataCollectionId === undefined
        ? undefined
        : checkCollectionId(request.dataCollectionId, 'dataCollectionId');
    const opened = await this.open(ctx, backupId);
    const other = await this.otherOf(ctx, request.against);
    const against = other === 'live' ? 'live' : other.backup.id;
    const out: CollectionDiff[] = [];
    const count = (kind: ChangeKind, into: Record<ChangeKind, number>) => {
      into[kind] += 1;
    };
    if (other === 'live') {
      const live = await LiveSide.open(this.storage, ctx.siteId, only ? [only] : null, this.clock);
      try {
        const names = this.namesOf(opened, [...live.collections.keys()], only);
        const gens = await this.storage.backups.collectionGenerations(ctx.siteId, opened.backup.id);
        for (const name of names) {
          const entry = opened.manifest.collections.find((c) => c.id === name);
          const now = live.collections.get(name);
          const tally: Record<ChangeKind, number> = { ADDED: 0, REMOVED: 0, CHANGED: 0 };
          let method: CollectionDiff['method'] = 'FULL';
          if (entry && now) {
            const view = await this.view(opened, entry);
            const since = await BrowseService.reading(backupId, () =>
              live.changesSince(now, gens.get(name), view),
            );
            if (since) {
              method = 'CHANGES_SINCE';
              since.forEach((c) => count(c.kind, tally));
            } else {
              await BrowseService.reading(backupId, async () =>
                mergeSides(backupSide(view), await live.items(now), (_, kind) => count(kind, tally)),
              );
            }
          } else if (entry) tally.REMOVED = entry.itemCount;
          else if (now) tally.ADDED = await live.count(now);
          out.push({
            dataCollectionId: name,
            presence: entry && now ? 'BOTH' : entry ? 'BACKUP_ONLY' : 'OTHER_ONLY',
            itemsAdded: tally.ADDED,
            itemsRemoved: tally.REMOVED,
            itemsChanged: tally.CHANGED,
            definitionChanges:
              entry && now ? definitionChanges(entry.definition?.fields, now.record.fields) : null,
            method,
          });
        }
      } finally {
        await live.close();
      }
    } else {
      const names = this.namesOf(
        opened,
        other.manifest.collections.map((c) => c.id),
        only,
      );
      for (const name of names) {
        const a = opened.manifest.collections.find((c) => c.id === name);
        const b = other.manifest.collections.find((c) => c.id === name);
        const tally: Record<ChangeKind, number> = { ADDED: 0, REMOVED: 0, CHANGED: 0 };
        if (a && b) {
          const [va, vb] = [await this.view(opened, a), await this.view(other, b)];
          const skipChunk = sharedUntouched(va, vb);
          await BrowseService.reading(backupId, () =>
            mergeSides(backupSide(va, { skipChunk }), backupSide(vb, { skipChunk }), (_, kind) =>
              count(kind, tally),
            ),
          );
        } else if (a) tally.REMOVED = a.itemCount;
        else if (b) tally.ADDED = b.itemCount;
        out.push({
          dataCollectionId: name,
          presence: a && b ? 'BOTH' : a ? 'BACKUP_ONLY' : 'OTHER_ONLY',
          itemsAdded: tally.ADDED,
          itemsRemoved: tally.REMOVED,
          itemsChanged: tally.CHANGED,
          definitionChanges: a && b ? definitionChanges(a.definition?.fields, b.definition?.fields) : null,
          method: 'FULL',
        });
      }
    }
    return { backupId: opened.backup.id, against, collections: out };
  }

  /** The collections a comparison covers, sorted: those of either side, or the one asked for. */
  private namesOf(opened: OpenedBackup, others: readonly string[], only: string | undefined): string[] {
    const all = new Set([...opened.manifest.collections.map((c) => c.id), ...others]);
    if (only !== undefined) {
      if (!all.has(only)) throw errors.COLLECTION_NOT_IN_BACKUP(only);
      return [only];
    }
    return [...all].sort();
  }

  /**
   * A page of the items that differ in one collection, in id order, with the kind of change; `cursor`
   * continues after the previous page.
   * @throws as {@link diff}, and INVALID_ARGUMENT for a bad cursor or limit
   */
  async diffItems(
    ctx: SiteContext,
    backupId: string,
    request: { against?: string; dataCollectionId: string; cursor?: string; limit?: number },
  ): Promise<{ changes: { dataItemId: string; change: ChangeKind }[]; nextCursor: string | null }> {
    const name = checkCollectionId(request.dataCollectionId, 'dataCollectionId');
    const after = decodeDiffCursor(request.cursor);
    const limit = limitOf(request.limit, MAX_OFFSET_PAGE);
    const opened = await this.open(ctx, backupId);
    const other = await this.otherOf(ctx, request.against);
    const changes: { dataItemId: string; change: ChangeKind }[] = [];
    const collect = (id: string, change: ChangeKind) => {
      changes.push({ dataItemId: id, change });
      return changes.length <= limit;
    };
    const entry = opened.manifest.collections.find((c) => c.id === name);
    const view = entry && (await this.view(opened, entry));
    const none = noItems;
    if (other === 'live') {
      const live = await LiveSide.open(this.storage, ctx.siteId, [name], this.clock);
      try {
        const now = live.collections.get(name);
        if (!entry && !now) throw errors.COLLECTION_NOT_IN_BACKUP(name);
        const gens = await this.storage.backups.collectionGenerations(ctx.siteId, opened.backup.id);
        const since =
          view && now
            ? await BrowseService.reading(backupId, () => live.changesSince(now, gens.get(name), view))
            : undefined;
        if (since) {
          for (const c of since) {
            if (after !== undefined && compareCodePoints(c.id, after) <= 0) continue;
            if (!collect(c.id, c.kind)) break;
          }
        } else {
          await BrowseService.reading(backupId, async () =>
            mergeSides(
              view ? backupSide(view, { after }) : none(),
              now ? await live.items(now, after) : none(),
              collect,
            ),
          );
        }
      } finally {
        await live.close();
      }
    } else {
      const b = other.manifest.collections.find((c) => c.id === name);
      if (!entry && !b) throw errors.COLLECTION_NOT_IN_BACKUP(name);
      const vb = b && (await this.view(other, b));
      const skipChunk = view && vb ? sharedUntouched(view, vb) : () => false;
      await BrowseService.reading(backupId, () =>
        mergeSides(
          view ? backupSide(view, { after, skipChunk }) : none(),
          vb ? backupSide(vb, { after, skipChunk }) : none(),
          collect,
        ),
      );
    }
    const more = changes.length > limit;
    const page = changes.slice(0, limit);
    const last = page[page.length - 1];
    return { changes: page, nextCursor: more && last ? encodeDiffCursor(last.dataItemId) : null };
  }

  /**
   * One item on both sides of a comparison: its data in the backup and on the other side (null where
   * absent), the kind of change, and the dotted field paths that differ.
   * @throws AppError WDE0073 when neither side holds it, and as {@link diff}
   */
  async diffItem(
    ctx: SiteContext,
    backupId: string,
    request: { against?: string; dataCollectionId: string; dataItemId: string },
  ): Promise<{
    backupItem: Record<string, unknown> | null;
    otherItem: Record<string, unknown> | null;
    change: ChangeKind | null;
    differingPaths: string[];
  }> {
    const name = checkCollectionId(request.dataCollectionId, 'dataCollectionId');
    const id = checkItemId(request.dataItemId, 'dataItemId');
    const opened = await this.open(ctx, backupId);
    const other = await this.otherOf(ctx, request.against);
    const entry = opened.manifest.collections.find((c) => c.id === name);
    const readBackup = async (o: OpenedBackup, e: ManifestCollection | undefined) => {
      if (!e) return undefined;
      const view = await this.view(o, e);
      const found = await BrowseService.reading(o.backup.id, () => view.get(id));
      return found && entryJson(found);
    };
    const before = await readBackup(opened, entry);
    let after: string | undefined;
    if (other === 'live') {
      const exists = await this.storage.collections.get(ctx.siteId, name);
      if (!entry && !exists) throw errors.COLLECTION_NOT_IN_BACKUP(name);
      if (exists)
        after = (
          await this.storage.items.get({ siteId: ctx.siteId, collectionId: name, environment: 'LIVE' }, id)
        )?.json;
    } else {
      const b = other.manifest.collections.find((c) => c.id === name);
      if (!entry && !b) throw errors.COLLECTION_NOT_IN_BACKUP(name);
      after = await readBackup(other, b);
    }
    if (before === undefined && after === undefined) throw errors.WDE0073(id);
    const a = before === undefined ? null : (JSON.parse(before) as Record<string, unknown>);
    const b = after === undefined ? null : (JSON.parse(after) as Record<string, unknown>);
    const change: ChangeKind | null = !a ? 'ADDED' : !b ? 'REMOVED' : before === after ? null : 'CHANGED';
    return {
      backupItem: a,
      otherItem: b,
      change,
      differingPaths: a && b && change ? differingPaths(a, b) : [],
    };
  }
}
