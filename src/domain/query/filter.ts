import { AppError, invalidArgument } from '../../contracts/errors.js';
import { parseFieldPath, type FieldPath } from './field-path.js';
import { parseDateValue } from '../item-codec.js';

/** A value a filter compares against. Dates are kept apart so engines compare them as dates. */
export type FilterValue =
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'number'; readonly value: number }
  | { readonly type: 'boolean'; readonly value: boolean }
  | { readonly type: 'null' }
  | { readonly type: 'date'; readonly iso: string; readonly ms: number };

export type CompareOperator = 'eq' | 'ne' | 'lt' | 'lte' | 'gt' | 'gte';
export type StringOperator = 'startsWith' | 'endsWith' | 'contains';

/** The parsed Wix query-language filter (data-api.md §2), validated and free of raw JSON. */
export type FilterNode =
  | { readonly kind: 'and'; readonly nodes: readonly FilterNode[] }
  | { readonly kind: 'or'; readonly nodes: readonly FilterNode[] }
  | { readonly kind: 'not'; readonly node: FilterNode }
  | {
      readonly kind: 'compare';
      readonly field: FieldPath;
      readonly op: CompareOperator;
      readonly value: FilterValue;
    }
  | { readonly kind: 'in'; readonly field: FieldPath; readonly values: readonly FilterValue[] }
  | {
      readonly kind: 'hasSome' | 'hasAll';
      readonly field: FieldPath;
      readonly values: readonly FilterValue[];
    }
  | {
      readonly kind: 'string';
      readonly field: FieldPath;
      readonly op: StringOperator;
      readonly value: string;
    }
  | { readonly kind: 'exists'; readonly field: FieldPath; readonly exists: boolean }
  | LinkedNode;

/**
 * `$hasSome`/`$hasAll` on a MULTI_REFERENCE field, whose values live in the link store, not in the item:
 * items linked through `field` to some (or all) of `toIds` in `toCollectionId` (same environment). The
 * parser never produces it; the item service rewrites hasSome/hasAll nodes once it knows the field's type.
 */
export interface LinkedNode {
  readonly kind: 'linked';
  readonly field: string;
  readonly toCollectionId: string;
  readonly toIds: readonly string[];
  readonly all: boolean;
}

const MAX_DEPTH = 16;
const MAX_NODES = 500;
const MAX_LIST = 1000;

const compareOps: Record<string, CompareOperator> = {
  $eq: 'eq',
  $ne: 'ne',
  $lt: 'lt',
  $lte: 'lte',
  $gt: 'gt',
  $gte: 'gte',
};
const stringOps: Record<string, StringOperator> = {
  $startsWith: 'startsWith',
  $endsWith: 'endsWith',
  $contains: 'contains',
};
const listOps: Record<string, 'in' | 'hasSome' | 'hasAll'> = {
  $in: 'in',
  $hasSome: 'hasSome',
  $hasAll: 'hasAll',
};

/** Fields whose values are dates although they travel as `{ $date }` or ISO strings. */
const dateSystemFields = new Set(['_createdDate', '_updatedDate']);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

class FilterParser {
  private nodes = 0;

  constructor(private readonly fieldName: string) {}

  parse(raw: unknown, depth: number, where: string): FilterNode {
    if (!isPlainObject(raw)) throw invalidArgument(where, 'must be an object');
    if (depth > MAX_DEPTH) throw invalidArgument(where, `nests deeper than ${MAX_DEPTH} levels`, 'MAX');
    const parts: FilterNode[] = [];
    for (const [key, value] of Object.entries(raw)) {
      const at = `${where}.${key}`;
      if (key === '$and' || key === '$or') {
        if (!Array.isArray(value)) throw invalidArgument(at, 'must be an array of filters');
        if (value.length > MAX_LIST)
          throw invalidArgument(at, `has more than ${MAX_LIST} entries`, 'MAX_SIZE');
        const nodes = value.map((entry, i) => this.parse(entry, depth + 1, `${at}[${i}]`));
        parts.push({ kind: key === '$and' ? 'and' : 'or', nodes });
      } else if (key === '$not') {
        // The Wix SDK sends `$not: [filter]`; a single filter object is accepted too.
        if (Array.isArray(value)) {
          if (value.length > MAX_LIST)
            throw invalidArgument(at, `has more than ${MAX_LIST} entries`, 'MAX_SIZE');
          const nodes = value.map((entry, i) => this.parse(entry, depth + 1, `${at}[${i}]`));
          parts.push({ kind: 'not', node: { kind: 'and', nodes } });
        } else {
          parts.push({ kind: 'not', node: this.parse(value, depth + 1, at) });
        }
      } else if (key.startsWith('$')) {
        throw invalidArgument(at, `unknown operator ${key}`);
      } else {
        parts.push(...this.parseField(key, value, at));
      }
      this.count(at);
    }
    if (parts.length === 1 && parts[0]) return parts[0];
    return { kind: 'and', nodes: parts };
  }

  private count(at: string): void {
    this.nodes += 1;
    if (this.nodes > MAX_NODES)
      throw invalidArgument(at, `the filter has more than ${MAX_NODES} conditions`, 'MAX');
  }

  private parseField(key: string, raw: unknown, at: string): FilterNode[] {
    const field = parseFieldPath(key, at);
    const isDateField = field.length === 1 && dateSystemFields.has(field[0] ?? '');
    if (!isPlainObject(raw) || isDateLiteral(raw)) {
      return [{ kind: 'compare', field, op: 'eq', value: this.value(raw, at, isDateField) }];
    }
    const entries = Object.entries(raw);
    if (entries.length === 0) throw invalidArgument(at, 'an empty object is not a condition');
    return entries.map(([op, operand]): FilterNode => {
      const opAt = `${at}.${op}`;
      this.count(opAt);
      const compare = compareOps[op];
      if (compare) {
        const value = this.value(operand, opAt, isDateField);
        if (compare !== 'eq' && compare !== 'ne' && (value.type === 'null' || value.type === 'boolean')) {
          throw invalidArgument(opAt, `${op} needs a number, a string or a date`);
        }
        return { kind: 'compare', field, op: compare, value };
      }
      const stringOp = stringOps[op];
      if (stringOp) {
        if (typeof operand !== 'string') throw invalidArgument(opAt, `${op} needs a string`);
        return { kind: 'string', field, op: stringOp, value: operand };
      }
      const listOp = listOps[op];
      if (listOp) {
        if (!Array.isArray(operand)) throw invalidArgument(opAt, `${op} needs an array of values`);
        if (operand.length > MAX_LIST)
          throw invalidArgument(opAt, `has more than ${MAX_LIST} values`, 'MAX_SIZE');
        const values = operand.map((v, i) => this.value(v, `${opAt}[${i}]`, isDateField));
        return listOp === 'in' ? { kind: 'in', field, values } : { kind: listOp, field, values };
      }
      if (op === '$exists') {
        if (typeof operand !== 'boolean') throw invalidArgument(opAt, '$exists needs true or false');
        return { kind: 'exists', field, exists: operand };
      }
      throw invalidArgument(
        opAt,
        op.startsWith('$') ? `unknown operator ${op}` : 'comparing whole objects is not supported',
      );
    });
  }

  private value(raw: unknown, at: string, asDate: boolean): FilterValue {
    if (raw === null) return { type: 'null' };
    if (isDateLiteral(raw)) return dateValue(raw.$date, at);
    switch (typeof raw) {
      case 'string':
        return asDate ? dateValue(raw, at) : { type: 'string', value: raw };
      case 'number':
        return { type: 'number', value: raw };
      case 'boolean':
        return { type: 'boolean', value: raw };
      case 'bigint':
      case 'function':
      case 'object':
      case 'symbol':
      case 'undefined':
        break;
    }
    throw invalidArgument(
      at,
      `${this.fieldName} values must be strings, numbers, booleans, null or { "$date": ... }`,
    );
  }
}

function isDateLiteral(value: unknown): value is { $date: unknown } {
  return isPlainObject(value) && Object.keys(value).length === 1 && '$date' in value;
}

function dateValue(raw: unknown, at: string): FilterValue {
  const parsed = parseDateValue(raw);
  if (!parsed) throw invalidArgument(at, 'is not a valid date', 'FORMAT');
  return { type: 'date', iso: parsed.iso, ms: parsed.ms };
}

/**
 * Parses a Wix query-language filter. `null`/`undefined`/`{}` match everything and give `null`.
 * @throws AppError INVALID_ARGUMENT naming the offending path
 */
export function parseFilter(raw: unknown, where = 'filter'): FilterNode | null {
  if (raw === undefined || raw === null) return null;
  if (isPlainObject(raw) && Object.keys(raw).length === 0) return null;
  try {
    return new FilterParser(where).parse(raw, 0, where);
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw invalidArgument(where, 'could not be read');
  }
}
