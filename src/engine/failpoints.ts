/**
 * Named points between the durable steps of backups and restorations. Fault tests make a process stop at
 * any of them (in-process by throwing SimulatedCrash, or for real by exiting), then check that another
 * worker finishes or cleanly fails the job. In production they do nothing.
 */
export const failpointNames = [
  'backup:snapshot-opened',
  'backup:snapshot-recorded',
  'backup:chunk-stored',
  'backup:manifest-published',
  'backup:completed',
  'restore:claimed',
  'restore:staging-discarded',
  'restore:manifest-read',
  'restore:generation-created',
  'restore:chunk-staged',
  'restore:links-staged',
  'restore:indexes-built',
  'restore:switched',
  'restore:safety-written',
  'restore:completed',
] as const;

export type FailpointName = (typeof failpointNames)[number];

export type Failpoints = (name: FailpointName) => Promise<void>;

export const noFailpoints: Failpoints = () => Promise.resolve();

/** Thrown by a failpoint to stop a job as a crash would: no failure is recorded, the lease just lapses. */
export class SimulatedCrash extends Error {
  override readonly name = 'SimulatedCrash';
}
