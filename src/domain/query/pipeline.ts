/**
 * Wix's aggregation pipeline (Aggregate Pipeline Data Items; the SDK's `pipelineBuilder`, `stages` and
 * `expressions`): the stages parsed and checked, and evaluated over a stream of items in bounded memory.
 * Which stages and expressions exist, and what each does here, is in docs/WIX-COMPATIBILITY.md.
 *
 * The item service runs the leading `filter` stages in the database (they select the items streamed); every
 * later stage runs here, as items arrive. Only `group` and `sort` hold results, at most MAX_HELD of them.
 */
import { invalidArgument } from '../../contracts/errors.js';
import { parseFieldPath, type FieldPath } from './field-path.js';
import { parseFilter, type FilterNode } from './filter.js';
import { matchesFilter } from './match.js';

/** The most results (groups, rows to sort, pushed values) a pipeline holds in memory at once. */
export const MAX_HELD = 100_000;
/** Stages one pipeline may have (Wix's limit). */
export const MAX_STAGES = 100;

export type Doc = Record<string, unknown>;

/** A parsed expression. */
export type Expression =
  | { readonly kind: 'field'; readonly path: FieldPath }
  | { readonly kind: 'literal'; readonly value: string | number }
  | { readonly kind: 'add' | 'sum' | 'multiply' | 'concat'; readonly args: readonly Expression[] }
  | { readonly kind: 'subtract' | 'divide' | 'mod'; readonly first: Expression; readonly second: Expression }
  | {
      readonly kind: 'abs' | 'floor' | 'ceil' | 'stringify' | 'toLower' | 'toUpper' | 'length';
      readonly arg: Expression;
    }
  | {
      readonly kind: 'substring';
      readonly arg: Expression;
      readonly start: Expression;
      readonly length: Expression | null;
    };

export type Accumulator = {
  readonly op: 'sum' | 'avg' | 'min' | 'max' | 'first' | 'last' | 'push';
  readonly expression: Expression;
  readonly name: string;
};

export type ProjectionField =
  | { readonly kind: 'include'; readonly path: FieldPath }
  | { readonly kind: 'exclude'; readonly path: FieldPath }
  | { readonly kind: 'reshape'; readonly name: FieldPath; readonly expression: Expression }
  | { readonly kind: 'nested'; readonly name: FieldPath; readonly fields: readonly ProjectionField[] };

export type Stage =
  | { readonly kind: 'filter'; readonly filter: FilterNode | null; readonly raw: unknown }
  | {
      readonly kind: 'group';
      readonly ids: readonly { readonly key: string; readonly expression: Expression }[];
      readonly accumulators: readonly Accumulator[];
    }
  | { readonly kind: 'projection'; readonly fields: readonly ProjectionField[] }
  | {
      readonly kind: 'sort';
      readonly keys: readonly { readonly path: FieldPath; readonly descending: boolean }[];
    }
  | { readonly kind: 'skip' | 'limit'; readonly count: number }
  | { readonly kind: 'unwind'; readonly path: FieldPath }
  | { readonly kind: 'objectToArray'; readonly from: FieldPath; readonly to: FieldPath };

/** The stages the SDK's `stages` builders produce, by the property each sends. */
const stageNames = ['filter', 'group', 'projection', 'sort', 'skip', 'limit', 'unwindArray', 'objectToArray'];

const expressionNames = [
  'fieldPath',
  'text',
  'numeric',
  'add',
  'sum',
  'subtract',
  'multiply',
  'divide',
  'abs',
  'mod',
  'floor',
  'ceil',
  'concat',
  'stringify',
  'toLower',
  'toUpper',
  'substring',
  'length',
] as const;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The one property a Wix "one of" object sets (undefined and null properties do not count). */
function oneOf(raw: unknown, where: string, what: string): [string, unknown] {
  if (!isRecord(raw)) throw invalidArgument(where, `must be an object holding one ${what}`);
  const set = Object.entries(raw).filter(([, v]) => v !== undefined && v !== null);
  const [first, second] = set;
  if (!first) throw invalidArgument(where, `holds no ${what}`, 'REQUIRED_FIELD');
  if (second)
    throw invalidArgument(where, `holds more than one ${what} (${first[0]}, ${second[0]})`, 'OTHER');
  return first;
}

function count(raw: unknown, where: string): number {
  if (typeof raw !== 'number' || !Number.isSafeInteger(raw) || raw < 0)
    throw invalidArgument(where, 'must be a whole number, 0 or more');
  return raw;
}

function text(raw: unknown, where: string): string {
  if (typeof raw !== 'string' || raw.length === 0)
    throw invalidArgument(where, 'is required', 'REQUIRED_FIELD');
  return raw;
}

function list(raw: unknown, where: string): unknown[] {
  if (!Array.isArray(raw)) throw invalidArgument(where, 'must be an array');
  if (raw.length > 1000) throw invalidArgument(where, 'holds at most 1000 entries', 'MAX_SIZE');
  return raw;
}

function parseExpression(raw: unknown, where: string, depth = 0): Expression {
  if (depth > 32) throw invalidArgument(where, 'expressions nest at most 32 levels', 'MAX');
  const [name, value] = oneOf(raw, where, 'expression');
  const at = `${where}.${name}`;
  const sub = (r: unknown, w: string) => parseExpression(r, w, depth + 1);
  const operand = (property: string) => {
    if (!isRecord(value)) throw invalidArgument(at, 'must be an object');
    return sub(value[property], `${at}.${property}`);
  };
  switch (name as (typeof expressionNames)[number]) {
    case 'fieldPath':
      return { kind: 'field', path: parseFieldPath(value, at) };
    case 'text':
      if (typeof value !== 'string') throw invalidArgument(at, 'must be a string');
      return { kind: 'literal', value };
    case 'numeric':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw invalidArgument(at, 'must be a number');
      return { kind: 'literal', value };
    case 'add':
    case 'sum':
    case 'multiply':
    case 'concat': {
      if (!isRecord(value)) throw invalidArgument(at, 'must be an object');
      const args = list(value.expressions, `${at}.expressions`).map((e, i) =>
        sub(e, `${at}.expressions[${i}]`),
      );
      return { kind: name as 'add', args };
    }
    case 'subtract':
    case 'divide':
    case 'mod':
      return {
        kind: name as 'subtract',
        first: operand('firstExpression'),
        second: operand('secondExpression'),
      };
    case 'abs':
    case 'floor':
    case 'ceil':
    case 'stringify':
    case 'toLower':
    case 'toUpper':
    case 'length':
      return { kind: name as 'abs', arg: operand('expression') };
    case 'substring': {
      const length = isRecord(value) ? value.lengthExpression : undefined;
      return {
        kind: 'substring',
        arg: operand('expression'),
        start: operand('startExpression'),
        length: length === undefined || length === null ? null : sub(length, `${at}.lengthExpression`),
      };
    }
    default:
      throw invalidArgument(
        where,
        `the expression ${name} is not supported (supported: ${expressionNames.join(', ')})`,
        'OTHER',
      );
  }
}

const accumulatorNames = ['sum', 'avg', 'min', 'max', 'first', 'last', 'push'] as const;

function parseProjection(raw: unknown, where: string, depth = 0): ProjectionField[] {
  if (depth > 16) throw invalidArgument(where, 'nested projections go at most 16 levels', 'MAX');
  return list(raw, where).map((entry, i): ProjectionField => {
    const at = `${where}[${i}]`;
    const [name, value] = oneOf(entry, at, 'projection (include, exclude, reshape or projectNested)');
    const v = isRecord(value) ? value : {};
    switch (name) {
      case 'include':
      case 'exclude':
        return { kind: name, path: parseFieldPath(v.fieldName, `${at}.${name}.fieldName`) };
      case 'reshape':
        return {
          kind: 'reshape',
          name: parseFieldPath(v.resultFieldName, `${at}.reshape.resultFieldName`),
          expression: parseExpression(v.expression, `${at}.reshape.expression`),
        };
      case 'projectNested':
        return {
          kind: 'nested',
          name: parseFieldPath(v.resultFieldName, `${at}.projectNested.resultFieldName`),
          fields: parseProjection(v.fields, `${at}.projectNested.fields`, depth + 1),
        };
      default:
        throw invalidArgument(
          at,
          `the projection ${name} is not supported (include, exclude, reshape, projectNested)`,
          'OTHER',
        );
    }
  });
}

function parseStage(raw: unknown, where: string): Stage {
  const [name, value] = oneOf(raw, where, 'stage');
  const at = `${where}.${name}`;
  const v = isRecord(value) ? value : {};
  switch (name) {
    case 'filter':
      return { kind: 'filter', filter: parseFilter(value, at), raw: value };
    case 'group': {
      const ids = list(v.groupIds ?? [], `${at}.groupIds`).map((entry, i) => {
        const w = `${at}.groupIds[${i}]`;
        const id = isRecord(entry) ? entry : {};
        return {
          key: text(id.key, `${w}.key`),
          expression: parseExpression(id.expression, `${w}.expression`),
        };
      });
      const names = new Set<string>(['_id']);
      const accumulators = list(v.accumulators ?? [], `${at}.accumulators`).map((entry, i): Accumulator => {
        const w = `${at}.accumulators[${i}]`;
        if (!isRecord(entry)) throw invalidArgument(w, 'must be an object');
        const { resultFieldName, ...rest } = entry;
        const name = text(resultFieldName, `${w}.resultFieldName`);
        if (names.has(name)) throw invalidArgument(`${w}.resultFieldName`, `${name} is named twice`, 'OTHER');
        names.add(name);
        const [op, spec] = oneOf(rest, w, 'accumulator');
        if (!(accumulatorNames as readonly string[]).includes(op))
          throw invalidArgument(
            w,
            `the accumulator ${op} is not supported (${accumulatorNames.join(', ')})`,
            'OTHER',
          );
        const expression = parseExpression(
          isRecord(spec) ? spec.expression : undefined,
          `${w}.${op}.expression`,
        );
        return { op: op as Accumulator['op'], expression, name };
      });
      return { kind: 'group', ids, accumulators };
    }
    case 'projection': {
      const fields = parseProjection(v.fields, `${at}.fields`);
      if (fields.length === 0) throw invalidArgument(`${at}.fields`, 'names no field', 'MIN_SIZE');
      return { kind: 'projection', fields };
    }
    case 'sort': {
      const keys = list(v.values, `${at}.values`).map((entry, i) => {
        const w = `${at}.values[${i}]`;
        const key = isRecord(entry) ? entry : {};
        if (key.order !== undefined && key.order !== null && key.order !== 'ASC' && key.order !== 'DESC')
          throw invalidArgument(`${w}.order`, 'must be ASC or DESC');
        return { path: parseFieldPath(key.fieldName, `${w}.fieldName`), descending: key.order === 'DESC' };
      });
      if (keys.length === 0) throw invalidArgument(`${at}.values`, 'names no field', 'MIN_SIZE');
      return { kind: 'sort', keys };
    }
    case 'skip':
    case 'limit':
      return { kind: name, count: count(value, at) };
    case 'unwindArray':
      return { kind: 'unwind', path: parseFieldPath(v.arrayFieldName, `${at}.arrayFieldName`) };
    case 'objectToArray':
      return {
        kind: 'objectToArray',
        from: parseFieldPath(v.objectFieldName, `${at}.objectFieldName`),
        to: parseFieldPath(v.destinationFieldName, `${at}.destinationFieldName`),
      };
    default:
      throw invalidArgument(
        where,
        `the stage ${name} is not supported (supported: ${stageNames.join(', ')})`,
        'OTHER',
      );
  }
}

/** Parses a pipeline's stages. @throws AppError INVALID_ARGUMENT naming the stage and what is wrong */
export function parseStages(raw: unknown, where = 'pipeline.stages'): Stage[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw invalidArgument(where, 'must be an array of stages');
  if (raw.length > MAX_STAGES) throw invalidArgument(where, `at most ${MAX_STAGES} stages`, 'MAX_SIZE');
  return raw.map((stage, i) => parseStage(stage, `${where}[${i}]`));
}

// ---- evaluation ----

/** The value at a dotted path, or undefined when some step is missing or not an object. */
export function valueAt(doc: unknown, path: FieldPath): unknown {
  let current: unknown = doc;
  for (const segment of path) {
    if (!isRecord(current) || !Object.hasOwn(current, segment)) return undefined;
    current = current[segment];
  }
  return current;
}

function setAt(doc: Doc, path: FieldPath, value: unknown): void {
  let current = doc;
  path.forEach((segment, i) => {
    if (i === path.length - 1) {
      current[segment] = value;
      return;
    }
    const next = current[segment];
    current = current[segment] = isRecord(next) ? next : {};
  });
}

function deleteAt(doc: Doc, path: FieldPath): void {
  let current: unknown = doc;
  path.forEach((segment, i) => {
    if (!isRecord(current)) return;
    if (i === path.length - 1) delete current[segment];
    else current = current[segment];
  });
}

const numbers = (values: unknown[]): number[] | null =>
  values.every((v): v is number => typeof v === 'number') ? values : null;

/** Text length and cuts count code points, as text comparisons do. */
const codePoints = (s: string): string[] => [...s];

/** A number the engine can keep: a non-finite result is null. */
const finite = (n: number): number | null => (Number.isFinite(n) ? n : null);

/** The ISO text of a stored date (`{ "$date": ISO }`), or undefined for anything else. */
function dateOf(value: unknown): string | undefined {
  return isRecord(value) && typeof value.$date === 'string' ? value.$date : undefined;
}

/** Evaluates an expression against one document; a value of the wrong type makes the result null. */
export function evaluate(expression: Expression, doc: Doc): unknown {
  switch (expression.kind) {
    case 'field':
      return valueAt(doc, expression.path);
    case 'literal':
      return expression.value;
    case 'add':
    case 'sum':
    case 'multiply': {
      const values = numbers(expression.args.map((e) => evaluate(e, doc)));
      if (values === null) return null;
      return finite(
        expression.kind === 'multiply'
          ? values.reduce((a, b) => a * b, 1)
          : values.reduce((a, b) => a + b, 0),
      );
    }
    case 'concat': {
      const values = expression.args.map((e) => evaluate(e, doc));
      return values.every((v): v is string => typeof v === 'string') ? values.join('') : null;
    }
    case 'subtract':
    case 'divide':
    case 'mod': {
      const a = evaluate(expression.first, doc);
      const b = evaluate(expression.second, doc);
      if (typeof a !== 'number' || typeof b !== 'number') return null;
      if (expression.kind === 'subtract') return finite(a - b);
      if (b === 0) return null;
      return finite(expression.kind === 'divide' ? a / b : a % b);
    }
    case 'abs':
    case 'floor':
    case 'ceil': {
      const a = evaluate(expression.arg, doc);
      if (typeof a !== 'number') return null;
      return expression.kind === 'abs'
        ? Math.abs(a)
        : expression.kind === 'floor'
          ? Math.floor(a)
          : Math.ceil(a);
    }
    case 'stringify': {
      const a = evaluate(expression.arg, doc);
      if (a === undefined || a === null) return null;
      if (typeof a === 'string') return a;
      if (typeof a === 'number' || typeof a === 'boolean') return String(a);
      return dateOf(a) ?? JSON.stringify(a);
    }
    case 'toLower':
    case 'toUpper': {
      const a = evaluate(expression.arg, doc);
      if (typeof a !== 'string') return null;
      return expression.kind === 'toLower' ? a.toLowerCase() : a.toUpperCase();
    }
    case 'length': {
      const a = evaluate(expression.arg, doc);
      return typeof a === 'string' ? codePoints(a).length : null;
    }
    case 'substring': {
      const a = evaluate(expression.arg, doc);
      const start = evaluate(expression.start, doc);
      const length = expression.length === null ? undefined : evaluate(expression.length, doc);
      if (typeof a !== 'string' || typeof start !== 'number' || !Number.isInteger(start) || start < 0)
        return null;
      const chars = codePoints(a);
      if (length === undefined) return chars.slice(start).join('');
      if (typeof length !== 'number' || !Number.isInteger(length) || length < 0) return null;
      return chars.slice(start, start + length).join('');
    }
  }
}

/** Text compares by code point, as the engines' binary collation of UTF-8 does. */
function compareText(a: string, b: string): number {
  const left = codePoints(a);
  const right = codePoints(b);
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const difference = (left[i]?.codePointAt(0) ?? 0) - (right[i]?.codePointAt(0) ?? 0);
    if (difference !== 0) return difference;
  }
  return left.length - right.length;
}

/** Missing and null, then numbers and booleans (as 0 and 1), then text, then objects and arrays. */
function rankOf(value: unknown): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'number' || typeof value === 'boolean') return 1;
  if (typeof value === 'string') return 2;
  return 3;
}

/**
 * The order of values in `sort` stages and `min`/`max`: missing and null first, then numbers (booleans as
 * 0 and 1), then text by code point, then objects and arrays by their JSON text (a date by its ISO text).
 */
export function compareValues(a: unknown, b: unknown): number {
  const rank = rankOf(a) - rankOf(b);
  if (rank !== 0) return rank;
  switch (rankOf(a)) {
    case 0:
      return 0;
    case 1:
      return Number(a) - Number(b);
    case 2:
      return compareText(a as string, b as string);
    default:
      return compareText(JSON.stringify(a), JSON.stringify(b));
  }
}

/** A copy of a document deep enough that stages never change what an earlier stage handed on. */
const copy = (doc: Doc): Doc => structuredClone(doc);

function tooMany(where: string, stage: string): Error {
  return invalidArgument(
    where,
    `the ${stage} stage would hold more than ${MAX_HELD} results in memory; filter (or group) first`,
    'MAX',
  );
}

function project(fields: readonly ProjectionField[], doc: Doc, top: boolean): Doc {
  const inclusive = fields.some((f) => f.kind !== 'exclude');
  let out: Doc;
  if (inclusive) {
    out = {};
    if (top && doc._id !== undefined) out._id = doc._id;
    for (const field of fields) {
      switch (field.kind) {
        case 'include': {
          const value = valueAt(doc, field.path);
          if (value !== undefined) setAt(out, field.path, structuredClone(value));
          break;
        }
        case 'reshape':
          setAt(out, field.name, structuredClone(evaluate(field.expression, doc) ?? null));
          break;
        case 'nested':
          setAt(out, field.name, project(field.fields, doc, false));
          break;
        case 'exclude':
          break;
      }
    }
  } else {
    out = copy(doc);
  }
  for (const field of fields) if (field.kind === 'exclude') deleteAt(out, field.path);
  return out;
}

interface GroupState {
  readonly id: unknown;
  readonly values: unknown[];
  readonly counts: number[];
  readonly seen: boolean[];
}

async function* group(
  stage: Extract<Stage, { kind: 'group' }>,
  input: AsyncIterable<Doc>,
  where: string,
): AsyncGenerator<Doc> {
  const groups = new Map<string, GroupState>();
  let pushed = 0;
  for await (const doc of input) {
    const id =
      stage.ids.length === 0
        ? null
        : Object.fromEntries(stage.ids.map((g) => [g.key, evaluate(g.expression, doc) ?? null]));
    const key = JSON.stringify(id);
    let state = groups.get(key);
    if (!state) {
      if (groups.size >= MAX_HELD) throw tooMany(where, 'group');
      state = {
        id,
        values: stage.accumulators.map((a) => (a.op === 'push' ? [] : a.op === 'sum' ? 0 : null)),
        counts: stage.accumulators.map(() => 0),
        seen: stage.accumulators.map(() => false),
      };
      groups.set(key, state);
    }
    const s: GroupState = state;
    stage.accumulators.forEach((acc, i) => {
      const value = evaluate(acc.expression, doc);
      switch (acc.op) {
        case 'sum':
        case 'avg':
          if (typeof value === 'number') {
            s.values[i] = ((s.values[i] as number | null) ?? 0) + value;
            s.counts[i] = (s.counts[i] ?? 0) + 1;
          }
          break;
        case 'min':
        case 'max': {
          if (value === undefined || value === null) break;
          const current = s.values[i];
          const better =
            acc.op === 'min' ? compareValues(value, current) < 0 : compareValues(value, current) > 0;
          if (current === null || better) s.values[i] = value;
          break;
        }
        case 'first':
          if (!s.seen[i]) s.values[i] = value ?? null;
          break;
        case 'last':
          s.values[i] = value ?? null;
          break;
        case 'push':
          if (value === undefined) break;
          if (++pushed > MAX_HELD) throw tooMany(where, 'group');
          (s.values[i] as unknown[]).push(value);
          break;
      }
      s.seen[i] = true;
    });
  }
  for (const state of groups.values()) {
    const out: Doc = { _id: state.id };
    stage.accumulators.forEach((acc, i) => {
      const value = state.values[i];
      if (acc.op === 'avg')
        out[acc.name] = state.counts[i] ? finite((value as number) / (state.counts[i] ?? 1)) : null;
      else if (acc.op === 'sum') out[acc.name] = finite(value as number);
      else out[acc.name] = structuredClone(value ?? null);
    });
    yield out;
  }
}

async function* sort(
  stage: Extract<Stage, { kind: 'sort' }>,
  input: AsyncIterable<Doc>,
  where: string,
): AsyncGenerator<Doc> {
  const held: Doc[] = [];
  for await (const doc of input) {
    if (held.length >= MAX_HELD) throw tooMany(where, 'sort');
    held.push(doc);
  }
  // Array.prototype.sort is stable: ties keep the order they arrived in.
  held.sort((a, b) => {
    for (const key of stage.keys) {
      const difference = compareValues(valueAt(a, key.path), valueAt(b, key.path));
      if (difference !== 0) return key.descending ? -difference : difference;
    }
    return 0;
  });
  yield* held;
}

async function* runStage(stage: Stage, input: AsyncIterable<Doc>, where: string): AsyncGenerator<Doc> {
  switch (stage.kind) {
    case 'filter':
      for await (const doc of input) if (matchesFilter(stage.filter, doc)) yield doc;
      return;
    case 'group':
      yield* group(stage, input, where);
      return;
    case 'sort':
      yield* sort(stage, input, where);
      return;
    case 'projection':
      for await (const doc of input) yield project(stage.fields, doc, true);
      return;
    case 'skip': {
      let skipped = 0;
      for await (const doc of input) {
        if (skipped < stage.count) skipped += 1;
        else yield doc;
      }
      return;
    }
    case 'limit': {
      if (stage.count === 0) return;
      let given = 0;
      for await (const doc of input) {
        yield doc;
        if (++given >= stage.count) return;
      }
      return;
    }
    case 'unwind':
      for await (const doc of input) {
        const value = valueAt(doc, stage.path);
        if (value === undefined || value === null) continue;
        if (!Array.isArray(value)) {
          yield doc;
          continue;
        }
        for (const element of value) {
          const out = copy(doc);
          setAt(out, stage.path, structuredClone<unknown>(element));
          yield out;
        }
      }
      return;
    case 'objectToArray':
      for await (const doc of input) {
        const value = valueAt(doc, stage.from);
        const out = copy(doc);
        setAt(
          out,
          stage.to,
          isRecord(value)
            ? Object.entries(value).map(([k, v]) => ({ k, v: structuredClone<unknown>(v) }))
            : null,
        );
        yield out;
      }
      return;
  }
}

/**
 * Runs `stages` over `input` (a stream of documents), stage after stage, as results are pulled: a `limit`
 * stops reading the input once it has its results. `offset` is where `stages[0]` stands in the request's
 * stage list (for error messages).
 */
export function runPipeline(
  stages: readonly Stage[],
  input: AsyncIterable<Doc>,
  offset = 0,
  where = 'pipeline.stages',
): AsyncIterable<Doc> {
  return stages.reduce<AsyncIterable<Doc>>(
    (stream, stage, i) => runStage(stage, stream, `${where}[${offset + i}]`),
    input,
  );
}
