import type {
  AggregateItemsRequest,
  AggregatePipelineRequest,
  AsyncPatchByFilterRequest,
  AsyncRemoveByFilterRequest,
  BulkItemsRequest,
  BulkPatchRequest,
  BulkReferencesRequest,
  BulkRemoveRequest,
  CollectionRequest,
  CountItemsRequest,
  DistinctValuesRequest,
  GetItemRequest,
  IsReferencedRequest,
  RemoveItemRequest,
  PatchItemRequest,
  SearchItemsRequest,
  QueryItemsRequest,
  QueryReferencedRequest,
  ReplaceReferencesRequest,
  SingleItemRequest,
  UpdateItemRequest,
} from '../contracts/data-api.js';
import type {
  BulkReferenceResult,
  BulkResult,
  DataItem,
  DataItemPage,
  DataItemReference,
  Environment,
  FieldModification,
  ItemData,
  ItemFilter,
  ItemPagingMetadata,
  ItemQuery,
  SaveResult,
} from './data-types.js';
import { field, getQuery, pathId, type HttpTransport, type RequestOptions } from './http-transport.js';

/** The state of a job by filter (`asyncJobStatus`). */
export interface AsyncJobStatus {
  readonly status: 'INITIALIZED' | 'PROCESSING' | 'SUCCEEDED' | 'FAILED';
  readonly successCount: number;
  readonly error?: { readonly code: string; readonly message: string };
}

/** Options of every item call. */
export interface ItemOptions extends RequestOptions {
  /** The item set: `LIVE` (default), `SANDBOX` or `SANDBOX_PREFERRED`. */
  readonly environment?: Environment;
}

/** A referenced field to include in an item's data, with at most `limit` items. */
export interface IncludedReference {
  readonly field: string;
  readonly limit?: number;
}

/** Options of `get`. */
export interface GetItemOptions extends ItemOptions {
  /** Only these fields (and `_id`). */
  readonly fields?: readonly string[];
  /** Multi-reference fields to fill with the referenced items. */
  readonly includeReferences?: readonly IncludedReference[];
}

/** Options of `query`. */
export interface QueryOptions extends ItemOptions {
  /** Count every match into `pagingMetadata.total`. */
  readonly returnTotalCount?: boolean;
  readonly includeReferences?: readonly IncludedReference[];
}

/** Options of the writes that replace or modify an existing item. */
export interface ConditionalOptions extends ItemOptions {
  /** A filter the current item must match for the write to happen (409 `CONDITION_NOT_MET` otherwise). */
  readonly condition?: ItemFilter;
}

/** Options of the bulk writes. */
export interface BulkOptions extends ConditionalOptions {
  /** Return each written item in its result. */
  readonly returnEntity?: boolean;
}

/** Options of `queryReferenced`. */
export interface QueryReferencedOptions extends ItemOptions {
  readonly order?: 'ASC' | 'DESC';
  readonly paging?: { readonly limit?: number; readonly offset?: number };
  readonly cursorPaging?: { readonly limit?: number; readonly cursor?: string };
  readonly returnTotalCount?: boolean;
  readonly fields?: readonly string[];
}

const ITEMS = '/wix-data/v2/items';
const BULK = '/wix-data/v2/bulk/items';
const ASYNC_JOBS = '/wix-data/v2/async-jobs';

function environment(options: ItemOptions): { environment?: Environment } {
  return options.environment === undefined ? {} : { environment: options.environment };
}

function condition(options: ConditionalOptions): { condition?: { filter: ItemFilter } } {
  return options.condition === undefined ? {} : { condition: { filter: options.condition } };
}

/**
 * The Data Items API (data-api.md §2) on the documented `/wix-data/v2` paths: one method per operation.
 * Obtain it as `client.items`.
 */
export class ItemsClient {
  constructor(private readonly http: HttpTransport) {}

  /**
   * Inserts an item; `data._id` chooses its id, or one is generated.
   * @throws SafekeepApiError 409 `WDE0074` (the id exists), 404 `WDE0025`, 413 `WDE0109`
   */
  async insert(collectionId: string, data: ItemData, options: ItemOptions = {}): Promise<DataItem> {
    const body: SingleItemRequest = {
      dataCollectionId: collectionId,
      dataItem: { data },
      ...environment(options),
    };
    return field(await this.post(`${ITEMS}`, body, options), 'dataItem');
  }

  /**
   * Reads one item.
   * @throws SafekeepApiError 404 `WDE0073`
   */
  async get(collectionId: string, itemId: string, options: GetItemOptions = {}): Promise<DataItem> {
    const request: GetItemRequest = {
      dataCollectionId: collectionId,
      ...environment(options),
      ...(options.fields && { fields: [...options.fields] }),
      ...(options.includeReferences && {
        includeReferences: options.includeReferences.map((r) => ({ ...r })),
      }),
    };
    const result = await this.http.request('GET', `${ITEMS}/${pathId(itemId)}`, {
      query: getQuery(request),
      signal: options.signal,
    });
    return field(result, 'dataItem');
  }

  /**
   * Replaces an item (`data._id` names it); `_createdDate` and `_owner` are kept.
   * @throws SafekeepApiError 404 `WDE0073`
   */
  async update(
    collectionId: string,
    data: ItemData & { _id: string },
    options: ConditionalOptions = {},
  ): Promise<DataItem> {
    const body: UpdateItemRequest = {
      dataCollectionId: collectionId,
      dataItem: { id: data._id, data },
      ...environment(options),
      ...condition(options),
    };
    return field(await this.post(`${ITEMS}/update`, body, options), 'dataItem');
  }

  /** Inserts the item, or replaces it when `data._id` exists (and matches `condition`, if given). */
  async save(collectionId: string, data: ItemData, options: ConditionalOptions = {}): Promise<SaveResult> {
    const body: UpdateItemRequest = {
      dataCollectionId: collectionId,
      dataItem: { data },
      ...environment(options),
      ...condition(options),
    };
    const result = await this.post(`${ITEMS}/save`, body, options);
    return { action: field(result, 'action'), dataItem: field(result, 'dataItem') };
  }

  /**
   * Applies field modifications, in order, to one item; its other fields stay as they are.
   * @throws SafekeepApiError 404 `WDE0073`, 409 `CONDITION_NOT_MET`, 400 (a modification that does not fit)
   */
  async patch(
    collectionId: string,
    itemId: string,
    modifications: readonly FieldModification[],
    options: ConditionalOptions = {},
  ): Promise<DataItem> {
    const body: PatchItemRequest = {
      dataCollectionId: collectionId,
      patch: { dataItemId: itemId, fieldModifications: [...modifications] },
      ...environment(options),
      ...condition(options),
    };
    return field(await this.post(`${ITEMS}/patch`, body, options), 'dataItem');
  }

  /** Applies the same field modifications to up to 1000 items; each succeeds or fails on its own. */
  async bulkPatch(
    collectionId: string,
    itemIds: readonly string[],
    modifications: readonly FieldModification[],
    options: BulkOptions = {},
  ): Promise<BulkResult> {
    const body: BulkPatchRequest = {
      dataCollectionId: collectionId,
      patches: itemIds.map((dataItemId) => ({ dataItemId, fieldModifications: [...modifications] })),
      ...environment(options),
      ...condition(options),
      ...(options.returnEntity !== undefined && { returnEntity: options.returnEntity }),
    };
    return bulkResult(await this.post(`${BULK}/patch`, body, options));
  }

  /**
   * Removes an item and its reference links (only if it matches `condition`, if given); resolves with
   * the item as it was.
   * @throws SafekeepApiError 404 `WDE0073`, 409 `CONDITION_NOT_MET`
   */
  async remove(collectionId: string, itemId: string, options: ConditionalOptions = {}): Promise<DataItem> {
    const body: RemoveItemRequest = {
      dataCollectionId: collectionId,
      dataItemId: itemId,
      ...environment(options),
      ...condition(options),
    };
    return field(await this.post(`${ITEMS}/remove`, body, options), 'dataItem');
  }

  /** Removes every item of the collection (in the environment given). */
  async truncate(collectionId: string, options: ItemOptions = {}): Promise<void> {
    const body: CollectionRequest = { dataCollectionId: collectionId, ...environment(options) };
    await this.post(`${ITEMS}/truncate`, body, options);
  }

  /**
   * A page of items matching the query. Offset pages carry cursors too, so `pagingMetadata.cursors.next`
   * continues from any page.
   * @throws SafekeepApiError 400 `INVALID_ARGUMENT` for a filter, sort or cursor the server refuses
   */
  async query(
    collectionId: string,
    query: ItemQuery = {},
    options: QueryOptions = {},
  ): Promise<DataItemPage> {
    const body: QueryItemsRequest = {
      dataCollectionId: collectionId,
      query,
      ...environment(options),
      ...(options.returnTotalCount !== undefined && { returnTotalCount: options.returnTotalCount }),
      ...(options.includeReferences && {
        includeReferences: options.includeReferences.map((r) => ({ ...r })),
      }),
    };
    const result = await this.post(`${ITEMS}/query`, body, options);
    return { dataItems: field(result, 'dataItems'), pagingMetadata: field(result, 'pagingMetadata') };
  }

  /** How many items match the filter (all of them without one). */
  async count(collectionId: string, filter?: ItemFilter, options: ItemOptions = {}): Promise<number> {
    const body: CountItemsRequest = {
      dataCollectionId: collectionId,
      ...(filter !== undefined && { filter }),
      ...environment(options),
    };
    return field(await this.post(`${ITEMS}/count`, body, options), 'totalCount');
  }

  /**
   * Query Distinct Values: the distinct values of `fieldName` among the items that match `query.filter`
   * (null and missing values left out), offset-paged.
   */
  async distinct(
    collectionId: string,
    fieldName: string,
    query: Omit<DistinctValuesRequest, 'dataCollectionId' | 'fieldName' | 'environment'> = {},
    options: ItemOptions = {},
  ): Promise<{ distinctValues: unknown[]; pagingMetadata: ItemPagingMetadata }> {
    const body: DistinctValuesRequest = {
      ...query,
      dataCollectionId: collectionId,
      fieldName,
      ...environment(options),
    };
    const result = await this.post(`${ITEMS}/query-distinct-values`, body, options);
    return {
      distinctValues: field(result, 'distinctValues'),
      pagingMetadata: field(result, 'pagingMetadata'),
    };
  }

  /**
   * Aggregate Data Items: filter (`initialFilter`), group (`aggregation.groupingFields`), compute
   * (`aggregation.operations`: average, min, max, sum, itemCount), filter the groups (`finalFilter`), sort, page.
   */
  async aggregate(
    collectionId: string,
    request: Omit<AggregateItemsRequest, 'dataCollectionId' | 'environment'>,
    options: ItemOptions = {},
  ): Promise<{ results: Record<string, unknown>[]; pagingMetadata: ItemPagingMetadata }> {
    const body: AggregateItemsRequest = {
      ...request,
      dataCollectionId: collectionId,
      ...environment(options),
    };
    const result = await this.post(`${ITEMS}/aggregate`, body, options);
    return { results: field(result, 'results'), pagingMetadata: field(result, 'pagingMetadata') };
  }

  /**
   * Aggregate Pipeline Data Items: runs `pipeline.stages` (filter, group, projection, sort, skip, limit,
   * unwindArray, objectToArray, in Wix's shape) over the collection and returns a page of the results.
   * @throws SafekeepApiError 400 (a bad or unsupported stage, named in the message), 404 `WDE0025`
   */
  async aggregatePipeline(
    collectionId: string,
    pipeline: NonNullable<AggregatePipelineRequest['pipeline']>,
    options: ItemOptions & { readonly returnTotalCount?: boolean } = {},
  ): Promise<{ results: Record<string, unknown>[]; pagingMetadata: ItemPagingMetadata }> {
    const body: AggregatePipelineRequest = {
      dataCollectionId: collectionId,
      pipeline,
      ...environment(options),
      ...(options.returnTotalCount !== undefined && { returnTotalCount: options.returnTotalCount }),
    };
    const result = await this.post(`${ITEMS}/aggregate-pipeline`, body, options);
    return { results: field(result, 'results'), pagingMetadata: field(result, 'pagingMetadata') };
  }

  /**
   * Search Data Items: full-text search of the collection's declared TEXT fields (`search.search`:
   * `expression`, `mode` OR/AND, `fuzzy`, `fields` to search), narrowed by `search.filter`, most relevant
   * first (after `search.sort` when given), offset-paged.
   */
  async search(
    collectionId: string,
    search: NonNullable<SearchItemsRequest['search']>,
    options: ItemOptions & { readonly includeReferences?: readonly IncludedReference[] } = {},
  ): Promise<DataItemPage> {
    const body: SearchItemsRequest = {
      dataCollectionId: collectionId,
      search,
      ...environment(options),
      ...(options.includeReferences && {
        includeReferences: options.includeReferences.map((r) => ({ ...r })),
      }),
    };
    const result = await this.post(`${ITEMS}/search`, body, options);
    return { dataItems: field(result, 'dataItems'), pagingMetadata: field(result, 'pagingMetadata') };
  }

  /** Inserts up to 1000 items in one transaction; each entry succeeds or fails on its own. */
  bulkInsert(
    collectionId: string,
    items: readonly ItemData[],
    options: BulkOptions = {},
  ): Promise<BulkResult> {
    return this.bulkWrite('insert', collectionId, items, options);
  }

  /** Replaces up to 1000 items (each `data._id` names one). */
  bulkUpdate(
    collectionId: string,
    items: readonly (ItemData & { _id: string })[],
    options: BulkOptions = {},
  ): Promise<BulkResult> {
    return this.bulkWrite('update', collectionId, items, options);
  }

  /** Inserts or replaces up to 1000 items. */
  bulkSave(collectionId: string, items: readonly ItemData[], options: BulkOptions = {}): Promise<BulkResult> {
    return this.bulkWrite('save', collectionId, items, options);
  }

  /** Removes up to 1000 items by id (those that match `condition`, if given; the others are errors). */
  async bulkRemove(
    collectionId: string,
    itemIds: readonly string[],
    options: BulkOptions = {},
  ): Promise<BulkResult> {
    const body: BulkRemoveRequest = {
      dataCollectionId: collectionId,
      dataItemIds: [...itemIds],
      ...environment(options),
      ...condition(options),
      ...(options.returnEntity !== undefined && { returnEntity: options.returnEntity }),
    };
    return bulkResult(await this.post(`${BULK}/remove`, body, options));
  }

  /** Adds multi-reference links from items of this collection (both ends must exist). */
  insertReferences(
    collectionId: string,
    references: readonly DataItemReference[],
    options: ItemOptions = {},
  ): Promise<BulkReferenceResult> {
    return this.changeReferences('insert', collectionId, references, options);
  }

  /** Removes multi-reference links. */
  removeReferences(
    collectionId: string,
    references: readonly DataItemReference[],
    options: ItemOptions = {},
  ): Promise<BulkReferenceResult> {
    return this.changeReferences('remove', collectionId, references, options);
  }

  /** Makes `referencedItemIds` the only items the field of one item refers to, in that order. */
  async replaceReferences(
    collectionId: string,
    fieldName: string,
    referringItemId: string,
    referencedItemIds: readonly string[],
    options: ItemOptions = {},
  ): Promise<DataItemReference[]> {
    const body: ReplaceReferencesRequest = {
      dataCollectionId: collectionId,
      referringItemFieldName: fieldName,
      referringItemId,
      newReferencedItemIds: [...referencedItemIds],
      ...environment(options),
    };
    return field(await this.post(`${ITEMS}/replace-references`, body, options), 'dataItemReferences');
  }

  /** Whether the field of one item refers to another item. */
  async isReferenced(
    collectionId: string,
    fieldName: string,
    referringItemId: string,
    referencedItemId: string,
    options: ItemOptions = {},
  ): Promise<boolean> {
    const body: IsReferencedRequest = {
      dataCollectionId: collectionId,
      referringItemFieldName: fieldName,
      referringItemId,
      referencedItemId,
      ...environment(options),
    };
    return field(await this.post(`${ITEMS}/is-referenced`, body, options), 'isReferenced');
  }

  /** A page of the items the field of one item refers to, in link order. */
  async queryReferenced(
    collectionId: string,
    referringItemId: string,
    fieldName: string,
    options: QueryReferencedOptions = {},
  ): Promise<DataItemPage> {
    const body: QueryReferencedRequest = {
      dataCollectionId: collectionId,
      referringItemId,
      referringItemFieldName: fieldName,
      ...environment(options),
      ...(options.order && { order: options.order }),
      ...(options.paging && { paging: { ...options.paging } }),
      ...(options.cursorPaging && { cursorPaging: { ...options.cursorPaging } }),
      ...(options.returnTotalCount !== undefined && { returnTotalCount: options.returnTotalCount }),
      ...(options.fields && { fields: [...options.fields] }),
    };
    const result = await this.post(`${ITEMS}/query-referenced`, body, options);
    const results = field<{ dataItem: DataItem }[]>(result, 'results');
    return { dataItems: results.map((r) => r.dataItem), pagingMetadata: field(result, 'pagingMetadata') };
  }

  /**
   * Async Remove Data Items By Filter: starts a job removing every item `filter` keeps (`{}`: all) and
   * returns its id; follow it with `asyncJobStatus` or `waitForAsyncJob`. No item events are sent.
   * @throws SafekeepApiError 400 (a bad filter), 404 `WDE0025`, 429 `RATE_LIMITED` (the site's jobs are many)
   */
  async asyncRemoveByFilter(
    collectionId: string,
    filter: ItemFilter,
    options: ItemOptions = {},
  ): Promise<{ jobId: string }> {
    const body: AsyncRemoveByFilterRequest = {
      dataCollectionId: collectionId,
      filter: { ...filter },
      ...environment(options),
    };
    return { jobId: field(await this.post(`${BULK}/async-remove-by-filter`, body, options), 'jobId') };
  }

  /**
   * Async Patch Data Items By Filter: starts a job applying `fieldModifications` to every item `filter`
   * keeps and returns its id. At an item a modification does not fit the job stops, FAILED.
   * @throws SafekeepApiError 400 (a bad filter or modification), 404 `WDE0025`, 429 `RATE_LIMITED`
   */
  async asyncPatchByFilter(
    collectionId: string,
    filter: ItemFilter,
    fieldModifications: readonly FieldModification[],
    options: ItemOptions = {},
  ): Promise<{ jobId: string }> {
    const body: AsyncPatchByFilterRequest = {
      dataCollectionId: collectionId,
      filter: { ...filter },
      fieldModifications: fieldModifications.map((m) => ({ ...m })),
      ...environment(options),
    };
    return { jobId: field(await this.post(`${BULK}/async-patch-by-filter`, body, options), 'jobId') };
  }

  /**
   * Get Async Job Status: `INITIALIZED` (queued), `PROCESSING`, `SUCCEEDED` or `FAILED`, the items changed
   * so far (`successCount`) and a failed job's `error`.
   * @throws SafekeepApiError 404 `ASYNC_JOB_NOT_FOUND`
   */
  async asyncJobStatus(jobId: string, options: RequestOptions = {}): Promise<AsyncJobStatus> {
    const result = await this.http.request('GET', `${ASYNC_JOBS}/${pathId(jobId)}/status`, {
      signal: options.signal,
    });
    return {
      status: field<AsyncJobStatus['status']>(result, 'status'),
      successCount: Number(result.successCount ?? 0),
      ...(result.error !== undefined && { error: result.error as AsyncJobStatus['error'] }),
    };
  }

  /** Polls `asyncJobStatus` every `pollMs` (500) until the job SUCCEEDED or FAILED; returns that status. */
  async waitForAsyncJob(
    jobId: string,
    options: RequestOptions & { readonly pollMs?: number } = {},
  ): Promise<AsyncJobStatus> {
    for (;;) {
      const status = await this.asyncJobStatus(jobId, options);
      if (status.status === 'SUCCEEDED' || status.status === 'FAILED') return status;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, options.pollMs ?? 500);
        options.signal?.addEventListener(
          'abort',
          () => {
            clearTimeout(timer);
            reject(options.signal?.reason as Error);
          },
          { once: true },
        );
      });
    }
  }

  private async bulkWrite(
    mode: 'insert' | 'update' | 'save',
    collectionId: string,
    items: readonly ItemData[],
    options: BulkOptions,
  ): Promise<BulkResult> {
    const body: BulkItemsRequest = {
      dataCollectionId: collectionId,
      dataItems: items.map((data) => (mode === 'update' ? { id: data._id ?? null, data } : { data })),
      ...environment(options),
      ...condition(options),
      ...(options.returnEntity !== undefined && { returnEntity: options.returnEntity }),
    };
    return bulkResult(await this.post(`${BULK}/${mode}`, body, options));
  }

  private async changeReferences(
    mode: 'insert' | 'remove',
    collectionId: string,
    references: readonly DataItemReference[],
    options: ItemOptions,
  ): Promise<BulkReferenceResult> {
    const body: BulkReferencesRequest = {
      dataCollectionId: collectionId,
      dataItemReferences: references.map((r) => ({ ...r })),
      ...environment(options),
    };
    const result = await this.post(`${BULK}/${mode}-references`, body, options);
    return { results: field(result, 'results'), bulkActionMetadata: field(result, 'bulkActionMetadata') };
  }

  private post(path: string, body: unknown, options: RequestOptions): Promise<Record<string, unknown>> {
    return this.http.request('POST', path, { body, signal: options.signal });
  }
}

function bulkResult(result: Record<string, unknown>): BulkResult {
  return { results: field(result, 'results'), bulkActionMetadata: field(result, 'bulkActionMetadata') };
}
