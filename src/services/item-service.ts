import { AppError, errors, invalidArgument } from '../contracts/errors.js';
import type {
  AggregateItemsRequest,
  AggregatePipelineRequest,
  AsyncPatchByFilterRequest,
  AsyncRemoveByFilterRequest,
  DistinctValuesRequest,
  BulkItemsRequest,
  BulkPatchRequest,
  BulkReferencesRequest,
  BulkRemoveRequest,
  CountItemsRequest,
  GetItemRequest,
  IsReferencedRequest,
  Condition,
  RemoveItemRequest,
  PatchItemRequest,
  QueryItemsRequest,
  QueryReferencedRequest,
  ReplaceReferencesRequest,
  SearchItemsRequest,
  SingleItemRequest,
  UpdateItemRequest,
} from '../contracts/data-api.js';
import { checkCollectionId } from '../domain/collection-id.js';
import { resolveEnvironment, type RequestedEnvironment } from '../domain/environment.js';
import {
  checkItemId,
  composeItem,
  ownerOf,
  readItemInput,
  type ItemInput,
  type StoredItem,
} from '../domain/item-codec.js';
import { parseFieldModifications, patchItem, type FieldModification } from '../domain/field-modifications.js';
import { parseFieldPath } from '../domain/query/field-path.js';
import { matchesFilter } from '../domain/query/match.js';
import { parseFilter, type FilterNode } from '../domain/query/filter.js';
import {
  linkedFilter,
  mayEmbedReferences,
  referenceFieldsOf,
  usesListOperators,
  storeReferencesById,
  type ReferenceField,
} from '../domain/reference-fields.js';
import { runPipeline, parseStages, type Doc } from '../domain/query/pipeline.js';
import { parseSort } from '../domain/query/sort.js';
import { MAX_SEARCH_TERMS, searchTerms, textFieldsOf } from '../domain/text-search.js';
import type { Clock } from '../ports/clock.js';
import type { ItemJobKind, ItemJobRecord } from '../ports/item-job-store.js';
import type {
  AggregateOperation,
  AggregatePage,
  ItemAggregation,
  ItemTarget,
  ItemWriteTx,
  KeysetPosition,
  LinkRef,
  Storage,
} from '../ports/storage.js';
import type { SiteContext } from './auth-service.js';
import type { CursorCodec, CursorState } from './cursor-codec.js';
import { newGuid, newItemId } from './ids.js';
import { checkQuota, type QuotaService } from './quota-service.js';

export const DEFAULT_PAGE = 50;
export const MAX_OFFSET_PAGE = 1000;
export const MAX_CURSOR_PAGE = 1000;
/**
 * The most item JSON one page of a query carries (16 MiB): a page of 1,000 items of 500 KB would be
 * 500 MB, so a page ends early instead, with `hasNext` and a cursor that continues exactly after it.
 */
export const MAX_PAGE_BYTES = 16 * 1024 * 1024;

export type BulkAction = 'INSERT' | 'UPDATE' | 'PATCH' | 'DELETE';

export interface ItemError {
  readonly code: string;
  readonly description: string;
  readonly data: Record<string, unknown>;
}

/** One entry of a bulk response, in the Wix `BulkDataItemResult` shape. */
export interface BulkItemResult {
  readonly action: BulkAction;
  readonly id: string | null;
  readonly originalIndex: number;
  readonly error?: ItemError;
  readonly item?: StoredItem;
}

export interface PagingMetadata {
  readonly count: number;
  readonly offset?: number;
  readonly total?: number;
  readonly hasNext: boolean;
  readonly cursors: { readonly next: string | null; readonly prev: string | null };
}

export interface ItemList {
  readonly items: StoredItem[];
  readonly pagingMetadata: PagingMetadata;
}

export interface ReferenceResult {
  readonly ok: boolean;
  readonly reference: { referringItemFieldName: string; referringItemId: string; referencedItemId: string };
  readonly error?: ItemError;
}

/** How jobs by filter are admitted and started (docs/ARCHITECTURE.md, "Jobs by filter"). */
export interface ItemJobOptions {
  /** PENDING jobs by filter one site may have at once (SAFEKEEP_SITE_BULK_REQUESTS): they are its bulk work. */
  readonly maxPending: number;
  /** Tells the job worker of this process that a job was created. */
  readonly nudge: () => void;
}

/** Wix's AsyncJobStatus for a job's state. */
export type AsyncJobStatus = 'INITIALIZED' | 'PROCESSING' | 'SUCCEEDED' | 'FAILED';

/** Get Async Job Status: Wix's status and successCount, plus what safekeep knows besides. */
export interface AsyncJobStatusView {
  readonly status: AsyncJobStatus;
  readonly successCount: number;
  readonly error?: { readonly code: string; readonly message: string };
}

function asyncJobStatus(job: ItemJobRecord): AsyncJobStatusView {
  const status: AsyncJobStatus =
    job.status === 'COMPLETED'
      ? 'SUCCEEDED'
      : job.status === 'FAILED'
        ? 'FAILED'
        : job.startedAt === null
          ? 'INITIALIZED'
          : 'PROCESSING';
  return {
    status,
    successCount: job.done,
    ...(job.error && { error: { code: job.error.code, message: job.error.message } }),
  };
}

function errorOf(error: AppError): ItemError {
  return { code: error.code, description: error.message, data: { ...error.data } };
}

function limitOf(raw: number | null | undefined, max: number): number {
  return raw === undefined || raw === null || raw === 0 ? DEFAULT_PAGE : Math.min(raw, max);
}

/**
 * The page an aggregation or distinct request asks for. Results are paged by offset only: a cursor is
 * refused (the results carry no `cursors`, so the Wix SDK pages them by offset).
 * @throws AppError INVALID_ARGUMENT when a cursor is given
 */
function offsetPaging(request: {
  paging?: { limit?: number | null; offset?: number | null };
  cursorPaging?: { limit?: number | null; cursor?: string | null };
}): { limit: number; offset: number } {
  if (request.paging && request.cursorPaging) {
    throw invalidArgument('paging', 'use either paging or cursorPaging, not both', 'OTHER');
  }
  if (request.cursorPaging?.cursor) {
    throw invalidArgument(
      'cursorPaging.cursor',
      'aggregations are paged by offset; there is no cursor',
      'OTHER',
    );
  }
  const limit = request.cursorPaging ? request.cursorPaging.limit : request.paging?.limit;
  return { limit: limitOf(limit, MAX_OFFSET_PAGE), offset: request.paging?.offset ?? 0 };
}

function aggregatePaging(page: AggregatePage, offset: number): PagingMetadata {
  return {
    count: page.results.length,
    offset,
    ...(page.total !== undefined && { total: page.total }),
    hasNext: page.hasMore,
    cursors: { next: null, prev: null },
  };
}

/** One operation of an aggregation request: exactly one of average, min, max, sum, itemCount. */
function aggregateOperation(
  raw: NonNullable<NonNullable<AggregateItemsRequest['aggregation']>['operations']>[number],
  i: number,
): AggregateOperation {
  const at = `aggregation.operations[${i}]`;
  const given = (
    [
      ['avg', raw.average],
      ['min', raw.min],
      ['max', raw.max],
      ['sum', raw.sum],
      ['count', raw.itemCount],
    ] as const
  ).filter(([, v]) => v !== undefined && v !== null);
  const [first, second] = given;
  if (!first || second) {
    throw invalidArgument(at, 'needs exactly one of average, min, max, sum and itemCount', 'OTHER');
  }
  const [op, spec] = first;
  const name = raw.resultFieldName;
  if (op === 'count') return { name, op };
  const field = parseFieldPath((spec as { itemFieldName: string }).itemFieldName, `${at}.itemFieldName`);
  return { name, op, field };
}

/** A write's condition, parsed before its transaction: a bad filter is a 400 that changes nothing. */
function conditionOf(condition: Condition | undefined): FilterNode | null {
  return parseFilter(condition?.filter, 'condition.filter');
}

/**
 * Checks a write's condition against the current item, inside the write's transaction so that no other
 * write can change the item between the check and the write.
 * @throws AppError CONDITION_NOT_MET
 */
function checkCondition(condition: FilterNode | null, current: StoredItem): void {
  if (condition !== null && !matchesFilter(condition, JSON.parse(current.json) as Record<string, unknown>))
    throw errors.CONDITION_NOT_MET(current.id);
}

/** Keeps `_id` and the named (possibly dotted) fields of an item's data. */
export function project(item: StoredItem, fields: readonly string[] | undefined): StoredItem {
  if (!fields || fields.length === 0) return item;
  const data = JSON.parse(item.json) as Record<string, unknown>;
  const out: Record<string, unknown> = { _id: data._id };
  fields.forEach((raw, i) => {
    const path = parseFieldPath(raw, `fields[${i}]`);
    let from: unknown = data;
    let to = out;
    path.forEach((segment, depth) => {
      if (typeof from !== 'object' || from === null || !(segment in from)) {
        from = undefined;
        return;
      }
      from = (from as Record<string, unknown>)[segment];
      if (depth === path.length - 1) to[segment] = from;
      else {
        const next = to[segment];
        to = (to[segment] = typeof next === 'object' && next !== null ? next : {}) as Record<string, unknown>;
      }
    });
  });
  return { ...item, json: JSON.stringify(out) };
}

/**
 * The Data Items API (data-api.md §2). Callers pass a SiteContext whose key the HTTP layer has already
 * checked for the route's scope. Every method validates its input into the domain's types and runs as
 * one storage transaction.
 */
export class ItemService {
  constructor(
    private readonly storage: Storage,
    private readonly clock: Clock,
    private readonly cursors: CursorCodec,
    /** Without it (tests of other rules), no quota is checked. */
    private readonly quotas?: QuotaService,
    private readonly jobs: ItemJobOptions = { maxPending: 2, nudge: () => undefined },
  ) {}

  /**
   * The site's maxItems, read before a write's transaction (on SQLite that transaction holds the one
   * connection, so nothing outside it may be read until it ends).
   */
  private async itemLimit(siteId: string): Promise<number> {
    return this.quotas ? (await this.quotas.limits(siteId)).maxItems : Number.POSITIVE_INFINITY;
  }

  /**
   * Refuses a write that would add `added` items over the site's maxItems, inside the write's own
   * transaction (on SQLite, where writes take turns, the check and the write are one step).
   * @throws AppError QUOTA_EXCEEDED
   */
  private static async checkItems(tx: ItemWriteTx, limit: number, added: number): Promise<void> {
    if (added <= 0 || limit === Number.POSITIVE_INFINITY) return;
    checkQuota('maxItems', limit, await tx.siteItemCount(), added);
  }

  private target(
    ctx: SiteContext,
    request: { dataCollectionId: string; environment?: RequestedEnvironment },
  ): ItemTarget {
    return {
      siteId: ctx.siteId,
      collectionId: checkCollectionId(request.dataCollectionId, 'dataCollectionId'),
      environment: resolveEnvironment(request.environment),
    };
  }

  /** Reads one request item, with whole referenced items in REFERENCE fields stored by id. */
  private async readInput(
    target: ItemTarget,
    dataItem: { id?: string | null; data?: unknown },
  ): Promise<ItemInput> {
    const [input] = await this.storeReferencesById(target, [
      readItemInput(dataItem.id, dataItem.data, 'dataItem'),
    ]);
    return input as ItemInput;
  }

  /**
   * Wix accepts a single reference written as the whole referenced item (`{ author: { _id: 'a1', … } }`)
   * and stores its id, so that `eq('author', 'a1')` matches and `include('author')` expands it. The
   * definition is read only when some field holds an object with an `_id`.
   */
  private async storeReferencesById(target: ItemTarget, inputs: ItemInput[]): Promise<ItemInput[]> {
    if (!inputs.some((input) => mayEmbedReferences(input.fields))) return inputs;
    const references = await this.referenceFields(target);
    return inputs.map((input) => ({ ...input, fields: storeReferencesById(input.fields, references) }));
  }

  /** Builds the stored form of an item to insert. */
  private fresh(ctx: SiteContext, input: ItemInput, now: number): StoredItem {
    return composeItem({
      id: input.id ?? newItemId(now),
      owner: input.owner ?? ctx.principal.keyId,
      createdAt: now,
      updatedAt: now,
      fields: input.fields,
    });
  }

  /** Builds the stored form of a replacement, keeping creation date and owner. */
  private replacement(
    ctx: SiteContext,
    input: ItemInput & { id: string },
    existing: StoredItem,
    now: number,
  ): StoredItem {
    return composeItem({
      id: input.id,
      owner: input.owner ?? ownerOf(existing) ?? ctx.principal.keyId,
      createdAt: existing.createdAt,
      updatedAt: Math.max(now, existing.updatedAt),
      fields: input.fields,
    });
  }

  async insert(ctx: SiteContext, request: SingleItemRequest): Promise<StoredItem> {
    const target = this.target(ctx, request);
    const input = await this.readInput(target, request.dataItem);
    const item = this.fresh(ctx, input, this.clock());
    const limit = await this.itemLimit(ctx.siteId);
    return this.storage.items.write(target, async (tx) => {
      if ((await tx.findExisting([item.id])).size > 0) {
        throw errors.WDE0074(item.id);
      }
      await ItemService.checkItems(tx, limit, 1);
      await tx.insert([item]);
      await tx.recordChanges([{ kind: 'created', item }]);
      return item;
    });
  }

  async update(ctx: SiteContext, request: UpdateItemRequest): Promise<StoredItem> {
    const target = this.target(ctx, request);
    const input = await this.readInput(target, request.dataItem);
    const id = input.id;
    if (id === undefined)
      throw invalidArgument('dataItem.id', 'the id of the item to update is required', 'REQUIRED_FIELD');
    const condition = conditionOf(request.condition);
    const now = this.clock();
    return this.storage.items.write(target, async (tx) => {
      const existing = (await tx.findExisting([id])).get(id);
      if (!existing) throw errors.WDE0073(id);
      checkCondition(condition, existing);
      const item = this.replacement(ctx, { ...input, id }, existing, now);
      await tx.update([item]);
      await tx.recordChanges([{ kind: 'updated', item }]);
      return item;
    });
  }

  /** Insert or replace; a condition applies to the item it would replace (a new item has none). */
  async save(
    ctx: SiteContext,
    request: UpdateItemRequest,
  ): Promise<{ action: 'INSERTED' | 'UPDATED'; item: StoredItem }> {
    const target = this.target(ctx, request);
    const input = await this.readInput(target, request.dataItem);
    const condition = conditionOf(request.condition);
    const now = this.clock();
    const limit = await this.itemLimit(ctx.siteId);
    return this.storage.items.write(target, async (tx) => {
      const id = input.id;
      const existing = id === undefined ? undefined : (await tx.findExisting([id])).get(id);
      if (existing && id !== undefined) {
        checkCondition(condition, existing);
        const item = this.replacement(ctx, { ...input, id }, existing, now);
        await tx.update([item]);
        await tx.recordChanges([{ kind: 'updated', item }]);
        return { action: 'UPDATED', item };
      }
      const item = this.fresh(ctx, input, now);
      await ItemService.checkItems(tx, limit, 1);
      await tx.insert([item]);
      await tx.recordChanges([{ kind: 'created', item }]);
      return { action: 'INSERTED', item };
    });
  }

  async get(ctx: SiteContext, id: string, request: GetItemRequest): Promise<StoredItem> {
    const target = this.target(ctx, request);
    const itemId = checkItemId(id, 'dataItemId');
    const found = await this.storage.items.get(target, itemId);
    if (!found) throw errors.WDE0073(itemId);
    const [withRefs] = await this.includeReferences(target, [found], request.includeReferences);
    return project(withRefs ?? found, request.fields);
  }

  async remove(ctx: SiteContext, request: RemoveItemRequest): Promise<StoredItem> {
    const target = this.target(ctx, request);
    const id = checkItemId(request.dataItemId, 'dataItemId');
    const condition = conditionOf(request.condition);
    return this.storage.items.write(target, async (tx) => {
      const existing = (await tx.findExisting([id])).get(id);
      if (!existing) throw errors.WDE0073(id);
      checkCondition(condition, existing);
      await tx.remove([id]);
      await tx.recordChanges([{ kind: 'deleted', item: existing }]);
      return existing;
    });
  }

  async truncate(
    ctx: SiteContext,
    request: { dataCollectionId: string; environment?: RequestedEnvironment },
  ): Promise<void> {
    await this.storage.items.write(this.target(ctx, request), (tx) => tx.truncate());
  }

  async count(ctx: SiteContext, request: CountItemsRequest): Promise<number> {
    const target = this.target(ctx, request);
    return this.storage.items.count(target, await this.withLinkFilters(target, parseFilter(request.filter)));
  }

  /**
   * Query Distinct Values: the distinct non-null values of one field among the items the filter keeps,
   * ordered by the value (ASC unless `order` says DESC), computed in the database as a grouping.
   * @throws AppError INVALID_ARGUMENT, WDE0025
   */
  async distinct(
    ctx: SiteContext,
    request: DistinctValuesRequest,
  ): Promise<{ distinctValues: unknown[]; pagingMetadata: PagingMetadata }> {
    const fieldName = request.fieldName;
    if (fieldName === undefined) throw invalidArgument('fieldName', 'is required', 'REQUIRED_FIELD');
    const field = parseFieldPath(fieldName, 'fieldName');
    const target = this.target(ctx, request);
    const paging = offsetPaging(request);
    const filter = await this.withLinkFilters(target, parseFilter(request.filter ?? null, 'filter'));
    const present: FilterNode = { kind: 'exists', field, exists: true };
    const page = await this.storage.items.aggregate(target, {
      filter: filter ? { kind: 'and', nodes: [filter, present] } : present,
      groupBy: [{ key: fieldName, field }],
      operations: [],
      having: null,
      sort: [{ field: [fieldName], order: request.order ?? 'ASC' }],
      ...paging,
      withTotal: request.returnTotalCount === true,
    });
    return {
      distinctValues: page.results.map((r) => r[fieldName]),
      pagingMetadata: aggregatePaging(page, paging.offset),
    };
  }

  /**
   * Aggregate Data Items: filter (`initialFilter`), group by `groupingFields`, compute the operations per
   * group, filter the groups (`finalFilter`), sort and page, in the database.
   * @throws AppError INVALID_ARGUMENT, WDE0025
   */
  async aggregate(
    ctx: SiteContext,
    request: AggregateItemsRequest,
  ): Promise<{ results: Record<string, unknown>[]; pagingMetadata: PagingMetadata }> {
    const target = this.target(ctx, request);
    const paging = offsetPaging(request);
    const groupBy = (request.aggregation?.groupingFields ?? []).map((key, i) => ({
      key,
      field: parseFieldPath(key, `aggregation.groupingFields[${i}]`),
    }));
    const operations = (request.aggregation?.operations ?? []).map(aggregateOperation);
    const names = new Set(['_id']);
    for (const name of [...groupBy.map((g) => g.key), ...operations.map((o) => o.name)]) {
      if (names.has(name))
        throw invalidArgument('aggregation', `names the result field ${name} twice`, 'OTHER');
      names.add(name);
    }
    const aggregation: ItemAggregation = {
      filter: await this.withLinkFilters(target, parseFilter(request.initialFilter ?? null, 'initialFilter')),
      groupBy,
      operations,
      having: parseFilter(request.finalFilter ?? null, 'finalFilter'),
      sort: parseSort(request.sort ?? [], 'sort'),
      ...paging,
      withTotal: request.returnTotalCount === true,
    };
    const page = await this.storage.items.aggregate(target, aggregation);
    return { results: page.results, pagingMetadata: aggregatePaging(page, paging.offset) };
  }

  /**
   * Starts a job by filter (Async Remove / Patch Data Items By Filter): checks the request, that the
   * collection exists and that the site is under its limit of pending jobs, then queues the job for the
   * worker. The items are changed in the background, a batch per transaction; no item events are sent.
   * @throws AppError INVALID_ARGUMENT, WDE0025, RATE_LIMITED (`SITE_BULK_REQUESTS`)
   */
  async startItemJob(
    ctx: SiteContext,
    kind: ItemJobKind,
    request: AsyncRemoveByFilterRequest | AsyncPatchByFilterRequest,
  ): Promise<{ jobId: string }> {
    const target = this.target(ctx, request);
    const filter = request.filter ?? {};
    // Checked now, so that a bad filter or modification is a 400 rather than a failed job.
    parseFilter(filter, 'filter');
    const modifications = 'fieldModifications' in request ? request.fieldModifications : null;
    if (kind === 'PATCH') parseFieldModifications(modifications ?? [], 'fieldModifications');
    // The collection must exist (WDE0025); the job reads its definition again for MULTI_REFERENCE lists.
    await this.referenceFields(target);
    const now = this.clock();
    const job = await this.storage.itemJobs.create(
      {
        id: newGuid(),
        siteId: target.siteId,
        collectionId: target.collectionId,
        environment: target.environment,
        kind,
        filter,
        modifications: kind === 'PATCH' ? (modifications ?? []) : null,
        ownerKeyId: ctx.principal.keyId,
        requestedAt: now,
      },
      this.jobs.maxPending,
    );
    this.jobs.nudge();
    return { jobId: job.id };
  }

  /** Get Async Job Status. @throws AppError ASYNC_JOB_NOT_FOUND (another site's job included) */
  async asyncJobStatus(ctx: SiteContext, jobId: string): Promise<AsyncJobStatusView> {
    const job = await this.storage.itemJobs.get(ctx.siteId, jobId);
    if (!job) throw errors.ASYNC_JOB_NOT_FOUND(jobId);
    return asyncJobStatus(job);
  }

  /**
   * Aggregate Pipeline Data Items: the leading `filter` stages select the items in the database; the
   * items are then streamed in id order (pages of 1,000, a turn of the event loop between pages) through
   * the other stages (src/domain/query/pipeline.ts), of which only `group` and `sort` hold results, and
   * those at most MAX_HELD. A page of the results is returned; reading stops once it is full unless the
   * total is asked for.
   * @throws AppError INVALID_ARGUMENT (a bad or unsupported stage, named), WDE0025
   */
  async aggregatePipeline(
    ctx: SiteContext,
    request: AggregatePipelineRequest,
  ): Promise<{ results: Doc[]; pagingMetadata: PagingMetadata }> {
    const target = this.target(ctx, request);
    const pipeline = request.pipeline ?? {};
    const stages = parseStages(pipeline.stages, 'pipeline.stages');
    const paging = offsetPaging({
      ...(pipeline.paging && { paging: pipeline.paging }),
      ...(pipeline.cursorPaging && { cursorPaging: pipeline.cursorPaging }),
    });
    let lead = 0;
    const filters: FilterNode[] = [];
    for (let stage = stages[0]; stage?.kind === 'filter'; stage = stages[++lead]) {
      if (stage.filter) filters.push(stage.filter);
    }
    const selected: FilterNode | null =
      filters.length === 0 ? null : filters.length === 1 ? filters[0]! : { kind: 'and', nodes: filters };
    const filter = await this.withLinkFilters(target, selected);
    // The collection must exist even when the pipeline stops before reading anything.
    await this.referenceFields(target);
    const withTotal = request.returnTotalCount === true;
    const results: Doc[] = [];
    let seen = 0;
    let hasNext = false;
    for await (const doc of runPipeline(stages.slice(lead), this.streamItems(target, filter), lead)) {
      if (results.length >= paging.limit) {
        hasNext = true;
        if (!withTotal) break;
      } else if (seen >= paging.offset) results.push(doc);
      seen += 1;
    }
    return {
      results,
      pagingMetadata: aggregatePaging(
        { results, hasMore: hasNext, ...(withTotal && { total: seen }) },
        paging.offset,
      ),
    };
  }

  /** The items `filter` keeps, in id order, read a page at a time. */
  private async *streamItems(target: ItemTarget, filter: FilterNode | null): AsyncGenerator<Doc> {
    let after: KeysetPosition | undefined;
    for (;;) {
      const page = await this.storage.items.query(target, {
        filter,
        sort: [],
        limit: MAX_OFFSET_PAGE,
        maxBytes: MAX_PAGE_BYTES,
        ...(after && { after }),
      });
      for (const item of page.items) yield JSON.parse(item.json) as Doc;
      if (!page.hasMore || !page.last) return;
      after = page.last;
      // Other requests run between pages: on SQLite every statement runs on the event loop.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /**
   * Search Data Items: the items whose declared TEXT fields (all, or those `search.search.fields` names)
   * hold the expression's words — or, with `fuzzy`, words like them — most relevant first (exact words
   * before similar ones), narrowed by the filter, ordered by `sort` first when one is given, paged by
   * offset. `search.fields` chooses the fields returned, as in a query.
   * @throws AppError INVALID_ARGUMENT, WDE0025
   */
  async search(ctx: SiteContext, request: SearchItemsRequest): Promise<ItemList> {
    const target = this.target(ctx, request);
    const body = request.search ?? {};
    if (body.paging && body.cursorPaging) {
      throw invalidArgument('search', 'use either paging or cursorPaging, not both', 'OTHER');
    }
    if (body.cursorPaging?.cursor) {
      throw invalidArgument(
        'search.cursorPaging.cursor',
        'search results are paged by offset; there is no cursor',
        'OTHER',
      );
    }
    const limit = limitOf(body.cursorPaging ? body.cursorPaging.limit : body.paging?.limit, MAX_OFFSET_PAGE);
    const offset = body.paging?.offset ?? 0;
    const details = body.search ?? {};
    const at = 'search.search.expression';
    if (!details.expression || details.expression.trim() === '') {
      throw invalidArgument(at, 'is required: the text to search for', 'REQUIRED_FIELD');
    }
    const terms = searchTerms(details.expression);
    if (terms.length === 0) throw invalidArgument(at, 'holds no word (letters or digits) to search for');
    if (terms.length > MAX_SEARCH_TERMS) {
      throw invalidArgument(at, `holds more than ${MAX_SEARCH_TERMS} distinct words`);
    }
    const collection = await this.storage.collections.get(target.siteId, target.collectionId);
    if (!collection) throw errors.WDE0025(target.collectionId);
    const searchable = textFieldsOf(collection.fields);
    if (searchable.length === 0) {
      throw invalidArgument(
        'dataCollectionId',
        `${target.collectionId} declares no TEXT field: only declared TEXT fields are searched`,
        'OTHER',
      );
    }
    const named = details.fields ?? [];
    named.forEach((field, i) => {
      if (!searchable.includes(field)) {
        throw invalidArgument(
          `search.search.fields[${i}]`,
          `${field} is not a TEXT field of ${target.collectionId} (searchable: ${searchable.join(', ')})`,
        );
      }
    });
    const fields = named.length > 0 ? [...new Set(named)] : searchable;
    const filter = await this.withLinkFilters(target, parseFilter(body.filter ?? null, 'search.filter'));
    const page = await this.storage.items.search(target, {
      search: { terms, mode: details.mode ?? 'OR', fuzzy: details.fuzzy === true, fields },
      filter,
      sort: parseSort(body.sort ?? [], 'search.sort'),
      limit,
      offset,
      maxBytes: MAX_PAGE_BYTES,
    });
    const withRefs = await this.includeReferences(target, page.items, request.includeReferences);
    return {
      items: withRefs.map((item) => project(item, body.fields)),
      pagingMetadata: {
        count: page.items.length,
        offset,
        hasNext: page.hasMore,
        cursors: { next: null, prev: null },
      },
    };
  }

  /** The collection's declared reference fields. @throws AppError WDE0025 */
  private async referenceFields(target: ItemTarget): Promise<Map<string, ReferenceField>> {
    const collection = await this.storage.collections.get(target.siteId, target.collectionId);
    if (!collection) {
      throw errors.WDE0025(target.collectionId);
    }
    return referenceFieldsOf(collection.fields);
  }

  /**
   * Rewrites `$hasSome`/`$hasAll` on MULTI_REFERENCE fields into link lookups: those fields' values live in
   * the link store, not in the item (Wix: "hasSome … items whose multi-reference field references any of
   * the given items"). The definition is read only when the filter has such an operator.
   */
  private async withLinkFilters(target: ItemTarget, filter: FilterNode | null): Promise<FilterNode | null> {
    if (filter === null || !usesListOperators(filter)) return filter;
    return linkedFilter(filter, await this.referenceFields(target));
  }

  async query(ctx: SiteContext, request: QueryItemsRequest): Promise<ItemList> {
    const query = request.query ?? {};
    if (query.paging && query.cursorPaging) {
      throw invalidArgument('query', 'use either paging or cursorPaging, not both', 'OTHER');
    }
    const token = query.cursorPaging?.cursor;
    let target = this.target(ctx, request);
    let state: Omit<CursorState, 'position' | 'direction'>;
    let after: KeysetPosition | undefined;
    let backwards = false;
    let offset = 0;
    if (token) {
      const hasFilter = query.filter && Object.keys(query.filter).length > 0;
      if (hasFilter || (query.sort && query.sort.length > 0)) {
        throw invalidArgument(
          'query',
          'a cursor already carries its filter and sort; send only the cursor',
          'OTHER',
        );
      }
      const decoded = this.cursors.decode(ctx.siteId, token);
      if (decoded.collectionId !== target.collectionId) {
        throw invalidArgument('cursorPaging.cursor', 'belongs to another collection', 'FORMAT');
      }
      target = { ...target, environment: decoded.environment };
      state = {
        ...decoded,
        limit: query.cursorPaging?.limit ? limitOf(query.cursorPaging.limit, MAX_CURSOR_PAGE) : decoded.limit,
      };
      after = decoded.position;
      backwards = decoded.direction === 'before';
    } else {
      const cursorMode = query.cursorPaging !== undefined;
      state = {
        collectionId: target.collectionId,
        environment: target.environment,
        filter: query.filter ?? null,
        sort: query.sort ?? [],
        limit: cursorMode
          ? limitOf(query.cursorPaging?.limit, MAX_CURSOR_PAGE)
          : limitOf(query.paging?.limit, MAX_OFFSET_PAGE),
      };
      offset = cursorMode ? 0 : (query.paging?.offset ?? 0);
    }
    const filter = await this.withLinkFilters(
      target,
      parseFilter(state.filter, token ? 'cursor.filter' : 'query.filter'),
    );
    const sort = parseSort(state.sort, token ? 'cursor.sort' : 'query.sort');
    const page = await this.storage.items.query(target, {
      filter,
      sort,
      limit: state.limit,
      maxBytes: MAX_PAGE_BYTES,
      offset,
      after,
      backwards,
      withTotal: request.returnTotalCount === true,
    });
    const cursor = (position: KeysetPosition | undefined, direction: 'after' | 'before') =>
      position ? this.cursors.encode(ctx.siteId, { ...state, position, direction }) : null;
    const moreAfter = backwards ? page.items.length > 0 : page.hasMore;
    const moreBefore = backwards ? page.hasMore : after !== undefined || offset > 0;
    const withRefs = await this.includeReferences(target, page.items, request.includeReferences);
    return {
      items: withRefs.map((item) => project(item, query.fields)),
      pagingMetadata: {
        count: page.items.length,
        ...(token || query.cursorPaging ? {} : { offset }),
        ...(page.total !== undefined && { total: page.total }),
        hasNext: moreAfter,
        cursors: {
          next: moreAfter ? cursor(page.last, 'after') : null,
          prev: moreBefore ? cursor(page.first, 'before') : null,
        },
      },
    };
  }

  /**
   * Attaches referenced items as Wix's `includeReferences` does: a REFERENCE field's id becomes the
   * referenced item (an id whose item is gone stays as it is), a MULTI_REFERENCE field becomes the list of
   * its linked items (at most `limit`, in link order).
   * @throws AppError INVALID_ARGUMENT for a field that is not a reference field
   */
  private async includeReferences(
    target: ItemTarget,
    items: StoredItem[],
    include: readonly { field: string; limit?: number }[] | undefined,
  ): Promise<StoredItem[]> {
    if (!include || include.length === 0 || items.length === 0) return items;
    const references = await this.referenceFields(target);
    const resolved = include.map((inc, i) => {
      const declared = references.get(inc.field);
      if (!declared) {
        throw invalidArgument(
          `includeReferences[${i}].field`,
          `${inc.field} is not a REFERENCE or MULTI_REFERENCE field of ${target.collectionId}`,
        );
      }
      return { ...inc, declared };
    });
    const parsed = items.map((item) => JSON.parse(item.json) as Record<string, unknown>);
    for (const inc of resolved) {
      const { declared } = inc;
      if (!declared.multiple) {
        const ids = parsed.flatMap((data) => (typeof data[inc.field] === 'string' ? [data[inc.field]] : []));
        const found = await this.itemsById(
          { ...target, collectionId: declared.referencedCollectionId },
          ids as string[],
        );
        for (const data of parsed) {
          const referenced = found.get(data[inc.field] as string);
          if (referenced !== undefined) data[inc.field] = JSON.parse(referenced.json) as unknown;
        }
        continue;
      }
      for (const [i, item] of items.entries()) {
        const { items: linked } = await this.storage.links.queryReferenced(
          target,
          inc.field,
          item.id,
          declared.referencedCollectionId,
          { limit: inc.limit ?? DEFAULT_PAGE, offset: 0, descending: false, withTotal: false },
        );
        const data = parsed[i];
        if (data) data[inc.field] = linked.map((r) => JSON.parse(r.json) as unknown);
      }
    }
    return items.map((item, i) => ({ ...item, json: JSON.stringify(parsed[i]) }));
  }

  /** The items among `ids` of a collection (a missing collection holds none), read a bounded page at a time. */
  private async itemsById(target: ItemTarget, ids: readonly string[]): Promise<Map<string, StoredItem>> {
    const found = new Map<string, StoredItem>();
    const distinct = [...new Set(ids)];
    if (distinct.length === 0) return found;
    const filter: FilterNode = {
      kind: 'in',
      field: ['_id'],
      values: distinct.map((value) => ({ type: 'string', value })),
    };
    let after: KeysetPosition | undefined;
    try {
      for (;;) {
        const page = await this.storage.items.query(target, {
          filter,
          sort: [],
          limit: MAX_OFFSET_PAGE,
          maxBytes: MAX_PAGE_BYTES,
          after,
        });
        for (const item of page.items) found.set(item.id, item);
        if (!page.hasMore || !page.last) return found;
        after = page.last;
      }
    } catch (error) {
      if (error instanceof AppError && error.code === 'WDE0025') return found;
      throw error;
    }
  }

  async bulkWrite(
    ctx: SiteContext,
    mode: 'insert' | 'update' | 'save',
    request: BulkItemsRequest,
  ): Promise<BulkItemResult[]> {
    const target = this.target(ctx, request);
    if (mode === 'insert' && request.condition !== undefined)
      throw invalidArgument(
        'condition',
        'applies to items that exist: bulk update or save',
        'FIELD_NOT_ALLOWED',
      );
    const condition = conditionOf(request.condition);
    const now = this.clock();
    const results: (BulkItemResult | undefined)[] = [];
    const inputs: { index: number; input: ItemInput }[] = [];
    const action: BulkAction = mode === 'insert' ? 'INSERT' : 'UPDATE';
    request.dataItems.forEach((dataItem, index) => {
      try {
        const input = readItemInput(dataItem.id, dataItem.data, `dataItems[${index}]`);
        if (mode === 'update' && input.id === undefined) {
          throw invalidArgument(
            `dataItems[${index}].id`,
            'the id of the item to update is required',
            'REQUIRED_FIELD',
          );
        }
        inputs.push({ index, input });
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        const id = typeof dataItem.id === 'string' ? dataItem.id : null;
        results[index] = { action, id, originalIndex: index, error: errorOf(error) };
      }
    });
    const stored = await this.storeReferencesById(
      target,
      inputs.map(({ input }) => input),
    );
    stored.forEach((input, i) => {
      const entry = inputs[i];
      if (entry) entry.input = input;
    });
    const limit = mode === 'update' ? Number.POSITIVE_INFINITY : await this.itemLimit(ctx.siteId);
    await this.storage.items.write(target, async (tx) => {
      const existing = await tx.findExisting(
        inputs.flatMap(({ input }) => (input.id === undefined ? [] : [input.id])),
      );
      // The state of each id as this batch leaves it; later entries see earlier ones.
      const pending = new Map<string, { item: StoredItem; isNew: boolean }>();
      for (const { index, input } of inputs) {
        try {
          const id = input.id;
          const current =
            id === undefined
              ? undefined
              : (pending.get(id) ??
                (existing.has(id) ? { item: existing.get(id)!, isNew: false } : undefined));
          let next: { item: StoredItem; isNew: boolean };
          if (mode === 'insert' || (mode === 'save' && !current)) {
            if (current) throw errors.WDE0074(current.item.id);
            next = { item: this.fresh(ctx, input, now), isNew: true };
          } else {
            // An update without an id was refused when the inputs were read.
            if (!current || id === undefined) throw errors.WDE0073(id ?? '');
            checkCondition(condition, current.item);
            next = { item: this.replacement(ctx, { ...input, id }, current.item, now), isNew: current.isNew };
          }
          pending.set(next.item.id, next);
          results[index] = {
            action: next.isNew && !current ? 'INSERT' : action,
            id: next.item.id,
            originalIndex: index,
            item: next.item,
          };
        } catch (error) {
          if (!(error instanceof AppError)) throw error;
          results[index] = { action, id: input.id ?? null, originalIndex: index, error: errorOf(error) };
        }
      }
      const written = [...pending.values()];
      const inserted = written.filter((w) => w.isNew).map((w) => w.item);
      // A batch that would cross maxItems is refused whole (README, "Quotas"): nothing of it is written.
      await ItemService.checkItems(tx, limit, inserted.length);
      await tx.insert(inserted);
      await tx.update(written.filter((w) => !w.isNew).map((w) => w.item));
      await tx.recordChanges(written.map((w) => ({ kind: w.isNew ? 'created' : 'updated', item: w.item })));
    });
    return results.map((r, index) => r ?? { action, id: null, originalIndex: index });
  }

  /**
   * An item with field modifications applied to its current data, keeping its creation date and owner.
   * @throws AppError CONDITION_NOT_MET, INVALID_ARGUMENT (a modification that does not fit), WDE0109
   */
  private patched(
    ctx: SiteContext,
    current: StoredItem,
    modifications: readonly FieldModification[],
    condition: FilterNode | null,
    now: number,
    where: string,
  ): StoredItem {
    checkCondition(condition, current);
    return patchItem(current, modifications, ctx.principal.keyId, now, where);
  }

  /** Patch Data Item: modifies the named fields of one item and leaves the others as they are. */
  async patch(ctx: SiteContext, request: PatchItemRequest): Promise<StoredItem> {
    const target = this.target(ctx, request);
    const id = checkItemId(request.patch.dataItemId, 'patch.dataItemId');
    const where = 'patch.fieldModifications';
    const modifications = parseFieldModifications(request.patch.fieldModifications, where);
    const condition = conditionOf(request.condition);
    const now = this.clock();
    return this.storage.items.write(target, async (tx) => {
      const existing = (await tx.findExisting([id])).get(id);
      if (!existing) throw errors.WDE0073(id);
      const item = this.patched(ctx, existing, modifications, condition, now, where);
      await tx.update([item]);
      await tx.recordChanges([{ kind: 'updated', item }]);
      return item;
    });
  }

  /**
   * Bulk Patch Data Items: each patch succeeds or fails on its own (a missing item, a modification that
   * does not fit, an unmet condition), like bulk update; a later patch of the same id sees the earlier.
   */
  async bulkPatch(ctx: SiteContext, request: BulkPatchRequest): Promise<BulkItemResult[]> {
    const target = this.target(ctx, request);
    const condition = conditionOf(request.condition);
    const now = this.clock();
    const failed = (id: string | null, originalIndex: number, error: AppError): BulkItemResult => ({
      action: 'PATCH',
      id,
      originalIndex,
      error: errorOf(error),
    });
    const parsed = request.patches.map((patch, index) => {
      const where = `patches[${index}].fieldModifications`;
      try {
        const id = checkItemId(patch.dataItemId, `patches[${index}].dataItemId`);
        return { id, where, modifications: parseFieldModifications(patch.fieldModifications, where) };
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        return failed(patch.dataItemId, index, error);
      }
    });
    return this.storage.items.write(target, async (tx) => {
      const existing = await tx.findExisting(parsed.flatMap((p) => ('where' in p ? [p.id] : [])));
      const pending = new Map<string, StoredItem>();
      const results = parsed.map((entry, index): BulkItemResult => {
        if (!('where' in entry)) return entry;
        try {
          const current = pending.get(entry.id) ?? existing.get(entry.id);
          if (!current) throw errors.WDE0073(entry.id);
          const item = this.patched(ctx, current, entry.modifications, condition, now, entry.where);
          pending.set(item.id, item);
          return { action: 'PATCH', id: item.id, originalIndex: index, item };
        } catch (error) {
          if (!(error instanceof AppError)) throw error;
          return failed(entry.id, index, error);
        }
      });
      await tx.update([...pending.values()]);
      // One event per applied patch, in request order: two patches of one id are two updates.
      await tx.recordChanges(
        results.flatMap((r) => (r.item ? [{ kind: 'updated' as const, item: r.item }] : [])),
      );
      return results;
    });
  }

  /**
   * Bulk Remove Data Items: each id is removed or fails on its own (a missing or already removed item,
   * an unmet condition), like bulk update.
   */
  async bulkRemove(ctx: SiteContext, request: BulkRemoveRequest): Promise<BulkItemResult[]> {
    const target = this.target(ctx, request);
    const condition = conditionOf(request.condition);
    return this.storage.items.write(target, async (tx) => {
      const existing = await tx.findExisting(request.dataItemIds);
      const removed = new Set<string>();
      const results = request.dataItemIds.map((id, originalIndex): BulkItemResult => {
        try {
          const item = existing.get(id);
          if (!item || removed.has(id)) throw errors.WDE0073(id);
          checkCondition(condition, item);
          removed.add(id);
          return { action: 'DELETE', id, originalIndex, item };
        } catch (error) {
          if (!(error instanceof AppError)) throw error;
          return { action: 'DELETE', id, originalIndex, error: errorOf(error) };
        }
      });
      await tx.remove([...removed]);
      await tx.recordChanges([...removed].map((id) => ({ kind: 'deleted', item: existing.get(id)! })));
      return results;
    });
  }

  /** The collection a multi-reference field points at. @throws AppError INVALID_ARGUMENT, WDE0025 */
  private async referencedCollection(target: ItemTarget, field: string, where: string): Promise<string> {
    const collection = await this.storage.collections.get(target.siteId, target.collectionId);
    if (!collection) {
      throw errors.WDE0025(target.collectionId);
    }
    const declared = collection.fields.find((f) => f.key === field);
    const referenced = (
      declared?.typeMetadata as { multiReference?: { referencedCollectionId?: unknown } } | undefined
    )?.multiReference?.referencedCollectionId;
    if (declared?.type !== 'MULTI_REFERENCE' || typeof referenced !== 'string') {
      throw invalidArgument(where, `${field} is not a MULTI_REFERENCE field of ${target.collectionId}`);
    }
    return referenced;
  }

  async changeReferences(
    ctx: SiteContext,
    mode: 'insert' | 'remove',
    request: BulkReferencesRequest,
  ): Promise<ReferenceResult[]> {
    const target = this.target(ctx, request);
    const refs = request.dataItemReferences;
    const targets = new Map<string, string>();
    for (const [i, ref] of refs.entries()) {
      if (!targets.has(ref.referringItemFieldName)) {
        const where = `dataItemReferences[${i}].referringItemFieldName`;
        targets.set(
          ref.referringItemFieldName,
          await this.referencedCollection(target, ref.referringItemFieldName, where),
        );
      }
    }
    const links: LinkRef[] = refs.map((ref) => ({
      field: ref.referringItemFieldName,
      fromId: ref.referringItemId,
      toCollectionId: targets.get(ref.referringItemFieldName) ?? '',
      toId: ref.referencedItemId,
    }));
    const outcomes =
      mode === 'insert'
        ? await this.storage.links.insert(target, links)
        : await this.storage.links.remove(target, links);
    return outcomes.map((outcome, i) => {
      const reference = refs[i] ?? { referringItemFieldName: '', referringItemId: '', referencedItemId: '' };
      if (outcome.ok) return { ok: true, reference };
      const missingId =
        outcome.missing === 'referring' ? reference.referringItemId : reference.referencedItemId;
      const error = errors.WDE0073(missingId);
      return { ok: false, reference, error: errorOf(error) };
    });
  }

  async replaceReferences(ctx: SiteContext, request: ReplaceReferencesRequest): Promise<void> {
    const target = this.target(ctx, request);
    const toCollectionId = await this.referencedCollection(
      target,
      request.referringItemFieldName,
      'referringItemFieldName',
    );
    await this.storage.links.replace(
      target,
      request.referringItemFieldName,
      request.referringItemId,
      toCollectionId,
      request.newReferencedItemIds,
    );
  }

  async isReferenced(ctx: SiteContext, request: IsReferencedRequest): Promise<boolean> {
    const target = this.target(ctx, request);
    const toCollectionId = await this.referencedCollection(
      target,
      request.referringItemFieldName,
      'referringItemFieldName',
    );
    return this.storage.links.exists(target, {
      field: request.referringItemFieldName,
      fromId: request.referringItemId,
      toCollectionId,
      toId: request.referencedItemId,
    });
  }

  async queryReferenced(ctx: SiteContext, request: QueryReferencedRequest): Promise<ItemList> {
    const target = this.target(ctx, request);
    const fromId = request.referringItemId ?? request.referringItemIds?.[0];
    if (fromId === undefined) throw invalidArgument('referringItemId', 'is required', 'REQUIRED_FIELD');
    if (request.cursorPaging?.cursor) {
      throw invalidArgument('cursorPaging', 'query-referenced pages with paging.offset here', 'OTHER');
    }
    const toCollectionId = await this.referencedCollection(
      target,
      request.referringItemFieldName,
      'referringItemFieldName',
    );
    const limit = limitOf(request.paging?.limit ?? request.cursorPaging?.limit, MAX_OFFSET_PAGE);
    const offset = request.paging?.offset ?? 0;
    const page = await this.storage.links.queryReferenced(
      target,
      request.referringItemFieldName,
      fromId,
      toCollectionId,
      {
        limit,
        offset,
        descending: request.order === 'DESC',
        withTotal: request.returnTotalCount === true,
      },
    );
    return {
      items: page.items.map((item) => project(item, request.fields)),
      pagingMetadata: {
        count: page.items.length,
        offset,
        ...(page.total !== undefined && { total: page.total }),
        hasNext: page.hasMore,
        cursors: { next: null, prev: null },
      },
    };
  }
}
