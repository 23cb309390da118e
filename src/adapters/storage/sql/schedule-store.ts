import type { Kysely } from 'kysely';
import type { NewBackup, ScheduleStore } from '../../../ports/backup-store.js';
import { emitBackupEvent } from './backup-rows.js';
import { insertBackup } from './backup-store.js';
import type { Database } from './schema.js';
import type { SqlCapabilities } from './sql-capabilities.js';

export class SqlScheduleStore implements ScheduleStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly capabilities: SqlCapabilities,
  ) {}

  async dueSites(
    now: number,
    limit: number,
  ): Promise<{ siteId: string; createdAt: number; nextDueAt: number; intervalDays: number | null }[]> {
    const rows = await this.db
      .selectFrom('sites')
      .select(['id', 'created_at', 'next_auto_backup_at', 'auto_backup_interval_days'])
      .where((eb) => eb.or([eb('next_auto_backup_at', 'is', null), eb('next_auto_backup_at', '<=', now)]))
      .orderBy('next_auto_backup_at')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      siteId: r.id,
      createdAt: Number(r.created_at),
      nextDueAt: r.next_auto_backup_at === null ? Number.NaN : Number(r.next_auto_backup_at),
      intervalDays: r.auto_backup_interval_days,
    }));
  }

  async takeSlot(
    siteId: string,
    expectedNextDueAt: number,
    nextDueAt: number,
    backup: NewBackup,
  ): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      if (this.capabilities.rowLocks) {
        // Another scheduler holding the site's row is taking this slot: leave it rather than wait for it.
        const free = await trx
          .selectFrom('sites')
          .select('id')
          .where('id', '=', siteId)
          .forUpdate()
          .skipLocked()
          .executeTakeFirst();
        if (!free) return false;
      }
      const moved = await trx
        .updateTable('sites')
        .set({ next_auto_backup_at: nextDueAt })
        .where('id', '=', siteId)
        .where('next_auto_backup_at', '=', expectedNextDueAt)
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) === 0) return false;
      const taken = await trx
        .selectFrom('backups')
        .select('id')
        .where('site_id', '=', siteId)
        .where('schedule_slot', '=', backup.scheduleSlot ?? null)
        .executeTakeFirst();
      if (taken) return false;
      await insertBackup(trx, backup);
      await emitBackupEvent(trx, backup.id, backup.requestedAt);
      return true;
    });
  }

  async setNextDue(siteId: string, nextDueAt: number): Promise<void> {
    await this.db
      .updateTable('sites')
      .set({ next_auto_backup_at: nextDueAt })
      .where('id', '=', siteId)
      .execute();
  }
}
