/**
 * What the OpenAPI document says about each operation beyond what the route table knows: a name, a
 * summary, its answer and the name of a wildcard path parameter. Keyed by method and path on the
 * documented prefixes; the aliases the Wix SDK uses share their entry. A route missing here is still
 * listed (the document is built from the route table), and `test/http/openapi.test.ts` fails until it
 * is described.
 */
import { unsupportedOperations } from '../contracts/unsupported-operations.js';
import type { ResponseName } from './openapi-schemas.js';

export interface OperationInfo {
  readonly operationId: string;
  readonly tag: Tag;
  readonly summary: string;
  readonly description?: string;
  /** The body of a 200 answer; `html`, `file` and `metrics` are not JSON; `unsupported` routes never answer 200. */
  readonly response: ResponseName | 'html' | 'file' | 'metrics' | 'unsupported' | 'archive';
  /** The request body is an archive (docs/ARCHIVE-FORMAT.md), streamed, not JSON. */
  readonly archiveBody?: boolean;
  /** The name of the path parameter a `*` stands for (ids that may contain `/`). */
  readonly wildcard?: string;
  /** Takes an `Idempotency-Key` header. */
  readonly idempotent?: boolean;
}

export const tags = [
  { name: 'Data items', description: 'Wix Data Items v2 (data-api.md §2).' },
  { name: 'Data collections', description: 'Wix Data Collections v2 (data-api.md §3).' },
  { name: 'Backups', description: 'Wix Data Backups v2 with extensions (backups-api.md).' },
  { name: 'Restorations', description: 'Restorations of backups (backups-api.md §6).' },
  { name: 'Sites', description: 'Admin API: sites and their settings (data-api.md §4).' },
  { name: 'API keys', description: 'Admin API: keys, shown once, hashed at rest, revocable.' },
  { name: 'Webhooks', description: 'Admin API: subscriptions to backup, restoration and item events.' },
  {
    name: 'Overview',
    description: 'Admin extensions for people deciding what to do (the dashboard uses them).',
  },
  { name: 'Service', description: 'Health, these docs and the dashboard.' },
] as const;

export type Tag = (typeof tags)[number]['name'];

/** Alias prefixes and the documented prefix they stand for. */
export const aliasPrefixes: readonly (readonly [alias: string, documented: string])[] = [
  ['/_api/cloud-data/v2', '/wix-data/v2'],
  ['/data/v2/backups', '/wix-data/v2/backups'],
  ['/data/v2/collections/restore', '/wix-data/v2/collections/restore'],
];

const D = '/wix-data/v2';
const B = '/wix-data/v2/backups';
const A = '/_api/safekeep/v1';

const item = (
  operationId: string,
  summary: string,
  response: ResponseName,
  extra: Partial<OperationInfo> = {},
): OperationInfo => ({ operationId, tag: 'Data items', summary, response, ...extra });

export const operations: Readonly<Record<string, OperationInfo>> = {
  [`POST ${D}/items`]: item('insertDataItem', 'Insert an item', 'DataItem', {
    description: 'An existing id is refused with 409 WDE0074.',
  }),
  [`GET ${D}/items/*`]: item('getDataItem', 'Get an item', 'DataItem', { wildcard: 'dataItemId' }),
  [`POST ${D}/items/update`]: item('updateDataItem', 'Replace an item', 'DataItem', {
    description:
      'With a `condition`, the item is replaced only if it matches it now (otherwise 409 CONDITION_NOT_MET); so are save and bulk update.',
  }),
  [`PUT ${D}/items/*`]: item('updateDataItemByPath', 'Replace an item (id in the path)', 'DataItem', {
    wildcard: 'dataItemId',
  }),
  [`POST ${D}/items/save`]: item('saveDataItem', 'Insert or replace an item', 'SavedDataItem'),
  [`POST ${D}/items/patch`]: item('patchDataItem', 'Modify named fields of an item', 'DataItem', {
    description:
      'Field modifications (SET_FIELD, REMOVE_FIELD, INCREMENT_FIELD, APPEND_TO_ARRAY, REMOVE_FROM_ARRAY) in order; other fields stay. A missing item is 404 WDE0073; a `condition` the item does not match is 409 CONDITION_NOT_MET.',
  }),
  [`PATCH ${D}/items/*`]: item(
    'patchDataItemByPath',
    'Modify named fields of an item (id in the path)',
    'DataItem',
    {
      wildcard: 'dataItemId',
    },
  ),
  [`POST ${D}/items/remove`]: item('removeDataItem', 'Remove an item and its references', 'DataItem', {
    description:
      'With a `condition`, the item is removed only if it matches it now (otherwise 409 CONDITION_NOT_MET, and nothing is removed).',
  }),
  [`DELETE ${D}/items/*`]: item('removeDataItemByPath', 'Remove an item (id in the path)', 'DataItem', {
    wildcard: 'dataItemId',
    description: 'Takes no `condition`: send a conditional remove to POST /items/remove.',
  }),
  [`POST ${D}/items/truncate`]: item('truncateDataItems', 'Remove every item of a collection', 'Empty'),
  [`POST ${D}/items/query`]: item('queryDataItems', 'Query items', 'DataItems', {
    description: 'Filters, sorts, offset or cursor paging, projections (data-api.md §2).',
  }),
  [`GET ${D}/items/query`]: item(
    'queryDataItemsByGet',
    'Query items (request in the query string)',
    'DataItems',
  ),
  [`POST ${D}/items/count`]: item('countDataItems', 'Count items matching a filter', 'Count'),
  [`POST ${D}/items/query-distinct-values`]: item(
    'queryDistinctValues',
    'Distinct values of a field among the items a filter keeps',
    'DistinctValues',
    {
      description:
        'Null and missing values are left out; values are ordered by `order` (ASC by default) as a query sorts them. Offset paging only: a cursor is refused with 400.',
    },
  ),
  [`POST ${D}/items/aggregate`]: item(
    'aggregateDataItems',
    'Group items and compute values per group',
    'Aggregate',
    {
      description:
        '`initialFilter` before grouping by `aggregation.groupingFields`, then per group the `operations` (itemCount, sum, average, min, max; sum, average, min and max read numbers only), then `finalFilter` and `sort` over the results. Each result has `_id` (`{field: value}` of the grouping fields, null without grouping), the grouping fields and the operation results. Offset paging only.',
    },
  ),
  [`POST ${D}/items/aggregate-pipeline`]: item(
    'aggregatePipelineDataItems',
    'Run an aggregation pipeline over a collection',
    'Aggregate',
    {
      description:
        "`pipeline.stages` as the Wix SDK's pipelineBuilder builds them: filter, group (accumulators sum, avg, min, max, first, last, push; `_id` is `{key: value}` of the group ids, null without any), projection (include, exclude, reshape, projectNested), sort, skip, limit, unwindArray, objectToArray; expressions fieldPath, text, numeric, add, sum, subtract, multiply, divide, abs, mod, floor, ceil, concat, stringify, toLower, toUpper, substring, length. Leading filter stages run in the database; the other stages over the items streamed in id order, `group` and `sort` holding at most 100,000 results (400 past that). An unsupported stage or expression is refused with 400 naming it. Results are paged by `pipeline.paging` (offset; no cursor).",
    },
  ),
  [`POST ${D}/bulk/items/async-remove-by-filter`]: item(
    'asyncRemoveDataItemsByFilter',
    'Start a job removing every item a filter keeps',
    'AsyncJob',
    {
      description:
        'Checks the filter and that the collection exists, then queues a job (`{}` or no filter: every item). The job worker removes the items in id order, a batch per transaction, yielding between batches; it survives a restart. No item events are sent. A site may have `SAFEKEEP_SITE_BULK_REQUESTS` such jobs waiting or running (429 `RATE_LIMITED` past that). Follow it with Get Async Job Status.',
    },
  ),
  [`POST ${D}/bulk/items/async-patch-by-filter`]: item(
    'asyncPatchDataItemsByFilter',
    'Start a job applying field modifications to every item a filter keeps',
    'AsyncJob',
    {
      description:
        'As Async Remove By Filter, applying `fieldModifications` (as Patch Data Item) to each item. At an item a modification does not fit, the job stops FAILED (the items before it stay patched), as Wix documents.',
    },
  ),
  [`GET ${D}/async-jobs/:jobId/status`]: item(
    'getAsyncJobStatus',
    'The status of a job by filter',
    'AsyncJobStatus',
    {
      description:
        '`status`: INITIALIZED (queued), PROCESSING, SUCCEEDED or FAILED; `successCount`: items removed or patched so far. safekeep adds, for a failed job, `error`. A job finished more than 30 days ago is not found.',
    },
  ),
  [`POST ${D}/items/search`]: item(
    'searchDataItems',
    'Full-text search of the collection’s declared TEXT fields',
    'DataItems',
    {
      description:
        '`search.search.expression` (required, at most 100 characters) is split into words (runs of letters and digits, case-insensitive); `mode` OR (default: any word) or AND (every word, in any searched field); `fuzzy` also matches words of similar spelling (trigram similarity at least 0.3), ranked after exact ones; `search.search.fields` narrows the search to some of the declared TEXT fields (another field is a 400). Only fields the collection declares with type TEXT are indexed and searched; a collection without one answers 400. `search.filter` narrows the results as a query filter does; `search.sort` orders them before relevance (most relevant first, then `_id`). `search.fields` picks the fields returned, as in a query. Offset paging only: a cursor is refused with 400.',
    },
  ),
  [`POST ${D}/bulk/items/insert`]: item('bulkInsertDataItems', 'Insert up to 1000 items', 'BulkItems'),
  [`POST ${D}/bulk/items/update`]: item('bulkUpdateDataItems', 'Replace up to 1000 items', 'BulkItems'),
  [`POST ${D}/bulk/items/save`]: item('bulkSaveDataItems', 'Insert or replace up to 1000 items', 'BulkItems'),
  [`POST ${D}/bulk/items/patch`]: item(
    'bulkPatchDataItems',
    'Modify named fields of up to 1000 items',
    'BulkItems',
    {
      description: 'Each patch succeeds or fails on its own, reported per item like bulk update.',
    },
  ),
  [`POST ${D}/bulk/items/remove`]: item('bulkRemoveDataItems', 'Remove up to 1000 items', 'BulkItems', {
    description:
      'Each id succeeds or fails on its own; with a `condition`, an item that does not match it now is a CONDITION_NOT_MET error and stays.',
  }),
  [`POST ${D}/bulk/items/insert-references`]: item(
    'insertDataItemReferences',
    'Add multi-reference links',
    'BulkReferences',
  ),
  [`POST ${D}/bulk/items/remove-references`]: item(
    'removeDataItemReferences',
    'Remove multi-reference links',
    'BulkReferences',
  ),
  [`POST ${D}/items/replace-references`]: item(
    'replaceDataItemReferences',
    "Replace an item's links in one field",
    'ReplacedReferences',
  ),
  [`POST ${D}/items/is-referenced`]: item(
    'isReferenced',
    'Whether one item refers to another',
    'IsReferenced',
  ),
  [`POST ${D}/items/query-referenced`]: item(
    'queryReferencedDataItems',
    'The items an item refers to in one field',
    'ReferencedItems',
  ),

  [`POST ${D}/collections`]: {
    operationId: 'createDataCollection',
    tag: 'Data collections',
    summary: 'Create a collection',
    response: 'Collection',
  },
  [`PUT ${D}/collections`]: {
    operationId: 'updateDataCollection',
    tag: 'Data collections',
    summary: 'Replace a collection (its revision must match)',
    response: 'Collection',
  },
  [`GET ${D}/collections`]: {
    operationId: 'listDataCollections',
    tag: 'Data collections',
    summary: 'List collections, ordered by id unless sort names another property',
    description:
      'sort.fieldName: id, displayName, createdDate or updatedDate (or _id, _createdDate, _updatedDate); ' +
      'fields: keep only the collection fields with these keys in each collection.',
    response: 'Collections',
  },
  [`GET ${D}/collections/*`]: {
    operationId: 'getDataCollection',
    tag: 'Data collections',
    summary: 'Get a collection',
    description:
      'fields: keep only the collection fields with these keys. A missing collection: 404 WDE0025.',
    response: 'Collection',
    wildcard: 'dataCollectionId',
  },
  [`DELETE ${D}/collections/*`]: {
    operationId: 'deleteDataCollection',
    tag: 'Data collections',
    summary: 'Delete a collection with its items in both environments and its links',
    description:
      'The collection stays restorable for the retention window (SAFEKEEP_COLLECTION_BIN_DAYS, 30 days by ' +
      'default) through Restore Data Collection.',
    response: 'Empty',
    wildcard: 'dataCollectionId',
  },
  [`POST ${D}/collections/restore/*`]: {
    operationId: 'restoreDataCollection',
    tag: 'Data collections',
    summary: 'Bring back a recently deleted collection whole',
    description:
      'Definition, LIVE and SANDBOX items and links in both directions come back in one step, from the ' +
      'most recently deleted copy. 404 WDE0025 when no copy was deleted within the retention window (or ' +
      'the id never existed); 409 COLLECTION_ALREADY_EXISTS while a collection has that id.',
    response: 'RestoredCollection',
    wildcard: 'dataCollectionId',
  },
  [`PATCH ${D}/collections/*`]: {
    operationId: 'patchDataCollection',
    tag: 'Data collections',
    summary: 'Change some properties of a collection, or of one of its fields',
    description:
      'With dataCollection: Patch Data Collection (displayName, displayField, permissions, views; a revision ' +
      'sent must match). At {id}/patch-field with dataCollectionId and field: Patch Data Collection Field ' +
      '(the properties of the field named by field.key). Both increment the revision.',
    response: 'ChangedCollection',
    wildcard: 'dataCollectionId',
  },
  [`POST ${D}/collections/create-field`]: {
    operationId: 'createDataCollectionField',
    tag: 'Data collections',
    summary: 'Add a field to a collection',
    description: '409 FIELD_ALREADY_EXISTS when the collection declares the key already.',
    response: 'ChangedCollection',
  },
  [`POST ${D}/collections/update-field`]: {
    operationId: 'updateDataCollectionField',
    tag: 'Data collections',
    summary: 'Replace one field of a collection, whole',
    description: '404 FIELD_NOT_FOUND when the collection declares no such key.',
    response: 'ChangedCollection',
  },
  [`POST ${D}/collections/delete-field`]: {
    operationId: 'deleteDataCollectionField',
    tag: 'Data collections',
    summary: 'Remove a field from a collection (items keep their values)',
    description: '404 FIELD_NOT_FOUND when the collection declares no such key.',
    response: 'ChangedCollection',
  },
  ...Object.fromEntries(
    unsupportedOperations.map((o): [string, OperationInfo] => [
      `POST ${D}${o.path}`,
      {
        operationId: o.method,
        tag: o.path.startsWith('/items') ? 'Data items' : 'Data collections',
        summary: `Out of scope: ${o.method}`,
        description: `Answers 400 UNSUPPORTED_OPERATION: ${o.why}`,
        response: 'unsupported',
      },
    ]),
  ),

  [`POST ${B}`]: {
    operationId: 'createBackup',
    tag: 'Backups',
    summary: 'Start an on-demand backup',
    description: 'Answers at once with the backup PENDING; follow it with Get Backup.',
    response: 'Backup',
    idempotent: true,
  },
  [`GET ${B}`]: {
    operationId: 'listBackups',
    tag: 'Backups',
    summary: 'List backups, newest first',
    response: 'Backups',
  },
  [`GET ${B}/:backupId`]: {
    operationId: 'getBackup',
    tag: 'Backups',
    summary: 'Get a backup (extension)',
    response: 'Backup',
  },
  [`DELETE ${B}/:backupId`]: {
    operationId: 'deleteBackup',
    tag: 'Backups',
    summary: 'Delete a backup',
    response: 'Empty',
  },
  [`POST ${B}/:backupId/cancel`]: {
    operationId: 'cancelBackup',
    tag: 'Backups',
    summary: 'Cancel a PENDING backup (extension)',
    response: 'Empty',
  },
  [`GET ${B}/:backupId/archive`]: {
    operationId: 'downloadBackup',
    tag: 'Backups',
    summary: 'Download a READY backup as a portable archive (extension)',
    description:
      'Streams one file (`application/zstd`): concatenated zstd frames that decompress to NDJSON — a manifest ' +
      "line with each collection's definition, item and link counts and block checksums, then each " +
      "collection's items (delta layers merged) and links. The format is docs/ARCHIVE-FORMAT.md. " +
      '`Content-Length` is sent when known ahead. 409 BACKUP_DAMAGED: the stored content fails its checks.',
    response: 'archive',
  },
  [`POST ${B}/import`]: {
    operationId: 'importBackup',
    tag: 'Backups',
    summary: 'Create a READY backup of the site from an archive (extension)',
    description:
      'The body is an archive as Download Backup writes it (`Content-Type: application/zstd` or ' +
      '`application/octet-stream`), streamed: not bound by the JSON body limit but by ' +
      '`SAFEKEEP_IMPORT_MAX_BYTES`. Every count and checksum is verified and every item checked as the items ' +
      'API checks it; any refusal (`ARCHIVE_*` codes) creates nothing. The backup has trigger IMPORT: kept ' +
      'until deleted, outside the on-demand limit, counted in the `maxBackupBytes` quota.',
    response: 'Backup',
    archiveBody: true,
  },
  [`POST ${B}/:backupId/verify`]: {
    operationId: 'verifyBackup',
    tag: 'Backups',
    summary: 'Verify a READY backup: its manifest and every chunk, optionally a trial restore (extension)',
    description:
      'Queues a verification job (the one already pending for the backup, if any) and answers it PENDING. ' +
      'Body `{}` or `{ "trialRestore": true }`. The result shows on the backup (`lastVerifiedDate`, ' +
      '`lastVerification`); damage found emits `safekeep.backup_verification_failed`.',
    response: 'Verification',
  },
  [`GET ${B}/verifications/:verificationId`]: {
    operationId: 'getVerification',
    tag: 'Backups',
    summary: 'A verification as it is now (extension)',
    response: 'Verification',
  },
  [`POST ${B}/:backupId/restore`]: {
    operationId: 'restoreBackup',
    tag: 'Restorations',
    summary: 'Restore every collection of a backup into itself',
    description: 'A safety backup of what is replaced makes the restoration undoable.',
    response: 'Restoration',
    idempotent: true,
  },
  [`POST ${B}/:backupId/partial-restore`]: {
    operationId: 'restorePartialBackup',
    tag: 'Restorations',
    summary: 'Restore some collections, optionally into other destinations, or only some of their items',
    description:
      'Extension per collection: `restoreMode` REPLACE_COLLECTION (default) replaces every item; RESTORE_ITEMS ' +
      'with `itemIds` (1–1000) puts those items back as the backup holds them (a listed id the backup lacks is ' +
      'removed from live data); ONLY_MISSING, with or without `itemIds`, brings back the backup items live data ' +
      'lacks and touches nothing else. Item restores need an existing destination (409 ' +
      '`ITEM_RESTORE_DESTINATION_MISSING`), keep its definition, write in place in one transaction, and their ' +
      'safety backup holds exactly the items they changed (restoring it restores only those).',
    response: 'Restoration',
    idempotent: true,
  },
  [`GET ${B}/restorations`]: {
    operationId: 'listRestorations',
    tag: 'Restorations',
    summary: 'List restorations, newest first',
    response: 'Restorations',
  },
  [`GET ${B}/restorations/:restorationId`]: {
    operationId: 'getRestoration',
    tag: 'Restorations',
    summary: 'Get a restoration (extension)',
    response: 'Restoration',
  },

  [`POST ${A}/sites`]: {
    operationId: 'createSite',
    tag: 'Sites',
    summary: 'Create a site',
    response: 'Site',
  },
  [`GET ${A}/sites`]: { operationId: 'listSites', tag: 'Sites', summary: 'List sites', response: 'Sites' },
  [`DELETE ${A}/sites/:id`]: {
    operationId: 'deleteSite',
    tag: 'Sites',
    summary: 'Delete a site with its data, backups and stored content',
    response: 'Empty',
  },
  [`GET ${A}/sites/:id/settings`]: {
    operationId: 'getSiteSettings',
    tag: 'Sites',
    summary: "A site's settings (automatic backups, quotas) and what it uses of its quotas",
    response: 'SettingsWithUsage',
  },
  [`PATCH ${A}/sites/:id/settings`]: {
    operationId: 'updateSiteSettings',
    tag: 'Sites',
    summary: "Change a site's settings (null goes back to the deployment default)",
    response: 'Settings',
  },
  [`POST ${A}/api-keys`]: {
    operationId: 'createApiKey',
    tag: 'API keys',
    summary: 'Create a key; its secret is in this answer only',
    response: 'CreatedApiKey',
  },
  [`GET ${A}/api-keys`]: {
    operationId: 'listApiKeys',
    tag: 'API keys',
    summary: 'List the keys the caller may see',
    response: 'ApiKeys',
  },
  [`DELETE ${A}/api-keys/:id`]: {
    operationId: 'revokeApiKey',
    tag: 'API keys',
    summary: 'Revoke a key',
    response: 'Empty',
  },
  [`POST ${A}/webhooks`]: {
    operationId: 'createWebhook',
    tag: 'Webhooks',
    summary: 'Subscribe a URL to events of a site',
    description:
      '`eventTypes` names some of: `wix.data.v2.backup_backup_state_changed`, ' +
      '`wix.data.v2.backup_restoration_state_changed` (backups and restorations), and the item events ' +
      '`wix.data.v2.data_item_created`, `wix.data.v2.data_item_updated`, `wix.data.v2.data_item_deleted` ' +
      "(Wix's onDataItemCreated/Updated/Deleted: one event per item that an insert, update, save or remove, " +
      'single or bulk, writes in the LIVE environment; truncate, restorations and restoreDataCollection emit ' +
      'none). Item events are written only while a subscription of the site names them.',
    response: 'Webhook',
  },
  [`GET ${A}/webhooks`]: {
    operationId: 'listWebhooks',
    tag: 'Webhooks',
    summary: 'List subscriptions',
    response: 'Webhooks',
  },
  [`GET ${A}/webhooks/public-key`]: {
    operationId: 'getWebhookPublicKey',
    tag: 'Webhooks',
    summary: 'The public key deliveries are signed with (RS256)',
    response: 'PublicKey',
  },
  [`DELETE ${A}/webhooks/:id`]: {
    operationId: 'deleteWebhook',
    tag: 'Webhooks',
    summary: 'Remove a subscription',
    response: 'Empty',
  },
  [`GET ${A}/session`]: {
    operationId: 'getSession',
    tag: 'Overview',
    summary: "The caller's own key and the sites it may act on",
    description: 'Any valid key may call it; it needs no scope.',
    response: 'Session',
  },
  [`GET ${A}/backup-schedule`]: {
    operationId: 'getBackupSchedule',
    tag: 'Overview',
    summary: 'When the next automatic backup of the site is due',
    response: 'BackupSchedule',
  },
  [`GET ${A}/backup-storage`]: {
    operationId: 'getBackupStorage',
    tag: 'Overview',
    summary: "What the site's READY backups take in the blob store, each and together",
    description:
      'Per backup: logical bytes (uncompressed), stored bytes it refers to (each chunk once), and the bytes ' +
      'only it refers to (what deleting it frees); for the site, the stored bytes of all of them (each ' +
      'shared chunk once) and what deduplication saves. Manifests count in each figure.',
    response: 'BackupStorage',
  },
  [`GET ${A}/backup-health`]: {
    operationId: 'getBackupHealth',
    tag: 'Overview',
    summary: "The site's backup health: OK, or OVERDUE when no good backup is recent enough",
    response: 'BackupHealth',
  },
  [`GET ${A}/deleted-collections`]: {
    operationId: 'listDeletedCollections',
    tag: 'Overview',
    summary: "The site's deleted collections that can still be restored, newest deletion first",
    description:
      'Each with its deletion date and the date its retention window ends (then it is purged). Restore one ' +
      'with Restore Data Collection.',
    response: 'DeletedCollections',
  },
  [`POST ${A}/sites/:id/backups/:backupId/copy`]: {
    operationId: 'copyBackup',
    tag: 'Sites',
    summary: 'Copy a READY backup of a site to another site (admin)',
    description:
      'Body `{ "targetSiteId" }`. The backup\'s stored chunks are copied as they are (each checked against its ' +
      'recorded checksum) and a new READY backup of the target site is answered, trigger COPY: kept until ' +
      'deleted, outside the on-demand limit, restorable there like any other.',
    response: 'Backup',
  },
  [`POST ${A}/backups/:backupId/restore-preview`]: {
    operationId: 'previewRestore',
    tag: 'Overview',
    summary: 'What a restoration would change, checked like the restore request, without starting it',
    description:
      'Send `{}` for a full restore or the body of a partial restore. Per destination: whether it exists, ' +
      'its LIVE items now (all replaced) and the items the backup holds for it; `itemsNotInBackup` (live items ' +
      'the restore removes from live data; the safety backup keeps them) and `itemsChanged` (items changed ' +
      'since the backup), each a count with the first 10 ids (null past 250,000 items on both sides).',
    response: 'RestorePreview',
  },

  [`GET ${A}/backups/:backupId/collections`]: {
    operationId: 'listBackupCollections',
    tag: 'Overview',
    summary: 'The collections a READY backup holds, with item counts and fields',
    response: 'BackupCollections',
  },
  [`POST ${A}/backups/:backupId/items/query`]: {
    operationId: 'queryBackupItems',
    tag: 'Overview',
    summary: 'Query the items of a backed-up collection, as live items are queried, without restoring',
    description:
      'The body of Query Data Items (filters, sorts, `fields`, offset or cursor paging, `returnTotalCount`) ' +
      'with the same meaning and answer; `includeReferences`, and `$hasSome`/`$hasAll` on MULTI_REFERENCE ' +
      'fields, are refused with 400. Needs `backups.read`.',
    response: 'DataItems',
  },
  [`POST ${A}/backups/:backupId/items/count`]: {
    operationId: 'countBackupItems',
    tag: 'Overview',
    summary: 'Count the items of a backed-up collection that match a filter',
    response: 'Count',
  },
  [`GET ${A}/backups/:backupId/items/*`]: {
    operationId: 'getBackupItem',
    tag: 'Overview',
    summary: 'One item as a backup holds it (`dataCollectionId` and optional `fields` in the query string)',
    response: 'DataItem',
    wildcard: 'dataItemId',
  },
  [`POST ${A}/backups/:backupId/diff`]: {
    operationId: 'diffBackup',
    tag: 'Overview',
    summary:
      'Compare a backup with live data or another backup: per collection, items added, removed, changed',
    description:
      '`against`: `live` (default) or another READY backup id of the site; `dataCollectionId` limits it to ' +
      'one collection. From the backup to the other side: ADDED items are only on the other side, REMOVED ' +
      'only in the backup, CHANGED in both with different content; definition changes by field key.',
    response: 'BackupDiff',
  },
  [`POST ${A}/backups/:backupId/diff/items`]: {
    operationId: 'diffBackupItems',
    tag: 'Overview',
    summary: 'A page of the item ids that differ in one collection, in id order, with the kind of change',
    response: 'BackupDiffItems',
  },
  [`POST ${A}/backups/:backupId/diff/item`]: {
    operationId: 'diffBackupItem',
    tag: 'Overview',
    summary: 'One item in the backup and on the other side, with the field paths that differ',
    response: 'BackupDiffItem',
  },

  'GET /healthz': {
    operationId: 'health',
    tag: 'Service',
    summary: 'Answers 200 while storage answers',
    description:
      'Public. With `detail=1` it needs an admin key and adds the backup health of the deployment: how ' +
      'many sites are OVERDUE, and which.',
    response: 'Health',
  },
  'GET /metrics': {
    operationId: 'getMetrics',
    tag: 'Service',
    summary: 'Prometheus metrics',
    description:
      'The Prometheus text exposition format. Needs an admin key (`Authorization`), or the metrics token ' +
      'the deployment sets in SAFEKEEP_METRICS_TOKEN (`Authorization: Bearer TOKEN`); checked by the route ' +
      'itself, since a metrics token is not an API key.',
    response: 'metrics',
  },
  'GET /openapi.json': {
    operationId: 'getOpenApiDocument',
    tag: 'Service',
    summary: 'This document',
    response: 'OpenApiDocument',
  },
  'GET /docs': {
    operationId: 'getDocs',
    tag: 'Service',
    summary: 'This document as a page',
    response: 'html',
  },
  'GET /': { operationId: 'getDashboard', tag: 'Service', summary: 'The dashboard', response: 'html' },
  'GET /ui/*': {
    operationId: 'getDashboardFile',
    tag: 'Service',
    summary: "The dashboard's scripts and styles",
    response: 'file',
    wildcard: 'file',
  },
};

/** The documented form of a route's path, and the alias prefix it was registered under (if any). */
export function documentedPath(url: string): { path: string; alias: string | undefined } {
  for (const [alias, documented] of aliasPrefixes) {
    if (url === alias || url.startsWith(`${alias}/`))
      return { path: documented + url.slice(alias.length), alias };
  }
  return { path: url, alias: undefined };
}
