import { invalidArgument } from '../../contracts/errors.js';
import { parseFieldPath, type FieldPath } from './field-path.js';

export interface SortKey {
  readonly field: FieldPath;
  readonly order: 'ASC' | 'DESC';
}

const MAX_SORT_KEYS = 8;

/**
 * Parses `sort: [{ fieldName, order }]`. `_id` ascending is always the final tie-breaker (added by the
 * engine), so pages are stable; an explicit `_id` key is honoured and ends the list.
 */
export function parseSort(raw: unknown, where = 'sort'): SortKey[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw invalidArgument(where, 'must be an array of { fieldName, order }');
  if (raw.length > MAX_SORT_KEYS)
    throw invalidArgument(where, `at most ${MAX_SORT_KEYS} sort keys`, 'MAX_SIZE');
  const keys: SortKey[] = [];
  raw.forEach((entry: unknown, i) => {
    const at = `${where}[${i}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
      throw invalidArgument(at, 'must be { fieldName, order }');
    const { fieldName, order, ...rest } = entry as Record<string, unknown>;
    const unknown = Object.keys(rest)[0];
    if (unknown !== undefined)
      throw invalidArgument(`${at}.${unknown}`, 'is not a sort property', 'FIELD_NOT_ALLOWED');
    if (order !== undefined && order !== 'ASC' && order !== 'DESC')
      throw invalidArgument(`${at}.order`, 'must be ASC or DESC');
    const field = parseFieldPath(fieldName, `${at}.fieldName`);
    if (keys.some((k) => k.field.join('.') === field.join('.')))
      throw invalidArgument(at, `sorts by ${field.join('.')} twice`);
    keys.push({ field, order: order ?? 'ASC' });
  });
  return keys;
}
