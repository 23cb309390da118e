import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import type { WebhookRecord } from '../../ports/webhook-store.js';
import type { WebhookService } from '../../services/webhook-service.js';
import { principalOf } from '../app.js';
import { iso } from '../render.js';
import { adminPrefix } from './admin-routes.js';

// `admin` implies `site.admin`; the service narrows a site.admin key to its own sites.
const siteAdmin = { auth: { kind: 'key', scope: 'site.admin' } } as const;

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });

function webhookBody(webhook: WebhookRecord) {
  return {
    id: webhook.id,
    siteId: webhook.siteId,
    url: webhook.url,
    eventTypes: [...webhook.eventTypes],
    createdDate: iso(webhook.createdAt),
    status: webhook.blockedReason === undefined ? 'ACTIVE' : 'BLOCKED',
    ...(webhook.blockedReason !== undefined && { blockedReason: webhook.blockedReason }),
  };
}

/** The webhook subscriptions of the admin API, and the key that signs deliveries (backups-api.md §7). */
export function registerWebhookRoutes(root: FastifyInstance, services: { webhooks: WebhookService }): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { webhooks } = services;

  app.post(
    `${adminPrefix}/webhooks`,
    {
      config: siteAdmin,
      schema: {
        body: Type.Object(
          {
            siteId: Type.String({ minLength: 1, maxLength: 200 }),
            // Lengths, schemes and hosts are the service's to check, so the message names the rule.
            url: Type.String(),
            eventTypes: Type.Array(Type.String(), { maxItems: 10 }),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => ({ webhook: webhookBody(await webhooks.create(req.body, principalOf(req))) }),
  );
  app.get(
    `${adminPrefix}/webhooks`,
    {
      config: siteAdmin,
      schema: {
        querystring: Type.Object(
          { siteId: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => ({
      webhooks: (await webhooks.list(req.query.siteId, principalOf(req))).map(webhookBody),
    }),
  );
  // Before `/webhooks/:id`, which would read `public-key` as an id. The key is no secret, but every route
  // here is for the people who set up receivers.
  app.get(`${adminPrefix}/webhooks/public-key`, { config: siteAdmin }, () => ({
    publicKey: webhooks.publicKey,
  }));
  app.delete(
    `${adminPrefix}/webhooks/:id`,
    { config: siteAdmin, schema: { params: IdParams } },
    async (req) => {
      await webhooks.delete(req.params.id, principalOf(req));
      return {};
    },
  );
}
