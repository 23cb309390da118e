import { createHmac, timingSafeEqual } from 'node:crypto';
import { invalidArgument } from '../contracts/errors.js';
import type { Environment } from '../domain/environment.js';
import type { KeysetPosition } from '../ports/storage.js';

/** What a query cursor carries: the whole query, so the next request needs nothing else. */
export interface CursorState {
  readonly collectionId: string;
  readonly environment: Environment;
  readonly filter: unknown;
  readonly sort: unknown;
  readonly limit: number;
  readonly position: KeysetPosition;
  /** `after`: the next page; `before`: the previous one. */
  readonly direction: 'after' | 'before';
}

const badCursor = () =>
  invalidArgument('cursorPaging.cursor', 'is not a cursor this server issued for this site', 'FORMAT');

/**
 * Cursors are the JSON state, base64url, and an HMAC binding it to the site; a tampered, truncated or
 * foreign cursor is refused with INVALID_ARGUMENT instead of being trusted.
 */
export class CursorCodec {
  constructor(private readonly secret: string) {}

  private mac(siteId: string, payload: string): Buffer {
    return createHmac('sha256', this.secret)
      .update(siteId)
      .update('\n')
      .update(payload)
      .digest()
      .subarray(0, 16);
  }

  encode(siteId: string, state: CursorState): string {
    const payload = Buffer.from(JSON.stringify(state)).toString('base64url');
    return `${payload}.${this.mac(siteId, payload).toString('base64url')}`;
  }

  /** @throws AppError INVALID_ARGUMENT */
  decode(siteId: string, token: string): CursorState {
    const [payload, signature, extra] = token.split('.');
    if (!payload || !signature || extra !== undefined) throw badCursor();
    const given = Buffer.from(signature, 'base64url');
    const expected = this.mac(siteId, payload);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw badCursor();
    try {
      return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as CursorState;
    } catch {
      throw badCursor();
    }
  }
}
