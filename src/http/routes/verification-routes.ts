import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { VerifyBackupRequest, verificationBody } from '../../contracts/backups-api.js';
import { siteHealthBody } from '../../domain/verification.js';
import type { VerificationService } from '../../services/verification-service.js';
import { siteOf } from '../app.js';
import { adminPrefix } from './admin-routes.js';
import { backupPrefixes } from './backup-routes.js';

const BackupParams = Type.Object({ backupId: Type.String({ minLength: 1, maxLength: 200 }) });
const VerificationParams = Type.Object({ verificationId: Type.String({ minLength: 1, maxLength: 200 }) });
const VerificationIdQuery = Type.Object(
  { verificationId: Type.Optional(Type.String()) },
  { additionalProperties: false },
);

/**
 * Extensions (docs/ARCHITECTURE.md, "Verification and backup health"): verify a backup and follow the
 * verification, under the backup routes' prefixes; the site's storage view and backup health under the
 * admin-extension prefix (site keys, or admin keys naming the site).
 */
export function registerVerificationRoutes(
  root: FastifyInstance,
  services: { verification: VerificationService },
): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { verification } = services;

  for (const prefix of backupPrefixes) {
    app.get(
      `${prefix}/verifications/:verificationId`,
      {
        config: { auth: { kind: 'site', scope: 'backups.read' } },
        schema: { params: VerificationParams, querystring: VerificationIdQuery },
      },
      async (req) => ({
        verification: verificationBody(
          await verification.getVerification(siteOf(req), req.params.verificationId),
        ),
      }),
    );
    app.post(
      `${prefix}/:backupId/verify`,
      {
        config: { auth: { kind: 'site', scope: 'backups.create' } },
        schema: { params: BackupParams, body: Type.Optional(VerifyBackupRequest) },
      },
      async (req) => ({
        verification: verificationBody(
          await verification.verify(siteOf(req), req.params.backupId, {
            trialRestore: req.body?.trialRestore === true,
          }),
        ),
      }),
    );
  }

  app.get(
    `${adminPrefix}/backup-storage`,
    { config: { auth: { kind: 'site', scope: 'backups.read' } } },
    async (req) => {
      const view = await verification.storageView(siteOf(req));
      return {
        storage: {
          logicalBytes: String(view.logicalBytes),
          storedBytes: String(view.storedBytes),
          deduplicatedBytes: String(view.deduplicatedBytes),
          backups: view.backups.map((b) => ({
            backupId: b.backupId,
            logicalBytes: String(b.logicalBytes),
            storedBytes: String(b.storedBytes),
            exclusiveBytes: String(b.exclusiveBytes),
          })),
          unreadableBackupIds: view.unreadable,
        },
      };
    },
  );

  app.get(
    `${adminPrefix}/backup-health`,
    { config: { auth: { kind: 'site', scope: 'backups.read' } } },
    async (req) => ({ health: siteHealthBody(await verification.health(siteOf(req))) }),
  );
}
