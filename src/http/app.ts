import { Ajv, type Options as AjvOptions } from 'ajv';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifySchema,
  type FastifyServerOptions,
} from 'fastify';
import { AppError, errors, invalidArgument } from '../contracts/errors.js';
import type { Scope } from '../contracts/scopes.js';
import {
  requireScope,
  type AuthService,
  type Principal,
  type SiteContext,
} from '../services/auth-service.js';
import type { AdmissionConfig } from '../config.js';
import { discardBody, KeyRateLimiter, RequestBudget } from './admission.js';
import { answerClientError } from './client-error.js';
import { errorBody, retryAfterSeconds, statusOfCategory, toAppError } from './error-response.js';
import { withKeysRedacted } from './log-redaction.js';
import { decodeGetQuery } from './get-query.js';
import { illFormedTextIn } from './ill-formed-text.js';
import { unboundedNumbers } from './schema-bounds.js';
import { limitSiteBodies } from './site-body-limit.js';

/**
 * Who may call a route: nobody needs a key, a key with a scope (`none`: any valid key, for routes that show
 * a key only itself), or a key acting on a site with a scope. Every route says it explicitly.
 */
export type RouteAuth =
  | { readonly kind: 'public' }
  | { readonly kind: 'key'; readonly scope: Scope | 'none' }
  | { readonly kind: 'site'; readonly scope: Scope };

/** A registered route and what it requires, for audits and tests. */
export interface DeclaredRoute {
  readonly method: string;
  readonly url: string;
  readonly auth: RouteAuth;
  /** The schemas the route validates with (the OpenAPI document is generated from them). */
  readonly schema: FastifySchema | undefined;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route of the app with its declared auth (filled while routes register). */
    readonly declaredRoutes: readonly DeclaredRoute[];
  }
  interface FastifyContextConfig {
    /** Declared by every route; the meta-test in test/http/routes.test.ts checks it. */
    auth?: RouteAuth;
    /**
     * The body is read by the handler as a stream (Import Backup), under a limit of its own: it is not
     * reserved against the bytes of bodies in flight nor against the site's maxRequestBodyBytes.
     */
    streamBody?: boolean;
  }
  interface FastifyRequest {
    principal?: Principal;
    siteContext?: SiteContext;
  }
}

export interface HttpAppOptions {
  readonly auth: AuthService;
  /** Largest request body accepted, in bytes. */
  readonly bodyLimit: number;
  /** Rate limits and the bounds on bodies and bulk work in flight; none when absent. */
  readonly admission?: AdmissionConfig;
  readonly logger: FastifyServerOptions['logger'];
  /** A site's largest request body (its maxRequestBodyBytes quota), at most `bodyLimit`. */
  readonly siteBodyLimit?: (siteId: string) => Promise<number>;
  /** Registers the routes. */
  readonly routes: (app: FastifyInstance) => void;
  /** Told each answered request's method, route pattern (never the URL), status and duration in seconds. */
  readonly onResponse?: (method: string, route: string, status: number, seconds: number) => void;
  /** Serve HTTPS with this certificate and key (PEM) instead of HTTP. */
  readonly https?: { readonly cert: Buffer; readonly key: Buffer };
}

const ajvBase: AjvOptions = { allErrors: false, strict: false, useDefaults: true, removeAdditional: false };

/** The principal of a request whose route requires a key. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw errors.UNAUTHENTICATED();
  return request.principal;
}

/** The site context of a request whose route acts on a site. */
export function siteOf(request: FastifyRequest): SiteContext {
  if (!request.siteContext) throw errors.UNAUTHENTICATED();
  return request.siteContext;
}

export function sendError(reply: FastifyReply, error: AppError): FastifyReply {
  const status = statusOfCategory[error.category];
  const retryAfter = retryAfterSeconds(error);
  if (retryAfter !== undefined) void reply.header('retry-after', String(retryAfter));
  return reply.code(status).type('application/json').send(errorBody(error));
}

/**
 * One rule for text on every route: every string a request carries — in the body, the query string (`.r`
 * included) and the path, at any depth, property names and item data included — must be well-formed UTF-16.
 * JSON can spell a lone surrogate (`"\ud800"`); storage cannot keep one (SQLite stores its WTF-8 bytes and
 * reads them back as U+FFFD, PostgreSQL stores U+FFFD), so an id holding one could never be found again.
 * Header values need no check: Node reads them as Latin-1, which cannot spell a surrogate.
 * @throws AppError INVALID_ARGUMENT naming the field
 */
function refuseIllFormedText(request: FastifyRequest): void {
  const parts: [string, unknown][] = [
    ['path', request.params],
    ['query', request.query],
    ['body', request.body],
  ];
  for (const [part, value] of parts) {
    const where = illFormedTextIn(value, '');
    if (where === undefined) continue;
    const field = where === '' || where === '*' ? part : where;
    throw invalidArgument(
      field,
      'is not well-formed Unicode: it holds a lone UTF-16 surrogate (\\uD800–\\uDFFF without its pair)',
      'FORMAT',
    );
  }
}

/**
 * Counts a request against the bounds of `budget` until its answer is sent or its connection closes (the
 * parsed body lives as long as its handler): its body's bytes, and a bulk request of its site.
 * @throws AppError RATE_LIMITED
 */
function admit(budget: RequestBudget, request: FastifyRequest, reply: FastifyReply): void {
  const releases: (() => void)[] = [];
  reply.raw.once('close', () => releases.forEach((release) => release()));
  if (request.siteContext && request.routeOptions.url?.includes('/bulk/'))
    releases.push(budget.enterBulk(request.siteContext.siteId));
  if (request.routeOptions.config.streamBody) return;
  const length = Number(request.headers['content-length']);
  // A body over the body limit is refused by Fastify (413) before it is read.
  if (length > 0 && length <= request.routeOptions.bodyLimit) releases.push(budget.reserveBody(length));
}

/**
 * Builds the HTTP app: strict JSON bodies, the spec's error shape for every failure (Fastify's own
 * included), `.r` and dotted query parameters for GETs, and authentication from each route's `auth`.
 */
export function buildHttpApp(options: HttpAppOptions): FastifyInstance {
  const app = Fastify({
    logger: withKeysRedacted(options.logger),
    bodyLimit: options.bodyLimit,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 1024 },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // Errors Fastify raises before routing (a malformed URL, say) get the same shape as all others.
    frameworkErrors: (error, _request, reply) => {
      void sendError(reply, toAppError(error));
    },
    // And so do requests Node's HTTP parser refuses before Fastify sees them.
    clientErrorHandler: answerClientError,
    ...(options.https && { https: { cert: options.https.cert, key: options.https.key } }),
  });

  const { onResponse } = options;
  if (onResponse) {
    // Requests that matched no route share one label, so a scan of random URLs adds no series.
    app.addHook('onResponse', (request, reply, done) => {
      onResponse(
        request.method,
        request.routeOptions.url ?? 'unmatched',
        reply.statusCode,
        reply.elapsedTime / 1000,
      );
      done();
    });
  }

  // `Expect:` other than 100-continue: Node would answer 417 with an empty body; say what was wrong.
  app.server.on('checkExpectation', (_request, response) => {
    const error = errors.INVALID_ARGUMENT('Only "Expect: 100-continue" is supported.', [
      { field: 'expect', description: 'must be 100-continue or absent', violatedRule: 'VALIDATION' },
    ]);
    response.writeHead(417, { 'content-type': 'application/json', connection: 'close' });
    response.end(JSON.stringify(errorBody(error)));
  });

  // Bodies are checked strictly (a string is not a number); query strings are coerced, since every query
  // parameter arrives as text, and a single value becomes an array where the schema wants one.
  const strictAjv = new Ajv({ ...ajvBase, coerceTypes: false });
  const queryAjv = new Ajv({ ...ajvBase, coerceTypes: 'array' });
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'querystring' ? queryAjv : strictAjv).compile(schema as object),
  );

  app.setErrorHandler((error, request, reply) => {
    const appError = toAppError(error);
    if (appError.category === 'INTERNAL' || appError.category === 'UNAVAILABLE') {
      request.log.error({ err: error }, 'request failed');
    }
    return sendError(reply, appError);
  });

  app.setNotFoundHandler((request, reply) =>
    sendError(reply, errors.ROUTE_NOT_FOUND(request.method, request.url)),
  );

  // Public routes (health, the dashboard's files, the API document) are never limited; the others count
  // against their key once it is known, and reserve their body before it is read.
  const limiter = options.admission
    ? new KeyRateLimiter(options.admission.ratePerSecond, options.admission.burst)
    : undefined;
  const budget = options.admission ? new RequestBudget(options.admission) : undefined;

  app.addHook('onRequest', async (request, reply) => {
    const auth = request.routeOptions.config.auth;
    if (!auth || auth.kind === 'public') return;
    const principal = await options.auth.authenticate(request.headers.authorization);
    request.principal = principal;
    try {
      limiter?.take(principal.keyId);
      if (auth.kind === 'site') {
        const header = request.headers['wix-site-id'];
        if (Array.isArray(header)) throw invalidArgument('wix-site-id', 'send the header once');
        request.siteContext = await options.auth.resolveSite(principal, header);
        requireScope(principal, auth.scope);
      } else if (auth.scope !== 'none') {
        requireScope(principal, auth.scope);
      }
      if (budget) admit(budget, request, reply);
    } catch (error) {
      // A client held back by a limit reads its answer and retries on the same connection.
      if (error instanceof AppError && error.code === 'RATE_LIMITED') await discardBody(request.raw);
      throw error;
    }
  });

  // A body of unknown length (chunked) is counted as it arrives.
  app.addHook('preParsing', (request, reply, payload, done) => {
    if (
      !budget ||
      !request.principal ||
      request.headers['content-length'] !== undefined ||
      request.routeOptions.config.streamBody
    ) {
      done(null, payload);
      return;
    }
    done(
      null,
      budget.meterBody(payload, (release) => reply.raw.once('close', release)),
    );
  });
  if (options.siteBodyLimit) limitSiteBodies(app, options.siteBodyLimit, options.bodyLimit);

  app.addHook('preValidation', (request, _reply, done) => {
    if (request.method === 'GET' || request.method === 'DELETE') {
      request.query = decodeGetQuery(request.query as Record<string, unknown>);
    } else if (request.body === undefined) {
      // A POST without a body (curl -X POST) is an empty request, so the schema names what is missing.
      request.body = {};
    }
    refuseIllFormedText(request);
    done();
  });

  // While closing, answer in-flight requests with `Connection: close`, so keep-alive clients let go and
  // shutdown does not wait for their idle timeout.
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) void reply.header('connection', 'close');
    done(null, payload);
  });

  // A route that does not say who may call it is a bug: refuse to start rather than guess.
  const declaredRoutes: DeclaredRoute[] = [];
  app.decorate('declaredRoutes', declaredRoutes);
  app.addHook('onRoute', (route) => {
    const auth = route.config?.auth;
    if (!auth) throw new Error(`route ${String(route.method)} ${route.url} declares no auth`);
    // Types say so too, but a route declared from plain JavaScript or a cast must not slip through.
    if (auth.kind !== 'public' && !(auth as { scope?: unknown }).scope)
      throw new Error(`route ${String(route.method)} ${route.url} declares no scope`);
    // And so is an integer no bound keeps inside what storage and JSON numbers can hold.
    for (const part of ['body', 'querystring', 'params', 'headers'] as const) {
      const unbounded = unboundedNumbers(route.schema?.[part]);
      if (unbounded.length > 0)
        throw new Error(
          `route ${String(route.method)} ${route.url}: ${part} ${unbounded.join(', ')} is a number without ` +
            'bounds within ±MAX_REQUEST_INTEGER (build it with RequestInteger)',
        );
    }
    for (const method of [route.method].flat())
      declaredRoutes.push({ method, url: route.url, auth, schema: route.schema });
  });

  options.routes(app);
  return app;
}
