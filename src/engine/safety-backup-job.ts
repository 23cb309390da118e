import type { JobError, RestorationRecord } from '../domain/backup.js';
import type { RestorationJobState } from '../ports/backup-store.js';
import type { FrozenCollection } from '../ports/snapshot-source.js';
import { complete } from './backup-job.js';
import { loadBases, planSnapshot, writeSnapshot } from './backup-runner.js';
import { hit, type EngineDeps } from './engine-deps.js';
import { jobErrorOf } from './job-failure.js';
import { stopped, type JobLease } from './job-lease.js';

/**
 * Writes the PRE_RESTORE backup from the generations the switch replaced (frozen since), then completes
 * the restoration. If the safety backup cannot be written, the restoration still completes (live data was
 * restored) and says so in its error.
 */
export async function writeSafetyBackup(
  deps: EngineDeps,
  restoration: RestorationRecord,
  job: RestorationJobState,
  lease: JobLease,
): Promise<void> {
  const current = await deps.restorations.getRestoration(restoration.siteId, restoration.id);
  const safetyId = current?.safetyBackupId;
  let failure: JobError | undefined;
  if (safetyId) {
    try {
      const frozen = [...Object.keys(job.staged), ...(job.removed ?? [])].map(
        (collectionId): FrozenCollection => {
          const definition = job.replacedDefinitions?.[collectionId];
          const gen = job.replaced[collectionId] ?? null;
          const itemSelection = job.itemSelections?.[collectionId];
          return {
            collectionId,
            displayName: job.replacedNames[collectionId] ?? collectionId,
            gen,
            version: job.replacedVersions[collectionId] ?? 0,
            ...(definition && { definition }),
            // Recorded only by switches that know definitions: older states leave the undo as it was.
            ...(gen === null && job.replacedDefinitions && { absentBefore: true }),
            ...(itemSelection && { itemSelection }),
          };
        },
      );
      const targets = new Map(
        Object.entries(job.liveAtSwitch).map(([id, gen]) => [gen, id] as [number, string]),
      );
      // An item restore's frozen copy holds links among its items, and links into it from live items.
      for (const id of Object.keys(job.itemSelections ?? {})) {
        const gen = job.replaced[id];
        if (gen !== undefined && gen !== null) targets.set(gen, id);
      }
      // The safety backup holds live content as it was at the switch, which is when its row was created.
      const switchedAt =
        (await deps.backups.getBackup(restoration.siteId, safetyId))?.requestedAt ?? deps.clock();
      const snapshot = await deps.snapshots.openFrozen(frozen, targets, deps.policy, switchedAt);
      let written;
      try {
        const { bases, known } = await loadBases(
          deps.blobs,
          deps.backups,
          restoration.siteId,
          snapshot.collections,
        );
        const plans = await planSnapshot(snapshot, bases);
        await deps.backups.recordSnapshot(safetyId, lease.workerId, {
          snapshotAt: switchedAt,
          collections: snapshot.collections.map((c) => ({ id: c.id, displayName: c.displayName })),
          itemsTotal: plans.reduce((n, p) => n + p.itemCount, 0),
        });
        await hit(deps, 'restore:safety-snapshot-recorded');
        written = await writeSnapshot(
          deps,
          { siteId: restoration.siteId, backupId: safetyId },
          snapshot,
          plans,
          {
            known,
            signal: lease.signal,
            afterChunk: () => hit(deps, 'restore:safety-chunk-stored'),
            onItems: () => undefined,
          },
        );
      } finally {
        await snapshot.close();
      }
      await complete(deps, safetyId, restoration.siteId, lease.workerId, written);
      await hit(deps, 'restore:safety-written');
    } catch (error) {
      if (stopped(lease, error)) return;
      failure = jobErrorOf(error);
      await deps.backups.failBackup(safetyId, lease.workerId, failure, deps.clock());
    }
  }
  await deps.restorations.completeRestoration(
    restoration.id,
    lease.workerId,
    deps.clock(),
    failure && {
      code: failure.code,
      message: `Live data was restored, but the safety backup could not be written: ${failure.message}`,
    },
  );
  await hit(deps, 'restore:completed');
}
