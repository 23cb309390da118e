/**
 * What the routes answer, as JSON Schema (TypeBox), for the OpenAPI document. Requests are described by
 * the schemas the server validates with (`src/contracts`); responses are rendered by hand
 * (`src/http/render.ts`, `backupBody`, ...), so they are described here, and the SDK tests check every
 * answer they receive against these descriptions.
 */
import Type, { type TSchema } from 'typebox';

const ref = (name: keyof typeof componentSchemas): TSchema => Type.Ref(`#/components/schemas/${name}`);
const nullable = (schema: TSchema, options?: { description: string }) =>
  Type.Union([schema, Type.Null()], options);
const Timestamp = Type.String({ format: 'date-time', description: 'ISO-8601 UTC with milliseconds' });
const Int64 = Type.String({ pattern: '^[0-9]+$', description: 'a 64-bit integer as a decimal string' });
const Count = Type.Integer({ minimum: 0 });
const AnyObject = Type.Object({}, { additionalProperties: true });
/** A count of items and the first few of their ids, in id order. */
const IdSample = Type.Object({
  count: Type.Integer({ minimum: 0 }),
  firstIds: Type.Array(Type.String(), { maxItems: 10 }),
});

const Progress = Type.Object(
  { itemsDone: Count, itemsTotal: Count },
  { description: 'How far a PENDING job has come (extension).' },
);
const JobError = Type.Object(
  { code: Type.String(), message: Type.String() },
  { description: 'Why a job FAILED (extension); codes are listed in docs/ERRORS.md.' },
);
const ItemError = Type.Object({ code: Type.String(), description: Type.String(), data: AnyObject });
const BulkActionMetadata = Type.Object({ totalSuccesses: Count, totalFailures: Count });
const DataItemReference = Type.Object({
  referringItemFieldName: Type.String(),
  referringItemId: Type.String(),
  referencedItemId: Type.String(),
});
const ListPaging = Type.Object({ count: Count, offset: Count, total: Count });

/** Named schemas, in `components.schemas`; responses refer to them. */
export const componentSchemas = {
  ErrorResponse: Type.Object(
    {
      message: Type.String({ description: 'What was wrong and what was expected.' }),
      details: Type.Union([
        Type.Object({
          applicationError: Type.Object({
            code: Type.String({ description: 'A code from docs/ERRORS.md.' }),
            description: Type.String(),
            data: AnyObject,
          }),
        }),
        Type.Object({
          validationError: Type.Object({
            fieldViolations: Type.Array(
              Type.Object({ field: Type.String(), description: Type.String(), violatedRule: Type.String() }),
            ),
          }),
        }),
      ]),
    },
    { description: 'Every refusal, whatever its status (backups-api.md §8).' },
  ),
  DataItem: Type.Object(
    {
      id: Type.String(),
      dataCollectionId: Type.String(),
      data: Type.Object(
        {
          _id: Type.String(),
          _createdDate: Type.Optional(Type.Object({ $date: Timestamp })),
          _updatedDate: Type.Optional(Type.Object({ $date: Timestamp })),
          _owner: Type.Optional(Type.String()),
        },
        { additionalProperties: true, description: 'The item: system fields and any others.' },
      ),
    },
    { description: 'An item of a collection (data-api.md §2).' },
  ),
  ItemPagingMetadata: Type.Object({
    count: Count,
    offset: Type.Optional(Count),
    total: Type.Optional(Count),
    hasNext: Type.Boolean(),
    cursors: Type.Object({ next: nullable(Type.String()), prev: nullable(Type.String()) }),
  }),
  Collection: Type.Object(
    {
      id: Type.String(),
      displayName: Type.String(),
      collectionType: Type.String(),
      capabilities: Type.Object(
        {
          dataOperations: Type.Array(Type.String()),
          collectionOperations: Type.Array(Type.String()),
        },
        { description: 'What the collection supports (read-only).' },
      ),
      maxPageSize: Type.Integer({ description: 'The largest page a query returns (read-only).' }),
      pagingModes: Type.Array(Type.String(), { description: 'OFFSET and CURSOR (read-only).' }),
      fields: Type.Array(AnyObject, {
        description: 'The system fields (_id, _createdDate, _updatedDate, _owner; read-only) first.',
      }),
      permissions: Type.Optional(AnyObject),
      views: Type.Array(AnyObject, { description: 'Named views (extension).' }),
      revision: Int64,
      createdDate: Timestamp,
      updatedDate: Timestamp,
    },
    {
      additionalProperties: true,
      description: 'A collection (data-api.md §3); other Wix properties are kept verbatim.',
    },
  ),
  Backup: Type.Object(
    {
      id: Type.String(),
      status: Type.Union(['PENDING', 'READY', 'FAILED', 'DELETED', 'CANCELED'].map((s) => Type.Literal(s))),
      type: Type.Union([Type.Literal('ON_DEMAND'), Type.Literal('AUTO')]),
      requestedDate: Timestamp,
      startedDate: nullable(Timestamp),
      finishedDate: nullable(Timestamp),
      deletedDate: nullable(Timestamp),
      sizeInBytes: nullable(Int64),
      collections: Type.Array(Type.Object({ id: Type.String(), displayName: Type.String() })),
      trigger: Type.Union(
        ['ON_DEMAND', 'SCHEDULE', 'PRE_RESTORE', 'IMPORT', 'COPY'].map((s) => Type.Literal(s)),
      ),
      snapshotDate: nullable(Timestamp),
      itemCount: nullable(Int64),
      progress: nullable(Progress),
      error: nullable(JobError),
      lastVerifiedDate: Type.Optional(nullable(Timestamp)),
      lastVerification: Type.Optional(
        nullable(
          Type.Object({
            result: Type.Union([Type.Literal('PASSED'), Type.Literal('FAILED')]),
            error: nullable(JobError),
          }),
        ),
      ),
    },
    { additionalProperties: false, description: 'A backup (backups-api.md §3).' },
  ),
  Verification: Type.Object(
    {
      id: Type.String(),
      backupId: nullable(Type.String()),
      trigger: Type.Union([Type.Literal('ON_DEMAND'), Type.Literal('SCRUB')]),
      trialRestore: Type.Boolean(),
      status: Type.Union(['PENDING', 'PASSED', 'FAILED'].map((s) => Type.Literal(s))),
      requestedDate: Timestamp,
      startedDate: nullable(Timestamp),
      finishedDate: nullable(Timestamp),
      progress: nullable(Progress),
      error: nullable(JobError),
      backupsVerified: Count,
      chunksRead: Count,
      bytesRead: Int64,
    },
    {
      additionalProperties: false,
      description:
        'A verification (extension): of one backup, or (SCRUB) of the backups of a site due for their ' +
        'periodic check. Progress counts distinct chunks.',
    },
  ),
  SiteHealth: Type.Object({
    siteId: Type.String(),
    state: Type.Union([Type.Literal('OK'), Type.Literal('OVERDUE')]),
    changedDate: nullable(Timestamp),
    lastGoodBackupDate: nullable(Timestamp),
    overdueAfterDate: Timestamp,
  }),
  Restoration: Type.Object(
    {
      id: Type.String(),
      backup: Type.Ref('#/components/schemas/Backup'),
      status: Type.Union(['PENDING', 'COMPLETED', 'FAILED'].map((s) => Type.Literal(s))),
      requestedDate: Timestamp,
      startedDate: nullable(Timestamp),
      finishedDate: nullable(Timestamp),
      restorationCollections: Type.Array(
        Type.Object({
          dataCollectionId: Type.String(),
          restoreDestination: Type.Object({ dataCollectionId: Type.String(), displayName: Type.String() }),
          restoreMode: Type.Optional(
            Type.Union([Type.Literal('RESTORE_ITEMS'), Type.Literal('ONLY_MISSING')], {
              description:
                'Extension, item restores only (absent: the whole collection is replaced): RESTORE_ITEMS puts the listed items back as the backup holds them; ONLY_MISSING brings back the items live data lacks.',
            }),
          ),
          itemIds: Type.Optional(
            Type.Array(Type.String(), { description: 'Extension: the item ids an item restore names.' }),
          ),
        }),
      ),
      safetyBackupId: nullable(Type.String()),
      progress: nullable(Progress),
      error: nullable(JobError),
    },
    { additionalProperties: false, description: 'A restoration (backups-api.md §3).' },
  ),
  Site: Type.Object({ id: Type.String(), name: Type.String(), createdDate: Timestamp }),
  SiteSettings: Type.Object({
    autoBackupIntervalDays: Type.Integer({ minimum: 1 }),
    autoBackupRetention: Type.Integer({ minimum: 1 }),
    maxCollections: Type.Integer({
      minimum: 0,
      description: 'Live collections the site may hold (those in the bin do not count).',
    }),
    maxItems: Type.Integer({
      minimum: 0,
      description: 'Items the site may hold, LIVE and SANDBOX together, over its live collections.',
    }),
    maxBackupBytes: Type.Integer({
      minimum: 0,
      description:
        'Bytes of stored backups plus the item bytes of collections in the bin; an on-demand backup is refused once reached.',
    }),
    maxRequestBodyBytes: Type.Integer({
      minimum: 1024,
      description: "Largest request body for the site, at most the deployment's SAFEKEEP_BODY_LIMIT_MB.",
    }),
  }),
  SiteUsage: Type.Object(
    {
      collections: Type.Integer({ minimum: 0 }),
      items: Type.Integer({ minimum: 0 }),
      backupBytes: Type.Integer({ minimum: 0 }),
    },
    { description: 'What the site uses of maxCollections, maxItems and maxBackupBytes now.' },
  ),
  ApiKey: Type.Object(
    {
      id: Type.String(),
      name: Type.String(),
      siteIds: Type.Array(Type.String()),
      scopes: Type.Array(Type.String()),
      createdDate: Timestamp,
      revokedDate: nullable(Timestamp),
    },
    { description: 'An API key as listed: never its secret.' },
  ),
  Webhook: Type.Object({
    id: Type.String(),
    siteId: Type.String(),
    url: Type.String(),
    eventTypes: Type.Array(Type.String()),
    createdDate: Timestamp,
    status: Type.Union([Type.Literal('ACTIVE'), Type.Literal('BLOCKED')], {
      description:
        "BLOCKED: the webhook address rules refuse the URL's address (loopback, private, link-local, metadata…); " +
        'its events are kept, not sent, until the operator allows the range (SAFEKEEP_WEBHOOK_ALLOWED_CIDRS).',
    }),
    blockedReason: Type.Optional(
      Type.String({ description: 'Which address and range are refused; only when status is BLOCKED.' }),
    ),
  }),
} satisfies Record<string, TSchema>;

const Empty = Type.Object({}, { additionalProperties: false, description: 'An empty object.' });
const DataCollection = Type.Object({ dataCollection: ref('Collection') });

/** The body of each kind of successful answer. */
export const responses = {
  Empty,
  DataItem: Type.Object({ dataItem: ref('DataItem') }),
  SavedDataItem: Type.Object({
    action: Type.Union([Type.Literal('INSERTED'), Type.Literal('UPDATED')]),
    dataItem: ref('DataItem'),
  }),
  DataItems: Type.Object({
    dataItems: Type.Array(ref('DataItem')),
    pagingMetadata: ref('ItemPagingMetadata'),
  }),
  Count: Type.Object({ totalCount: Count }),
  DistinctValues: Type.Object({
    distinctValues: Type.Array(Type.Unknown()),
    pagingMetadata: ref('ItemPagingMetadata'),
  }),
  Aggregate: Type.Object({
    results: Type.Array(Type.Object({}, { additionalProperties: true })),
    pagingMetadata: ref('ItemPagingMetadata'),
  }),
  AsyncJob: Type.Object({ jobId: Type.String() }),
  AsyncJobStatus: Type.Object({
    status: Type.Union(['INITIALIZED', 'PROCESSING', 'SUCCEEDED', 'FAILED'].map((s) => Type.Literal(s))),
    successCount: Count,
    error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
  }),
  BulkItems: Type.Object({
    results: Type.Array(
      Type.Object({
        action: Type.Union(['INSERT', 'UPDATE', 'PATCH', 'DELETE'].map((s) => Type.Literal(s))),
        itemMetadata: Type.Object({
          id: nullable(Type.String()),
          originalIndex: Count,
          success: Type.Boolean(),
          error: Type.Optional(ItemError),
        }),
        dataItem: Type.Optional(ref('DataItem')),
      }),
    ),
    bulkActionMetadata: BulkActionMetadata,
  }),
  BulkReferences: Type.Object({
    results: Type.Array(
      Type.Object({
        action: Type.Union([Type.Literal('INSERT'), Type.Literal('DELETE')]),
        referenceMetadata: Type.Object({
          id: Type.String(),
          originalIndex: Count,
          success: Type.Boolean(),
          error: Type.Optional(ItemError),
        }),
        dataItemReference: DataItemReference,
      }),
    ),
    bulkActionMetadata: BulkActionMetadata,
  }),
  ReplacedReferences: Type.Object({ dataItemReferences: Type.Array(DataItemReference) }),
  IsReferenced: Type.Object({ isReferenced: Type.Boolean() }),
  ReferencedItems: Type.Object({
    results: Type.Array(Type.Object({ dataItem: ref('DataItem') })),
    pagingMetadata: ref('ItemPagingMetadata'),
  }),
  Collection: Type.Object({ collection: ref('Collection') }),
  RestoredCollection: DataCollection,
  ChangedCollection: DataCollection,
  DeletedCollections: Type.Object({
    deletedCollections: Type.Array(
      Type.Object({
        collection: ref('Collection'),
        deletedDate: Timestamp,
        expirationDate: Type.String({
          format: 'date-time',
          description: 'When the retention window ends and the collection is purged.',
        }),
      }),
    ),
  }),
  Collections: Type.Object({
    collections: Type.Array(ref('Collection')),
    pagingMetadata: Type.Object({ count: Count, offset: Count, total: Count, hasNext: Type.Boolean() }),
  }),
  Backup: Type.Object({ backup: ref('Backup') }),
  Backups: Type.Object({ backups: Type.Array(ref('Backup')), pagingMetadata: ListPaging }),
  Restoration: Type.Object({ restoration: ref('Restoration') }),
  Restorations: Type.Object({ restorations: Type.Array(ref('Restoration')), pagingMetadata: ListPaging }),
  Site: Type.Object({ site: ref('Site') }),
  Sites: Type.Object({ sites: Type.Array(ref('Site')) }),
  Settings: Type.Object({ settings: ref('SiteSettings') }),
  SettingsWithUsage: Type.Object({ settings: ref('SiteSettings'), usage: ref('SiteUsage') }),
  CreatedApiKey: Type.Object({
    apiKey: ref('ApiKey'),
    secret: Type.String({ description: 'The key itself, shown only in this answer.' }),
  }),
  ApiKeys: Type.Object({ apiKeys: Type.Array(ref('ApiKey')) }),
  Webhook: Type.Object({ webhook: ref('Webhook') }),
  Webhooks: Type.Object({ webhooks: Type.Array(ref('Webhook')) }),
  PublicKey: Type.Object({ publicKey: Type.String({ description: 'PEM (SPKI) of the RS256 signing key.' }) }),
  Health: Type.Object({
    status: Type.Literal('ok'),
    storage: Type.String(),
    backupHealth: Type.Optional(
      Type.Object(
        {
          sites: Count,
          overdueSites: Count,
          overdue: Type.Array(ref('SiteHealth')),
        },
        {
          description:
            'With `detail=1` and an admin key: every site counted, the OVERDUE ones (up to 100) listed.',
        },
      ),
    ),
  }),
  Verification: Type.Object({ verification: ref('Verification') }),
  BackupHealth: Type.Object({ health: ref('SiteHealth') }),
  BackupStorage: Type.Object({
    storage: Type.Object({
      logicalBytes: Int64,
      storedBytes: Int64,
      deduplicatedBytes: Int64,
      backups: Type.Array(
        Type.Object({
          backupId: Type.String(),
          logicalBytes: Int64,
          storedBytes: Int64,
          exclusiveBytes: Int64,
        }),
      ),
      unreadableBackupIds: Type.Array(Type.String()),
    }),
  }),
  Session: Type.Object({
    apiKey: Type.Object({
      id: Type.String(),
      name: Type.String(),
      siteIds: Type.Array(Type.String()),
      scopes: Type.Array(Type.String()),
      createdDate: Timestamp,
    }),
    sites: Type.Array(ref('Site'), {
      description: 'Every site for an admin key; otherwise the sites the key is bound to.',
    }),
  }),
  BackupSchedule: Type.Object({
    schedule: Type.Object({
      autoBackupIntervalDays: Type.Integer({ minimum: 1 }),
      autoBackupRetention: Type.Integer({ minimum: 1 }),
      nextAutoBackupDate: Timestamp,
    }),
  }),
  RestorePreview: Type.Object({
    preview: Type.Object({
      backupId: Type.String(),
      snapshotDate: nullable(Timestamp),
      collections: Type.Array(
        Type.Object({
          dataCollectionId: Type.String(),
          restoreDestination: Type.Object({ dataCollectionId: Type.String(), displayName: Type.String() }),
          restoreMode: Type.Optional(
            Type.Union([Type.Literal('RESTORE_ITEMS'), Type.Literal('ONLY_MISSING')]),
          ),
          itemIds: Type.Optional(Type.Array(Type.String())),
          destinationExists: Type.Boolean(),
          itemsNowLive: Count,
          itemsInBackup: nullable(Count),
          definition: nullable(
            Type.Object({
              created: Type.Boolean(),
              deleted: Type.Optional(Type.Literal(true)),
              displayName: nullable(Type.Object({ from: nullable(Type.String()), to: Type.String() })),
              addedFields: Type.Array(Type.String()),
              changedFields: Type.Array(Type.String()),
              removedFields: Type.Array(Type.String()),
              viewsReplaced: Type.Boolean(),
              permissionsReplaced: Type.Boolean(),
              conflicts: Type.Array(Type.String()),
            }),
          ),
          itemsNotInBackup: nullable(IdSample, {
            description:
              'Live items the backup lacks: the restore removes them from live data (its safety backup keeps them). Null when the manifest cannot be read or the collection is too large to compare in a review (more than 250,000 items on both sides).',
          }),
          itemsChanged: nullable(IdSample, {
            description:
              'Items on both sides whose content changed since the backup: the restore puts back the backup version.',
          }),
        }),
      ),
      problem: nullable(JobError),
      quota: nullable(
        Type.Object(
          {
            code: Type.Literal('QUOTA_EXCEEDED'),
            message: Type.String(),
            data: Type.Object({
              quota: Type.String(),
              limit: Type.Integer(),
              current: Type.Integer(),
              requested: Type.Optional(Type.Integer()),
            }),
          },
          { description: 'Set when the restoration would be refused with 429 QUOTA_EXCEEDED.' },
        ),
      ),
    }),
  }),
  BackupCollections: Type.Object({
    collections: Type.Array(
      Type.Object({
        id: Type.String(),
        displayName: Type.String(),
        itemCount: Count,
        fields: nullable(Type.Array(Type.Object({}, { additionalProperties: true }))),
      }),
    ),
  }),
  BackupDiff: Type.Object({
    diff: Type.Object({
      backupId: Type.String(),
      against: Type.String({ description: '`live`, or the id of the other backup.' }),
      collections: Type.Array(
        Type.Object({
          dataCollectionId: Type.String(),
          presence: Type.Union(['BOTH', 'BACKUP_ONLY', 'OTHER_ONLY'].map((s) => Type.Literal(s))),
          itemsAdded: Count,
          itemsRemoved: Count,
          itemsChanged: Count,
          definitionChanges: nullable(
            Type.Object({
              fieldsAdded: Type.Array(Type.String()),
              fieldsRemoved: Type.Array(Type.String()),
              fieldsRetyped: Type.Array(
                Type.Object({ key: Type.String(), from: Type.String(), to: Type.String() }),
              ),
            }),
          ),
          method: Type.Union(['CHANGES_SINCE', 'FULL'].map((s) => Type.Literal(s))),
        }),
      ),
    }),
  }),
  BackupDiffItems: Type.Object({
    changes: Type.Array(
      Type.Object({
        dataItemId: Type.String(),
        change: Type.Union(['ADDED', 'REMOVED', 'CHANGED'].map((s) => Type.Literal(s))),
      }),
    ),
    nextCursor: nullable(Type.String()),
  }),
  BackupDiffItem: Type.Object({
    backupItem: nullable(Type.Object({}, { additionalProperties: true })),
    otherItem: nullable(Type.Object({}, { additionalProperties: true })),
    change: nullable(Type.Union(['ADDED', 'REMOVED', 'CHANGED'].map((s) => Type.Literal(s)))),
    differingPaths: Type.Array(Type.String()),
  }),
  OpenApiDocument: Type.Object({ openapi: Type.String() }, { additionalProperties: true }),
} satisfies Record<string, TSchema>;

export type ResponseName = keyof typeof responses;
