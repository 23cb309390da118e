import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { DefinitionModeSchema, PartialRestoreRequest } from '../../contracts/backups-api.js';
import type { CollectionService } from '../../services/collection-service.js';
import type { OverviewService } from '../../services/overview-service.js';
import { principalOf, siteOf } from '../app.js';
import { collectionBody, iso } from '../render.js';
import { adminPrefix } from './admin-routes.js';

/** `POST …/restore-preview`: the body of a partial restore, or `{}` for a full one. */
export const RestorePreviewRequest = Type.Object(
  {
    restorationCollections: Type.Optional(PartialRestoreRequest.properties.restorationCollections),
    definitionMode: Type.Optional(DefinitionModeSchema),
  },
  { additionalProperties: false },
);

const BackupParams = Type.Object({ backupId: Type.String({ minLength: 1, maxLength: 200 }) });

/**
 * Admin-extension views (data-api.md §4 is extended by these): the caller's own key, the next automatic
 * backup, and a restore's effect before it is asked for. The dashboard needs them; any client may use them.
 */
export function registerOverviewRoutes(
  root: FastifyInstance,
  services: { overview: OverviewService; collections: CollectionService },
): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { overview, collections } = services;

  // The collection bin: what Restore Data Collection can still bring back, and until when.
  app.get(
    `${adminPrefix}/deleted-collections`,
    { config: { auth: { kind: 'site', scope: 'data.read' } } },
    async (req) => ({
      deletedCollections: (await collections.listDeleted(siteOf(req))).map((c) => ({
        collection: collectionBody(c),
        deletedDate: iso(c.deletedAt),
        expirationDate: iso(c.expiresAt),
      })),
    }),
  );

  // Any valid key may read what it is: no scope to hold, and nothing about anyone else is shown.
  app.get(`${adminPrefix}/session`, { config: { auth: { kind: 'key', scope: 'none' } } }, async (req) => {
    const { apiKey, sites } = await overview.session(principalOf(req));
    return {
      apiKey: {
        id: apiKey.id,
        name: apiKey.name,
        siteIds: apiKey.siteIds,
        scopes: apiKey.scopes,
        createdDate: iso(apiKey.createdAt),
      },
      sites: sites.map((s) => ({ id: s.id, name: s.name, createdDate: iso(s.createdAt) })),
    };
  });

  app.get(
    `${adminPrefix}/backup-schedule`,
    { config: { auth: { kind: 'site', scope: 'backups.read' } } },
    async (req) => {
      const schedule = await overview.backupSchedule(siteOf(req));
      return {
        schedule: {
          autoBackupIntervalDays: schedule.autoBackupIntervalDays,
          autoBackupRetention: schedule.autoBackupRetention,
          nextAutoBackupDate: iso(schedule.nextAutoBackupAt),
        },
      };
    },
  );

  app.post(
    `${adminPrefix}/backups/:backupId/restore-preview`,
    {
      config: { auth: { kind: 'site', scope: 'backups.restore' } },
      schema: { params: BackupParams, body: RestorePreviewRequest },
    },
    async (req) => {
      const preview = await overview.previewRestore(
        siteOf(req),
        req.params.backupId,
        req.body.restorationCollections,
        req.body.definitionMode,
      );
      return {
        preview: {
          backupId: preview.backupId,
          snapshotDate: iso(preview.snapshotAt),
          collections: preview.collections.map((c) => ({
            dataCollectionId: c.dataCollectionId,
            restoreDestination: { ...c.restoreDestination },
            ...(c.items && { restoreMode: c.items.mode }),
            ...(c.items?.itemIds && { itemIds: [...c.items.itemIds] }),
            destinationExists: c.destinationExists,
            itemsNowLive: c.itemsNowLive,
            itemsInBackup: c.itemsInBackup,
            definition: c.definition,
            itemsNotInBackup: c.losses?.notInBackup ?? null,
            itemsChanged: c.losses?.changed ?? null,
          })),
          problem: preview.problem,
          quota: preview.quota,
        },
      };
    },
  );
}
