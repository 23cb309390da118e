/**
 * Running one claimed backup or restoration. The worker loop (src/jobs/job-worker.ts) claims the job, keeps
 * its lease alive and passes an AbortSignal that fires when the lease is lost or the job is canceled or
 * deleted; these functions do the work and record the outcome, fenced by the lease.
 */
import {
  mapLink,
  type BackupRecord,
  type JobError,
  type Progress,
  type RestorationRecord,
} from '../domain/backup.js';
import type { ChunkPolicy } from '../domain/chunking.js';
import type { ChunkRef, Manifest, ManifestCollection } from '../domain/manifest.js';
import type {
  BackupStore,
  SecondaryIndex,
  RestorationJobState,
  RestorationStore,
  Retention,
  StagedLink,
  StagingStore,
} from '../ports/backup-store.js';
import type { BlobStore } from '../ports/blob-store.js';
import type { Clock } from '../ports/clock.js';
import type { FrozenCollection, SnapshotSource } from '../ports/snapshot-source.js';
import { referenceTargetsOf } from '../domain/restore-definitions.js';
import { loadBases, planSnapshot, writeSnapshot, type WrittenBackup } from './backup-runner.js';
import type { CodecPool } from './codec-pool.js';
import { JobFailure, jobErrorOf } from './job-failure.js';
import { itemJson, type ItemChunk, type ItemRow } from './chunk-lines.js';
import { fetchChunk, readVerifiedManifest } from './backup-verifier.js';
import { SimulatedCrash, type FailpointName, type Failpoints } from './failpoints.js';

export interface EngineDeps {
  readonly backups: BackupStore;
  readonly restorations: RestorationStore;
  readonly staging: StagingStore;
  readonly snapshots: SnapshotSource;
  readonly blobs: BlobStore;
  readonly codec: CodecPool;
  readonly clock: Clock;
  readonly compressionLevel: number;
  readonly policy: ChunkPolicy;
  readonly retentionFor: (siteId: string) => Promise<Retention>;
  readonly newId: () => string;
  readonly leaseMs: number;
  /** Fault-test hooks between durable steps (see failpoints.ts). */
  readonly failpoint?: Failpoints;
}

/** What a running job holds: its lease owner, its abort signal, and a way to report progress. */
export interface JobLease {
  readonly workerId: string;
  readonly signal: AbortSignal;
  progress(progress: Progress): void;
}

/**
 * True when the error only says the job was stopped from outside (lease lost, canceled, deleted) or a
 * simulated crash: then nothing is recorded and the lease lapses, as after a real crash.
 */
function stopped(lease: JobLease, error: unknown): boolean {
  return (
    lease.signal.aborted ||
    error instanceof SimulatedCrash ||
    (error as Error | undefined)?.name === 'AbortError'
  );
}

function hit(deps: EngineDeps, name: FailpointName): Promise<void> {
  return deps.failpoint ? deps.failpoint(name) : Promise.resolve();
}

export async function runBackup(deps: EngineDeps, backup: BackupRecord, lease: JobLease): Promise<void> {
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
async function complete(
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

/** Reads chunks in order with a little read-ahead; `use` sees each opened chunk. */
async function eachChunk<T>(
  refs: readonly ChunkRef[],
  open: (ref: ChunkRef) => Promise<T>,
  use: (chunk: T) => Promise<void>,
  signal: AbortSignal,
): Promise<void> {
  const ahead: Promise<T>[] = [];
  let next = 0;
  const fill = () => {
    while (ahead.length < 6 && next < refs.length) {
      const reading = open(refs[next++] as ChunkRef);
      // Read-ahead may fail before its turn: mark it handled now, it is awaited (and rethrown) in order.
      reading.catch(() => undefined);
      ahead.push(reading);
    }
  };
  try {
    fill();
    while (ahead.length > 0) {
      signal.throwIfAborted();
      const chunk = await (ahead.shift() as Promise<T>);
      fill();
      await use(chunk);
    }
  } finally {
    await Promise.allSettled(ahead);
  }
}

/**
 * Which secondary indexes to build before loading, from the first chunk (items come in id order). An index
 * whose column rises along with the ids (time-ordered ids, as this server generates) costs nothing to keep
 * up while loading and saves the sort, and the stall, of building it at the end; one in random order is
 * cheaper to build at the end in one sort.
 */
function indexesToKeepWhileLoading(rows: readonly ItemRow[]): SecondaryIndex[] {
  const rising = (column: 1 | 2) => {
    let up = 0;
    for (let k = 1; k < rows.length; k++)
      if ((rows[k]?.[column] ?? 0) >= (rows[k - 1]?.[column] ?? 0)) up += 1;
    return rows.length < 2 || up / (rows.length - 1) >= 0.9;
  };
  // Every staged row has change number 0: its index only ever appends.
  const which: SecondaryIndex[] = ['seq'];
  if (rising(1)) which.push('created');
  if (rising(2)) which.push('updated');
  return which;
}

/**
 * Fills a staged generation with a backed-up collection: the full layer's items, minus those a later delta
 * layer removed or replaced, then each delta's surviving items. Every chunk is verified before its rows are
 * written; nothing here is visible to readers until the switch.
 */
async function stageCollection(
  deps: EngineDeps,
  siteId: string,
  entry: ManifestCollection,
  gen: number,
  signal: AbortSignal,
  onItems: (n: number) => void,
): Promise<void> {
  const openItems = async (ref: ChunkRef): Promise<ItemChunk> =>
    deps.codec.openItems(await fetchChunk(deps.blobs, siteId, ref), ref);
  const openIds = async (ref: ChunkRef) => deps.codec.openIds(await fetchChunk(deps.blobs, siteId, ref), ref);
  // id → the delta layer whose version of the item wins (-1: deleted).
  const winner = new Map<string, number>();
  for (let i = 1; i < entry.layers.length; i++) {
    const layer = entry.layers[i];
    if (!layer) continue;
    await eachChunk(
      layer.deletes?.chunks ?? [],
      openIds,
      (ids) => {
        ids.forEach((id) => winner.set(id, -1));
        return Promise.resolve();
      },
      signal,
    );
    await eachChunk(
      layer.upserts.chunks,
      openItems,
      (chunk) => {
        chunk.rows.forEach((r) => winner.set(r[0], i));
        deps.codec.recycle(chunk.bytes);
        return Promise.resolve();
      },
      signal,
    );
  }
  let indexesChosen = false;
  for (let i = 0; i < entry.layers.length; i++) {
    const layer = entry.layers[i];
    if (!layer) continue;
    await eachChunk(
      layer.upserts.chunks,
      openItems,
      async (chunk) => {
        if (!indexesChosen) {
          indexesChosen = true;
          await deps.staging.buildIndexes(gen, indexesToKeepWhileLoading(chunk.rows));
        }
        const kept = chunk.rows.filter((r) => (i === 0 ? !winner.has(r[0]) : winner.get(r[0]) === i));
        await deps.staging.appendItems(
          gen,
          kept.map((row) => ({
            id: row[0],
            createdAt: row[1],
            updatedAt: row[2],
            json: itemJson(chunk, row),
          })),
        );
        deps.codec.recycle(chunk.bytes);
        onItems(kept.length);
        await hit(deps, 'restore:chunk-staged');
      },
      signal,
    );
  }
}

/** Stages the backed-up links the restoration brings back (§6.5), between items that will exist. */
async function stageLinks(
  deps: EngineDeps,
  restoration: RestorationRecord,
  manifest: Manifest,
  staged: Readonly<Record<string, number>>,
  signal: AbortSignal,
): Promise<void> {
  const live = await deps.staging.liveGenerations(restoration.siteId);
  const genOf = (collectionId: string) => staged[collectionId] ?? live.get(collectionId);
  const lists = [...manifest.collections.map((c) => c.links), manifest.incomingLinks];
  const open = async (ref: ChunkRef) =>
    deps.codec.openLinks(await fetchChunk(deps.blobs, restoration.siteId, ref), ref);
  for (const list of lists) {
    await eachChunk(
      list.chunks,
      open,
      async (links) => {
        const mapped: StagedLink[] = [];
        for (const link of links) {
          const m = mapLink(link, restoration.collections);
          const fromGen = m && genOf(m.fromCollection);
          const toGen = m && genOf(m.toCollection);
          if (m && fromGen !== undefined && toGen !== undefined) {
            mapped.push({ fromGen, fromId: m.fromId, field: m.field, toGen, toId: m.toId, pos: m.pos });
          }
        }
        // A link whose other end will not exist after the switch is dropped.
        const exists = new Map<number, Set<string>>();
        for (const gen of new Set(mapped.flatMap((l) => [l.fromGen, l.toGen]))) {
          const ids = mapped.flatMap((l) => [
            ...(l.fromGen === gen ? [l.fromId] : []),
            ...(l.toGen === gen ? [l.toId] : []),
          ]);
          exists.set(gen, await deps.staging.existingIds(gen, ids));
        }
        await deps.staging.appendLinks(
          mapped.filter((l) => exists.get(l.fromGen)?.has(l.fromId) && exists.get(l.toGen)?.has(l.toId)),
        );
      },
      signal,
    );
  }
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
  if (!backup)
    throw new JobFailure('INTEGRITY_OBJECT_MISSING', `Backup ${restoration.backupId} has no manifest.`);
  const manifest = await readVerifiedManifest(deps.blobs, backup);
  await hit(deps, 'restore:manifest-read');
  const sources = restoration.collections.map((plan) => {
    const entry = manifest.collections.find((c) => c.id === plan.dataCollectionId);
    if (!entry)
      throw new JobFailure(
        'INTEGRITY_MANIFEST_INVALID',
        `The manifest does not hold collection ${plan.dataCollectionId}.`,
      );
    // Undoing a restoration (restoring its safety backup) deletes what that restoration created.
    const remove = entry.absentBefore === true && plan.restoreDestination.dataCollectionId === entry.id;
    return { plan, entry, remove };
  });
  // A safety backup puts back the definitions the restoration replaced, whole (§6.6).
  const mode = backup.trigger === 'PRE_RESTORE' ? 'BACKUP' : restoration.definitionMode;
  const itemsTotal = sources.reduce((n, s) => n + (s.remove ? 0 : s.entry.itemCount), 0);
  let done = 0;
  lease.progress({ itemsDone: 0, itemsTotal });
  const staged: Record<string, number> = {};
  for (const { plan, entry, remove } of sources) {
    if (remove) continue;
    const destination = plan.restoreDestination.dataCollectionId;
    const gen = await deps.staging.createGeneration(
      restoration.siteId,
      destination,
      restoration.id,
      deps.clock(),
      entry.itemCount,
    );
    staged[destination] = gen;
    await deps.restorations.saveRestorationJob(restoration.id, lease.workerId, {
      phase: 'STAGING',
      staged,
      replaced: {},
      replacedNames: {},
      replacedVersions: {},
      liveAtSwitch: {},
    });
    await hit(deps, 'restore:generation-created');
    await stageCollection(deps, restoration.siteId, entry, gen, lease.signal, (n) =>
      lease.progress({ itemsDone: (done += n), itemsTotal }),
    );
  }
  await stageLinks(deps, restoration, manifest, staged, lease.signal);
  await hit(deps, 'restore:links-staged');
  for (const gen of Object.values(staged)) await deps.staging.buildIndexes(gen);
  await hit(deps, 'restore:indexes-built');
  lease.signal.throwIfAborted();
  const at = deps.clock();
  return deps.staging.switchLive({
    restorationId: restoration.id,
    workerId: lease.workerId,
    siteId: restoration.siteId,
    at,
    leaseMs: deps.leaseMs,
    destinations: sources.map(({ plan, entry, remove }) => ({
      collectionId: plan.restoreDestination.dataCollectionId,
      displayName: plan.restoreDestination.displayName,
      stagedGen: staged[plan.restoreDestination.dataCollectionId] ?? 0,
      ...(entry.definition && { definition: entry.definition }),
      referenceTargets: referenceTargetsOf(entry.id, entry.definition, restoration.collections),
      mode,
      ...(remove && { remove: true }),
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

/**
 * Writes the PRE_RESTORE backup from the generations the switch replaced (frozen since), then completes
 * the restoration. If the safety backup cannot be written, the restoration still completes (live data was
 * restored) and says so in its error.
 */
async function writeSafetyBackup(
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
          return {
            collectionId,
            displayName: job.replacedNames[collectionId] ?? collectionId,
            gen,
            version: job.replacedVersions[collectionId] ?? 0,
            ...(definition && { definition }),
            // Recorded only by switches that know definitions: older states leave the undo as it was.
            ...(gen === null && job.replacedDefinitions && { absentBefore: true }),
          };
        },
      );
      const targets = new Map(
        Object.entries(job.liveAtSwitch).map(([id, gen]) => [gen, id] as [number, string]),
      );
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
