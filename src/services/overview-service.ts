import { AppError, errors } from '../contracts/errors.js';
import { grants, type Scope } from '../contracts/scopes.js';
import {
  assertRestorable,
  nextDueInPhase,
  type planRestoration,
  type DefinitionMode,
  type RestorationCollection,
} from '../domain/backup.js';
import type { DefinitionChanges } from '../domain/restore-definitions.js';
import type { Manifest } from '../domain/manifest.js';
import { compareIds, IdSelection } from '../engine/backup-items.js';
import type { CodecPool } from '../engine/codec-pool.js';
import { readManifest } from '../engine/manifest-io.js';
import { JobFailure } from '../engine/job-failure.js';
import { itemLosses, type ItemLosses } from '../engine/restore-losses.js';
import { itemSelectionFor } from '../engine/restoration-job.js';
import type { KeysetPosition } from '../ports/storage.js';
import type { BlobStore } from '../ports/blob-store.js';
import type { Clock } from '../ports/clock.js';
import type { SiteRecord, Storage } from '../ports/storage.js';
import type { AdminService } from './admin-service.js';
import type { Principal, SiteContext } from './auth-service.js';
import { itemsInBackup, type BackupService } from './backup-service.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * A whole-collection restore's review compares the backup's items with the live ones only up to this many
 * items on the two sides together (it reads all of both); past it the review gives counts alone.
 */
export const PREVIEW_COMPARE_LIMIT = 250_000;

/** The caller's own key and the sites it may act on. */
export interface SessionView {
  readonly apiKey: {
    readonly id: string;
    readonly name: string;
    readonly siteIds: readonly string[];
    readonly scopes: readonly Scope[];
    readonly createdAt: number;
  };
  /** Every site for an `admin` key; the key's own sites otherwise. */
  readonly sites: readonly SiteRecord[];
}

/** A site's automatic backups: the effective settings and when the next one is due. */
export interface BackupScheduleView {
  readonly autoBackupIntervalDays: number;
  readonly autoBackupRetention: number;
  readonly nextAutoBackupAt: number;
}

/** What one destination of a restoration would go through. */
export interface RestorePreviewEntry extends RestorationCollection {
  /** Whether the destination exists now (a missing one is created by the restoration). */
  readonly destinationExists: boolean;
  /** LIVE items the destination holds now, all of which the restoration replaces. */
  readonly itemsNowLive: number;
  /** Items the backup holds for the source collection; null when its manifest cannot be read. */
  readonly itemsInBackup: number | null;
  /**
   * What the destination's definition goes through (created, fields added or changed, conflicts that
   * would refuse a MERGE); null when the manifest cannot be read.
   */
  readonly definition: DefinitionChanges | null;
  /**
   * What live data would lose (README "Restoring only some items"): items live now that the backup lacks (a restore removes them; the
   * safety backup keeps them), and items changed since the backup, each with the first few ids. Null when
   * the manifest cannot be read, or the collection is past PREVIEW_COMPARE_LIMIT.
   */
  readonly losses: ItemLosses | null;
}

export interface RestorePreview {
  readonly backupId: string;
  readonly snapshotAt: number | null;
  readonly collections: readonly RestorePreviewEntry[];
  /** Set when the backup's stored content cannot be read: the restoration would fail with this error. */
  readonly problem: { readonly code: string; readonly message: string } | null;
  /** Set when the restoration would take the site over a quota: it would be refused with this error. */
  readonly quota: {
    readonly code: string;
    readonly message: string;
    readonly data: Readonly<Record<string, unknown>>;
  } | null;
}

/**
 * Read-only views for people deciding what to do (the dashboard and any other client): who the caller
 * is, when the next automatic backup is due, and what a restoration would change before it is asked for.
 */
export class OverviewService {
  constructor(
    private readonly storage: Storage,
    private readonly blobs: BlobStore,
    private readonly clock: Clock,
    private readonly services: { readonly admin: AdminService; readonly backups: BackupService },
    /** Opens backup chunks for the review's comparison (the job worker's pool, made on first use). */
    private readonly codec?: () => CodecPool,
  ) {}

  /** @throws AppError UNAUTHENTICATED when the key was revoked meanwhile */
  async session(principal: Principal): Promise<SessionView> {
    const key = await this.storage.apiKeys.get(principal.keyId);
    if (!key || key.revokedAt !== null) throw errors.UNAUTHENTICATED();
    let sites: SiteRecord[];
    if (grants(key.scopes, 'admin')) sites = await this.storage.sites.list();
    else {
      const found = await Promise.all(key.siteIds.map((id) => this.storage.sites.get(id)));
      sites = found.filter((s): s is SiteRecord => s !== undefined);
    }
    return {
      apiKey: {
        id: key.id,
        name: key.name,
        siteIds: key.siteIds,
        scopes: key.scopes,
        createdAt: key.createdAt,
      },
      sites,
    };
  }

  /**
   * The next automatic backup falls on the first slot of the site's phase (creation time plus whole
   * intervals) from now: the scheduler keeps that phase, and a slot missed while no scheduler ran is
   * caught up at its next tick.
   * @throws AppError SITE_NOT_FOUND
   */
  async backupSchedule(ctx: SiteContext): Promise<BackupScheduleView> {
    const site = await this.storage.sites.get(ctx.siteId);
    if (!site) throw errors.SITE_NOT_FOUND();
    const settings = await this.services.admin.getSettings(ctx.siteId);
    return {
      ...settings,
      nextAutoBackupAt: nextDueInPhase(
        site.createdAt,
        settings.autoBackupIntervalDays * DAY_MS,
        this.clock(),
      ),
    };
  }

  /**
   * What restoring a backup (all of it, or the collections named) would change, checked exactly as the
   * restore request itself is, without starting anything.
   * @throws AppError BACKUP_NOT_FOUND, BACKUP_NOT_READY, COLLECTION_NOT_IN_BACKUP, DUPLICATE_DESTINATION,
   *   INVALID_ARGUMENT
   */
  async previewRestore(
    ctx: SiteContext,
    backupId: string,
    requested: Parameters<typeof planRestoration>[1],
    definitionMode: DefinitionMode = 'MERGE',
  ): Promise<RestorePreview> {
    const backup = await this.services.backups.getBackup(ctx, backupId);
    assertRestorable(backup);
    const plan = await this.services.backups.planDestinations(ctx, backup, requested, this.clock());
    const definitions = await this.services.backups.definitionChanges(ctx, backup, plan, definitionMode);
    let inBackup: Map<string, number> | undefined;
    let manifest: Manifest | undefined;
    let problem: RestorePreview['problem'] = null;
    if (!backup.manifest) {
      problem = { code: 'INTEGRITY_OBJECT_MISSING', message: `Backup ${backup.id} has no manifest.` };
    } else {
      try {
        manifest = await readManifest(this.blobs, backup.manifest, {
          backupId: backup.id,
          siteId: ctx.siteId,
        });
        inBackup = itemsInBackup(manifest);
      } catch (error) {
        if (!(error instanceof JobFailure)) throw error;
        problem = { code: error.code, message: error.message };
      }
    }
    const collections = await Promise.all(
      plan.map(async (entry): Promise<RestorePreviewEntry> => {
        const destinationId = entry.restoreDestination.dataCollectionId;
        let itemsNowLive: number | undefined;
        try {
          itemsNowLive = await this.storage.items.count(
            { siteId: ctx.siteId, collectionId: destinationId, environment: 'LIVE' },
            null,
          );
        } catch (error) {
          if (!(error instanceof AppError && error.code === 'WDE0025')) throw error;
        }
        return {
          ...entry,
          destinationExists: itemsNowLive !== undefined,
          itemsNowLive: itemsNowLive ?? 0,
          itemsInBackup: inBackup?.get(entry.dataCollectionId) ?? null,
          definition: definitions?.changes.get(destinationId) ?? null,
          losses: null,
        };
      }),
    );
    // One destination at a time: each comparison reads a whole collection on both sides.
    for (const [i, entry] of collections.entries()) {
      const losses = manifest && (await this.lossesOf(ctx, manifest, entry));
      if (losses) collections[i] = { ...entry, losses };
    }
    const refusal = await this.services.backups.quotaRefusal(ctx, plan, inBackup);
    const quota = refusal ? { code: refusal.code, message: refusal.message, data: refusal.data } : null;
    return { backupId: backup.id, snapshotAt: backup.snapshotAt, collections, problem, quota };
  }

  /**
   * What one destination would lose; undefined when it cannot be said cheaply or at all (a damaged chunk:
   * the restoration would fail anyway, and `problem` tells a damaged manifest).
   */
  private async lossesOf(
    ctx: SiteContext,
    manifest: Manifest,
    entry: RestorePreviewEntry,
  ): Promise<ItemLosses | undefined> {
    const source = manifest.collections.find((c) => c.id === entry.dataCollectionId);
    if (!source || !this.codec) return undefined;
    const none = { notInBackup: { count: 0, firstIds: [] }, changed: { count: 0, firstIds: [] } };
    const items = itemSelectionFor(entry, source);
    // Undeleting touches no live item; a destination that does not exist loses nothing.
    if (items?.mode === 'ONLY_MISSING' || !entry.destinationExists) return none;
    const target = {
      siteId: ctx.siteId,
      collectionId: entry.restoreDestination.dataCollectionId,
      environment: 'LIVE' as const,
    };
    const { storage } = this;
    let only: IdSelection | undefined;
    let live: AsyncIterable<{ id: string; json: string }>;
    if (items?.itemIds) {
      const selection = new IdSelection(items.itemIds);
      only = selection;
      live = (async function* () {
        const found = [];
        for (const id of selection.ids) {
          const item = await storage.items.get(target, id);
          if (item) found.push(item);
        }
        yield* found.sort((a, b) => compareIds(a.id, b.id));
      })();
    } else {
      if (entry.itemsNowLive + source.itemCount > PREVIEW_COMPARE_LIMIT) return undefined;
      live = (async function* () {
        let after: KeysetPosition | undefined;
        for (;;) {
          const page = await storage.items.query(target, { filter: null, sort: [], limit: 1000, after });
          yield* page.items;
          if (!page.hasMore) return;
          after = page.last;
        }
      })();
    }
    try {
      return await itemLosses(
        { blobs: this.blobs, codec: this.codec() },
        ctx.siteId,
        source,
        live,
        new AbortController().signal,
        only,
      );
    } catch (error) {
      if (error instanceof JobFailure || (error instanceof AppError && error.category === 'BACKGROUND'))
        return undefined;
      throw error;
    }
  }
}
