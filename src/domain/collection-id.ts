import { invalidArgument } from '../contracts/errors.js';

export const MAX_COLLECTION_ID_LENGTH = 256;

// Letters, digits and _ - @ . / ; app collections look like "@wix/app/Books". No empty segments, no "..".
const shape = /^[A-Za-z0-9_@][A-Za-z0-9_@.\-/]*$/;

/**
 * Validates a collection id (also a restore destination id).
 * @throws AppError INVALID_ARGUMENT naming `where`
 */
export function checkCollectionId(raw: unknown, where: string): string {
  if (typeof raw !== 'string' || raw.length === 0)
    throw invalidArgument(where, 'a collection id must be a non-empty string', 'REQUIRED_FIELD');
  if (raw.length > MAX_COLLECTION_ID_LENGTH) {
    throw invalidArgument(
      where,
      `collection ids are at most ${MAX_COLLECTION_ID_LENGTH} characters`,
      'MAX_LENGTH',
    );
  }
  if (!shape.test(raw) || raw.includes('//') || raw.includes('..') || raw.endsWith('/')) {
    throw invalidArgument(
      where,
      `"${raw.slice(0, 64)}" is not a valid collection id: use letters, digits and _ - @ . / (no empty path parts)`,
      'FORMAT',
    );
  }
  return raw;
}
