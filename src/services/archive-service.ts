import { createHash, randomUUID } from 'node:crypto';
import { errors } from '../contracts/errors.js';
import { assertRestorable, type BackupRecord, type BackupTrigger } from '../domain/backup.js';
import type { ChunkPolicy } from '../domain/chunking.js';
import { chunkKey, chunksOf, type Manifest } from '../domain/manifest.js';
import { ArchiveExporter, type PreparedArchive } from '../engine/archive-export.js';
import { importArchive } from '../engine/archive-import.js';
import { fetchChunk, readVerifiedManifest } from '../engine/backup-verifier.js';
import type { CodecPool } from '../engine/codec-pool.js';
import { JobFailure, jobErrorOf } from '../engine/job-failure.js';
import { publishManifest } from '../engine/manifest-io.js';
import type { BackupStore } from '../ports/backup-store.js';
import type { BlobStore } from '../ports/blob-store.js';
import type { Clock } from '../ports/clock.js';
import type { SiteContext } from './auth-service.js';
import type { BackupService } from './backup-service.js';
import { newGuid } from './ids.js';
import type { QuotaService } from './quota-service.js';

/** What the archive work needs of the engine: created on first use (a server may run no worker). */
export interface ArchiveEngine {
  readonly codec: CodecPool;
  readonly compressionLevel: number;
  readonly policy: ChunkPolicy;
}

export interface ArchiveServiceOptions {
  readonly importMaxBytes: number;
  readonly leaseMs: number;
}

/** Retention is not applied to imports and copies; completeBackup still takes the site's numbers. */
const noRetention = { onDemand: Number.MAX_SAFE_INTEGER, schedule: Number.MAX_SAFE_INTEGER, preRestore: 0 };

/** How often a transfer renews its lease (the lease is `leaseMs`). */
const RENEW_EVERY_MS = 2000;

/**
 * Portable archives and copies (docs/ARCHIVE-FORMAT.md): Download Backup streams a READY backup as an
 * archive; Import Backup reads one into a new READY backup of the calling site (trigger IMPORT); an
 * administrator copies a backup to another site (trigger COPY). An import or copy runs in its request,
 * under a lease on a PENDING backup that no job worker claims and that keeps garbage collection off the
 * site; what it refuses, it removes, so that nothing is left of it.
 */
export class ArchiveService {
  constructor(
    private readonly backups: BackupStore,
    private readonly backupService: BackupService,
    private readonly blobs: BlobStore,
    private readonly clock: Clock,
    private readonly engine: () => ArchiveEngine,
    private readonly options: ArchiveServiceOptions,
    /** Whether a site exists (a copy's target). */
    private readonly siteExists: (siteId: string) => Promise<boolean>,
    private readonly quotas?: QuotaService,
  ) {}

  get importMaxBytes(): number {
    return this.options.importMaxBytes;
  }

  /**
   * A READY backup of the site as an archive, its manifest worked out (the body streams when read).
   * @throws AppError BACKUP_NOT_FOUND, BACKUP_NOT_READY, BACKUP_DAMAGED
   */
  async download(ctx: SiteContext, backupId: string, signal: AbortSignal): Promise<PreparedArchive> {
    const backup = await this.backupService.getBackup(ctx, backupId);
    assertRestorable(backup);
    const engine = this.engine();
    const exporter = new ArchiveExporter({
      blobs: this.blobs,
      codec: engine.codec,
      compressionLevel: engine.compressionLevel,
    });
    try {
      return await exporter.prepare(backup, this.clock(), signal);
    } catch (error) {
      throw damaged(backup.id, error);
    }
  }

  /**
   * Reads an archive (the request body, streamed) into a new READY backup of the site.
   * @throws AppError ARCHIVE_* (nothing is created), QUOTA_EXCEEDED, STORAGE_UNAVAILABLE
   */
  async import(ctx: SiteContext, body: AsyncIterable<Buffer>, signal: AbortSignal): Promise<BackupRecord> {
    await this.quotas?.checkBackupBytes(ctx.siteId);
    const engine = this.engine();
    return this.transfer(ctx.siteId, 'IMPORT', async (backupId, renew) =>
      importArchive(
        { blobs: this.blobs, ...engine },
        body,
        { siteId: ctx.siteId, backupId },
        {
          maxBytes: this.options.importMaxBytes,
          signal,
          onProgress: (itemsDone, itemsTotal) => renew({ itemsDone, itemsTotal }),
        },
      ),
    );
  }

  /**
   * Copies a READY backup of `fromSiteId` to `toSiteId` (administrators): its stored chunks are copied as
   * they are, each checked against its recorded checksum, and its manifest is written anew for the target.
   * @throws AppError BACKUP_NOT_FOUND, BACKUP_NOT_READY, BACKUP_DAMAGED, SITE_NOT_FOUND
   */
  async copy(fromSiteId: string, backupId: string, toSiteId: string): Promise<BackupRecord> {
    if (!(await this.siteExists(toSiteId))) throw errors.SITE_NOT_FOUND();
    const source = await this.backupService.getBackup({ siteId: fromSiteId } as SiteContext, backupId);
    assertRestorable(source);
    let manifest: Manifest;
    try {
      manifest = await readVerifiedManifest(this.blobs, source);
    } catch (error) {
      throw damaged(source.id, error);
    }
    const engine = this.engine();
    return this.transfer(toSiteId, 'COPY', async (newId, renew) => {
      const chunks = chunksOf(manifest);
      let done = 0;
      for (const ref of chunks) {
        let stored: Uint8Array;
        try {
          stored = await fetchChunk(this.blobs, fromSiteId, ref);
          if (stored.length !== ref.storedSize)
            throw errors.BACKUP_DAMAGED(source.id, 'INTEGRITY_SIZE_MISMATCH');
          if (ref.storedHash !== undefined) {
            if (createHash('sha256').update(stored).digest('hex') !== ref.storedHash)
              throw errors.BACKUP_DAMAGED(source.id, 'INTEGRITY_CHECKSUM_MISMATCH');
          } else {
            await engine.codec
              .openIds(new Uint8Array(stored), { ...ref, count: 0 })
              .catch((error: unknown) => {
                // Only the frame and checksum matter here; a line count of 0 never matches, so a chunk that
                // decodes to its hash fails on the count alone.
                if (jobErrorOf(error).code !== 'INTEGRITY_CONTENT_INVALID') throw error;
              });
          }
        } catch (error) {
          throw damaged(source.id, error);
        }
        await this.blobs.put(chunkKey(toSiteId, ref.hash), stored);
        done += 1;
        await renew({ itemsDone: done, itemsTotal: chunks.length });
      }
      const { ref, manifest: published } = await publishManifest(this.blobs, {
        ...manifest,
        backupId: newId,
        siteId: toSiteId,
        // A safety backup's "created by the restoration" means nothing on another site.
        collections: manifest.collections.map(({ absentBefore: _absent, ...c }) => c),
      });
      return {
        manifest: published,
        ref,
        sizeBytes: chunksOf(published).reduce((n, c) => n + c.storedSize, 0) + ref.size,
        itemCount: published.collections.reduce((n, c) => n + c.itemCount, 0),
        snapshotAt: Date.parse(published.snapshotDate),
      };
    });
  }

  /**
   * Runs `write` under a PENDING backup of `siteId` leased to this request, then completes it READY; on
   * any failure the backup row is removed (its chunks are left to garbage collection).
   */
  private async transfer(
    siteId: string,
    trigger: BackupTrigger,
    write: (
      backupId: string,
      renew: (progress: { itemsDone: number; itemsTotal: number }) => Promise<void>,
    ) => Promise<{
      manifest: Manifest;
      ref: { key: string; sha256: string; size: number };
      sizeBytes: number;
      itemCount: number;
      snapshotAt: number;
    }>,
  ): Promise<BackupRecord> {
    const workerId = `${trigger.toLowerCase()}:${randomUUID()}`;
    const id = newGuid();
    const began = await this.backups.beginTransfer(
      { id, siteId, trigger, requestedAt: this.clock(), requestedCollections: null, collections: [] },
      workerId,
      this.clock(),
      this.options.leaseMs,
    );
    // Garbage collection holds the site for a moment (it never holds it long): the client retries.
    if (!began) throw errors.STORAGE_UNAVAILABLE();
    let renewed = this.clock();
    const renew = async (progress: { itemsDone: number; itemsTotal: number }) => {
      const now = this.clock();
      if (now - renewed < RENEW_EVERY_MS) return;
      renewed = now;
      const held = await this.backups.renewBackup({
        id,
        workerId,
        now,
        leaseMs: this.options.leaseMs,
        progress,
      });
      if (!held) throw errors.STORAGE_UNAVAILABLE();
    };
    try {
      const written = await write(id, renew);
      const recorded = await this.backups.recordSnapshot(id, workerId, {
        snapshotAt: written.snapshotAt,
        collections: written.manifest.collections.map((c) => ({ id: c.id, displayName: c.displayName })),
        itemsTotal: written.itemCount,
      });
      const completed =
        recorded &&
        (await this.backups.completeBackup(
          id,
          workerId,
          {
            manifest: written.ref,
            sizeBytes: written.sizeBytes,
            itemCount: written.itemCount,
            collectionStates: [],
          },
          this.clock(),
          noRetention,
        ));
      if (!completed) throw errors.STORAGE_UNAVAILABLE();
    } catch (error) {
      await this.backups.abandonTransfer(id, workerId).catch(() => undefined);
      throw error;
    }
    const backup = await this.backups.getBackup(siteId, id);
    if (!backup) throw errors.BACKUP_NOT_FOUND(id);
    return backup;
  }
}

/** A backup whose stored content fails its checks, as a request's error. */
function damaged(backupId: string, error: unknown): unknown {
  if (error instanceof JobFailure && error.code.startsWith('INTEGRITY_'))
    return errors.BACKUP_DAMAGED(backupId, error.code);
  return error;
}
