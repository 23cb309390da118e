/**
 * The read-only parts of a collection that Wix returns and the server computes rather than stores:
 * `capabilities`, `maxPageSize`, `pagingModes` and the system fields. They are added when a collection is
 * rendered and dropped when one is read from a request, so stored definitions (and the backups that hold
 * them) never contain them.
 */

/**
 * The Wix data operations the Data Items routes of this server answer (the `DataOperation` enum of
 * `@wix/auto_sdk_data_collections`). Keep it true to the routes: docs/WIX-COMPATIBILITY.md lists the rest.
 */
export const dataOperations = [
  'AGGREGATE',
  'BULK_INSERT',
  'BULK_PATCH',
  'BULK_REMOVE',
  'BULK_SAVE',
  'BULK_UPDATE',
  'COUNT',
  'DISTINCT',
  'FIND',
  'GET',
  'INSERT',
  'INSERT_REFERENCE',
  'IS_REFERENCED',
  'PATCH',
  'QUERY_REFERENCED',
  'REMOVE',
  'REMOVE_REFERENCE',
  'REPLACE_REFERENCES',
  'SAVE',
  'TRUNCATE',
  'UPDATE',
] as const;

/** What a native collection supports: every collection here is native, so they all say the same. */
export const collectionCapabilities = {
  dataOperations,
  collectionOperations: ['UPDATE', 'REMOVE'],
} as const;

/** The largest page a query returns, with offsets and with cursors alike (data-api.md §2). */
export const COLLECTION_MAX_PAGE_SIZE = 1000;

export const collectionPagingModes = ['OFFSET', 'CURSOR'] as const;

/** The query operators of the filter language (data-api.md §2), named as Wix's `QueryOperator` enum. */
const queryOperators = [
  'EQ',
  'NE',
  'LT',
  'LTE',
  'GT',
  'GTE',
  'STARTS_WITH',
  'ENDS_WITH',
  'CONTAINS',
  'HAS_SOME',
  'HAS_ALL',
  'EXISTS',
] as const;

function systemField(key: string, displayName: string, type: 'TEXT' | 'DATETIME') {
  return {
    key,
    displayName,
    type,
    systemField: true,
    readOnly: true,
    capabilities: { sortable: true, queryOperators },
  } as const;
}

/** Every item has these (data-api.md §2); a collection lists them first in `fields`, as Wix does. */
export const systemFields = [
  systemField('_id', 'ID', 'TEXT'),
  systemField('_createdDate', 'Created Date', 'DATETIME'),
  systemField('_updatedDate', 'Updated Date', 'DATETIME'),
  systemField('_owner', 'Owner', 'TEXT'),
] as const;

const systemKeys: ReadonlySet<unknown> = new Set(systemFields.map((f) => f.key));

/** Whether `key` names a system field (which the server declares itself and nobody can change). */
export function isSystemFieldKey(key: unknown): boolean {
  return systemKeys.has(key);
}
