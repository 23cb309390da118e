import { Transform, type TransformCallback } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { errors } from '../contracts/errors.js';

/**
 * Each site's maxRequestBodyBytes quota (README, "Quotas"), below the deployment's hard cap (Fastify's
 * `bodyLimit`, SAFEKEEP_BODY_LIMIT_MB): a body that declares more is refused before it is read, and one sent
 * without a length (chunked) is cut off as soon as it passes the limit. Both answer 429 QUOTA_EXCEEDED.
 * Runs after authentication (the site is known) and before the body is parsed.
 */
export function limitSiteBodies(
  app: FastifyInstance,
  limitOf: (siteId: string) => Promise<number>,
  hardCap: number,
): void {
  app.addHook('preParsing', async (request, _reply, payload) => {
    const site = request.siteContext;
    if (!site || request.method === 'GET' || request.method === 'DELETE') return payload;
    if (request.routeOptions.config.streamBody) return payload;
    const limit = await limitOf(site.siteId);
    if (limit >= hardCap) return payload;
    const declared = Number(request.headers['content-length']);
    if (Number.isSafeInteger(declared) && declared > limit)
      throw errors.QUOTA_EXCEEDED('maxRequestBodyBytes', limit, declared);
    let received = 0;
    const counted = new Transform({
      transform(chunk: Buffer, _encoding, callback: TransformCallback) {
        received += chunk.length;
        if (received > limit) callback(errors.QUOTA_EXCEEDED('maxRequestBodyBytes', limit, received));
        else callback(null, chunk);
      },
    });
    payload.on('error', (error) => counted.destroy(error));
    // Fastify reads the encoded length from the stream it is handed.
    Object.defineProperty(counted, 'receivedEncodedLength', { get: () => received });
    return payload.pipe(counted);
  });
}
