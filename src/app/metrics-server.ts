import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errors } from '../contracts/errors.js';
import { errorBody, statusOfCategory, toAppError } from '../http/error-response.js';
import type { AuthService } from '../services/auth-service.js';
import { authorizeScrape, type Metrics } from './metrics.js';

/**
 * A listener that serves only `GET /metrics` (same credentials as the API's: an admin key or the metrics
 * token), for `safekeep worker`, which serves no API. Resolves once listening, with its address.
 */
export async function listenForMetrics(
  deps: { metrics: Metrics; auth: AuthService; token: string | undefined },
  host: string,
  port: number,
): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    const answer = async () => {
      const path = new URL(request.url ?? '/', 'http://x').pathname;
      if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD'))
        throw errors.ROUTE_NOT_FOUND(request.method ?? 'GET', request.url ?? '/');
      await authorizeScrape(request.headers.authorization, deps.token, deps.auth);
      const text = await deps.metrics.text();
      response.writeHead(200, { 'content-type': deps.metrics.contentType });
      response.end(request.method === 'HEAD' ? undefined : text);
    };
    answer().catch((error: unknown) => {
      const appError = toAppError(error);
      response.writeHead(statusOfCategory[appError.category], { 'content-type': 'application/json' });
      response.end(JSON.stringify(errorBody(appError)));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return { server, url: `http://${shown}:${address.port}/metrics` };
}
