import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { CreateBackupRequest, PartialRestoreRequest } from '../contracts/backups-api.js';
import { errors, invalidArgument, type AppError } from '../contracts/errors.js';
import {
  planRestoration,
  assertRestorable,
  type BackupRecord,
  type BackupStatus,
  type BackupType,
  type DefinitionMode,
  type RestorationCollection,
  type RestorationRecord,
  type RestorationStatus,
} from '../domain/backup.js';
import type { BackedUpDefinition, Manifest } from '../domain/manifest.js';
import {
  assertNoConflicts,
  definitionChangesOf,
  unchanged,
  type DefinitionChanges,
} from '../domain/restore-definitions.js';
import { JobFailure } from '../engine/job-failure.js';
import { readManifest } from '../engine/manifest-io.js';
import { BlobStoreError, type BlobStore } from '../ports/blob-store.js';
import { checkCollectionId } from '../domain/collection-id.js';
import type { BackupStore, IdempotencyClaim, RestorationStore } from '../ports/backup-store.js';
import type { Clock } from '../ports/clock.js';
import type { Storage } from '../ports/storage.js';
import type { SiteContext } from './auth-service.js';
import { isGuid, newGuid } from './ids.js';
import { overQuota, type QuotaService } from './quota-service.js';

/**
 * A turn of the event loop every 100 destinations: on SQLite a statement per destination never lets a
 * request in, and a full restore of a site of thousands of collections held the server for ~0.7 s here.
 */
async function yieldEvery(i: number): Promise<void> {
  if (i > 0 && i % 100 === 0) await yieldToEventLoop();
}

/** Items the backup holds, by source collection. */
export function itemsInBackup(manifest: Manifest): Map<string, number> {
  return new Map(manifest.collections.map((c) => [c.id, c.itemCount]));
}

/** An Idempotency-Key is honoured for 24 hours. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;

function checkId(raw: string, field: string): string {
  if (!isGuid(raw)) throw invalidArgument(field, 'must be a GUID', 'FORMAT');
  return raw;
}

function checkIdempotencyKey(
  raw: string | undefined,
  operation: string,
  now: number,
): IdempotencyClaim | undefined {
  if (raw === undefined) return undefined;
  if (raw.length === 0 || raw.length > 255)
    throw invalidArgument('Idempotency-Key', 'must be 1 to 255 characters', 'MAX_LENGTH');
  return { key: raw, operation, notBefore: now - IDEMPOTENCY_WINDOW_MS };
}

function paging(raw: { limit?: number; offset?: number } | undefined): { limit: number; offset: number } {
  return { limit: raw?.limit || 50, offset: raw?.offset ?? 0 };
}

/**
 * The Backups API's rules (backups-api.md §4–§6). Callers pass a SiteContext whose key the HTTP layer has
 * checked for the route's scope. Work itself runs in the background: `onWork` wakes the job worker.
 */
export class BackupService {
  constructor(
    private readonly storage: Storage & { backups: BackupStore; restorations: RestorationStore },
    private readonly clock: Clock,
    private readonly onWork: () => void = () => undefined,
    /** Where manifests are read from, to check definitions at request time (without it, only the job does). */
    private readonly blobs?: BlobStore,
    /** Without it (tests of other rules), no quota is checked. */
    private readonly quotas?: QuotaService,
  ) {}

  async createBackup(
    ctx: SiteContext,
    request: CreateBackupRequest,
    idempotencyKey?: string,
  ): Promise<BackupRecord> {
    const now = this.clock();
    const requested = request.backup?.collections;
    let collections: { id: string; displayName: string }[];
    let requestedIds: string[] | null = null;
    if (requested) {
      requestedIds = [
        ...new Set(requested.map((c, i) => checkCollectionId(c.id, `backup.collections[${i}].id`))),
      ];
      collections = [];
      for (const id of requestedIds) {
        const found = await this.storage.collections.get(ctx.siteId, id);
        if (!found) throw errors.WDE0025(id);
        collections.push({ id, displayName: found.displayName });
      }
    } else {
      collections = await this.storage.collections.names(ctx.siteId);
    }
    await this.quotas?.checkBackupBytes(ctx.siteId);
    const { backup, created } = await this.storage.backups.createBackup(
      {
        id: newGuid(),
        siteId: ctx.siteId,
        trigger: 'ON_DEMAND',
        requestedAt: now,
        requestedCollections: requestedIds,
        collections,
      },
      checkIdempotencyKey(idempotencyKey, 'createBackup', now),
    );
    if (created) this.onWork();
    return backup;
  }

  async listBackups(
    ctx: SiteContext,
    query: { status?: BackupStatus[]; type?: BackupType[]; paging?: { limit?: number; offset?: number } },
  ): Promise<{ backups: BackupRecord[]; total: number; offset: number }> {
    const page = paging(query.paging);
    const result = await this.storage.backups.listBackups(ctx.siteId, {
      statuses: query.status,
      types: query.type,
      ...page,
    });
    return { ...result, offset: page.offset };
  }

  async getBackup(ctx: SiteContext, id: string): Promise<BackupRecord> {
    const backup = await this.storage.backups.getBackup(ctx.siteId, checkId(id, 'backupId'));
    if (!backup) throw errors.BACKUP_NOT_FOUND(id);
    return backup;
  }

  async deleteBackup(ctx: SiteContext, id: string): Promise<void> {
    await this.storage.backups.deleteBackup(ctx.siteId, checkId(id, 'backupId'), this.clock());
  }

  async cancelBackup(ctx: SiteContext, id: string): Promise<void> {
    await this.storage.backups.cancelBackup(ctx.siteId, checkId(id, 'backupId'), this.clock());
  }

  /** Full restore (`restorationCollections` undefined) or partial restore. */
  async restore(
    ctx: SiteContext,
    backupId: string,
    restorationCollections: PartialRestoreRequest['restorationCollections'] | undefined,
    idempotencyKey?: string,
    definitionMode?: DefinitionMode,
  ): Promise<{ restoration: RestorationRecord; backup: BackupRecord }> {
    const now = this.clock();
    const backup = await this.getBackup(ctx, backupId);
    assertRestorable(backup);
    const collections = await this.planDestinations(ctx, backup, restorationCollections, now);
    const mode = definitionMode ?? 'MERGE';
    const planned = await this.definitionChanges(ctx, backup, collections, mode);
    await this.checkItemRestores(ctx, collections, planned?.manifest, restorationCollections);
    if (planned && mode === 'MERGE') {
      assertNoConflicts(
        [...planned.changes].map(([dataCollectionId, c]) => ({ dataCollectionId, fields: c.conflicts })),
      );
    }
    // Refused before anything starts when the site would end up over a quota.
    const refusal = await this.quotaRefusal(ctx, collections, planned && itemsInBackup(planned.manifest));
    if (refusal) throw refusal;
    const { restoration, created } = await this.storage.restorations.createRestoration(
      {
        id: newGuid(),
        siteId: ctx.siteId,
        backupId: backup.id,
        requestedAt: now,
        collections,
        definitionMode: mode,
      },
      checkIdempotencyKey(
        idempotencyKey,
        restorationCollections ? 'restorePartialBackup' : 'restoreBackup',
        now,
      ),
    );
    if (created) this.onWork();
    return {
      restoration,
      backup: (await this.storage.backups.getBackup(ctx.siteId, restoration.backupId)) ?? backup,
    };
  }

  /**
   * Item restores (README "Restoring only some items") put items back into a collection that exists; and a safety backup of an item
   * restore restores only the items it records, so a request may not ask it for another mode or other ids.
   * @throws AppError ITEM_RESTORE_DESTINATION_MISSING, ITEM_RESTORE_MODE_FIXED
   */
  async checkItemRestores(
    ctx: SiteContext,
    plan: readonly RestorationCollection[],
    manifest: Manifest | undefined,
    /** The request's entries, in the plan's order (undefined for a full restore). */
    requested?: readonly { restoreMode?: string; itemIds?: readonly string[] }[],
  ): Promise<void> {
    for (const [i, entry] of plan.entries()) {
      await yieldEvery(i);
      const recorded = manifest?.collections.find((c) => c.id === entry.dataCollectionId)?.itemSelection;
      const asked = requested?.[i];
      if (recorded && (asked?.restoreMode !== undefined || asked?.itemIds !== undefined))
        throw errors.ITEM_RESTORE_MODE_FIXED(entry.dataCollectionId);
      if (!recorded && !entry.items) continue;
      const id = entry.restoreDestination.dataCollectionId;
      if (!(await this.storage.collections.get(ctx.siteId, id)))
        throw errors.ITEM_RESTORE_DESTINATION_MISSING(id);
    }
  }

  /**
   * Why a restoration of `plan` would take the site over a quota, or undefined: the collections it would
   * create, and its items (those of the backup in, those the destinations hold now out) when the backup's
   * item counts (`inBackup`, from its manifest) are known. A restoration that adds nothing is never refused.
   */
  async quotaRefusal(
    ctx: SiteContext,
    plan: readonly RestorationCollection[],
    inBackup: ReadonlyMap<string, number> | undefined,
  ): Promise<AppError | undefined> {
    if (!this.quotas) return undefined;
    const limits = await this.quotas.limits(ctx.siteId);
    const existing = new Set((await this.storage.collections.names(ctx.siteId)).map((c) => c.id));
    const created = plan.filter((e) => !existing.has(e.restoreDestination.dataCollectionId)).length;
    const collections = overQuota('maxCollections', limits.maxCollections, existing.size, created);
    if (collections || !inBackup) return collections;
    let added = 0;
    for (const [i, entry] of plan.entries()) {
      await yieldEvery(i);
      const collectionId = entry.restoreDestination.dataCollectionId;
      const live = () =>
        this.storage.items.count({ siteId: ctx.siteId, collectionId, environment: 'LIVE' }, null);
      const backedUp = inBackup.get(entry.dataCollectionId) ?? 0;
      if (entry.items?.itemIds) {
        // An item restore adds at most the items it names.
        added += Math.min(entry.items.itemIds.length, backedUp);
      } else if (entry.items) {
        // ONLY_MISSING of every item: at least the backup's surplus over live data comes in.
        added += Math.max(0, backedUp - (existing.has(collectionId) ? await live() : 0));
      } else {
        added += backedUp;
        if (existing.has(collectionId)) added -= await live();
      }
    }
    return overQuota('maxItems', limits.maxItems, await this.storage.usage.items(ctx.siteId), added);
  }

  /** A restore request resolved into its destinations, named by §6.1's rule against the site as it is. */
  async planDestinations(
    ctx: SiteContext,
    backup: BackupRecord,
    requested: Parameters<typeof planRestoration>[1],
    at: number,
  ): Promise<RestorationCollection[]> {
    const names = await this.storage.collections.names(ctx.siteId);
    return planRestoration(backup.collections, requested, {
      existingNames: new Map(names.map((c) => [c.id, c.displayName])),
      at,
    });
  }

  /**
   * What each destination's definition would go through (backups-api.md §6.2), from the backup's verified
   * manifest and the destinations' definitions now. Undefined when the manifest cannot be read here —
   * damaged, or the blob store unreachable or failing just now: the restoration is still accepted and its
   * job reads the manifest again, failing with the integrity or storage code if it still cannot.
   */
  async definitionChanges(
    ctx: SiteContext,
    backup: BackupRecord,
    plan: readonly RestorationCollection[],
    mode: DefinitionMode,
  ): Promise<{ manifest: Manifest; changes: Map<string, DefinitionChanges> } | undefined> {
    if (!this.blobs || !backup.manifest) return undefined;
    let manifest: Manifest;
    try {
      manifest = await readManifest(this.blobs, backup.manifest, { backupId: backup.id, siteId: ctx.siteId });
    } catch (error) {
      if (error instanceof JobFailure || error instanceof BlobStoreError) return undefined;
      throw error;
    }
    const current = new Map<string, BackedUpDefinition>();
    for (const [i, entry] of plan.entries()) {
      await yieldEvery(i);
      const id = entry.restoreDestination.dataCollectionId;
      const found = await this.storage.collections.get(ctx.siteId, id);
      if (found) {
        current.set(id, {
          displayName: found.displayName,
          fields: found.fields,
          permissions: found.permissions,
          views: found.views as unknown as Record<string, unknown>[],
          extra: found.extra,
        });
      }
    }
    // A safety backup puts back the definitions it holds, whole (§6.6).
    const effective = backup.trigger === 'PRE_RESTORE' ? 'BACKUP' : mode;
    // Item restores leave their destination's definition as it is (README "Restoring only some items").
    const whole = plan.filter(
      (e) => !e.items && !manifest.collections.find((c) => c.id === e.dataCollectionId)?.itemSelection,
    );
    const changes = definitionChangesOf({
      entries: manifest.collections,
      plan: whole,
      current,
      mode: effective,
    });
    for (const entry of plan)
      if (!whole.includes(entry)) changes.set(entry.restoreDestination.dataCollectionId, unchanged);
    return { manifest, changes };
  }

  async listRestorations(
    ctx: SiteContext,
    query: { status?: RestorationStatus[]; paging?: { limit?: number; offset?: number } },
  ): Promise<{
    restorations: { restoration: RestorationRecord; backup: BackupRecord }[];
    total: number;
    offset: number;
  }> {
    const page = paging(query.paging);
    const result = await this.storage.restorations.listRestorations(ctx.siteId, {
      statuses: query.status,
      ...page,
    });
    return {
      restorations: await this.withBackups(ctx, result.restorations),
      total: result.total,
      offset: page.offset,
    };
  }

  async getRestoration(
    ctx: SiteContext,
    id: string,
  ): Promise<{ restoration: RestorationRecord; backup: BackupRecord }> {
    const restoration = await this.storage.restorations.getRestoration(
      ctx.siteId,
      checkId(id, 'restorationId'),
    );
    if (!restoration) throw errors.RESTORATION_NOT_FOUND(id);
    const [withBackup] = await this.withBackups(ctx, [restoration]);
    if (!withBackup) throw errors.RESTORATION_NOT_FOUND(id);
    return withBackup;
  }

  private async withBackups(
    ctx: SiteContext,
    restorations: RestorationRecord[],
  ): Promise<{ restoration: RestorationRecord; backup: BackupRecord }[]> {
    const out: { restoration: RestorationRecord; backup: BackupRecord }[] = [];
    for (const restoration of restorations) {
      const backup = await this.storage.backups.getBackup(ctx.siteId, restoration.backupId);
      if (backup) out.push({ restoration, backup });
    }
    return out;
  }
}
