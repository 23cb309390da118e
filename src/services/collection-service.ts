import { AppError, errors, invalidArgument } from '../contracts/errors.js';
import { isSystemFieldKey } from '../domain/collection-capabilities.js';
import { checkCollectionId } from '../domain/collection-id.js';
import { parseFieldPath } from '../domain/query/field-path.js';
import { parseFilter } from '../domain/query/filter.js';
import { parseSort } from '../domain/query/sort.js';
import type { Clock } from '../ports/clock.js';
import type {
  CollectionDefinition,
  CollectionRecord,
  CollectionSort,
  CollectionView,
  DeletedCollectionRecord,
  Storage,
} from '../ports/storage.js';
import type { SiteContext } from './auth-service.js';
import type { QuotaService } from './quota-service.js';

/** Wix field types (the Data Collections API's `Type` enum). */
export const fieldTypes = [
  'TEXT',
  'NUMBER',
  'DATE',
  'DATETIME',
  'IMAGE',
  'BOOLEAN',
  'DOCUMENT',
  'URL',
  'RICH_TEXT',
  'VIDEO',
  'ANY',
  'ARRAY_STRING',
  'ARRAY_DOCUMENT',
  'AUDIO',
  'TIME',
  'LANGUAGE',
  'RICH_CONTENT',
  'MEDIA_GALLERY',
  'ADDRESS',
  'PAGE_LINK',
  'REFERENCE',
  'MULTI_REFERENCE',
  'OBJECT',
  'ARRAY',
  'LEGACY_TIME',
  'LEGACY_BOOK',
  'LEGACY_EXTERNAL_URL',
  'LEGACY_BROKEN_REFERENCE',
  'LEGACY_IMAGE',
  'LEGACY_COLOR',
  'LEGACY_EXTERNAL_VIDEO',
  'SLUG',
  'EMAIL',
  'SECURED_MEDIA',
  'MEDIA_IMAGE',
  'MEDIA_VECTOR_ART',
] as const;

/** Collection properties the server sets; clients may send them back (the SDK does) and they are ignored. */
const readOnlyProperties = new Set([
  'revision',
  'createdDate',
  'updatedDate',
  'collectionType',
  'id',
  'capabilities',
  'maxPageSize',
  'pagingModes',
]);
/** Wix collection properties stored verbatim. */
export const verbatimProperties = [
  'ownerAppId',
  'displayNamespace',
  'displayField',
  'defaultDisplayOrder',
  'plugins',
  'deprecation',
] as const;

const MAX_FIELDS = 1000;
const MAX_VIEWS = 100;
/** As for items: deeper definitions are refused rather than overflowing the stack when stored. */
const MAX_DEFINITION_DEPTH = 64;

/**
 * Refuses a value nesting deeper than MAX_DEFINITION_DEPTH. Iterative, so a hostile depth (20,000 levels)
 * is measured without recursion.
 * @throws AppError INVALID_ARGUMENT
 */
function checkDepth(value: unknown, where: string): void {
  const pending: [unknown, number][] = [[value, 1]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [node, depth] = next;
    if (typeof node !== 'object' || node === null) continue;
    if (depth > MAX_DEFINITION_DEPTH)
      throw invalidArgument(where, `nests deeper than ${MAX_DEFINITION_DEPTH} levels`, 'MAX');
    for (const child of Object.values(node)) pending.push([child, depth + 1]);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function systemFieldRefused(where: string, key: string): AppError {
  return invalidArgument(where, `${key} is a system field: the server declares it and it cannot be changed`);
}

/**
 * Reads one field description (`at` names it in errors). The system fields are the server's: a request
 * that lists them gets them ignored by `readFields`, and refused here.
 * @throws AppError INVALID_ARGUMENT
 */
export function readField(field: unknown, at: string): Record<string, unknown> {
  if (!isRecord(field)) throw invalidArgument(at, 'must be an object');
  if (isSystemFieldKey(field.key)) throw systemFieldRefused(`${at}.key`, String(field.key));
  parseFieldPath(field.key, `${at}.key`);
  if (typeof field.type !== 'string' || !(fieldTypes as readonly string[]).includes(field.type)) {
    throw invalidArgument(`${at}.type`, `must be one of ${fieldTypes.join(', ')}`);
  }
  if (field.type === 'MULTI_REFERENCE') {
    const target = (
      field.typeMetadata as { multiReference?: { referencedCollectionId?: unknown } } | undefined
    )?.multiReference?.referencedCollectionId;
    checkCollectionId(target, `${at}.typeMetadata.multiReference.referencedCollectionId`);
  }
  return field;
}

function readFields(raw: unknown): Record<string, unknown>[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw invalidArgument('collection.fields', 'must be an array');
  if (raw.length > MAX_FIELDS)
    throw invalidArgument('collection.fields', `at most ${MAX_FIELDS} fields`, 'MAX_SIZE');
  const keys = new Set<string>();
  const declared: Record<string, unknown>[] = [];
  raw.forEach((field: unknown, i) => {
    const at = `collection.fields[${i}]`;
    // A collection read back lists the system fields, and the SDK sends them back: the server declares them.
    if (isRecord(field) && isSystemFieldKey(field.key)) return;
    const checked = readField(field, at);
    const key = parseFieldPath(checked.key, `${at}.key`).join('.');
    if (keys.has(key)) throw invalidArgument(`${at}.key`, `field ${key} is declared twice`);
    keys.add(key);
    declared.push(checked);
  });
  return declared;
}

function readViews(raw: unknown): CollectionView[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw invalidArgument('collection.views', 'must be an array');
  if (raw.length > MAX_VIEWS)
    throw invalidArgument('collection.views', `at most ${MAX_VIEWS} views`, 'MAX_SIZE');
  const names = new Set<string>();
  return raw.map((view: unknown, i) => {
    const at = `collection.views[${i}]`;
    if (!isRecord(view)) throw invalidArgument(at, 'must be { name, filter?, sort?, fields? }');
    const { name, filter, sort, fields, ...rest } = view;
    const unknown = Object.keys(rest)[0];
    if (unknown !== undefined)
      throw invalidArgument(`${at}.${unknown}`, 'is not a view property', 'FIELD_NOT_ALLOWED');
    if (typeof name !== 'string' || name.length === 0 || name.length > 200) {
      throw invalidArgument(`${at}.name`, 'must be a string of 1 to 200 characters');
    }
    if (names.has(name)) throw invalidArgument(`${at}.name`, `view ${name} is declared twice`);
    names.add(name);
    parseFilter(filter, `${at}.filter`);
    parseSort(sort, `${at}.sort`);
    if (fields !== undefined) {
      if (!Array.isArray(fields)) throw invalidArgument(`${at}.fields`, 'must be an array of field names');
      fields.forEach((f, j) => parseFieldPath(f, `${at}.fields[${j}]`));
    }
    return {
      name,
      ...(filter !== undefined && { filter }),
      ...(sort !== undefined && { sort }),
      ...(fields !== undefined && { fields }),
    };
  });
}

/**
 * Reads `collection` from a create or update request into a definition.
 * @throws AppError INVALID_ARGUMENT
 */
export function readCollection(raw: Record<string, unknown>): CollectionDefinition {
  checkDepth(raw, 'collection');
  const id = checkCollectionId(raw.id, 'collection.id');
  if (raw.collectionType !== undefined && raw.collectionType !== 'NATIVE') {
    throw invalidArgument('collection.collectionType', 'only NATIVE collections can be created here');
  }
  const displayName = raw.displayName ?? id;
  if (typeof displayName !== 'string' || displayName.length > 200) {
    throw invalidArgument('collection.displayName', 'must be a string of at most 200 characters');
  }
  if (raw.permissions !== undefined && raw.permissions !== null && !isRecord(raw.permissions)) {
    throw invalidArgument('collection.permissions', 'must be an object');
  }
  const extra: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if ((verbatimProperties as readonly string[]).includes(key) && value !== undefined) extra[key] = value;
    else if (
      !readOnlyProperties.has(key) &&
      !['displayName', 'fields', 'permissions', 'views'].includes(key) &&
      value !== undefined
    ) {
      throw invalidArgument(`collection.${key}`, 'is not a collection property', 'FIELD_NOT_ALLOWED');
    }
  }
  return {
    id,
    displayName: displayName.length > 0 ? displayName : id,
    collectionType: 'NATIVE',
    fields: readFields(raw.fields),
    permissions: isRecord(raw.permissions) ? raw.permissions : null,
    views: readViews(raw.views),
    extra,
  };
}

/** What Patch Data Collection changes: Wix's list (the SDK's `DataCollection`), plus our `views`. */
const patchableProperties = ['displayName', 'displayField', 'permissions', 'views'] as const;

/** Read-modify-write rounds a field method tries against concurrent writers before it gives up. */
const MAX_MODIFY_ATTEMPTS = 5;

/**
 * The revision a writer read: a string of digits (as rendered) or a number.
 * @throws AppError INVALID_ARGUMENT
 */
function readRevision(revision: unknown, where: string): number {
  const expected =
    typeof revision === 'string' && /^\d{1,15}$/.test(revision)
      ? Number(revision)
      : typeof revision === 'number'
        ? revision
        : NaN;
  if (!Number.isSafeInteger(expected)) {
    throw invalidArgument(where, 'the revision you read is required (a string of digits)', 'REQUIRED_FIELD');
  }
  return expected;
}

/** A stored collection as a request would spell it, to be changed and read back through `readCollection`. */
function rawCollection(record: CollectionRecord): Record<string, unknown> {
  return {
    ...record.extra,
    id: record.id,
    displayName: record.displayName,
    fields: record.fields,
    permissions: record.permissions,
    views: record.views,
  };
}

/** The field of a field method's request. @throws AppError INVALID_ARGUMENT */
function readSingleField(raw: unknown): Record<string, unknown> {
  checkDepth(raw, 'field');
  return readField(raw, 'field');
}

const sortProperties: Readonly<Record<string, CollectionSort['by']>> = {
  id: 'id',
  _id: 'id',
  displayName: 'displayName',
  createdDate: 'createdAt',
  _createdDate: 'createdAt',
  updatedDate: 'updatedAt',
  _updatedDate: 'updatedAt',
};

/**
 * List Data Collections' `sort`: by id, display name, creation or update date.
 * @throws AppError INVALID_ARGUMENT
 */
function readCollectionSort(
  sort: { fieldName?: string; order?: 'ASC' | 'DESC' } | undefined,
): CollectionSort | undefined {
  if (sort === undefined) return undefined;
  const by = sort.fieldName === undefined || sort.fieldName === '' ? 'id' : sortProperties[sort.fieldName];
  if (by === undefined) {
    throw invalidArgument('sort.fieldName', `collections sort by ${Object.keys(sortProperties).join(', ')}`);
  }
  return { by, descending: sort.order === 'DESC' };
}

function notFound(id: string): AppError {
  return errors.WDE0025(id);
}

/** A collection in the bin, with the instant its window ends. */
export interface DeletedCollection extends DeletedCollectionRecord {
  readonly expiresAt: number;
}

/** The Data Collections API (data-api.md §3), and the bin of deleted collections. */
export class CollectionService {
  constructor(
    private readonly storage: Storage,
    private readonly clock: Clock,
    /** How long a deleted collection stays restorable (SAFEKEEP_COLLECTION_BIN_DAYS). */
    private readonly binRetentionMs: number,
    /** Without it (tests of other rules), no quota is checked. */
    private readonly quotas?: QuotaService,
  ) {}

  async create(ctx: SiteContext, raw: Record<string, unknown>): Promise<CollectionRecord> {
    const definition = readCollection(raw);
    // Checked before the write: concurrent creates may pass together (README, "Quotas").
    await this.quotas?.checkCollections(ctx.siteId, 1);
    return this.storage.collections.create(ctx.siteId, definition, this.clock());
  }

  async get(ctx: SiteContext, id: string): Promise<CollectionRecord> {
    const found = await this.storage.collections.get(ctx.siteId, id);
    if (!found) throw notFound(id);
    return found;
  }

  /** A page of the site's collections, by id unless `sort` names another property. */
  async list(
    ctx: SiteContext,
    page: { limit: number; offset: number; sort?: { fieldName?: string; order?: 'ASC' | 'DESC' } },
  ): Promise<{ collections: CollectionRecord[]; total: number }> {
    const { sort, ...window } = page;
    return this.storage.collections.list(ctx.siteId, { ...window, sort: readCollectionSort(sort) });
  }

  async update(ctx: SiteContext, raw: Record<string, unknown>): Promise<CollectionRecord> {
    const definition = readCollection(raw);
    const expected = readRevision(raw.revision, 'collection.revision');
    return this.storage.collections.update(ctx.siteId, definition, expected, this.clock());
  }

  /**
   * Wix's Patch Data Collection: changes only the properties given (displayName, displayField,
   * permissions, and our views); read-only properties sent back are ignored, a `revision` among them must
   * match. `fieldMask`, when given, limits the change to the properties it names.
   * @throws AppError WDE0025, REVISION_MISMATCH, INVALID_ARGUMENT
   */
  async patch(
    ctx: SiteContext,
    raw: Record<string, unknown>,
    fieldMask?: readonly string[],
  ): Promise<CollectionRecord> {
    checkDepth(raw, 'dataCollection');
    const id = checkCollectionId(raw.id, 'dataCollection.id');
    const changes: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(raw)) {
      if (value === undefined || readOnlyProperties.has(key)) continue;
      if (!(patchableProperties as readonly string[]).includes(key)) {
        throw invalidArgument(
          `dataCollection.${key}`,
          `cannot be patched (only ${patchableProperties.join(', ')}): change fields with the field methods, the rest with Update Data Collection`,
          'FIELD_NOT_ALLOWED',
        );
      }
      if (fieldMask === undefined || fieldMask.includes(key)) changes[key] = value;
    }
    const expected =
      raw.revision === undefined || raw.revision === null
        ? undefined
        : readRevision(raw.revision, 'dataCollection.revision');
    return this.modify(ctx, id, (current) => ({ ...rawCollection(current), ...changes }), expected);
  }

  /**
   * Create Data Collection Field: adds a field at the end of `fields`.
   * @throws AppError WDE0025, FIELD_ALREADY_EXISTS, INVALID_ARGUMENT
   */
  async createField(ctx: SiteContext, id: string, raw: unknown): Promise<CollectionRecord> {
    const field = readSingleField(raw);
    return this.modify(ctx, id, (current) => {
      if (current.fields.some((f) => f.key === field.key)) {
        throw errors.FIELD_ALREADY_EXISTS(id, String(field.key));
      }
      return { ...rawCollection(current), fields: [...current.fields, field] };
    });
  }

  /**
   * Update Data Collection Field: replaces the field with the same key, whole.
   * @throws AppError WDE0025, FIELD_NOT_FOUND, INVALID_ARGUMENT
   */
  async updateField(ctx: SiteContext, id: string, raw: unknown): Promise<CollectionRecord> {
    const field = readSingleField(raw);
    return this.modifyField(ctx, id, String(field.key), () => field);
  }

  /**
   * Patch Data Collection Field: changes only the properties of the field given (`key` names it).
   * @throws AppError WDE0025, FIELD_NOT_FOUND, INVALID_ARGUMENT
   */
  async patchField(
    ctx: SiteContext,
    id: string,
    raw: Record<string, unknown>,
    fieldMask?: readonly string[],
  ): Promise<CollectionRecord> {
    checkDepth(raw, 'field');
    const key = raw.key;
    if (typeof key !== 'string') throw invalidArgument('field.key', 'must be a string', 'REQUIRED_FIELD');
    if (isSystemFieldKey(key)) throw systemFieldRefused('field.key', key);
    const changes = Object.fromEntries(
      Object.entries(raw).filter(([name]) => fieldMask === undefined || fieldMask.includes(name)),
    );
    return this.modifyField(ctx, id, key, (current) => readField({ ...current, ...changes, key }, 'field'));
  }

  /**
   * Delete Data Collection Field: the field leaves the definition; items keep their values (the schema
   * describes, it does not constrain).
   * @throws AppError WDE0025, FIELD_NOT_FOUND, INVALID_ARGUMENT
   */
  async deleteField(ctx: SiteContext, id: string, fieldKey: string): Promise<CollectionRecord> {
    if (isSystemFieldKey(fieldKey)) throw systemFieldRefused('fieldKey', fieldKey);
    return this.modifyField(ctx, id, fieldKey, () => undefined);
  }

  /** Replaces (or, for `undefined`, removes) the field `key` of collection `id`. */
  private async modifyField(
    ctx: SiteContext,
    id: string,
    key: string,
    change: (current: Record<string, unknown>) => Record<string, unknown> | undefined,
  ): Promise<CollectionRecord> {
    return this.modify(ctx, id, (current) => {
      const at = current.fields.findIndex((f) => f.key === key);
      const found = current.fields[at];
      if (found === undefined) throw errors.FIELD_NOT_FOUND(id, key);
      const replacement = change(found);
      const fields = [...current.fields];
      if (replacement === undefined) fields.splice(at, 1);
      else fields[at] = replacement;
      return { ...rawCollection(current), fields };
    });
  }

  /**
   * Applies `change` to the collection as stored and writes the result through the revision check. Without
   * an expected revision (the field methods carry none), a concurrent writer's change is read and the
   * change applied again on top of it, so nothing is lost either way.
   */
  private async modify(
    ctx: SiteContext,
    id: string,
    change: (current: CollectionRecord) => Record<string, unknown>,
    expectedRevision?: number,
  ): Promise<CollectionRecord> {
    for (let attempt = 1; ; attempt += 1) {
      const current = await this.get(ctx, id);
      const definition = readCollection(change(current));
      try {
        return await this.storage.collections.update(
          ctx.siteId,
          definition,
          expectedRevision ?? current.revision,
          this.clock(),
        );
      } catch (error) {
        const raced = error instanceof AppError && error.code === 'REVISION_MISMATCH';
        if (!raced || expectedRevision !== undefined || attempt >= MAX_MODIFY_ATTEMPTS) throw error;
      }
    }
  }

  /** Deletes into the bin: restorable for the retention window. */
  async delete(ctx: SiteContext, id: string): Promise<void> {
    if (!(await this.storage.collections.delete(ctx.siteId, id))) throw notFound(id);
  }

  /**
   * Wix's Restore Data Collection: brings back the most recently deleted copy whole.
   * @throws AppError WDE0025, COLLECTION_ALREADY_EXISTS
   */
  async restoreDeleted(ctx: SiteContext, id: string): Promise<CollectionRecord> {
    const since = this.clock() - this.binRetentionMs;
    // Its items come back with it: both count again (the bin counts only toward maxBackupBytes). Without a
    // copy in the bin there is nothing to count, and the store answers WDE0025.
    if (
      this.quotas &&
      (await this.storage.collections.listDeleted(ctx.siteId, since)).some((c) => c.id === id)
    ) {
      await this.quotas.checkCollections(ctx.siteId, 1, await this.storage.usage.binnedItems(ctx.siteId, id));
    }
    return this.storage.collections.restoreDeleted(ctx.siteId, id, since);
  }

  /** The site's restorable deleted collections, newest deletion first. */
  async listDeleted(ctx: SiteContext): Promise<DeletedCollection[]> {
    const deleted = await this.storage.collections.listDeleted(
      ctx.siteId,
      this.clock() - this.binRetentionMs,
    );
    return deleted.map((c) => ({ ...c, expiresAt: c.deletedAt + this.binRetentionMs }));
  }
}
