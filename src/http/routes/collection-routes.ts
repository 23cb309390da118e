import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { invalidArgument } from '../../contracts/errors.js';
import {
  CollectionFieldRequest,
  DeleteCollectionFieldRequest,
  PatchCollectionRequest,
} from '../../contracts/data-collections-api.js';
import type { CollectionService } from '../../services/collection-service.js';
import { siteOf } from '../app.js';
import { collectionBody } from '../render.js';
import { dataPrefixes, pathRest } from './data-routes.js';

const manage = { auth: { kind: 'site', scope: 'collections.manage' } } as const;

const PATCH_FIELD_SUFFIX = '/patch-field';

/**
 * The top-level property names a field mask names (`"displayName,permissions"` or `{ paths }`), relative
 * to the object patched: a `dataCollection.` or `field.` prefix is dropped.
 */
function maskedProperties(mask: PatchCollectionRequest['fieldMask']): string[] | undefined {
  if (mask === undefined) return undefined;
  const paths = typeof mask === 'string' ? mask.split(',') : mask.paths;
  return paths
    .map((p) => p.trim().replace(/^(dataCollection|field)\./, ''))
    .filter((p) => p.length > 0)
    .map((p) => p.split('.')[0] ?? p);
}

/**
 * Data Collections methods that change part of a collection (data-api.md §3): Patch Data Collection and
 * the four field methods, on the routes `@wix/auto_sdk_data_collections` sends them to. Each answers
 * `{ dataCollection }` and increments the revision.
 */
export function registerCollectionRoutes(
  root: FastifyInstance,
  services: { collections: CollectionService },
): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { collections } = services;

  for (const prefix of dataPrefixes) {
    // PATCH /collections/{id} and /collections/{id}/patch-field: ids may contain "/", so the body decides.
    app.patch(
      `${prefix}/collections/*`,
      { config: manage, schema: { body: PatchCollectionRequest } },
      async (req) => {
        const path = pathRest(req, 'dataCollectionId');
        const { dataCollection, field, dataCollectionId } = req.body;
        const mask = maskedProperties(req.body.fieldMask);
        if (field !== undefined) {
          if (dataCollection !== undefined) {
            throw invalidArgument('dataCollection', 'send either dataCollection or field, not both');
          }
          if (!path.endsWith(PATCH_FIELD_SUFFIX)) {
            throw invalidArgument('field', `a field is patched at /collections/{id}${PATCH_FIELD_SUFFIX}`);
          }
          const id = path.slice(0, -PATCH_FIELD_SUFFIX.length);
          if (dataCollectionId !== undefined && dataCollectionId !== id) {
            throw invalidArgument('dataCollectionId', 'differs from the id in the path');
          }
          return {
            dataCollection: collectionBody(await collections.patchField(siteOf(req), id, field, mask)),
          };
        }
        if (dataCollection === undefined) {
          throw invalidArgument(
            'dataCollection',
            'is required (or field, to patch a field)',
            'REQUIRED_FIELD',
          );
        }
        if (dataCollection.id !== undefined && dataCollection.id !== path) {
          throw invalidArgument('dataCollection.id', 'differs from the id in the path');
        }
        const patched = await collections.patch(siteOf(req), { ...dataCollection, id: path }, mask);
        return { dataCollection: collectionBody(patched) };
      },
    );

    for (const [action, change] of [
      ['create-field', 'createField'],
      ['update-field', 'updateField'],
    ] as const) {
      app.post(
        `${prefix}/collections/${action}`,
        { config: manage, schema: { body: CollectionFieldRequest } },
        async (req) => ({
          dataCollection: collectionBody(
            await collections[change](siteOf(req), req.body.dataCollectionId, req.body.field),
          ),
        }),
      );
    }
    app.post(
      `${prefix}/collections/delete-field`,
      { config: manage, schema: { body: DeleteCollectionFieldRequest } },
      async (req) => ({
        dataCollection: collectionBody(
          await collections.deleteField(siteOf(req), req.body.dataCollectionId, req.body.fieldKey),
        ),
      }),
    );
  }
}
