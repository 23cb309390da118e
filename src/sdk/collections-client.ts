import type { CollectionWriteRequest } from '../contracts/data-api.js';
import type { Collection, CollectionInput, CollectionPage, DeletedCollection } from './data-types.js';
import { field, pathId, type HttpTransport, type RequestOptions } from './http-transport.js';

const COLLECTIONS = '/wix-data/v2/collections';
const DELETED = '/_api/safekeep/v1/deleted-collections';

/** Which page of collections `list` returns. */
export interface ListCollectionsOptions extends RequestOptions {
  /** Page size: default 50, at most 1000. */
  readonly limit?: number;
  /** Collections to skip. */
  readonly offset?: number;
  /** The order: by `id` (the default), `displayName`, `createdDate` or `updatedDate`. */
  readonly sort?: { readonly fieldName: string; readonly order?: 'ASC' | 'DESC' };
  /** Keep only the collection fields with these keys in each collection. */
  readonly fields?: readonly string[];
}

/** The properties Patch Data Collection changes. */
export interface CollectionPatch {
  readonly displayName?: string;
  readonly displayField?: string;
  readonly permissions?: Readonly<Record<string, unknown>>;
  readonly views?: readonly object[];
  /** When given, the collection must still be at this revision (409 `REVISION_MISMATCH` otherwise). */
  readonly revision?: string;
}

/** A field description: `key` names it; the other properties are Wix's (`type`, `displayName`, ...). */
export type CollectionField = { readonly key: string } & Readonly<Record<string, unknown>>;

/** The Data Collections API (data-api.md §3). Obtain it as `client.collections`. */
export class CollectionsClient {
  constructor(private readonly http: HttpTransport) {}

  /**
   * Creates a collection with its field descriptions (and, as an extension, named views).
   * @throws SafekeepApiError 409 `COLLECTION_ALREADY_EXISTS`, 400 `INVALID_ARGUMENT`
   */
  async create(collection: CollectionInput, options: RequestOptions = {}): Promise<Collection> {
    const body: CollectionWriteRequest = { collection: wire(collection) };
    const result = await this.http.request('POST', COLLECTIONS, { body, signal: options.signal });
    return field(result, 'collection');
  }

  /**
   * One collection (ids may contain `/`).
   * @throws SafekeepApiError 404 `WDE0025`
   */
  async get(id: string, options: RequestOptions = {}): Promise<Collection> {
    const result = await this.http.request('GET', `${COLLECTIONS}/${pathId(id)}`, { signal: options.signal });
    return field(result, 'collection');
  }

  /** A page of the site's collections, ordered by id unless `sort` says otherwise. */
  async list(options: ListCollectionsOptions = {}): Promise<CollectionPage> {
    const result = await this.http.request('GET', COLLECTIONS, {
      query: {
        'paging.limit': options.limit,
        'paging.offset': options.offset,
        'sort.fieldName': options.sort?.fieldName,
        'sort.order': options.sort?.order,
        fields: options.fields,
      },
      signal: options.signal,
    });
    return { collections: field(result, 'collections'), pagingMetadata: field(result, 'pagingMetadata') };
  }

  /**
   * Replaces a collection's definition; `revision` must be the one last read.
   * @throws SafekeepApiError 409 `REVISION_MISMATCH`, 404 `WDE0025`
   */
  async update(collection: CollectionInput, options: RequestOptions = {}): Promise<Collection> {
    const body: CollectionWriteRequest = { collection: wire(collection) };
    const result = await this.http.request('PUT', COLLECTIONS, { body, signal: options.signal });
    return field(result, 'collection');
  }

  /**
   * Wix's Patch Data Collection: changes only the properties given; the revision increments.
   * @throws SafekeepApiError 404 `WDE0025`, 409 `REVISION_MISMATCH` (a `revision` given is stale)
   */
  async patch(id: string, changes: CollectionPatch, options: RequestOptions = {}): Promise<Collection> {
    return this.change('PATCH', pathId(id), { dataCollection: { ...changes, id } }, options);
  }

  /**
   * Adds a field to a collection.
   * @throws SafekeepApiError 404 `WDE0025`, 409 `FIELD_ALREADY_EXISTS`, 400 `INVALID_ARGUMENT`
   */
  async createField(
    id: string,
    newField: CollectionField,
    options: RequestOptions = {},
  ): Promise<Collection> {
    return this.change('POST', 'create-field', { dataCollectionId: id, field: newField }, options);
  }

  /**
   * Replaces the field with the same key, whole.
   * @throws SafekeepApiError 404 `WDE0025` or `FIELD_NOT_FOUND`, 400 `INVALID_ARGUMENT`
   */
  async updateField(
    id: string,
    newField: CollectionField,
    options: RequestOptions = {},
  ): Promise<Collection> {
    return this.change('POST', 'update-field', { dataCollectionId: id, field: newField }, options);
  }

  /**
   * Changes only the given properties of the field `changes.key` names.
   * @throws SafekeepApiError 404 `WDE0025` or `FIELD_NOT_FOUND`, 400 `INVALID_ARGUMENT`
   */
  async patchField(id: string, changes: CollectionField, options: RequestOptions = {}): Promise<Collection> {
    return this.change(
      'PATCH',
      `${pathId(id)}/patch-field`,
      { dataCollectionId: id, field: changes },
      options,
    );
  }

  /**
   * Removes a field from a collection's definition; items keep their values.
   * @throws SafekeepApiError 404 `WDE0025` or `FIELD_NOT_FOUND`, 400 `INVALID_ARGUMENT` for a system field
   */
  async deleteField(id: string, fieldKey: string, options: RequestOptions = {}): Promise<Collection> {
    return this.change('POST', 'delete-field', { dataCollectionId: id, fieldKey }, options);
  }

  /** A request that changes part of a collection and answers `{ dataCollection }`. */
  private async change(
    method: 'POST' | 'PATCH',
    path: string,
    body: object,
    options: RequestOptions,
  ): Promise<Collection> {
    const result = await this.http.request(method, `${COLLECTIONS}/${path}`, {
      body,
      signal: options.signal,
    });
    return field(result, 'dataCollection');
  }

  /**
   * Deletes a collection with its items in both environments and its links. It stays restorable with
   * `restoreDeleted` for the deployment's retention window (30 days by default).
   * @throws SafekeepApiError 404 `WDE0025`
   */
  async delete(id: string, options: RequestOptions = {}): Promise<void> {
    await this.http.request('DELETE', `${COLLECTIONS}/${pathId(id)}`, { signal: options.signal });
  }

  /**
   * Wix's Restore Data Collection: brings back the most recently deleted copy of a collection whole
   * (definition, items of both environments, links both ways).
   * @throws SafekeepApiError 404 `WDE0025` (none deleted within the window), 409 `COLLECTION_ALREADY_EXISTS`
   */
  async restoreDeleted(id: string, options: RequestOptions = {}): Promise<Collection> {
    const result = await this.http.request('POST', `${COLLECTIONS}/restore/${pathId(id)}`, {
      body: { dataCollectionId: id },
      signal: options.signal,
    });
    return field(result, 'dataCollection');
  }

  /** The site's deleted collections that can still be restored, newest deletion first. */
  async listDeleted(options: RequestOptions = {}): Promise<readonly DeletedCollection[]> {
    const result = await this.http.request('GET', DELETED, { signal: options.signal });
    return field(result, 'deletedCollections');
  }
}

function wire(collection: CollectionInput): CollectionWriteRequest['collection'] {
  const { fields, views, ...rest } = collection;
  return { ...rest, ...(fields && { fields: [...fields] }), ...(views && { views: [...views] }) };
}
