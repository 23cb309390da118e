import type { FastifyRequest, FastifyServerOptions } from 'fastify';

/** Anything shaped like an API key secret (`sk_` and a base64url body), however it reached a URL. */
const keyShaped = /sk_[A-Za-z0-9_-]{16,}/g;

/** A URL with every key-shaped part replaced, for logs. */
export function redactKeys(url: string): string {
  return url.replace(keyShaped, 'sk_[redacted]');
}

/** How a request is logged: Fastify's default fields, the URL with keys redacted. */
function requestForLog(request: FastifyRequest) {
  return {
    method: request.method,
    url: redactKeys(request.url),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket.remotePort,
  };
}

/**
 * The logger options with a request serializer that redacts key-shaped text from URLs. The Authorization
 * header is never logged, but a caller may paste a key into a path or query (as an id, say), and the
 * access log must not keep it.
 */
export function withKeysRedacted(logger: FastifyServerOptions['logger']): FastifyServerOptions['logger'] {
  if (!logger) return logger;
  const options = logger === true ? {} : logger;
  return { ...options, serializers: { ...options.serializers, req: requestForLog } };
}
