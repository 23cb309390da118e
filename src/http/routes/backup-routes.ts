import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import Type from 'typebox';
import {
  BackupIdQuery,
  CreateBackupRequest,
  ListBackupsQuery,
  ListRestorationsQuery,
  PartialRestoreRequest,
  RestorationIdQuery,
  RestoreBackupRequest,
  backupBody,
  restorationBody,
} from '../../contracts/backups-api.js';
import { invalidArgument } from '../../contracts/errors.js';
import type { BackupService } from '../../services/backup-service.js';
import { siteOf } from '../app.js';

/** The SDK's prefix on a non-Wix host, and the documented REST prefix (backups-api.md §1). */
export const backupPrefixes = ['/data/v2/backups', '/wix-data/v2/backups'] as const;

const scope = (s: 'backups.read' | 'backups.create' | 'backups.restore' | 'backups.delete') =>
  ({ auth: { kind: 'site', scope: s } }) as const;

const BackupParams = Type.Object({ backupId: Type.String({ minLength: 1, maxLength: 200 }) });
const RestorationParams = Type.Object({ restorationId: Type.String({ minLength: 1, maxLength: 200 }) });

function idempotencyKey(request: FastifyRequest): string | undefined {
  const raw = request.headers['idempotency-key'];
  if (Array.isArray(raw)) throw invalidArgument('Idempotency-Key', 'send the header once');
  return raw;
}

export function registerBackupRoutes(root: FastifyInstance, services: { backups: BackupService }): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { backups } = services;

  for (const prefix of backupPrefixes) {
    // Restorations first: `/restorations` must not be read as a backup id.
    app.get(
      `${prefix}/restorations`,
      { config: scope('backups.read'), schema: { querystring: ListRestorationsQuery } },
      async (req) => {
        const page = await backups.listRestorations(siteOf(req), req.query);
        return {
          restorations: page.restorations.map((r) => restorationBody(r.restoration, r.backup)),
          pagingMetadata: { count: page.restorations.length, offset: page.offset, total: page.total },
        };
      },
    );
    app.get(
      `${prefix}/restorations/:restorationId`,
      {
        config: scope('backups.read'),
        schema: { params: RestorationParams, querystring: RestorationIdQuery },
      },
      async (req) => {
        const { restoration, backup } = await backups.getRestoration(siteOf(req), req.params.restorationId);
        return { restoration: restorationBody(restoration, backup) };
      },
    );

    app.post(
      `${prefix}`,
      { config: scope('backups.create'), schema: { body: CreateBackupRequest } },
      async (req) => ({
        backup: backupBody(await backups.createBackup(siteOf(req), req.body, idempotencyKey(req))),
      }),
    );
    app.get(
      `${prefix}`,
      { config: scope('backups.read'), schema: { querystring: ListBackupsQuery } },
      async (req) => {
        const page = await backups.listBackups(siteOf(req), req.query);
        return {
          backups: page.backups.map(backupBody),
          pagingMetadata: { count: page.backups.length, offset: page.offset, total: page.total },
        };
      },
    );
    app.get(
      `${prefix}/:backupId`,
      { config: scope('backups.read'), schema: { params: BackupParams, querystring: BackupIdQuery } },
      async (req) => ({ backup: backupBody(await backups.getBackup(siteOf(req), req.params.backupId)) }),
    );
    app.delete(
      `${prefix}/:backupId`,
      { config: scope('backups.delete'), schema: { params: BackupParams, querystring: BackupIdQuery } },
      async (req) => {
        await backups.deleteBackup(siteOf(req), req.params.backupId);
        return {};
      },
    );
    app.post(
      `${prefix}/:backupId/cancel`,
      {
        config: scope('backups.create'),
        schema: { params: BackupParams, body: Type.Optional(RestoreBackupRequest) },
      },
      async (req) => {
        await backups.cancelBackup(siteOf(req), req.params.backupId);
        return {};
      },
    );
    app.post(
      `${prefix}/:backupId/restore`,
      {
        config: scope('backups.restore'),
        schema: { params: BackupParams, body: Type.Optional(RestoreBackupRequest) },
      },
      async (req) => {
        const { restoration, backup } = await backups.restore(
          siteOf(req),
          req.params.backupId,
          undefined,
          idempotencyKey(req),
          req.body?.definitionMode,
        );
        return { restoration: restorationBody(restoration, backup) };
      },
    );
    app.post(
      `${prefix}/:backupId/partial-restore`,
      { config: scope('backups.restore'), schema: { params: BackupParams, body: PartialRestoreRequest } },
      async (req) => {
        const { restoration, backup } = await backups.restore(
          siteOf(req),
          req.params.backupId,
          req.body.restorationCollections,
          idempotencyKey(req),
          req.body.definitionMode,
        );
        return { restoration: restorationBody(restoration, backup) };
      },
    );
  }
}
