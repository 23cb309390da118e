import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { errors } from '../../contracts/errors.js';
import { RequestInteger } from '../../contracts/request-integer.js';
import { grants } from '../../contracts/scopes.js';
import type { SiteRecord } from '../../ports/storage.js';
import { backupBody } from '../../contracts/backups-api.js';
import type { AdminService, ApiKeyView } from '../../services/admin-service.js';
import type { ArchiveService } from '../../services/archive-service.js';
import type { Principal } from '../../services/auth-service.js';
import type { QuotaService } from '../../services/quota-service.js';
import { principalOf } from '../app.js';
import { iso } from '../render.js';

export const adminPrefix = '/_api/safekeep/v1';

const adminOnly = { auth: { kind: 'key', scope: 'admin' } } as const;
// `admin` implies `site.admin`; the service narrows a site.admin key to its own sites.
const siteAdmin = { auth: { kind: 'key', scope: 'site.admin' } } as const;

function siteBody(site: SiteRecord) {
  return { id: site.id, name: site.name, createdDate: iso(site.createdAt) };
}

function keyBody(key: ApiKeyView) {
  return {
    id: key.id,
    name: key.name,
    siteIds: key.siteIds,
    scopes: key.scopes,
    createdDate: iso(key.createdAt),
    revokedDate: iso(key.revokedAt),
  };
}

/** A site the principal administers; any other is reported as not found. */
function administeredSite(principal: Principal, siteId: string): string {
  if (!grants(principal.scopes, 'admin') && !principal.siteIds.includes(siteId))
    throw errors.SITE_NOT_FOUND();
  return siteId;
}

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });

export function registerAdminRoutes(
  root: FastifyInstance,
  services: { admin: AdminService; quotas: QuotaService; archives?: ArchiveService },
): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { admin, quotas, archives } = services;

  if (archives) {
    app.post(
      `${adminPrefix}/sites/:id/backups/:backupId/copy`,
      {
        config: adminOnly,
        schema: {
          params: Type.Object({
            id: Type.String({ minLength: 1, maxLength: 200 }),
            backupId: Type.String({ minLength: 1, maxLength: 200 }),
          }),
          body: Type.Object(
            { targetSiteId: Type.String({ minLength: 1, maxLength: 200 }) },
            { additionalProperties: false },
          ),
        },
      },
      async (req) => ({
        backup: backupBody(await archives.copy(req.params.id, req.params.backupId, req.body.targetSiteId)),
      }),
    );
  }

  app.post(
    `${adminPrefix}/sites`,
    {
      config: adminOnly,
      schema: {
        body: Type.Object(
          { name: Type.String({ minLength: 1, maxLength: 200 }) },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => ({ site: siteBody(await admin.createSite(req.body.name)) }),
  );
  app.get(`${adminPrefix}/sites`, { config: adminOnly }, async () => ({
    sites: (await admin.listSites()).map(siteBody),
  }));
  app.delete(`${adminPrefix}/sites/:id`, { config: adminOnly, schema: { params: IdParams } }, async (req) => {
    await admin.deleteSite(req.params.id);
    return {};
  });

  app.get(
    `${adminPrefix}/sites/:id/settings`,
    { config: siteAdmin, schema: { params: IdParams } },
    async (req) => {
      const siteId = administeredSite(principalOf(req), req.params.id);
      const settings = await admin.getSettings(siteId);
      return { settings, usage: await quotas.usage(siteId) };
    },
  );
  app.patch(
    `${adminPrefix}/sites/:id/settings`,
    {
      config: siteAdmin,
      schema: {
        params: IdParams,
        body: Type.Object(
          {
            autoBackupIntervalDays: Type.Optional(Type.Union([RequestInteger(), Type.Null()])),
            autoBackupRetention: Type.Optional(Type.Union([RequestInteger(), Type.Null()])),
            maxCollections: Type.Optional(Type.Union([RequestInteger(), Type.Null()])),
            maxItems: Type.Optional(Type.Union([RequestInteger(), Type.Null()])),
            maxBackupBytes: Type.Optional(Type.Union([RequestInteger(), Type.Null()])),
            maxRequestBodyBytes: Type.Optional(Type.Union([RequestInteger(), Type.Null()])),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => ({
      settings: await admin.updateSettings(administeredSite(principalOf(req), req.params.id), req.body),
    }),
  );

  app.post(
    `${adminPrefix}/api-keys`,
    {
      config: siteAdmin,
      schema: {
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 200 }),
            siteIds: Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 1000 }),
            scopes: Type.Array(Type.String(), { minItems: 1, maxItems: 20 }),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => {
      const { apiKey, secret } = await admin.createApiKey(req.body, principalOf(req));
      return { apiKey: keyBody(apiKey), secret };
    },
  );
  app.get(`${adminPrefix}/api-keys`, { config: siteAdmin }, async (req) => ({
    apiKeys: (await admin.listApiKeys(principalOf(req))).map(keyBody),
  }));
  app.delete(
    `${adminPrefix}/api-keys/:id`,
    { config: siteAdmin, schema: { params: IdParams } },
    async (req) => {
      await admin.revokeApiKey(req.params.id, principalOf(req));
      return {};
    },
  );
}
