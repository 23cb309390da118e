import { randomUUID } from 'node:crypto';
import { chunksOf } from '../domain/manifest.js';
import type { MaintenanceStore } from '../ports/backup-store.js';
import type { BlobStore } from '../ports/blob-store.js';
import type { Clock } from '../ports/clock.js';
import { noFailpoints, type Failpoints } from '../engine/failpoints.js';
import { readManifest } from '../engine/manifest-io.js';
import type { Logger } from '../ports/logger.js';
import { sleep } from './sleep.js';

export interface GcReport {
  readonly sites: number;
  readonly chunksDeleted: number;
  readonly manifestsDeleted: number;
  readonly bytesFreed: number;
  readonly skipped: number;
}

/**
 * Mark and sweep over each site's stored content: chunks that no READY backup's manifest names, and
 * manifests of backups that are no longer READY, are deleted. A site is collected only under its GC
 * lease, which is granted only while no backup or restoration of the site is PENDING and which keeps new
 * ones from being claimed, so a backup being written never loses a chunk it counts on. A manifest that
 * cannot be read stops the site's collection: nothing is deleted on a guess.
 */
export class GarbageCollector {
  readonly owner = `gc:${randomUUID().slice(0, 8)}`;

  constructor(
    private readonly store: MaintenanceStore,
    private readonly blobs: BlobStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly leaseMs: number = 10 * 60 * 1000,
    /** Fault-test hooks between the deletes (see failpoints.ts). */
    private readonly failpoint: Failpoints = noFailpoints,
  ) {}

  async collectAll(): Promise<GcReport> {
    let report: GcReport = { sites: 0, chunksDeleted: 0, manifestsDeleted: 0, bytesFreed: 0, skipped: 0 };
    for (const siteId of await this.store.sitesWithBackups()) {
      const one = await this.collectSite(siteId);
      report = {
        sites: report.sites + (one ? 1 : 0),
        chunksDeleted: report.chunksDeleted + (one?.chunksDeleted ?? 0),
        manifestsDeleted: report.manifestsDeleted + (one?.manifestsDeleted ?? 0),
        bytesFreed: report.bytesFreed + (one?.bytesFreed ?? 0),
        skipped: report.skipped + (one ? 0 : 1),
      };
    }
    await this.store.pruneTombstones();
    return report;
  }

  /** Collects one site; undefined when it is busy (a job is pending) or could not be read safely. */
  async collectSite(siteId: string): Promise<Omit<GcReport, 'sites' | 'skipped'> | undefined> {
    if (!(await this.store.acquireGcLease(siteId, this.owner, this.clock(), this.leaseMs))) return undefined;
    try {
      await this.failpoint('gc:leased');
      const marked = new Set<string>();
      const liveKeys = new Set<string>();
      for (const { backupId, manifest } of await this.store.liveManifests(siteId)) {
        try {
          const read = await readManifest(this.blobs, manifest, { backupId, siteId });
          for (const chunk of chunksOf(read)) marked.add(chunk.hash);
          liveKeys.add(manifest.key);
        } catch (error) {
          this.logger.error(
            { err: error, siteId, backupId },
            'a READY backup has an unreadable manifest; not collecting this site',
          );
          return undefined;
        }
      }
      let chunksDeleted = 0;
      let manifestsDeleted = 0;
      let bytesFreed = 0;
      for await (const blob of this.blobs.list(`sites/${siteId}/chunks`)) {
        const hash = blob.key.slice(blob.key.lastIndexOf('/') + 1);
        if (marked.has(hash)) continue;
        await this.blobs.delete(blob.key);
        await this.failpoint('gc:chunk-deleted');
        chunksDeleted += 1;
        bytesFreed += blob.size;
      }
      for await (const blob of this.blobs.list(`sites/${siteId}/manifests`)) {
        if (liveKeys.has(blob.key)) continue;
        await this.blobs.delete(blob.key);
        await this.failpoint('gc:manifest-deleted');
        manifestsDeleted += 1;
        bytesFreed += blob.size;
      }
      for (const dead of await this.store.deadManifests(siteId)) {
        await this.store.forgetManifest(dead.backupId);
        await this.failpoint('gc:manifest-forgotten');
      }
      return { chunksDeleted, manifestsDeleted, bytesFreed };
    } finally {
      await this.store.releaseGcLease(siteId, this.owner);
    }
  }

  async run(signal: AbortSignal, intervalMs: number): Promise<void> {
    while (!signal.aborted) {
      await sleep(intervalMs, signal);
      if (signal.aborted) break;
      try {
        const report = await this.collectAll();
        if (report.chunksDeleted + report.manifestsDeleted > 0)
          this.logger.info({ ...report }, 'garbage collected');
      } catch (error) {
        this.logger.error({ err: error }, 'garbage collection failed; will retry');
      }
    }
  }
}
