import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { CountItemsRequest, GetItemRequest, QueryItemsRequest } from '../../contracts/data-api.js';
import { RequestInteger } from '../../contracts/request-integer.js';
import type { BrowseService } from '../../services/browse-service.js';
import { siteOf } from '../app.js';
import { dataItemResponse, itemListResponse } from '../render.js';
import { adminPrefix } from './admin-routes.js';
import { pathRest } from './data-routes.js';

const read = { auth: { kind: 'site', scope: 'backups.read' } } as const;
const json = 'application/json';

const BackupParams = Type.Object({ backupId: Type.String({ minLength: 1, maxLength: 200 }) });
const Against = Type.Optional(Type.String({ minLength: 1, maxLength: 200 }));
const CollectionId = Type.String({ minLength: 1, maxLength: 256 });

export const DiffRequest = Type.Object(
  { against: Against, dataCollectionId: Type.Optional(CollectionId) },
  { additionalProperties: false },
);
export const DiffItemsRequest = Type.Object(
  {
    against: Against,
    dataCollectionId: CollectionId,
    cursor: Type.Optional(Type.String({ maxLength: 2000 })),
    limit: Type.Optional(RequestInteger({ minimum: 0, maximum: 1000 })),
  },
  { additionalProperties: false },
);
export const DiffItemRequest = Type.Object(
  {
    against: Against,
    dataCollectionId: CollectionId,
    dataItemId: Type.String({ minLength: 1, maxLength: 1000 }),
  },
  { additionalProperties: false },
);

/**
 * Browsing a READY backup and comparing it (admin extension): the backup's collections, its items queried
 * like live ones, one item, a count; and its differences from live data or another backup.
 */
export function registerBrowseRoutes(root: FastifyInstance, services: { browse: BrowseService }): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { browse } = services;
  const base = `${adminPrefix}/backups/:backupId`;

  app.get(`${base}/collections`, { config: read, schema: { params: BackupParams } }, async (req) => ({
    collections: await browse.collections(siteOf(req), req.params.backupId),
  }));
  app.post(
    `${base}/items/query`,
    { config: read, schema: { params: BackupParams, body: QueryItemsRequest } },
    async (req, reply) =>
      reply
        .type(json)
        .send(
          itemListResponse(
            req.body.dataCollectionId,
            await browse.query(siteOf(req), req.params.backupId, req.body),
          ),
        ),
  );
  app.post(
    `${base}/items/count`,
    { config: read, schema: { params: BackupParams, body: CountItemsRequest } },
    async (req) => ({ totalCount: await browse.count(siteOf(req), req.params.backupId, req.body) }),
  );
  app.get(
    `${base}/items/*`,
    { config: read, schema: { querystring: GetItemRequest } },
    async (req, reply) => {
      const { backupId } = req.params as { backupId: string };
      const item = await browse.get(siteOf(req), backupId, {
        dataCollectionId: req.query.dataCollectionId,
        dataItemId: pathRest(req, 'dataItemId'),
        ...(req.query.fields && { fields: req.query.fields }),
      });
      return reply.type(json).send(dataItemResponse(req.query.dataCollectionId, item));
    },
  );
  app.post(
    `${base}/diff`,
    { config: read, schema: { params: BackupParams, body: DiffRequest } },
    async (req) => ({ diff: await browse.diff(siteOf(req), req.params.backupId, req.body) }),
  );
  app.post(
    `${base}/diff/items`,
    { config: read, schema: { params: BackupParams, body: DiffItemsRequest } },
    async (req) => browse.diffItems(siteOf(req), req.params.backupId, req.body),
  );
  app.post(
    `${base}/diff/item`,
    { config: read, schema: { params: BackupParams, body: DiffItemRequest } },
    async (req) => browse.diffItem(siteOf(req), req.params.backupId, req.body),
  );
}
