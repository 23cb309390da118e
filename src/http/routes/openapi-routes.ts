import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { buildOpenApiDocument, type OpenApiDocument } from '../openapi-document.js';
import { renderDocsPage } from '../openapi-docs-page.js';
import { setPageHeaders } from './dashboard-routes.js';

/** The package's version, for the document's `info.version`. */
function packageVersion(): string {
  const raw = readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8');
  return (JSON.parse(raw) as { version: string }).version;
}

/**
 * `GET /openapi.json` and `GET /docs`. Both are built on first request, from the app's complete route
 * table, so they list every route, whenever it was registered; the routes cannot change afterwards.
 */
export function registerOpenApiRoutes(app: FastifyInstance): void {
  let document: OpenApiDocument | undefined;
  let page: string | undefined;
  const built = (): OpenApiDocument =>
    (document ??= buildOpenApiDocument(app.declaredRoutes, packageVersion()));
  const open = { auth: { kind: 'public' } } as const;

  app.get('/openapi.json', { config: open }, (_request, reply) =>
    reply.header('cache-control', 'no-cache').header('access-control-allow-origin', '*').send(built()),
  );
  app.get('/docs', { config: open }, (_request, reply) => {
    page ??= renderDocsPage(built());
    return setPageHeaders(reply, 'text/html; charset=utf-8').header('cache-control', 'no-cache').send(page);
  });
}
