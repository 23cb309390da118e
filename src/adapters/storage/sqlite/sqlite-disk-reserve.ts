import { rmSync, statSync, writeFileSync } from 'node:fs';
import type { Kysely } from 'kysely';
import { StorageError } from '../../../ports/storage-error.js';
import { SqlBackupStore } from '../sql/backup-store.js';
import { SqlRestorationStore } from '../sql/restoration-store.js';
import type { Database } from '../sql/schema.js';
import type { SqlCapabilities } from '../sql/sql-capabilities.js';

/**
 * Room set aside on the database's disk so that a job can still record its own failure when the disk
 * fills: staging a restoration fills it, SQLite answers SQLITE_FULL (a StorageError FULL), and marking the restoration FAILED
 * needs a few pages too. The reserve (a plain file beside the database) is given up at that moment and
 * taken again once there is room (at start-up, at each health check and before each job is claimed), as a
 * ballast file would be.
 */
export class SqliteDiskReserve {
  constructor(
    private readonly path: string,
    private readonly bytes: number,
  ) {}

  /** Takes the reserve if it is not held and the disk has room; never throws. */
  hold(): void {
    try {
      if (statSync(this.path).size >= this.bytes) return;
    } catch {
      // Not held.
    }
    try {
      writeFileSync(this.path, Buffer.alloc(this.bytes));
    } catch {
      // No room yet: hold none rather than part of it.
      rmSync(this.path, { force: true });
    }
  }

  /** Frees the reserve. */
  release(): void {
    rmSync(this.path, { force: true });
  }

  /**
   * Runs `write`; if the disk is full, frees the reserve and runs it once more, so that recording a
   * failure does not fail for the very reason it reports.
   */
  async withRoom<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (error) {
      if (!(error instanceof StorageError && error.kind === 'FULL')) throw error;
      this.release();
      return write();
    }
  }
}

/** The backup catalog with the reserve: each claim takes it back, a failure is recorded even on a full disk. */
export class ReservedBackupStore extends SqlBackupStore {
  constructor(
    db: Kysely<Database>,
    capabilities: SqlCapabilities,
    private readonly reserve: SqliteDiskReserve,
  ) {
    super(db, capabilities);
  }

  override claimBackup(
    ...args: Parameters<SqlBackupStore['claimBackup']>
  ): ReturnType<SqlBackupStore['claimBackup']> {
    this.reserve.hold();
    return super.claimBackup(...args);
  }

  override failBackup(...args: Parameters<SqlBackupStore['failBackup']>): Promise<boolean> {
    return this.reserve.withRoom(() => super.failBackup(...args));
  }
}

/** The restoration catalog with the reserve (see ReservedBackupStore). */
export class ReservedRestorationStore extends SqlRestorationStore {
  constructor(
    db: Kysely<Database>,
    capabilities: SqlCapabilities,
    private readonly reserve: SqliteDiskReserve,
  ) {
    super(db, capabilities);
  }

  override claimRestoration(
    ...args: Parameters<SqlRestorationStore['claimRestoration']>
  ): ReturnType<SqlRestorationStore['claimRestoration']> {
    this.reserve.hold();
    return super.claimRestoration(...args);
  }

  override failRestoration(...args: Parameters<SqlRestorationStore['failRestoration']>): Promise<boolean> {
    return this.reserve.withRoom(() => super.failRestoration(...args));
  }
}
