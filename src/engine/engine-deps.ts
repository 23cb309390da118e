/**
 * What the job runners (backup-job.ts, restoration-job.ts, safety-backup-job.ts) work with: the ports of
 * the stores they write and the settings they run under.
 */
import type { ChunkPolicy } from '../domain/chunking.js';
import type { BackupStore, RestorationStore, Retention, StagingStore } from '../ports/backup-store.js';
import type { BlobStore } from '../ports/blob-store.js';
import type { Clock } from '../ports/clock.js';
import type { ItemJobStore } from '../ports/item-job-store.js';
import type { SnapshotSource } from '../ports/snapshot-source.js';
import type { CollectionStore, ItemStore } from '../ports/storage.js';
import type { CodecPool } from './codec-pool.js';
import type { FailpointName, Failpoints } from './failpoints.js';

export interface EngineDeps {
  readonly backups: BackupStore;
  readonly restorations: RestorationStore;
  readonly staging: StagingStore;
  /** Jobs by filter, and the item and collection stores they work on (item-job.ts). */
  readonly itemJobs: ItemJobStore;
  readonly items: ItemStore;
  readonly collections: CollectionStore;
  /** Items a job by filter handles per transaction (ITEM_JOB_BATCH unless a test sets it). */
  readonly itemJobBatch?: number;
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
  /** Told once per chunk a backup writes or finds already stored (for the metrics). */
  readonly chunkObserver?: ChunkObserver;
}

/** Counts backup chunks as they go: called once per chunk, never per item. */
export interface ChunkObserver {
  /** A new chunk: `rawBytes` read, `storedBytes` written after compression. */
  stored(rawBytes: number, storedBytes: number): void;
  /** A chunk already stored: `rawBytes` read and not written again. */
  deduplicated(rawBytes: number): void;
}

/** Runs the fault-test hook `name` if there is one (see failpoints.ts). */
export function hit(deps: EngineDeps, name: FailpointName): Promise<void> {
  return deps.failpoint ? deps.failpoint(name) : Promise.resolve();
}
