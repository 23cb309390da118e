/**
 * The Data API's objects (data-api.md §2–§3). Request shapes come from the schemas the server validates
 * with (`src/contracts/data-api.ts`, imported as types only, so nothing of the server is loaded);
 * answers are written out here.
 */
import type { Static } from 'typebox';
import type {
  CollectionSchema,
  EnvironmentSchema,
  FieldModificationInput,
  QuerySchema,
} from '../contracts/data-api.js';

/** Which item set a call works on: `LIVE` (default), `SANDBOX`, or `SANDBOX_PREFERRED` (the sandbox here). */
export type Environment = Static<typeof EnvironmentSchema>;

/** A query: `filter`, `sort`, `paging` (offset, ≤ 1000) or `cursorPaging` (≤ 1000), `fields` to return. */
export type ItemQuery = Static<typeof QuerySchema>;

/** A filter in the Wix query language (`{ year: { $gt: 1950 } }`, `$and`, `$or`, `$not`, ...). */
export type ItemFilter = NonNullable<ItemQuery['filter']>;

/**
 * One field modification of a patch: `{ fieldPath: 'pages', action: 'INCREMENT_FIELD',
 * incrementFieldOptions: { value: 1 } }` (SET_FIELD, REMOVE_FIELD, INCREMENT_FIELD, APPEND_TO_ARRAY,
 * REMOVE_FROM_ARRAY, each with its `<action>Options.value`).
 */
export type FieldModification = FieldModificationInput;

/**
 * A collection as sent to create or update it (a collection read back may be sent as it is); `fields`
 * describe, they do not constrain.
 */
export type CollectionInput = Omit<Static<typeof CollectionSchema>, 'fields' | 'views'> & {
  readonly fields?: readonly object[] | undefined;
  readonly views?: readonly object[] | undefined;
};

/** A date inside item data, as it travels. */
export interface WixDate {
  readonly $date: string;
}

/** An item's fields: the system fields and any others. */
export interface ItemData {
  /** The item's id: set it to choose one, or leave it out to have one generated. */
  readonly _id?: string;
  /** Set by the server on insert. */
  readonly _createdDate?: WixDate;
  /** Set by the server on every write. */
  readonly _updatedDate?: WixDate;
  /** The id of the API key that inserted the item, unless the caller set it. */
  readonly _owner?: string;
  readonly [field: string]: unknown;
}

/** An item as the server returns it. */
export interface DataItem {
  /** The item's id (also `data._id`). */
  readonly id: string;
  /** Its collection. */
  readonly dataCollectionId: string;
  /** Its fields, system fields included. */
  readonly data: ItemData & { readonly _id: string };
}

/** Where a page of items sits. */
export interface ItemPagingMetadata {
  /** Items in this page. */
  readonly count: number;
  /** Items skipped (offset paging). */
  readonly offset?: number;
  /** Items matching in all, when asked for (`returnTotalCount`) or cheap to know. */
  readonly total?: number;
  /** Whether a next page exists. */
  readonly hasNext: boolean;
  /** Cursors of the neighbouring pages (send one as `cursorPaging.cursor`). */
  readonly cursors: { readonly next: string | null; readonly prev: string | null };
}

/** A page of items. */
export interface DataItemPage {
  readonly dataItems: readonly DataItem[];
  readonly pagingMetadata: ItemPagingMetadata;
}

/** What `save` did. */
export interface SaveResult {
  readonly action: 'INSERTED' | 'UPDATED';
  readonly dataItem: DataItem;
}

/** Why one entry of a bulk call failed (e.g. `WDE0074`, `WDE0073`). */
export interface ItemError {
  readonly code: string;
  readonly description: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/** One entry of a bulk call's result, in the order sent. */
export interface BulkItemResult {
  readonly action: 'INSERT' | 'UPDATE' | 'PATCH' | 'DELETE';
  readonly itemMetadata: {
    readonly id: string | null;
    readonly originalIndex: number;
    readonly success: boolean;
    readonly error?: ItemError;
  };
  /** The item as written, when `returnEntity` was asked for and the entry succeeded. */
  readonly dataItem?: DataItem;
}

/** A bulk call's result: one entry per item, and the totals. */
export interface BulkResult {
  readonly results: readonly BulkItemResult[];
  readonly bulkActionMetadata: { readonly totalSuccesses: number; readonly totalFailures: number };
}

/** A multi-reference link: `referringItemId`'s field `referringItemFieldName` refers to `referencedItemId`. */
export interface DataItemReference {
  readonly referringItemFieldName: string;
  readonly referringItemId: string;
  readonly referencedItemId: string;
}

/** The result of adding or removing links. */
export interface BulkReferenceResult {
  readonly results: readonly {
    readonly action: 'INSERT' | 'DELETE';
    readonly referenceMetadata: {
      readonly id: string;
      readonly originalIndex: number;
      readonly success: boolean;
      readonly error?: ItemError;
    };
    readonly dataItemReference: DataItemReference;
  }[];
  readonly bulkActionMetadata: { readonly totalSuccesses: number; readonly totalFailures: number };
}

/** A collection (data-api.md §3). */
export interface Collection {
  readonly id: string;
  readonly displayName: string;
  /** `NATIVE`. */
  readonly collectionType: string;
  /** What the collection supports (read-only): Wix's data and collection operations. */
  readonly capabilities: {
    readonly dataOperations: readonly string[];
    readonly collectionOperations: readonly string[];
  };
  /** The largest page a query returns (read-only). */
  readonly maxPageSize: number;
  /** `OFFSET` and `CURSOR` (read-only). */
  readonly pagingModes: readonly string[];
  /**
   * Field descriptions (`{ key, displayName, type, typeMetadata }`), the system fields (`_id`,
   * `_createdDate`, `_updatedDate`, `_owner`; `systemField: true`) first.
   */
  readonly fields: readonly Readonly<Record<string, unknown>>[];
  readonly permissions?: Readonly<Record<string, unknown>>;
  /** Named views (extension): `{ name, filter, sort, fields }`. */
  readonly views: readonly Readonly<Record<string, unknown>>[];
  /** Increments on every update; send it back to update (int64 string). */
  readonly revision: string;
  readonly createdDate: string;
  readonly updatedDate: string;
  /** Other Wix properties, kept verbatim. */
  readonly [property: string]: unknown;
}

/** A deleted collection that Restore Data Collection can still bring back (the collection bin). */
export interface DeletedCollection {
  /** The collection as it was when it was deleted. */
  readonly collection: Collection;
  readonly deletedDate: string;
  /** When its retention window ends; then it is purged. */
  readonly expirationDate: string;
}

/** A page of collections, ordered by id. */
export interface CollectionPage {
  readonly collections: readonly Collection[];
  readonly pagingMetadata: {
    readonly count: number;
    readonly offset: number;
    readonly total: number;
    readonly hasNext: boolean;
  };
}
