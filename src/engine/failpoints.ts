/**
 * Named points between the durable steps of backups, restorations, retention and garbage collection.
 * Fault tests make a process stop at any of them (in-process by throwing SimulatedCrash, or for real by
 * exiting), then check that another worker finishes or cleanly fails the job. In production they do
 * nothing. The order of the list is the numbering of the crash points (test/faults/crash-points.test.ts
 * enumerates it, so a point added here is covered there).
 */
export const failpointNames = [
  'backup:snapshot-opened',
  'backup:snapshot-recorded',
  'backup:chunk-stored',
  'backup:manifest-published',
  // Inside the transaction that marks a backup READY: after each backup beyond retention is marked deleted.
  'retention:backup-deleted',
  'backup:completed',
  'restore:claimed',
  'restore:staging-discarded',
  'restore:manifest-read',
  'restore:generation-created',
  'restore:chunk-staged',
  'restore:links-staged',
  'restore:indexes-built',
  // Inside the switch transaction: after a collection the undo of a restoration deletes, and once every
  // destination's definition is applied.
  'restore:created-collection-deleted',
  'restore:definitions-applied',
  'restore:switched',
  'restore:safety-snapshot-recorded',
  'restore:safety-chunk-stored',
  'restore:safety-written',
  'restore:completed',
  'gc:leased',
  'gc:chunk-deleted',
  'gc:manifest-deleted',
  'gc:manifest-forgotten',
] as const;

/**
 * Points of the one-time layout migration (src/jobs/layout-migration-task.ts): after each batch copied, and
 * after a site's switch. Kept apart from `failpointNames`, whose crash scenario has no legacy data to move;
 * test/storage/layout-migration.test.ts stops at them.
 */
export const layoutFailpointNames = ['layout:batch-copied', 'layout:switched'] as const;

/**
 * Points of a job by filter (src/engine/item-job.ts): after each batch committed. Kept apart like the layout
 * migration's; test/http/conformance-async-jobs.test.ts stops a job there and another worker finishes it.
 */
export const itemJobFailpointNames = ['item-job:batch-committed'] as const;

export type FailpointName =
  | (typeof failpointNames)[number]
  | (typeof layoutFailpointNames)[number]
  | (typeof itemJobFailpointNames)[number];

export type Failpoints = (name: FailpointName) => Promise<void>;

export const noFailpoints: Failpoints = () => Promise.resolve();

/** Thrown by a failpoint to stop a job as a crash would: no failure is recorded, the lease just lapses. */
export class SimulatedCrash extends Error {
  override readonly name = 'SimulatedCrash';
}
