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
import { Readable } from 'node:stream';
import { errors, invalidArgument } from '../../contracts/errors.js';
import type { ArchiveService } from '../../services/archive-service.js';
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

/** Content types an archive may be sent as. */
const archiveTypes = ['application/zstd', 'application/x-zstd', 'application/octet-stream'];

/** An import's body, handed over by its content-type parser unread. */
const archiveBodies = new WeakMap<FastifyRequest, Readable>();

/** Download Backup and Import Backup (docs/ARCHIVE-FORMAT.md). */
function registerArchiveRoutes(root: FastifyInstance, archives: ArchiveService): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  for (const prefix of backupPrefixes) {
    app.get(
      `${prefix}/:backupId/archive`,
      { config: scope('backups.read'), schema: { params: BackupParams, querystring: BackupIdQuery } },
      async (req, reply) => {
        const stop = new AbortController();
        reply.raw.once('close', () => stop.abort());
        const archive = await archives.download(siteOf(req), req.params.backupId, stop.signal);
        reply
          .header('content-type', 'application/zstd')
          .header('content-disposition', `attachment; filename="${archive.manifest.backupId}.safekeep.zst"`);
        if (archive.length !== undefined) reply.header('content-length', archive.length);
        return reply.send(Readable.from(archive.body, { objectMode: false, highWaterMark: 1 << 20 }));
      },
    );
  }
  // The import's body is a stream the handler reads: its parser (in this scope only) leaves it unread.
  void app.register((child, _options, done) => {
    child.addContentTypeParser(archiveTypes, (request, payload, parsed) => {
      archiveBodies.set(request, payload);
      parsed(null, undefined);
    });
    for (const prefix of backupPrefixes) {
      child.post(
        `${prefix}/import`,
        { config: { ...scope('backups.create'), streamBody: true } },
        async (req, reply) => {
          const declared = Number(req.headers['content-length']);
          if (Number.isSafeInteger(declared) && declared > archives.importMaxBytes) {
            reply.header('connection', 'close');
            throw errors.ARCHIVE_TOO_LARGE(archives.importMaxBytes);
          }
          const body = archiveBodies.get(req);
          if (!body)
            throw invalidArgument(
              'content-type',
              `send the archive as the body, as ${archiveTypes.join(' or ')} (docs/ARCHIVE-FORMAT.md)`,
            );
          const stop = new AbortController();
          reply.raw.once('close', () => stop.abort());
          const backup = await archives.import(
            siteOf(req),
            body.iterator({ destroyOnReturn: false }),
            stop.signal,
          );
          return { backup: backupBody(backup) };
        },
      );
    }
    done();
  });
}

export function registerBackupRoutes(
  root: FastifyInstance,
  services: { backups: BackupService; archives?: ArchiveService },
): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { backups } = services;
  if (services.archives) registerArchiveRoutes(root, services.archives);

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
