import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../schema.js';

/** The tables whose rows are jobs run under a lease, claimed oldest first. */
export type JobTable = 'backups' | 'restorations' | 'item_jobs' | 'verifications';

/** The columns every job table has, which the lease operations read and write. */
export interface JobColumns {
  id: string;
  site_id: string;
  status: string;
  requested_at: number;
  started_at: number | null;
  finished_at: number | null;
  error_code: string | null;
  error_message: string | null;
  progress_done: number | null;
  progress_total: number | null;
  lease_owner: string | null;
  lease_expires_at: number | null;
  attempts: number;
}

/** The database as the lease operations see it: each job table by its shared columns only. */
export type JobView = Omit<Database, JobTable> & Record<JobTable, JobColumns>;

/**
 * The same connection or transaction, typed as {@link JobView}, so that one query serves every job table
 * (Kysely cannot type a query over "either table" otherwise). Queries through it touch only the shared
 * columns.
 */
export function jobView(db: Kysely<Database>): Kysely<JobView>;
export function jobView(db: Transaction<Database>): Transaction<JobView>;
export function jobView(db: Kysely<Database>): Kysely<JobView> {
  return db as unknown as Kysely<JobView>;
}
