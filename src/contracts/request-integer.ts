/**
 * The one bound on integers a request carries (paging offsets and limits, settings, revisions). Every
 * integer schema of a route is built here; the HTTP app refuses to start with a route whose schema holds
 * an integer or number without these bounds (`src/http/schema-bounds.ts`).
 */
import Type from 'typebox';

/**
 * The largest magnitude a request integer may have: 2^53 − 1. Storage could hold more (SQLite and
 * PostgreSQL integers are 64-bit), but JSON numbers are doubles, so a larger value would already have been
 * rounded by the time it is read (2^53 + 1 arrives as 2^53), and at 2^63 SQLite answers "datatype
 * mismatch" and PostgreSQL "out of range". Refusing past this bound is the honest limit.
 */
export const MAX_REQUEST_INTEGER = Number.MAX_SAFE_INTEGER;

/** Bounds of a request integer, each clamped to ±`MAX_REQUEST_INTEGER`. */
export interface RequestIntegerBounds {
  readonly minimum?: number;
  readonly maximum?: number;
}

/** An integer schema bounded by `MAX_REQUEST_INTEGER` (and by tighter bounds when given). */
export function RequestInteger(bounds: RequestIntegerBounds = {}) {
  return Type.Integer({
    minimum: Math.max(bounds.minimum ?? -MAX_REQUEST_INTEGER, -MAX_REQUEST_INTEGER),
    maximum: Math.min(bounds.maximum ?? MAX_REQUEST_INTEGER, MAX_REQUEST_INTEGER),
  });
}
