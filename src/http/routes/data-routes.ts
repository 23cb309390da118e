import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { invalidArgument } from '../../contracts/errors.js';
import {
  AggregateItemsRequest,
  AggregatePipelineRequest,
  AsyncJobStatusQuery,
  AsyncPatchByFilterRequest,
  AsyncRemoveByFilterRequest,
  BulkItemsRequest,
  BulkPatchRequest,
  BulkReferencesRequest,
  BulkRemoveRequest,
  CollectionRequest,
  CollectionWriteRequest,
  CountItemsRequest,
  DistinctValuesRequest,
  GetItemRequest,
  IsReferencedRequest,
  RemoveItemRequest,
  PatchItemByPathRequest,
  PatchItemRequest,
  QueryItemsRequest,
  QueryReferencedRequest,
  RemoveItemQuery,
  ReplaceReferencesRequest,
  RestoreCollectionRequest,
  SearchItemsRequest,
  SingleItemRequest,
  UpdateItemRequest,
} from '../../contracts/data-api.js';
import { GetCollectionQuery, ListCollectionsQuery } from '../../contracts/data-collections-api.js';
import type { CollectionService } from '../../services/collection-service.js';
import type { ItemService } from '../../services/item-service.js';
import { siteOf } from '../app.js';
import {
  bulkResponse,
  collectionBody,
  dataItemResponse,
  itemListResponse,
  referencedListResponse,
} from '../render.js';

/** Route prefixes of the Data API: the one the Wix SDK uses on a non-Wix host, and the documented one. */
export const dataPrefixes = ['/_api/cloud-data/v2', '/wix-data/v2'] as const;

/**
 * Restore Data Collection is also served where the Backups API's own Wix-SDK prefix is (`/data/v2`), the
 * path the backups contract names for it.
 */
export const restoreCollectionPrefixes = [...dataPrefixes, '/data/v2'] as const;

const read = { auth: { kind: 'site', scope: 'data.read' } } as const;
const write = { auth: { kind: 'site', scope: 'data.write' } } as const;
const manage = { auth: { kind: 'site', scope: 'collections.manage' } } as const;

const json = 'application/json';

/** The path remainder of a wildcard route, decoded once. */
export function pathRest(request: FastifyRequest, what: string): string {
  const raw = (request.params as Record<string, string>)['*'] ?? '';
  try {
    const value = decodeURIComponent(raw);
    if (value.length === 0) throw invalidArgument(what, 'is missing from the path', 'REQUIRED_FIELD');
    return value;
  } catch (error) {
    if (error instanceof URIError) throw invalidArgument(what, 'is not correctly URL-encoded', 'FORMAT');
    throw error;
  }
}

/**
 * The id a by-path route works on: the path's, which the body may repeat but not contradict.
 * @throws AppError INVALID_ARGUMENT naming `field` when the body's id differs
 */
function pathItemId(request: FastifyRequest, bodyId: string | null | undefined, field: string): string {
  const id = pathRest(request, 'dataItemId');
  if (bodyId !== undefined && bodyId !== null && bodyId !== id) {
    throw invalidArgument(field, 'differs from the id in the path');
  }
  return id;
}

export function registerDataRoutes(
  root: FastifyInstance,
  services: { items: ItemService; collections: CollectionService },
): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { items, collections } = services;

  for (const prefix of dataPrefixes) {
    app.post(
      `${prefix}/items`,
      { config: write, schema: { body: SingleItemRequest } },
      async (req, reply) => {
        const item = await items.insert(siteOf(req), req.body);
        return reply.type(json).send(dataItemResponse(req.body.dataCollectionId, item));
      },
    );

    const query = async (req: FastifyRequest, body: QueryItemsRequest) =>
      itemListResponse(body.dataCollectionId, await items.query(siteOf(req), body));
    app.post(
      `${prefix}/items/query`,
      { config: read, schema: { body: QueryItemsRequest } },
      async (req, reply) => reply.type(json).send(await query(req, req.body)),
    );
    app.get(
      `${prefix}/items/query`,
      { config: read, schema: { querystring: QueryItemsRequest } },
      async (req, reply) => reply.type(json).send(await query(req, req.query)),
    );

    app.post(
      `${prefix}/items/update`,
      { config: write, schema: { body: UpdateItemRequest } },
      async (req, reply) => {
        const item = await items.update(siteOf(req), req.body);
        return reply.type(json).send(dataItemResponse(req.body.dataCollectionId, item));
      },
    );
    app.put(
      `${prefix}/items/*`,
      { config: write, schema: { body: UpdateItemRequest } },
      async (req, reply) => {
        const id = pathItemId(req, req.body.dataItem.id, 'dataItem.id');
        const item = await items.update(siteOf(req), { ...req.body, dataItem: { ...req.body.dataItem, id } });
        return reply.type(json).send(dataItemResponse(req.body.dataCollectionId, item));
      },
    );

    app.post(
      `${prefix}/items/save`,
      { config: write, schema: { body: UpdateItemRequest } },
      async (req, reply) => {
        const { action, item } = await items.save(siteOf(req), req.body);
        return reply.type(json).send(dataItemResponse(req.body.dataCollectionId, item, { action }));
      },
    );

    // Patch Data Item: the Wix SDK posts to /items/patch, the REST reference documents PATCH /items/{id}.
    app.post(
      `${prefix}/items/patch`,
      { config: write, schema: { body: PatchItemRequest } },
      async (req, reply) => {
        const item = await items.patch(siteOf(req), req.body);
        return reply.type(json).send(dataItemResponse(req.body.dataCollectionId, item));
      },
    );
    app.patch(
      `${prefix}/items/*`,
      { config: write, schema: { body: PatchItemByPathRequest } },
      async (req, reply) => {
        const { patch } = req.body;
        const dataItemId = pathItemId(req, patch.dataItemId, 'patch.dataItemId');
        const item = await items.patch(siteOf(req), { ...req.body, patch: { ...patch, dataItemId } });
        return reply.type(json).send(dataItemResponse(req.body.dataCollectionId, item));
      },
    );

    app.post(
      `${prefix}/items/remove`,
      { config: write, schema: { body: RemoveItemRequest } },
      async (req, reply) => {
        const item = await items.remove(siteOf(req), req.body);
        return reply.type(json).send(dataItemResponse(req.body.dataCollectionId, item));
      },
    );
    app.delete(
      `${prefix}/items/*`,
      { config: write, schema: { querystring: RemoveItemQuery } },
      async (req, reply) => {
        const item = await items.remove(siteOf(req), {
          ...req.query,
          dataItemId: pathRest(req, 'dataItemId'),
        });
        return reply.type(json).send(dataItemResponse(req.query.dataCollectionId, item));
      },
    );

    app.get(
      `${prefix}/items/*`,
      { config: read, schema: { querystring: GetItemRequest } },
      async (req, reply) => {
        const item = await items.get(siteOf(req), pathRest(req, 'dataItemId'), req.query);
        return reply.type(json).send(dataItemResponse(req.query.dataCollectionId, item));
      },
    );

    app.post(
      `${prefix}/items/truncate`,
      { config: write, schema: { body: CollectionRequest } },
      async (req) => {
        await items.truncate(siteOf(req), req.body);
        return {};
      },
    );

    app.post(`${prefix}/items/count`, { config: read, schema: { body: CountItemsRequest } }, async (req) => ({
      totalCount: await items.count(siteOf(req), req.body),
    }));

    app.post(
      `${prefix}/items/query-distinct-values`,
      { config: read, schema: { body: DistinctValuesRequest } },
      async (req) => items.distinct(siteOf(req), req.body),
    );
    app.post(
      `${prefix}/items/aggregate`,
      { config: read, schema: { body: AggregateItemsRequest } },
      async (req) => items.aggregate(siteOf(req), req.body),
    );
    app.post(
      `${prefix}/items/aggregate-pipeline`,
      { config: read, schema: { body: AggregatePipelineRequest } },
      async (req) => items.aggregatePipeline(siteOf(req), req.body),
    );
    app.post(
      `${prefix}/items/search`,
      { config: read, schema: { body: SearchItemsRequest } },
      async (req, reply) =>
        reply
          .type(json)
          .send(itemListResponse(req.body.dataCollectionId, await items.search(siteOf(req), req.body))),
    );

    for (const mode of ['insert', 'update', 'save'] as const) {
      app.post(
        `${prefix}/bulk/items/${mode}`,
        { config: write, schema: { body: BulkItemsRequest } },
        async (req, reply) => {
          const results = await items.bulkWrite(siteOf(req), mode, req.body);
          return reply
            .type(json)
            .send(bulkResponse(req.body.dataCollectionId, results, req.body.returnEntity === true));
        },
      );
    }
    app.post(
      `${prefix}/bulk/items/patch`,
      { config: write, schema: { body: BulkPatchRequest } },
      async (req, reply) => {
        const results = await items.bulkPatch(siteOf(req), req.body);
        return reply
          .type(json)
          .send(bulkResponse(req.body.dataCollectionId, results, req.body.returnEntity === true));
      },
    );
    app.post(
      `${prefix}/bulk/items/remove`,
      { config: write, schema: { body: BulkRemoveRequest } },
      async (req, reply) => {
        const results = await items.bulkRemove(siteOf(req), req.body);
        return reply
          .type(json)
          .send(bulkResponse(req.body.dataCollectionId, results, req.body.returnEntity === true));
      },
    );

    // Jobs by filter (Wix's asyncRemoveByFilter / asyncPatchByFilter): queued here, run by the job worker.
    app.post(
      `${prefix}/bulk/items/async-remove-by-filter`,
      { config: write, schema: { body: AsyncRemoveByFilterRequest } },
      async (req) => items.startItemJob(siteOf(req), 'REMOVE', req.body),
    );
    app.post(
      `${prefix}/bulk/items/async-patch-by-filter`,
      { config: write, schema: { body: AsyncPatchByFilterRequest } },
      async (req) => items.startItemJob(siteOf(req), 'PATCH', req.body),
    );
    app.get(
      `${prefix}/async-jobs/:jobId/status`,
      {
        config: read,
        schema: { params: Type.Object({ jobId: Type.String() }), querystring: AsyncJobStatusQuery },
      },
      async (req) => {
        const { jobId } = req.params;
        if (req.query.jobId !== undefined && req.query.jobId !== jobId)
          throw invalidArgument('jobId', 'differs from the id in the path');
        return items.asyncJobStatus(siteOf(req), jobId);
      },
    );

    for (const mode of ['insert', 'remove'] as const) {
      app.post(
        `${prefix}/bulk/items/${mode}-references`,
        { config: write, schema: { body: BulkReferencesRequest } },
        async (req) => {
          const results = await items.changeReferences(siteOf(req), mode, req.body);
          const successes = results.filter((r) => r.ok).length;
          return {
            results: results.map((r, originalIndex) => ({
              action: mode === 'insert' ? 'INSERT' : 'DELETE',
              referenceMetadata: {
                id: r.reference.referencedItemId,
                originalIndex,
                success: r.ok,
                ...(r.error && { error: r.error }),
              },
              dataItemReference: r.reference,
            })),
            bulkActionMetadata: { totalSuccesses: successes, totalFailures: results.length - successes },
          };
        },
      );
    }

    app.post(
      `${prefix}/items/replace-references`,
      { config: write, schema: { body: ReplaceReferencesRequest } },
      async (req) => {
        await items.replaceReferences(siteOf(req), req.body);
        return {
          dataItemReferences: req.body.newReferencedItemIds.map((referencedItemId) => ({
            referringItemFieldName: req.body.referringItemFieldName,
            referringItemId: req.body.referringItemId,
            referencedItemId,
          })),
        };
      },
    );

    app.post(
      `${prefix}/items/is-referenced`,
      { config: read, schema: { body: IsReferencedRequest } },
      async (req) => ({
        isReferenced: await items.isReferenced(siteOf(req), req.body),
      }),
    );

    app.post(
      `${prefix}/items/query-referenced`,
      { config: read, schema: { body: QueryReferencedRequest } },
      async (req, reply) => {
        const collection = await collections.get(siteOf(req), req.body.dataCollectionId);
        const field = collection.fields.find((f) => f.key === req.body.referringItemFieldName);
        const target = (
          field?.typeMetadata as { multiReference?: { referencedCollectionId?: string } } | undefined
        )?.multiReference?.referencedCollectionId;
        const list = await items.queryReferenced(siteOf(req), req.body);
        return reply.type(json).send(referencedListResponse(target ?? req.body.dataCollectionId, list));
      },
    );

    // Collections (data-api.md §3). Ids may contain "/", so the id is the rest of the path.
    app.post(
      `${prefix}/collections`,
      { config: manage, schema: { body: CollectionWriteRequest } },
      async (req) => ({
        collection: collectionBody(await collections.create(siteOf(req), req.body.collection)),
      }),
    );
    app.put(
      `${prefix}/collections`,
      { config: manage, schema: { body: CollectionWriteRequest } },
      async (req) => ({
        collection: collectionBody(await collections.update(siteOf(req), req.body.collection)),
      }),
    );
    app.get(
      `${prefix}/collections`,
      { config: read, schema: { querystring: ListCollectionsQuery } },
      async (req) => {
        const limit = req.query.paging?.limit || 50;
        const offset = req.query.paging?.offset ?? 0;
        const page = await collections.list(siteOf(req), { limit, offset, sort: req.query.sort });
        return {
          collections: page.collections.map((c) => collectionBody(c, req.query.fields)),
          pagingMetadata: {
            count: page.collections.length,
            offset,
            total: page.total,
            hasNext: offset + page.collections.length < page.total,
          },
        };
      },
    );
    app.get(
      `${prefix}/collections/*`,
      { config: read, schema: { querystring: GetCollectionQuery } },
      async (req) => {
        const id = pathRest(req, 'dataCollectionId');
        const inQuery = req.query.dataCollectionId;
        if (inQuery !== undefined && inQuery !== id) {
          throw invalidArgument('dataCollectionId', 'differs from the id in the path');
        }
        return { collection: collectionBody(await collections.get(siteOf(req), id), req.query.fields) };
      },
    );
    app.delete(`${prefix}/collections/*`, { config: manage }, async (req) => {
      await collections.delete(siteOf(req), pathRest(req, 'dataCollectionId'));
      return {};
    });
  }

  // Restore Data Collection: the most recently deleted copy, whole (backups-api.md §6.6).
  for (const prefix of restoreCollectionPrefixes) {
    app.post(
      `${prefix}/collections/restore/*`,
      { config: manage, schema: { body: Type.Optional(RestoreCollectionRequest) } },
      async (req) => {
        const id = pathRest(req, 'dataCollectionId');
        const inBody = req.body?.dataCollectionId;
        if (inBody !== undefined && inBody !== id) {
          throw invalidArgument('dataCollectionId', 'differs from the id in the path');
        }
        return { dataCollection: collectionBody(await collections.restoreDeleted(siteOf(req), id)) };
      },
    );
  }
}
