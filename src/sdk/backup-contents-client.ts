import type { DataItem, DataItemPage, ItemFilter, ItemQuery } from './data-types.js';
import { field, pathId, type HttpTransport, type RequestOptions } from './http-transport.js';
import { ADMIN_PATH } from './sites-client.js';

/** A collection a backup holds. */
export interface BackupCollection {
  readonly id: string;
  readonly displayName: string;
  readonly itemCount: number;
  /** The fields at the snapshot; null for backups written before definitions were kept. */
  readonly fields: readonly Record<string, unknown>[] | null;
}

/** The kind of an item's change, from the backup to the other side. */
export type ItemChange = 'ADDED' | 'REMOVED' | 'CHANGED';

/** One collection of a comparison. */
export interface CollectionDiff {
  readonly dataCollectionId: string;
  readonly presence: 'BOTH' | 'BACKUP_ONLY' | 'OTHER_ONLY';
  /** Items only on the other side. */
  readonly itemsAdded: number;
  /** Items only in the backup. */
  readonly itemsRemoved: number;
  /** Items on both sides whose content differs. */
  readonly itemsChanged: number;
  readonly definitionChanges: {
    readonly fieldsAdded: readonly string[];
    readonly fieldsRemoved: readonly string[];
    readonly fieldsRetyped: readonly { readonly key: string; readonly from: string; readonly to: string }[];
  } | null;
  /** `CHANGES_SINCE`: only what changed since the backup was read; `FULL`: both sides in full. */
  readonly method: 'CHANGES_SINCE' | 'FULL';
}

export interface BackupDiff {
  readonly backupId: string;
  /** `live`, or the other backup's id. */
  readonly against: string;
  readonly collections: readonly CollectionDiff[];
}

export interface DiffItemsPage {
  readonly changes: readonly { readonly dataItemId: string; readonly change: ItemChange }[];
  /** Pass it back as `cursor` for the next page; null on the last. */
  readonly nextCursor: string | null;
}

export interface ItemDiff {
  readonly backupItem: Record<string, unknown> | null;
  readonly otherItem: Record<string, unknown> | null;
  /** Null when both sides hold the same item. */
  readonly change: ItemChange | null;
  /** The dotted field paths whose values differ. */
  readonly differingPaths: readonly string[];
}

/** What a comparison compares the backup with. */
export interface DiffOptions extends RequestOptions {
  /** `live` (default) or the id of another READY backup of the site. */
  readonly against?: string;
}

/**
 * Looking inside READY backups without restoring them, and comparing them with live data or with each
 * other (admin extension; needs `backups.read`). Obtain it as `client.backupContents`.
 */
export class BackupContentsClient {
  constructor(private readonly http: HttpTransport) {}

  private path(backupId: string, rest: string): string {
    return `${ADMIN_PATH}/backups/${pathId(backupId)}/${rest}`;
  }

  /**
   * The collections a backup holds, with item counts.
   * @throws SafekeepApiError 404 `BACKUP_NOT_FOUND`, 428 `BACKUP_NOT_READY`, 409 `BACKUP_DAMAGED`
   */
  async collections(backupId: string, options: RequestOptions = {}): Promise<BackupCollection[]> {
    return field(
      await this.http.request('GET', this.path(backupId, 'collections'), { signal: options.signal }),
      'collections',
    );
  }

  /**
   * A page of a backed-up collection's items: the query language, paging and answer of
   * `client.items.query`.
   * @throws SafekeepApiError 400 `INVALID_ARGUMENT`, 400 `COLLECTION_NOT_IN_BACKUP`, and as {@link collections}
   */
  async query(
    backupId: string,
    collectionId: string,
    query: ItemQuery = {},
    options: RequestOptions & { readonly returnTotalCount?: boolean } = {},
  ): Promise<DataItemPage> {
    const result = await this.http.request('POST', this.path(backupId, 'items/query'), {
      body: {
        dataCollectionId: collectionId,
        query,
        ...(options.returnTotalCount !== undefined && { returnTotalCount: options.returnTotalCount }),
      },
      signal: options.signal,
    });
    return { dataItems: field(result, 'dataItems'), pagingMetadata: field(result, 'pagingMetadata') };
  }

  /** One item as the backup holds it. @throws SafekeepApiError 404 `WDE0073`, and as {@link query} */
  async get(
    backupId: string,
    collectionId: string,
    itemId: string,
    options: RequestOptions & { readonly fields?: readonly string[] } = {},
  ): Promise<DataItem> {
    const result = await this.http.request('GET', this.path(backupId, `items/${pathId(itemId)}`), {
      query: { dataCollectionId: collectionId, ...(options.fields && { fields: options.fields }) },
      signal: options.signal,
    });
    return field(result, 'dataItem');
  }

  /** How many items of a backed-up collection match a filter (all without one). */
  async count(
    backupId: string,
    collectionId: string,
    filter?: ItemFilter,
    options: RequestOptions = {},
  ): Promise<number> {
    const result = await this.http.request('POST', this.path(backupId, 'items/count'), {
      body: { dataCollectionId: collectionId, ...(filter !== undefined && { filter }) },
      signal: options.signal,
    });
    return field(result, 'totalCount');
  }

  /**
   * Compares a backup with live data or another backup, per collection (all, or `collectionId`).
   * @throws SafekeepApiError as {@link collections}, 400 `COLLECTION_NOT_IN_BACKUP`
   */
  async diff(
    backupId: string,
    options: DiffOptions & { readonly collectionId?: string } = {},
  ): Promise<BackupDiff> {
    const result = await this.http.request('POST', this.path(backupId, 'diff'), {
      body: {
        ...(options.against !== undefined && { against: options.against }),
        ...(options.collectionId !== undefined && { dataCollectionId: options.collectionId }),
      },
      signal: options.signal,
    });
    return field(result, 'diff');
  }

  /** A page of the ids that differ in one collection, in id order. */
  async diffItems(
    backupId: string,
    collectionId: string,
    options: DiffOptions & { readonly cursor?: string; readonly limit?: number } = {},
  ): Promise<DiffItemsPage> {
    const result = await this.http.request('POST', this.path(backupId, 'diff/items'), {
      body: {
        dataCollectionId: collectionId,
        ...(options.against !== undefined && { against: options.against }),
        ...(options.cursor !== undefined && { cursor: options.cursor }),
        ...(options.limit !== undefined && { limit: options.limit }),
      },
      signal: options.signal,
    });
    const next = result.nextCursor;
    return { changes: field(result, 'changes'), nextCursor: typeof next === 'string' ? next : null };
  }

  /** One item on both sides, with the field paths that differ. @throws SafekeepApiError 404 `WDE0073` */
  async diffItem(
    backupId: string,
    collectionId: string,
    itemId: string,
    options: DiffOptions = {},
  ): Promise<ItemDiff> {
    const result = await this.http.request('POST', this.path(backupId, 'diff/item'), {
      body: {
        dataCollectionId: collectionId,
        dataItemId: itemId,
        ...(options.against !== undefined && { against: options.against }),
      },
      signal: options.signal,
    });
    return result as unknown as ItemDiff;
  }
}
