import type { FastifyInstance } from 'fastify';
import { authorizeScrape, type Metrics } from '../../app/metrics.js';
import type { AuthService } from '../../services/auth-service.js';

/**
 * `GET /metrics`: the Prometheus text format, for an admin key or the metrics token. Declared public
 * because a metrics token is not an API key; the handler checks one or the other itself.
 */
export function registerMetricsRoutes(
  app: FastifyInstance,
  deps: { metrics: Metrics; auth: AuthService; token: string | undefined },
): void {
  app.get('/metrics', { config: { auth: { kind: 'public' } }, logLevel: 'warn' }, async (request, reply) => {
    await authorizeScrape(request.headers.authorization, deps.token, deps.auth);
    const text = await deps.metrics.text();
    return reply.type(deps.metrics.contentType).send(text);
  });
}
