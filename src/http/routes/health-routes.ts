import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { errors } from '../../contracts/errors.js';
import { siteHealthBody } from '../../domain/verification.js';
import type { Storage } from '../../ports/storage.js';
import { requireScope, type AuthService } from '../../services/auth-service.js';
import type { VerificationService } from '../../services/verification-service.js';
import { sendError } from '../app.js';

/** `GET /healthz?detail=1`: the deployment's backup health besides, for an admin key. */
const HealthQuery = Type.Object(
  { detail: Type.Optional(Type.Union([Type.Literal('0'), Type.Literal('1')])) },
  // Probes may add parameters of their own (cache busters): they are ignored, as before `detail` existed.
  { additionalProperties: true },
);

/** Overdue sites the detail lists at most (the count says how many there are). */
const DETAIL_SITES = 100;

export function registerHealthRoutes(
  app: FastifyInstance,
  deps: { storage: Storage; auth?: AuthService; verification?: VerificationService },
): void {
  app.get(
    '/healthz',
    { config: { auth: { kind: 'public' } }, logLevel: 'warn', schema: { querystring: HealthQuery } },
    async (request, reply) => {
      const { detail } = request.query as { detail?: '0' | '1' };
      if (detail === '1') {
        // Public without detail (load balancers); the detail names sites, so it needs an admin key.
        if (!deps.auth || !deps.verification) throw errors.PERMISSION_DENIED('admin');
        const principal = await deps.auth.authenticate(request.headers.authorization);
        requireScope(principal, 'admin');
      }
      try {
        await deps.storage.healthCheck();
      } catch (error) {
        request.log.error({ err: error }, 'health check failed');
        return sendError(reply, errors.STORAGE_UNAVAILABLE());
      }
      const basic = { status: 'ok', storage: deps.storage.capabilities.engine };
      if (detail !== '1' || !deps.verification) return basic;
      const health = await deps.verification.allHealth(DETAIL_SITES);
      return {
        ...basic,
        backupHealth: {
          sites: health.total,
          overdueSites: health.overdue,
          overdue: health.overdueSites.map(siteHealthBody),
        },
      };
    },
  );
}
