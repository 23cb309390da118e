import type { FastifyInstance } from 'fastify';
import type { Storage } from '../../ports/storage.js';
import { sendError } from '../app.js';
import { errors } from '../../contracts/errors.js';

export function registerHealthRoutes(app: FastifyInstance, deps: { storage: Storage }): void {
  app.get('/healthz', { config: { auth: { kind: 'public' } }, logLevel: 'warn' }, async (request, reply) => {
    try {
      await deps.storage.healthCheck();
      return { status: 'ok', storage: deps.storage.capabilities.engine };
    } catch (error) {
      request.log.error({ err: error }, 'health check failed');
      return sendError(reply, errors.STORAGE_UNAVAILABLE());
    }
  });
}
