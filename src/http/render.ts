import {
  COLLECTION_MAX_PAGE_SIZE,
  collectionCapabilities,
  collectionPagingModes,
  isSystemFieldKey,
  systemFields,
} from '../domain/collection-capabilities.js';
import type { CollectionRecord, StoredItem } from '../ports/storage.js';
import type { BulkItemResult, ItemList, PagingMetadata } from '../services/item-service.js';

/**
 * Item responses are assembled as text around each item's stored JSON, so a query never parses and
 * re-serialises the items it returns.
 */
export function itemJson(collectionId: string, item: StoredItem): string {
  return `{"id":${JSON.stringify(item.id)},"dataCollectionId":${JSON.stringify(collectionId)},"data":${item.json}}`;
}

export function dataItemResponse(
  collectionId: string,
  item: StoredItem,
  extra?: Record<string, unknown>,
): string {
  const prefix = extra ? JSON.stringify(extra).slice(1, -1) + ',' : '';
  return `{${prefix}"dataItem":${itemJson(collectionId, item)}}`;
}

function pagingJson(paging: PagingMetadata): string {
  return JSON.stringify(paging);
}

export function itemListResponse(collectionId: string, list: ItemList): string {
  return `{"dataItems":[${list.items.map((i) => itemJson(collectionId, i)).join(',')}],"pagingMetadata":${pagingJson(list.pagingMetadata)}}`;
}

export function referencedListResponse(collectionId: string, list: ItemList): string {
  const results = list.items.map((i) => `{"dataItem":${itemJson(collectionId, i)}}`).join(',');
  return `{"results":[${results}],"pagingMetadata":${pagingJson(list.pagingMetadata)}}`;
}

export function bulkResponse(
  collectionId: string,
  results: readonly BulkItemResult[],
  returnEntity: boolean,
): string {
  let successes = 0;
  const parts = results.map((r) => {
    const success = r.error === undefined;
    if (success) successes += 1;
    const metadata = JSON.stringify({
      id: r.id,
      originalIndex: r.originalIndex,
      success,
      ...(r.error && { error: r.error }),
    });
    const entity = returnEntity && success && r.item ? `,"dataItem":${itemJson(collectionId, r.item)}` : '';
    return `{"action":"${r.action}","itemMetadata":${metadata}${entity}}`;
  });
  const metadata = JSON.stringify({ totalSuccesses: successes, totalFailures: results.length - successes });
  return `{"results":[${parts.join(',')}],"bulkActionMetadata":${metadata}}`;
}

export function iso(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(ms).toISOString();
}

/**
 * A collection on the wire (data-api.md §3), with the read-only parts Wix returns computed here, never
 * stored: `capabilities`, `maxPageSize`, `pagingModes`, and the system fields first in `fields`.
 * `onlyFields` (the `fields` of Get and List Data Collections) keeps just the fields with those keys.
 */
export function collectionBody(
  record: CollectionRecord,
  onlyFields?: readonly string[],
): Record<string, unknown> {
  const fields = [...systemFields, ...record.fields.filter((f) => !isSystemFieldKey(f.key))];
  const kept = onlyFields === undefined || onlyFields.length === 0 ? undefined : new Set(onlyFields);
  return {
    id: record.id,
    displayName: record.displayName,
    collectionType: record.collectionType,
    ...record.extra,
    capabilities: collectionCapabilities,
    maxPageSize: COLLECTION_MAX_PAGE_SIZE,
    pagingModes: collectionPagingModes,
    fields: kept ? fields.filter((f) => kept.has(String(f.key))) : fields,
    ...(record.permissions && { permissions: record.permissions }),
    views: record.views,
    revision: String(record.revision),
    createdDate: iso(record.createdAt),
    updatedDate: iso(record.updatedAt),
  };
}
