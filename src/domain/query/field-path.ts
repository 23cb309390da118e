import { invalidArgument } from '../../contracts/errors.js';

/** A field named in a filter, a sort or a projection: `address.city` is `['address', 'city']`. */
export type FieldPath = readonly string[];

const MAX_PATH_LENGTH = 256;
const MAX_SEGMENTS = 16;
// Control characters and the double quote (which would end a quoted JSON-path label) are refused; the
// path is always bound as a parameter, never spliced into SQL, so this is about clear errors, not safety.
// eslint-disable-next-line no-control-regex
const forbidden = /[\u0000-\u001f\u007f"\\]/;

/**
 * Validates a dotted field path.
 * @throws AppError INVALID_ARGUMENT when the path is empty, too long or holds control characters or quotes
 */
export function parseFieldPath(raw: unknown, where: string): FieldPath {
  if (typeof raw !== 'string' || raw.length === 0)
    throw invalidArgument(where, 'a field name must be a non-empty string');
  if (raw.length > MAX_PATH_LENGTH)
    throw invalidArgument(where, `field names are at most ${MAX_PATH_LENGTH} characters`, 'MAX_LENGTH');
  if (forbidden.test(raw))
    throw invalidArgument(
      where,
      'field names may not contain quotes, backslashes or control characters',
      'FORMAT',
    );
  const segments = raw.split('.');
  if (segments.length > MAX_SEGMENTS)
    throw invalidArgument(where, `field paths have at most ${MAX_SEGMENTS} parts`, 'MAX');
  if (segments.some((s) => s.length === 0))
    throw invalidArgument(where, `"${raw}" has an empty part`, 'FORMAT');
  return segments;
}
