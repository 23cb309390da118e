import { readFile, realpath, stat } from 'node:fs/promises';
import { extname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errors } from '../../contracts/errors.js';
import { sendError } from '../app.js';

/** Where the dashboard's files are served from, below `/ui/`. */
export const DASHBOARD_ASSETS_PREFIX = '/ui/';

/**
 * The directories the dashboard is served from, first match wins: the hand-written files (`web/public`:
 * the page, styles) and the compiled modules (`dist/web`: the dashboard's and the SDK's JavaScript, built
 * by `npm run build`). Both are found from this module's place in `dist/src/http/routes`.
 */
export function defaultDashboardDirs(): string[] {
  const root = fileURLToPath(new URL('../../../../', import.meta.url));
  return [join(root, 'web', 'public'), join(root, 'dist', 'web')];
}

/** Only these kinds of file are served; anything else is not found. */
const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/**
 * The page may load scripts, styles, images and API answers from this origin only, run no inline code,
 * and be framed by nobody. The dashboard keeps its API key in sessionStorage, so no script from
 * elsewhere may ever run beside it.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers of every page and file the dashboard and the docs serve. */
export function setPageHeaders(reply: FastifyReply, contentType: string): FastifyReply {
  return reply
    .header('content-type', contentType)
    .header('content-security-policy', CONTENT_SECURITY_POLICY)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cross-origin-opener-policy', 'same-origin')
    .header('x-frame-options', 'DENY');
}

/**
 * A path below the prefix, as the client sent it (still encoded): plain names only. A percent sign (so
 * `..%2f`, `%00` and any double encoding), a dot-segment, a hidden file, a backslash or an empty segment
 * makes the file not found, before the file system is asked anything.
 */
const safePath = /^[A-Za-z0-9_-][A-Za-z0-9._-]*(?:\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$/;

function notFound(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendError(reply, errors.ROUTE_NOT_FOUND(request.method, request.url));
}

/**
 * The content of the file a relative path names in one of `dirs`, or undefined; never a file outside
 * them. A file that vanishes while it is read (a rebuild) is not found rather than an error.
 */
async function readAsset(
  dirs: readonly string[],
  relative: string,
): Promise<{ content: Buffer; etag: string } | undefined> {
  for (const dir of dirs) {
    try {
      const root = await realpath(dir);
      // realpath follows links: a link that leads out of the directory is not served.
      const file = await realpath(join(root, relative));
      if (!file.startsWith(root + sep)) continue;
      const info = await stat(file);
      if (!info.isFile()) continue;
      // The files have no content hash in their names, so browsers revalidate each time; the ETag
      // makes that a 304 while nothing changed.
      const etag = `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
      return { content: await readFile(file), etag };
    } catch {
      continue;
    }
  }
  return undefined;
}

async function sendFile(
  request: FastifyRequest,
  reply: FastifyReply,
  dirs: readonly string[],
  relative: string,
): Promise<FastifyReply> {
  const contentType = contentTypes[extname(relative)];
  if (!contentType || !safePath.test(relative)) return notFound(request, reply);
  const asset = await readAsset(dirs, relative);
  if (!asset) return notFound(request, reply);
  setPageHeaders(reply, contentType).header('cache-control', 'no-cache').header('etag', asset.etag);
  if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
  return reply.send(asset.content);
}

/**
 * The dashboard: a single page at `/` whose modules and styles are under `/ui/`. Public routes: the page
 * holds no data; it signs in with an API key the person types, and calls the API like any client.
 */
export function registerDashboardRoutes(
  app: FastifyInstance,
  options: { dirs?: readonly string[] } = {},
): void {
  const dirs = options.dirs ?? defaultDashboardDirs();
  const open = { auth: { kind: 'public' } } as const;
  app.get('/', { config: open }, (request, reply) => sendFile(request, reply, dirs, 'index.html'));
  app.get(`${DASHBOARD_ASSETS_PREFIX}*`, { config: open }, (request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    return sendFile(request, reply, dirs, path.slice(DASHBOARD_ASSETS_PREFIX.length));
  });
}
