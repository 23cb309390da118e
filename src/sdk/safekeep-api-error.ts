import type { ErrorResponseBody, FieldViolation } from './types.js';

/**
 * The code given to a response that is not in the API's error shape (a proxy's error page, a body that is
 * not JSON): the server that answered is probably not safekeep.
 */
export const UNEXPECTED_RESPONSE = 'UNEXPECTED_RESPONSE';

/**
 * The server refused a request (backups-api.md §8). `code` is the stable code to branch on
 * (`BACKUP_NOT_FOUND`, `BACKUP_ALREADY_IN_PROGRESS`, ...); validation failures have the code
 * `INVALID_ARGUMENT` and say what was wrong in `fieldViolations`.
 */
export class SafekeepApiError extends Error {
  override readonly name = 'SafekeepApiError';

  constructor(
    /** The HTTP status (400, 404, 409, 428, 503, ...). */
    readonly status: number,
    /** `details.applicationError.code`, `INVALID_ARGUMENT` for validation errors, or `UNEXPECTED_RESPONSE`. */
    readonly code: string,
    /** The server's message: what was wrong and what was expected. */
    message: string,
    /** `details.applicationError.data`: structured facts, e.g. `{ backupId }` of the backup already in progress. */
    readonly data: Readonly<Record<string, unknown>> = {},
    /** For `INVALID_ARGUMENT`: each field at fault and why. Empty otherwise. */
    readonly fieldViolations: readonly FieldViolation[] = [],
    /** Seconds the server asked the caller to wait (`Retry-After`, sent with 503 and 429). */
    readonly retryAfterSeconds: number | undefined = undefined,
    /** The error body exactly as the server sent it (backups-api.md §8); undefined when it had another shape. */
    readonly body: ErrorResponseBody | undefined = undefined,
  ) {
    super(message);
  }

  /**
   * Builds the error from a failed response's status, body text and `Retry-After` header. A body not in
   * the API's error shape gives the code {@link UNEXPECTED_RESPONSE}.
   */
  static fromResponse(status: number, text: string, retryAfter: string | null): SafekeepApiError {
    const seconds = retryAfter !== null && /^\d+$/.test(retryAfter) ? Number(retryAfter) : undefined;
    let body: Partial<ErrorResponseBody> | undefined;
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null) body = parsed;
    } catch {
      body = undefined;
    }
    const message = typeof body?.message === 'string' ? body.message : undefined;
    const application = body?.details?.applicationError;
    const validation = body?.details?.validationError;
    if (message !== undefined && typeof application?.code === 'string') {
      const shaped = body as ErrorResponseBody;
      return new SafekeepApiError(
        status,
        application.code,
        message,
        application.data ?? {},
        [],
        seconds,
        shaped,
      );
    }
    if (message !== undefined && validation && Array.isArray(validation.fieldViolations)) {
      const shaped = body as ErrorResponseBody;
      return new SafekeepApiError(
        status,
        'INVALID_ARGUMENT',
        message,
        {},
        validation.fieldViolations,
        seconds,
        shaped,
      );
    }
    const excerpt = text.length > 200 ? `${text.slice(0, 200)}…` : text;
    return new SafekeepApiError(
      status,
      UNEXPECTED_RESPONSE,
      `HTTP ${status} without a safekeep error body${excerpt ? `: ${excerpt}` : ''}`,
      {},
      [],
      seconds,
    );
  }
}

/** The server could not be reached (refused, reset, DNS failure, aborted): no response was received. */
export class SafekeepConnectionError extends Error {
  override readonly name = 'SafekeepConnectionError';

  constructor(
    /** The URL that was requested. */
    readonly url: string,
    /** What `fetch` threw. */
    options: { cause: unknown },
  ) {
    super(`cannot reach safekeep at ${url}: ${describeCause(options.cause)}`, options);
  }
}

function describeCause(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  // Node's fetch throws "fetch failed" and puts the socket error (ECONNREFUSED, ...) in `cause`.
  const inner = cause.cause;
  if (inner instanceof Error) {
    const code = (inner as { code?: unknown }).code;
    return typeof code === 'string' ? `${code} (${inner.message})` : inner.message;
  }
  return cause.message;
}
