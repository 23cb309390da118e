import type { Kysely, Selectable } from 'kysely';
import type { SiteRecord, SiteSettingsOverrides, SiteStore } from '../../../ports/storage.js';
import type { Database, SitesTable } from './schema.js';
import type { GenerationRegistry } from './generation-registry.js';

/** PostgreSQL's BIGINT may come back as a string. */
function nullableNumber(value: number | string | null): number | null {
  return value === null ? null : Number(value);
}

/** The columns of a site's settings. */
function settingsColumns(settings: SiteSettingsOverrides) {
  return {
    auto_backup_interval_days: settings.autoBackupIntervalDays,
    auto_backup_retention: settings.autoBackupRetention,
    max_collections: settings.maxCollections ?? null,
    max_items: settings.maxItems ?? null,
    max_backup_bytes: settings.maxBackupBytes ?? null,
    max_request_body_bytes: settings.maxRequestBodyBytes ?? null,
  };
}

function toRecord(row: Selectable<SitesTable>): SiteRecord {
  return {
    id: row.id,
    name: row.name,
    createdAt: Number(row.created_at),
    settings: {
      autoBackupIntervalDays: row.auto_backup_interval_days,
      autoBackupRetention: row.auto_backup_retention,
      maxCollections: nullableNumber(row.max_collections),
      maxItems: nullableNumber(row.max_items),
      maxBackupBytes: nullableNumber(row.max_backup_bytes),
      maxRequestBodyBytes: nullableNumber(row.max_request_body_bytes),
    },
  };
}

export class SqlSiteStore implements SiteStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly generations: GenerationRegistry,
  ) {}

  async create(site: SiteRecord): Promise<void> {
    await this.db
      .insertInto('sites')
      .values({
        id: site.id,
        name: site.name,
        created_at: site.createdAt,
        ...settingsColumns(site.settings),
      })
      .execute();
  }

  async get(id: string): Promise<SiteRecord | undefined> {
    const row = await this.db.selectFrom('sites').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toRecord(row);
  }

  async list(): Promise<SiteRecord[]> {
    const rows = await this.db.selectFrom('sites').selectAll().orderBy('created_at').orderBy('id').execute();
    return rows.map(toRecord);
  }

  async delete(id: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const deleted = await trx.deleteFrom('sites').where('id', '=', id).executeTakeFirst();
      if (Number(deleted.numDeletedRows) === 0) return false;
      await this.generations.retireSite(trx, id);
      await trx.deleteFrom('collections').where('site_id', '=', id).execute();
      await trx.deleteFrom('api_key_sites').where('site_id', '=', id).execute();
      // Its backups, restorations, jobs by filter, subscriptions and pending deliveries go too (the blobs are removed by the caller).
      await trx
        .deleteFrom('backup_collections')
        .where('backup_id', 'in', (eb) => eb.selectFrom('backups').select('id').where('site_id', '=', id))
        .execute();
      await trx.deleteFrom('backups').where('site_id', '=', id).execute();
      await trx.deleteFrom('restorations').where('site_id', '=', id).execute();
      // A running job by filter finds its row gone at its next batch or heartbeat and stops.
      await trx.deleteFrom('item_jobs').where('site_id', '=', id).execute();
      await trx.deleteFrom('idempotency_keys').where('site_id', '=', id).execute();
      await trx
        .deleteFrom('deliveries')
        .where('webhook_id', 'in', (eb) => eb.selectFrom('webhooks').select('id').where('site_id', '=', id))
        .execute();
      await trx.deleteFrom('webhooks').where('site_id', '=', id).execute();
      await trx.deleteFrom('events').where('site_id', '=', id).execute();
      await trx.deleteFrom('site_leases').where('site_id', '=', id).execute();
      return true;
    });
  }

  async updateSettings(id: string, settings: SiteSettingsOverrides): Promise<SiteRecord | undefined> {
    await this.db.updateTable('sites').set(settingsColumns(settings)).where('id', '=', id).execute();
    return this.get(id);
  }
}
