/**
 * Request schemas of the Wix-compatible Data API (data-api.md). The server validates with exactly these;
 * the OpenAPI document is generated from them. Unknown properties are refused, except the Wix request
 * properties listed in `wixAccepted`, which Wix clients send and which change nothing here.
 */
import Type, { type Static, type TSchema } from 'typebox';
import { RequestInteger } from './request-integer.js';

export const EnvironmentSchema = Type.Union([
  Type.Literal('LIVE'),
  Type.Literal('SANDBOX'),
  Type.Literal('SANDBOX_PREFERRED'),
]);

const CollectionId = Type.String({ minLength: 1, maxLength: 256 });
const ItemId = Type.String({ minLength: 1, maxLength: 128 });
const Json = Type.Unknown();

/** Wix request properties accepted and ignored (hooks, app options, read consistency, translation). */
export const wixAccepted = {
  appId: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  options: Type.Optional(Json),
  suppressHooks: Type.Optional(Type.Boolean()),
  appOptions: Type.Optional(Json),
  publishPluginOptions: Type.Optional(Json),
  consistentRead: Type.Optional(Type.Boolean()),
  language: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  includeFieldGroups: Type.Optional(Type.Array(Type.String())),
  saveReferences: Type.Optional(Type.Boolean()),
  includeReferencedItems: Type.Optional(Json),
};

function request<P extends Record<string, TSchema>>(properties: P) {
  return Type.Object(
    {
      environment: Type.Optional(EnvironmentSchema),
      dataCollectionId: CollectionId,
      ...properties,
      ...wixAccepted,
    },
    { additionalProperties: false },
  );
}

export const DataItemSchema = Type.Object(
  {
    id: Type.Optional(Type.Union([ItemId, Type.Null()])),
    dataCollectionId: Type.Optional(Type.String()),
    data: Type.Optional(Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()])),
  },
  { additionalProperties: false },
);

const IncludedReference = Type.Object(
  {
    field: Type.String({ minLength: 1 }),
    limit: Type.Optional(RequestInteger({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);

export const SingleItemRequest = request({ dataItem: DataItemSchema });
export type SingleItemRequest = Static<typeof SingleItemRequest>;

/**
 * A write's `condition` (Wix's "item will be written only if condition is met"): a filter the current
 * item must match, checked in the write's transaction.
 */
export const ConditionSchema = Type.Object(
  { filter: Type.Optional(Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()])) },
  { additionalProperties: false },
);
export type Condition = Static<typeof ConditionSchema>;

/** Update and save: an item, and optionally the condition the item it replaces must match. */
export const UpdateItemRequest = request({
  dataItem: DataItemSchema,
  condition: Type.Optional(ConditionSchema),
});
export type UpdateItemRequest = Static<typeof UpdateItemRequest>;

const ModificationValue = Type.Object({ value: Type.Optional(Json) }, { additionalProperties: false });

/** One field modification, in the shape the Wix SDK sends (`<action>Options.value`). */
export const FieldModificationSchema = Type.Object(
  {
    fieldPath: Type.String({ minLength: 1, maxLength: 256 }),
    action: Type.Union([
      Type.Literal('SET_FIELD'),
      Type.Literal('REMOVE_FIELD'),
      Type.Literal('INCREMENT_FIELD'),
      Type.Literal('APPEND_TO_ARRAY'),
      Type.Literal('REMOVE_FROM_ARRAY'),
    ]),
    setFieldOptions: Type.Optional(ModificationValue),
    // A number, checked where the modification is read: item values are JSON numbers, not request integers.
    incrementFieldOptions: Type.Optional(ModificationValue),
    appendToArrayOptions: Type.Optional(ModificationValue),
    removeFromArrayOptions: Type.Optional(ModificationValue),
  },
  { additionalProperties: false },
);
export type FieldModificationInput = Static<typeof FieldModificationSchema>;

export const MAX_FIELD_MODIFICATIONS = 1000;

const PatchSchema = Type.Object(
  {
    dataItemId: ItemId,
    fieldModifications: Type.Array(FieldModificationSchema, { maxItems: MAX_FIELD_MODIFICATIONS }),
  },
  { additionalProperties: false },
);

/** Patch Data Item: the item's id and the modifications to apply, optionally under a condition. */
export const PatchItemRequest = request({ patch: PatchSchema, condition: Type.Optional(ConditionSchema) });
export type PatchItemRequest = Static<typeof PatchItemRequest>;

/** PATCH /v2/items/{id} (the documented REST form): the id comes from the path; the body may repeat it. */
export const PatchItemByPathRequest = request({
  patch: Type.Object(
    { ...PatchSchema.properties, dataItemId: Type.Optional(ItemId) },
    { additionalProperties: false },
  ),
  condition: Type.Optional(ConditionSchema),
});
export type PatchItemByPathRequest = Static<typeof PatchItemByPathRequest>;

/** Remove Data Item: the item's id, and optionally the condition the item must match to be removed. */
export const RemoveItemRequest = request({ dataItemId: ItemId, condition: Type.Optional(ConditionSchema) });
export type RemoveItemRequest = Static<typeof RemoveItemRequest>;

/** DELETE /v2/items/{id}: the id comes from the path; the SDK repeats it in the query. */
export const RemoveItemQuery = request({ dataItemId: Type.Optional(ItemId) });
export type RemoveItemQuery = Static<typeof RemoveItemQuery>;

/** GET /v2/items/{id}: the id comes from the path; the SDK repeats it in the query. */
export const GetItemRequest = request({
  dataItemId: Type.Optional(ItemId),
  fields: Type.Optional(Type.Array(Type.String())),
  includeReferences: Type.Optional(Type.Array(IncludedReference)),
});
export type GetItemRequest = Static<typeof GetItemRequest>;

export const CollectionRequest = request({});
export type CollectionRequest = Static<typeof CollectionRequest>;

const Paging = Type.Object(
  {
    limit: Type.Optional(Type.Union([RequestInteger({ minimum: 0, maximum: 1000 }), Type.Null()])),
    offset: Type.Optional(Type.Union([RequestInteger({ minimum: 0 }), Type.Null()])),
  },
  { additionalProperties: false },
);
const CursorPaging = Type.Object(
  {
    limit: Type.Optional(Type.Union([RequestInteger({ minimum: 0, maximum: 1000 }), Type.Null()])),
    cursor: Type.Optional(Type.Union([Type.String({ maxLength: 16384 }), Type.Null()])),
  },
  { additionalProperties: false },
);
const Sorting = Type.Object(
  {
    fieldName: Type.String({ minLength: 1 }),
    order: Type.Optional(Type.Union([Type.Literal('ASC'), Type.Literal('DESC')])),
  },
  { additionalProperties: false },
);

export const QuerySchema = Type.Object(
  {
    filter: Type.Optional(Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()])),
    sort: Type.Optional(Type.Array(Sorting, { maxItems: 8 })),
    paging: Type.Optional(Paging),
    cursorPaging: Type.Optional(CursorPaging),
    fields: Type.Optional(Type.Array(Type.String(), { maxItems: 1000 })),
  },
  { additionalProperties: false },
);

export const QueryItemsRequest = request({
  query: Type.Optional(QuerySchema),
  returnTotalCount: Type.Optional(Type.Boolean()),
  includeReferences: Type.Optional(Type.Array(IncludedReference)),
});
export type QueryItemsRequest = Static<typeof QueryItemsRequest>;

export const CountItemsRequest = request({
  filter: Type.Optional(Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()])),
});
export type CountItemsRequest = Static<typeof CountItemsRequest>;

const FilterObject = Type.Optional(
  Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()]),
);
const FieldName = Type.String({ minLength: 1, maxLength: 256 });
const ItemField = Type.Optional(
  Type.Union([Type.Object({ itemFieldName: FieldName }, { additionalProperties: false }), Type.Null()]),
);

/** Query Distinct Values: the distinct values of one field among the items a filter keeps. */
export const DistinctValuesRequest = request({
  fieldName: Type.Optional(FieldName),
  filter: FilterObject,
  order: Type.Optional(Type.Union([Type.Literal('ASC'), Type.Literal('DESC'), Type.Null()])),
  paging: Type.Optional(Paging),
  cursorPaging: Type.Optional(CursorPaging),
  returnTotalCount: Type.Optional(Type.Boolean()),
});
export type DistinctValuesRequest = Static<typeof DistinctValuesRequest>;

/** One operation of Aggregate Data Items: exactly one of the operation properties. */
const AggregateOperationSchema = Type.Object(
  {
    resultFieldName: FieldName,
    average: ItemField,
    min: ItemField,
    max: ItemField,
    sum: ItemField,
    itemCount: Type.Optional(Type.Union([Type.Object({}, { additionalProperties: false }), Type.Null()])),
  },
  { additionalProperties: false },
);

/** Aggregate Data Items: filter, group, compute, filter the groups, sort, page. */
export const AggregateItemsRequest = request({
  initialFilter: FilterObject,
  aggregation: Type.Optional(
    Type.Object(
      {
        groupingFields: Type.Optional(Type.Array(FieldName, { maxItems: 16 })),
        operations: Type.Optional(Type.Array(AggregateOperationSchema, { maxItems: 64 })),
      },
      { additionalProperties: false },
    ),
  ),
  finalFilter: FilterObject,
  sort: Type.Optional(Type.Array(Sorting, { maxItems: 8 })),
  paging: Type.Optional(Paging),
  cursorPaging: Type.Optional(CursorPaging),
  returnTotalCount: Type.Optional(Type.Boolean()),
});
export type AggregateItemsRequest = Static<typeof AggregateItemsRequest>;

/**
 * Search Data Items' search details: the expression (Wix caps it at 100 characters), how its terms combine,
 * approximate matching, and (as the SDK's `SearchParams.fields` sends it) the TEXT fields searched.
 */
const SearchDetailsSchema = Type.Object(
  {
    expression: Type.Optional(Type.Union([Type.String({ maxLength: 100 }), Type.Null()])),
    mode: Type.Optional(Type.Union([Type.Literal('OR'), Type.Literal('AND'), Type.Null()])),
    fuzzy: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    fields: Type.Optional(Type.Array(FieldName, { maxItems: 20 })),
  },
  { additionalProperties: false },
);

/** Search Data Items: the search, filter, sort, paging and the fields returned (`fields`, as in a query). */
export const SearchItemsRequest = request({
  search: Type.Optional(
    Type.Object(
      {
        search: Type.Optional(SearchDetailsSchema),
        filter: FilterObject,
        sort: Type.Optional(Type.Array(Sorting, { maxItems: 8 })),
        paging: Type.Optional(Paging),
        cursorPaging: Type.Optional(CursorPaging),
        fields: Type.Optional(Type.Array(Type.String(), { maxItems: 1000 })),
      },
      { additionalProperties: false },
    ),
  ),
  includeReferences: Type.Optional(Type.Array(IncludedReference)),
});
export type SearchItemsRequest = Static<typeof SearchItemsRequest>;

export const MAX_BULK_ITEMS = 1000;

export const BulkItemsRequest = request({
  dataItems: Type.Array(DataItemSchema, { maxItems: MAX_BULK_ITEMS }),
  returnEntity: Type.Optional(Type.Boolean()),
  /** Bulk update only (the Wix SDK sends it there): the condition each replaced item must match. */
  condition: Type.Optional(ConditionSchema),
});
export type BulkItemsRequest = Static<typeof BulkItemsRequest>;

/** Bulk Patch Data Items: per-item patches, one condition for all of them. */
export const BulkPatchRequest = request({
  patches: Type.Array(PatchSchema, { maxItems: MAX_BULK_ITEMS }),
  returnEntity: Type.Optional(Type.Boolean()),
  condition: Type.Optional(ConditionSchema),
});
export type BulkPatchRequest = Static<typeof BulkPatchRequest>;

/** Bulk Remove Data Items: ids, one condition for all of them (the Wix SDK sends it). */
export const BulkRemoveRequest = request({
  dataItemIds: Type.Array(ItemId, { maxItems: MAX_BULK_ITEMS }),
  returnEntity: Type.Optional(Type.Boolean()),
  condition: Type.Optional(ConditionSchema),
});
export type BulkRemoveRequest = Static<typeof BulkRemoveRequest>;

const DataItemReference = Type.Object(
  {
    referringItemFieldName: Type.String({ minLength: 1 }),
    referringItemId: ItemId,
    referencedItemId: ItemId,
  },
  { additionalProperties: false },
);

export const BulkReferencesRequest = request({
  dataItemReferences: Type.Array(DataItemReference, { maxItems: MAX_BULK_ITEMS }),
});
export type BulkReferencesRequest = Static<typeof BulkReferencesRequest>;

export const ReplaceReferencesRequest = request({
  referringItemFieldName: Type.String({ minLength: 1 }),
  referringItemId: ItemId,
  newReferencedItemIds: Type.Array(ItemId, { maxItems: MAX_BULK_ITEMS }),
});
export type ReplaceReferencesRequest = Static<typeof ReplaceReferencesRequest>;

export const IsReferencedRequest = request({
  referringItemFieldName: Type.String({ minLength: 1 }),
  referringItemId: ItemId,
  referencedItemId: ItemId,
});
export type IsReferencedRequest = Static<typeof IsReferencedRequest>;

export const QueryReferencedRequest = request({
  referringItemId: Type.Optional(ItemId),
  referringItemIds: Type.Optional(Type.Array(ItemId, { maxItems: 1 })),
  referringItemFieldName: Type.String({ minLength: 1 }),
  order: Type.Optional(Type.Union([Type.Literal('ASC'), Type.Literal('DESC')])),
  paging: Type.Optional(Paging),
  cursorPaging: Type.Optional(CursorPaging),
  returnTotalCount: Type.Optional(Type.Boolean()),
  fields: Type.Optional(Type.Array(Type.String())),
});
export type QueryReferencedRequest = Static<typeof QueryReferencedRequest>;

/** `collection` in create and update requests: the Wix DataCollection plus our `views`. */
export const CollectionSchema = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 256 }),
    displayName: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])),
    collectionType: Type.Optional(Type.String()),
    fields: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }), { maxItems: 1000 })),
    permissions: Type.Optional(Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()])),
    views: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }), { maxItems: 100 })),
    revision: Type.Optional(Type.Union([Type.String(), RequestInteger(), Type.Null()])),
    createdDate: Type.Optional(Json),
    updatedDate: Type.Optional(Json),
    capabilities: Type.Optional(Json),
    ownerAppId: Type.Optional(Json),
    maxPageSize: Type.Optional(Json),
    displayNamespace: Type.Optional(Json),
    displayField: Type.Optional(Json),
    defaultDisplayOrder: Type.Optional(Json),
    plugins: Type.Optional(Json),
    pagingModes: Type.Optional(Json),
    deprecation: Type.Optional(Json),
  },
  { additionalProperties: false },
);

export const CollectionWriteRequest = Type.Object(
  { collection: CollectionSchema, dataCollectionId: Type.Optional(Type.String()) },
  { additionalProperties: false },
);
export type CollectionWriteRequest = Static<typeof CollectionWriteRequest>;

/** Restore Data Collection: the Wix SDK repeats the path's id in the body; a body is optional. */
export const RestoreCollectionRequest = Type.Object(
  { dataCollectionId: Type.Optional(CollectionId) },
  { additionalProperties: false },
);
export type RestoreCollectionRequest = Static<typeof RestoreCollectionRequest>;

/** Async Remove Data Items By Filter: a job removing every item the filter keeps (`{}` or none: all). */
export const AsyncRemoveByFilterRequest = request({ filter: FilterObject });
export type AsyncRemoveByFilterRequest = Static<typeof AsyncRemoveByFilterRequest>;

/** Async Patch Data Items By Filter: a job applying the field modifications to every item the filter keeps. */
export const AsyncPatchByFilterRequest = request({
  filter: FilterObject,
  fieldModifications: Type.Array(FieldModificationSchema, { maxItems: MAX_FIELD_MODIFICATIONS }),
});
export type AsyncPatchByFilterRequest = Static<typeof AsyncPatchByFilterRequest>;

/** GET /v2/async-jobs/{jobId}/status: the id comes from the path; nothing else is read. */
export const AsyncJobStatusQuery = Type.Object(
  { jobId: Type.Optional(Type.String({ maxLength: 128 })) },
  { additionalProperties: false },
);
export type AsyncJobStatusQuery = Static<typeof AsyncJobStatusQuery>;

/**
 * Aggregate Pipeline Data Items: `pipeline.stages` as the SDK's `pipelineBuilder` builds them, each one
 * stage object checked by the service (which names an unsupported stage), then a page of the results.
 */
export const AggregatePipelineRequest = request({
  pipeline: Type.Optional(
    Type.Object(
      {
        stages: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }), { maxItems: 100 })),
        paging: Type.Optional(Paging),
        cursorPaging: Type.Optional(CursorPaging),
      },
      { additionalProperties: false },
    ),
  ),
  returnTotalCount: Type.Optional(Type.Boolean()),
});
export type AggregatePipelineRequest = Static<typeof AggregatePipelineRequest>;
