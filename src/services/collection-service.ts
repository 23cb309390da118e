import type { AppError } from '../contracts/errors.js';
import { errors, invalidArgument } from '../contracts/errors.js';
import { checkCollectionId } from '../domain/collection-id.js';
import { parseFieldPath } from '../domain/query/field-path.js';
import { parseFilter } from '../domain/query/filter.js';
import { parseSort } from '../domain/query/sort.js';
import type { Clock } from '../ports/clock.js';
import type {
  CollectionDefinition,
  CollectionRecord,
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
  'MEDIA_IMAGE',
] as const;

/** Collection properties the server sets; clients may send them back (the SDK does) and they are ignored. */
const readOnlyProperties = new Set([
  'revision',
  'createdDate',
  'updatedDate',
  'collectionType',
  'id',
  'capabilities',
]);
/** Wix collection properties stored verbatim. */
export const verbatimProperties = [
  'ownerAppId',
  'maxPageSize',
  'displayNamespace',
  'displayField',
  'defaultDisplayOrder',
  'plugins',
  'pagingModes',
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

function readFields(raw: unknown): Record<string, unknown>[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw invalidArgument('collection.fields', 'must be an array');
  if (raw.length > MAX_FIELDS)
    throw invalidArgument('collection.fields', `at most ${MAX_FIELDS} fields`, 'MAX_SIZE');
  const keys = new Set<string>();
  return raw.map((field: unknown, i) => {
    const at = `collection.fields[${i}]`;
    if (!isRecord(field)) throw invalidArgument(at, 'must be an object');
    const key = parseFieldPath(field.key, `${at}.key`).join('.');
    if (keys.has(key)) throw invalidArgument(`${at}.key`, `field ${key} is declared twice`);
    keys.add(key);
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
  });
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

function notFound(id: string): AppError {
  return errors.COLLECTION_NOT_FOUND(id);
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

  async list(
    ctx: SiteContext,
    page: { limit: number; offset: number },
  ): Promise<{ collections: CollectionRecord[]; total: number }> {
    return this.storage.collections.list(ctx.siteId, page);
  }

  async update(ctx: SiteContext, raw: Record<string, unknown>): Promise<CollectionRecord> {
    const definition = readCollection(raw);
    const revision = raw.revision;
    const expected =
      typeof revision === 'string' && /^\d{1,15}$/.test(revision)
        ? Number(revision)
        : typeof revision === 'number'
          ? revision
          : NaN;
    if (!Number.isSafeInteger(expected)) {
      throw invalidArgument(
        'collection.revision',
        'the revision you read is required (a string of digits)',
        'REQUIRED_FIELD',
      );
    }
    return this.storage.collections.update(ctx.siteId, definition, expected, this.clock());
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
