import { sql, type Kysely } from 'kysely';
import {
  SITE_ENTITY_FQDN,
  SITE_OVERDUE_EVENT,
  SITE_RECOVERED_EVENT,
} from '../../../contracts/backups-api.js';
import type { BackupHealthState } from '../../../domain/verification.js';
import type { HealthRow, HealthStore } from '../../../ports/verification-store.js';
import { appendEvents, subscribersOf } from './outbox.js';
import type { Database } from './schema.js';

/**
 * The newest time a backup that counts for a site's health became READY: a full backup (all the site's
 * collections) taken on demand or by the schedule; safety, partial and imported backups do not count.
 */
const lastGood = sql<number | null>`(SELECT MAX(b.finished_at) FROM backups b
  WHERE b.site_id = sites.id AND b.status = 'READY' AND b.requested_collections IS NULL
  AND b.trigger IN ('ON_DEMAND', 'SCHEDULE'))`;

export class SqlHealthStore implements HealthStore {
  constructor(private readonly db: Kysely<Database>) {}

  private select() {
    return this.db
      .selectFrom('sites')
      .select([
        'id',
        'created_at',
        'auto_backup_interval_days',
        'backup_health',
        'backup_health_changed_at',
        lastGood.as('last_good'),
      ]);
  }

  async sites(afterId: string, limit: number): Promise<HealthRow[]> {
    const rows = await this.select().where('id', '>', afterId).orderBy('id').limit(limit).execute();
    return rows.map(toRow);
  }

  async site(siteId: string): Promise<HealthRow | undefined> {
    const row = await this.select().where('id', '=', siteId).executeTakeFirst();
    return row && toRow(row);
  }

  async transition(
    siteId: string,
    from: BackupHealthState,
    to: BackupHealthState,
    at: number,
    eventBody: Record<string, unknown>,
  ): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const changed = await trx
        .updateTable('sites')
        .set({ backup_health: to, backup_health_changed_at: at })
        .where('id', '=', siteId)
        .where('backup_health', '=', from)
        .executeTakeFirst();
      if (Number(changed.numUpdatedRows) === 0) return false;
      const kind = to === 'OVERDUE' ? SITE_OVERDUE_EVENT : SITE_RECOVERED_EVENT;
      await appendEvents(
        trx,
        siteId,
        [{ ...kind, entityFqdn: SITE_ENTITY_FQDN, entityId: siteId, body: JSON.stringify(eventBody) }],
        await subscribersOf(trx, siteId),
        at,
      );
      return true;
    });
  }

  async countOverdue(): Promise<number> {
    const row = await this.db
      .selectFrom('sites')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('backup_health', '=', 'OVERDUE')
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }
}

function toRow(row: {
  id: string;
  created_at: number;
  auto_backup_interval_days: number | null;
  backup_health: string;
  backup_health_changed_at: number | null;
  last_good: number | null;
}): HealthRow {
  return {
    siteId: row.id,
    createdAt: Number(row.created_at),
    intervalDays: row.auto_backup_interval_days === null ? null : Number(row.auto_backup_interval_days),
    state: row.backup_health === 'OVERDUE' ? 'OVERDUE' : 'OK',
    changedAt: row.backup_health_changed_at === null ? null : Number(row.backup_health_changed_at),
    lastGoodBackupAt: row.last_good === null ? null : Number(row.last_good),
  };
}
