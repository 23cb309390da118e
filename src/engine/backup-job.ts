/**
 * Running one claimed backup. The worker loop (src/jobs/job-worker.ts) claims the job, keeps its lease
 * alive and passes an AbortSignal that fires when the lease is lost or the job is canceled or deleted; this
 * does the work and records the outcome, fenced by the lease.
 */
import { TRANSFER_TRIGGERS, type BackupRecord } from '../domain/backup.js';
import { loadBases, planSnapshot, writeSnapshot, type WrittenBackup } from './backup-runner.js';
import { hit, type EngineDeps } from './engine-deps.js';
import { jobErrorOf } from './job-failure.js';
import { stopped, type JobLease } from './job-lease.js';

export async function runBackup(deps: EngineDeps, backup: BackupRecord, lease: JobLease): Promise<void> {
  if (TRANSFER_TRIGGERS.includes(backup.trigger)) {
    // An import or a copy is written by its request; claimed here, that request stopped (its process died)
    // before it finished and its lease ran out. There is nothing to resume from.
    await deps.backups.failBackup(
      backup.id,
      lease.workerId,
      { code: 'JOB_INTERRUPTED', message: `The ${backup.trigger.toLowerCase()} stopped before it finished.` },
      deps.clock(),
    );
    return;
  }
  try {
    const snapshot = await deps.snapshots.openLive(
      backup.siteId,
      backup.requestedCollections,
      deps.policy,
      deps.clock(),
    );
    let written;
    try {
      await hit(deps, 'backup:snapshot-opened');
      const { bases, known } = await loadBases(deps.blobs, deps.backups, backup.siteId, snapshot.collections);
      const plans = await planSnapshot(snapshot, bases);
      const itemsTotal = plans.reduce((n, p) => n + p.itemCount, 0);
      const recorded = await deps.backups.recordSnapshot(backup.id, lease.workerId, {
        snapshotAt: snapshot.takenAt,
        collections: snapshot.collections.map((c) => ({ id: c.id, displayName: c.displayName })),
        itemsTotal,
      });
      if (!recorded) return;
      await hit(deps, 'backup:snapshot-recorded');
      let done = 0;
      written = await writeSnapshot(deps, { siteId: backup.siteId, backupId: backup.id }, snapshot, plans, {
        known,
        signal: lease.signal,
        afterChunk: () => hit(deps, 'backup:chunk-stored'),
        onItems: (n) => lease.progress({ itemsDone: (done += n), itemsTotal }),
      });
    } finally {
      await snapshot.close();
    }
    await hit(deps, 'backup:manifest-published');
    await complete(deps, backup.id, backup.siteId, lease.workerId, written);
    await hit(deps, 'backup:completed');
  } catch (error) {
    if (stopped(lease, error)) return;
    await deps.backups.failBackup(backup.id, lease.workerId, jobErrorOf(error), deps.clock());
  }
}

/** Marks a backup READY with what was written (and applies the site's retention), fenced by the lease. */
export async function complete(
  deps: EngineDeps,
  backupId: string,
  siteId: string,
  workerId: string,
  written: WrittenBackup,
): Promise<void> {
  await deps.backups.completeBackup(
    backupId,
    workerId,
    {
      manifest: written.ref,
      sizeBytes: written.sizeBytes,
      itemCount: written.itemCount,
      collectionStates: written.collectionStates,
    },
    deps.clock(),
    { ...(await deps.retentionFor(siteId)), afterDelete: () => hit(deps, 'retention:backup-deleted') },
  );
}
