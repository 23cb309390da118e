import { sql, type Kysely } from 'kysely';
import type { ManifestRef } from '../../../domain/backup.js';
import type { MaintenanceStore } from '../../../ports/backup-store.js';
import type { Database } from './schema.js';
import { takeSiteLease } from './site-lock.js';
import type { SqlCapabilities } from './sql-capabilities.js';

export class SqlMaintenanceStore implements MaintenanceStore {
  constructor(
    private readonly db: Kysely<Database>,
    /** With row locks, the lease is taken under the site row's lock (see site-lock.ts). */
    private readonly capabilities: SqlCapabilities,
  ) {}

  async acquireGcLease(siteId: string, owner: string, now: number, leaseMs: number): Promise<boolean> {
    return takeSiteLease(this.db, {
      siteId,
      purpose: 'gc',
      owner,
      now,
      leaseMs,
      rowLocks: this.capabilities.rowLocks,
    });
  }

  async releaseGcLease(siteId: string, owner: string): Promise<void> {
    await this.db
      .deleteFrom('site_leases')
      .where('site_id', '=', siteId)
      .where('purpose', '=', 'gc')
      .where('owner', '=', owner)
      .execute();
  }

  async liveManifests(siteId: string): Promise<{ backupId: string; manifest: ManifestRef }[]> {
    const rows = await this.db
      .selectFrom('backups')
      .select(['id', 'manifest_key', 'manifest_sha256', 'manifest_size'])
      .where('site_id', '=', siteId)
      .where('status', '=', 'READY')
      .where('manifest_key', 'is not', null)
      .execute();
    return rows.map((r) => ({
      backupId: r.id,
      manifest: {
        key: r.manifest_key ?? '',
        sha256: r.manifest_sha256 ?? '',
        size: Number(r.manifest_size ?? 0),
      },
    }));
  }

  async deadManifests(siteId: string): Promise<{ backupId: string; key: string }[]> {
    const rows = await this.db
      .selectFrom('backups')
      .select(['id', 'manifest_key'])
      .where('site_id', '=', siteId)
      .where('status', '!=', 'READY')
      .where('manifest_key', 'is not', null)
      .execute();
    return rows.map((r) => ({ backupId: r.id, key: r.manifest_key ?? '' }));
  }

  async forgetManifest(backupId: string): Promise<void> {
    await this.db
      .updateTable('backups')
      .set({ manifest_key: null, manifest_sha256: null, manifest_size: null })
      .where('id', '=', backupId)
      .where('status', '!=', 'READY')
      .execute();
  }

  async sitesWithBackups(): Promise<string[]> {
    const rows = await this.db.selectFrom('backups').select('site_id').distinct().execute();
    return rows.map((r) => r.site_id);
  }

  async pruneTombstones(): Promise<number> {
    const floors = await this.db
      .selectFrom('backup_collections as bc')
      .innerJoin('backups as b', 'b.id', 'bc.backup_id')
      .select(['bc.gen', (eb) => eb.fn.max('bc.version').as('floor')])
      .where('b.status', '=', 'READY')
      .groupBy('bc.gen')
      .execute();
    let pruned = 0;
    for (const { gen, floor } of floors) {
      const f = Number(floor);
      await this.db
        .updateTable('generations')
        .set({ tombstone_floor: f })
        .where('id', '=', gen)
        .where('tombstone_floor', '<', f)
        .execute();
      const result = await this.db
        .deleteFrom('tombstones')
        .where('gen', '=', gen)
        .where('seq', '<=', f)
        .executeTakeFirst();
      pruned += Number(result.numDeletedRows);
    }
    return pruned;
  }

  async retireOrphanGenerations(): Promise<number> {
    const pending = this.db.selectFrom('restorations').select('id').where('status', '=', 'PENDING');
    const building = await this.db
      .updateTable('generations')
      .set({ state: 'RETIRED', owner_restoration: null })
      .where('state', '=', 'BUILDING')
      .where((eb) => eb.or([eb('owner_restoration', 'is', null), eb('owner_restoration', 'not in', pending)]))
      .executeTakeFirst();
    // RETIRING generations wait for a pending restoration's safety backup; with none pending, they are free.
    const frozen = await this.db
      .updateTable('generations')
      .set({ state: 'RETIRED' })
      .where('state', '=', 'RETIRING')
      .where(
        sql<boolean>`NOT EXISTS (SELECT 1 FROM restorations WHERE status = 'PENDING' AND site_id = generations.site_id)`,
      )
      .executeTakeFirst();
    return Number(building.numUpdatedRows) + Number(frozen.numUpdatedRows);
  }
}
