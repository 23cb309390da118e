/**
 * Running one claimed restoration: stage the backed-up collections into new generations, switch live data
 * to them in one transaction, then write the safety backup (safety-backup-job.ts). The worker loop
 * (src/jobs/job-worker.ts) keeps the lease alive; every write is fenced by it, and a restoration whose worker
 * died resumes from its saved state.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { ItemSelection, RestorationCollection, RestorationRecord } from '../domain/backup.js';
import type { ManifestCollection } from '../domain/manifest.js';
import { referenceTargetsOf } from '../domain/restore-definitions.js';
import type { RestorationJobState } from '../ports/backup-store.js';
import { IdSelection } from './backup-items.js';
import { readVerifiedManifest } from './backup-verifier.js';
import { hit, type EngineDeps } from './engine-deps.js';
import { jobErrorOf, jobFailures, manifestOf } from './job-failure.js';
import { stopped, type JobLease } from './job-lease.js';
import { writeSafetyBackup } from './safety-backup-job.js';
import { stageCollection } from './stage-collection.js';
import { stageLinks } from './stage-links.js';

/**
 * How a destination's items are restored: as the request asked, except that the safety backup of an item
 * restore always restores exactly the items it records (its undo never replaces the whole collection).
 */
export function itemSelectionFor(
  plan: RestorationCollection,
  entry: ManifestCollection,
): ItemSelection | undefined {
  if (entry.itemSelection) return { mode: 'RESTORE_ITEMS', itemIds: entry.itemSelection.itemIds };
  return plan.items;
}

export async function runRestoration(
  deps: EngineDeps,
  restoration: RestorationRecord,
  job: RestorationJobState,
  lease: JobLease,
): Promise<void> {
  let state = job;
  try {
    await hit(deps, 'restore:claimed');
    if (state.phase !== 'SWITCHED') {
      const switched = await stageAndSwitch(deps, restoration, lease);
      if (!switched) return;
      state = switched;
      await hit(deps, 'restore:switched');
    }
  } catch (error) {
    if (stopped(lease, error)) return;
    await deps.restorations.failRestoration(restoration.id, lease.workerId, jobErrorOf(error), deps.clock());
    return;
  }
  try {
    await writeSafetyBackup(deps, restoration, state, lease);
  } catch (error) {
    if (!stopped(lease, error)) throw error;
  }
}

async function stageAndSwitch(
  deps: EngineDeps,
  restoration: RestorationRecord,
  lease: JobLease,
): Promise<RestorationJobState | undefined> {
  // A fresh start: whatever an interrupted attempt staged is thrown away.
  await deps.staging.discard(restoration.id);
  await hit(deps, 'restore:staging-discarded');
  const backup = await deps.backups.getBackup(restoration.siteId, restoration.backupId);
  if (!backup) throw jobFailures.INTEGRITY_OBJECT_MISSING(manifestOf(restoration.backupId));
  const manifest = await readVerifiedManifest(deps.blobs, backup);
  await hit(deps, 'restore:manifest-read');
  const sources = restoration.collections.map((plan) => {
    const entry = manifest.collections.find((c) => c.id === plan.dataCollectionId);
    if (!entry)
      throw jobFailures.INTEGRITY_MANIFEST_INVALID(`it does not hold collection ${plan.dataCollectionId}`);
    // Undoing a restoration (restoring its safety backup) deletes what that restoration created.
    const remove = entry.absentBefore === true && plan.restoreDestination.dataCollectionId === entry.id;
    return { plan, entry, remove, items: remove ? undefined : itemSelectionFor(plan, entry) };
  });
  // A safety backup puts back the definitions the restoration replaced, whole (§6.6).
  const mode = backup.trigger === 'PRE_RESTORE' ? 'BACKUP' : restoration.definitionMode;
  // An item restore stages only the backup's versions of its items (all of them for ONLY_MISSING without ids).
  const toStage = (s: (typeof sources)[number]) =>
    s.remove ? 0 : (s.items?.itemIds?.length ?? s.entry.itemCount);
  const itemsTotal = sources.reduce((n, s) => n + toStage(s), 0);
  let done = 0;
  lease.progress({ itemsDone: 0, itemsTotal });
  // Saved once: each staged collection's own record is its generation row (BUILDING, owned by this
  // restoration), written as it is created. Rewriting a growing map here after every collection cost O(N²)
  // bytes over a restore of N collections; a resume or a failure finds the generations by their owner.
  await deps.restorations.saveRestorationJob(restoration.id, lease.workerId, {
    phase: 'STAGING',
    staged: {},
    replaced: {},
    replacedNames: {},
    replacedVersions: {},
    liveAtSwitch: {},
  });
  const staged: Record<string, number> = {};
  for (const source of sources) {
    const { plan, entry, remove, items } = source;
    if (remove) continue;
    // On SQLite every statement runs on this thread and resolves at once: without a turn of the event loop
    // between collections, a site of thousands of (empty) collections would hold the server for seconds.
    await yieldToEventLoop();
    const destination = plan.restoreDestination.dataCollectionId;
    const gen = await deps.staging.createGeneration(
      restoration.siteId,
      destination,
      restoration.id,
      deps.clock(),
      toStage(source),
    );
    staged[destination] = gen;
    await hit(deps, 'restore:generation-created');
    await stageCollection(
      deps,
      restoration.siteId,
      entry,
      gen,
      lease.signal,
      (n) => lease.progress({ itemsDone: (done += n), itemsTotal }),
      items?.itemIds ? new IdSelection(items.itemIds) : undefined,
    );
  }
  const itemDestinations = new Set(
    sources.filter((s) => s.items).map((s) => s.plan.restoreDestination.dataCollectionId),
  );
  await stageLinks(deps, restoration, manifest, staged, lease.signal, itemDestinations);
  await hit(deps, 'restore:links-staged');
  // The full-text index of each destination's TEXT fields as they will be once switched.
  const textFields: Record<string, readonly string[]> = {};
  for (const { plan, entry, remove } of sources) {
    const destination = plan.restoreDestination.dataCollectionId;
    const gen = staged[destination];
    if (remove || gen === undefined) continue;
    await deps.staging.buildIndexes(gen);
    await deps.staging.recordItemCount(gen);
    textFields[destination] = await deps.staging.buildTextIndex(
      gen,
      restoration.siteId,
      destination,
      entry.definition,
      mode,
    );
  }
  await hit(deps, 'restore:indexes-built');
  lease.signal.throwIfAborted();
  const at = deps.clock();
  return deps.staging.switchLive({
    restorationId: restoration.id,
    workerId: lease.workerId,
    siteId: restoration.siteId,
    at,
    leaseMs: deps.leaseMs,
    destinations: sources.map(({ plan, entry, remove, items }) => ({
      collectionId: plan.restoreDestination.dataCollectionId,
      displayName: plan.restoreDestination.displayName,
      stagedGen: staged[plan.restoreDestination.dataCollectionId] ?? 0,
      ...(entry.definition && { definition: entry.definition }),
      referenceTargets: referenceTargetsOf(entry.id, entry.definition, restoration.collections),
      mode,
      ...(remove && { remove: true }),
      textFields: textFields[plan.restoreDestination.dataCollectionId] ?? [],
      ...(items && { items }),
    })),
    afterDefinitions: () => hit(deps, 'restore:definitions-applied'),
    afterRemove: () => hit(deps, 'restore:created-collection-deleted'),
    safetyBackup: {
      id: deps.newId(),
      siteId: restoration.siteId,
      trigger: 'PRE_RESTORE',
      requestedAt: at,
      requestedCollections: sources.map((s) => s.plan.restoreDestination.dataCollectionId),
      collections: sources.map((s) => ({
        id: s.plan.restoreDestination.dataCollectionId,
        displayName: s.plan.restoreDestination.displayName,
      })),
      restorationId: restoration.id,
    },
  });
}
