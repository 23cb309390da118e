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
}

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
   * @throws SafekeepApiError 404 `COLLECTION_NOT_FOUND`
   */
  async get(id: string, options: RequestOptions = {}): Promise<Collection> {
    const result = await this.http.request('GET', `${COLLECTIONS}/${pathId(id)}`, { signal: options.signal });
    return field(result, 'collection');
  }

  /** A page of the site's collections, ordered by id. */
  async list(options: ListCollectionsOptions = {}): Promise<CollectionPage> {
    const result = await this.http.request('GET', COLLECTIONS, {
      query: { 'paging.limit': options.limit, 'paging.offset': options.offset },
      signal: options.signal,
    });
    return { collections: field(result, 'collections'), pagingMetadata: field(result, 'pagingMetadata') };
  }

  /**
   * Replaces a collection's definition; `revision` must be the one last read.
   * @throws SafekeepApiError 409 `REVISION_MISMATCH`, 404 `COLLECTION_NOT_FOUND`
   */
  async update(collection: CollectionInput, options: RequestOptions = {}): Promise<Collection> {
    const body: CollectionWriteRequest = { collection: wire(collection) };
    const result = await this.http.request('PUT', COLLECTIONS, { body, signal: options.signal });
    return field(result, 'collection');
  }

  /**
   * Deletes a collection with its items in both environments and its links. It stays restorable with
   * `restoreDeleted` for the deployment's retention window (30 days by default).
   * @throws SafekeepApiError 404 `COLLECTION_NOT_FOUND`
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
