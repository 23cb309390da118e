import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { AppError } from '../contracts/errors.js';
import { errors, type FieldViolation } from '../contracts/errors.js';
import { errorBody } from './error-response.js';

/** The refusal for a request Node's HTTP parser rejected, by the parser's error code. */
function refusalOf(code: string | undefined): { status: number; error: AppError } {
  const invalid = (message: string, violation: FieldViolation) =>
    errors.INVALID_ARGUMENT(message, [violation]);
  if (code === 'HPE_HEADER_OVERFLOW') {
    return {
      status: 431,
      error: invalid('The request line and headers are larger than this server accepts.', {
        field: 'headers',
        description: 'the request line and headers must stay under the server limit (16 KB)',
        violatedRule: 'MAX_LENGTH',
      }),
    };
  }
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return {
      status: 408,
      error: invalid('The request was not received in time.', {
        field: 'request',
        description: 'send the whole request within the server timeout',
        violatedRule: 'OTHER',
      }),
    };
  }
  return {
    status: 400,
    error: invalid('The request is not valid HTTP/1.1 (request line, headers or body framing).', {
      field: 'request',
      description: `is malformed${code ? ` (${code})` : ''}`,
      violatedRule: 'FORMAT',
    }),
  };
}

/**
 * Answers a request Node's HTTP parser refused before Fastify saw it — headers past the limit, a NUL or a
 * space in the path, conflicting Content-Length, a broken chunk — in the spec's error shape like every
 * other refusal (Fastify's default answers in its own shape). The connection is closed afterwards: the
 * parser cannot tell where the next request would start.
 */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  // A reset connection has nobody to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  if (socket.writable) {
    const { status, error: appError } = refusalOf(error.code);
    const body = JSON.stringify(errorBody(appError));
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
