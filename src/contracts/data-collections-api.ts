/**
 * Request schemas of the Data Collections methods beyond create, replace and delete (data-api.md §3):
 * list and get options, Patch Data Collection and the field methods, as `@wix/auto_sdk_data_collections`
 * sends them. Unknown properties are refused.
 */
import Type, { type Static } from 'typebox';
import { RequestInteger } from './request-integer.js';

const CollectionId = Type.String({ minLength: 1, maxLength: 256 });
const FieldKey = Type.String({ minLength: 1, maxLength: 1000 });

/** Read options the SDK sends and that change nothing here (every read is consistent). */
const readOptions = {
  consistentRead: Type.Optional(Type.Boolean()),
  includeAllowedDataPermissions: Type.Optional(Type.Boolean()),
};

/** `fields` of Get and List Data Collections: keep only the collection fields with these keys. */
const FieldKeys = Type.Optional(Type.Array(FieldKey, { maxItems: 100 }));

/** GET /v2/collections (List Data Collections); the SDK writes nested fields as `paging.limit`, `sort.order`. */
export const ListCollectionsQuery = Type.Object(
  {
    paging: Type.Optional(
      Type.Object(
        {
          limit: Type.Optional(RequestInteger({ minimum: 0, maximum: 1000 })),
          offset: Type.Optional(RequestInteger({ minimum: 0 })),
        },
        { additionalProperties: false },
      ),
    ),
    sort: Type.Optional(
      Type.Object(
        {
          fieldName: Type.Optional(Type.String({ maxLength: 1000 })),
          order: Type.Optional(Type.Union([Type.Literal('ASC'), Type.Literal('DESC')])),
        },
        { additionalProperties: false },
      ),
    ),
    fields: FieldKeys,
    ...readOptions,
  },
  { additionalProperties: false },
);
export type ListCollectionsQuery = Static<typeof ListCollectionsQuery>;

/** GET /v2/collections/{id} (Get Data Collection): the SDK repeats the path's id in the query. */
export const GetCollectionQuery = Type.Object(
  { dataCollectionId: Type.Optional(CollectionId), fields: FieldKeys, ...readOptions },
  { additionalProperties: false },
);
export type GetCollectionQuery = Static<typeof GetCollectionQuery>;

/**
 * A field mask, as REST clients send it: comma-separated names, or `{ paths }`. The SDK sends none: then
 * every property given is changed.
 */
const FieldMask = Type.Optional(
  Type.Union([
    Type.String({ maxLength: 4096 }),
    Type.Object({ paths: Type.Array(Type.String(), { maxItems: 100 }) }, { additionalProperties: false }),
  ]),
);

/** A field description; its properties are Wix's and are checked by the collection service. */
const Field = Type.Object({ key: FieldKey }, { additionalProperties: true });

/**
 * PATCH /v2/collections/{id} (Patch Data Collection: `dataCollection`) and
 * PATCH /v2/collections/{id}/patch-field (Patch Data Collection Field: `dataCollectionId`, `field`) share
 * a path pattern, since collection ids may contain `/`; the body says which one is meant.
 */
export const PatchCollectionRequest = Type.Object(
  {
    dataCollection: Type.Optional(
      Type.Object({ id: Type.Optional(CollectionId) }, { additionalProperties: true }),
    ),
    dataCollectionId: Type.Optional(CollectionId),
    field: Type.Optional(Field),
    fieldMask: FieldMask,
  },
  { additionalProperties: false },
);
export type PatchCollectionRequest = Static<typeof PatchCollectionRequest>;

/** POST /v2/collections/create-field and /update-field. */
export const CollectionFieldRequest = Type.Object(
  { dataCollectionId: CollectionId, field: Field },
  { additionalProperties: false },
);
export type CollectionFieldRequest = Static<typeof CollectionFieldRequest>;

/** POST /v2/collections/delete-field. */
export const DeleteCollectionFieldRequest = Type.Object(
  { dataCollectionId: CollectionId, fieldKey: FieldKey },
  { additionalProperties: false },
);
export type DeleteCollectionFieldRequest = Static<typeof DeleteCollectionFieldRequest>;
