import type { FastifyInstance } from 'fastify';
import { errors } from '../../contracts/errors.js';
import { unsupportedOperations } from '../../contracts/unsupported-operations.js';
import { dataPrefixes } from './data-routes.js';

/**
 * The routes of out-of-scope Wix operations (item drafts, collection plugins): authenticated like the
 * operation would be, then answered 400 `UNSUPPORTED_OPERATION` with whatever body was sent.
 */
export function registerUnsupportedRoutes(app: FastifyInstance): void {
  for (const prefix of dataPrefixes) {
    for (const operation of unsupportedOperations) {
      app.post(
        `${prefix}${operation.path}`,
        { config: { auth: { kind: 'site', scope: operation.scope } } },
        () => {
          throw errors.UNSUPPORTED_OPERATION(operation.method, operation.why);
        },
      );
    }
  }
}
