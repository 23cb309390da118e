import type { Kysely, Selectable } from 'kysely';
import { isScope, type Scope } from '../../../contracts/scopes.js';
import type { ApiKeyRecord, ApiKeyStore } from '../../../ports/storage.js';
import type { ApiKeysTable, Database } from './schema.js';

export class SqlApiKeyStore implements ApiKeyStore {
  constructor(private readonly db: Kysely<Database>) {}

  async create(key: ApiKeyRecord): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('api_keys')
        .values({
          id: key.id,
          name: key.name,
          secret_hash: key.secretHash,
          scopes: JSON.stringify(key.scopes),
          created_at: key.createdAt,
          revoked_at: key.revokedAt,
        })
        .execute();
      if (key.siteIds.length > 0) {
        await trx
          .insertInto('api_key_sites')
          .values(key.siteIds.map((siteId) => ({ key_id: key.id, site_id: siteId })))
          .execute();
      }
    });
  }

  async get(id: string): Promise<ApiKeyRecord | undefined> {
    const row = await this.db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
    return row && (await this.withSites([row]))[0];
  }

  async findBySecretHash(secretHash: string): Promise<ApiKeyRecord | undefined> {
    const row = await this.db
      .selectFrom('api_keys')
      .selectAll()
      .where('secret_hash', '=', secretHash)
      .executeTakeFirst();
    return row && (await this.withSites([row]))[0];
  }

  async list(siteIds?: readonly string[]): Promise<ApiKeyRecord[]> {
    let query = this.db.selectFrom('api_keys').selectAll().orderBy('created_at', 'desc').orderBy('id');
    if (siteIds) {
      if (siteIds.length === 0) return [];
      query = query.where('id', 'in', (eb) =>
        eb.selectFrom('api_key_sites').select('key_id').where('site_id', 'in', siteIds),
      );
    }
    return this.withSites(await query.execute());
  }

  async revoke(id: string, at: number): Promise<boolean> {
    const result = await this.db
      .updateTable('api_keys')
      .set({ revoked_at: at })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  private async withSites(rows: Selectable<ApiKeysTable>[]): Promise<ApiKeyRecord[]> {
    if (rows.length === 0) return [];
    const bindings = await this.db
      .selectFrom('api_key_sites')
      .select(['key_id', 'site_id'])
      .where(
        'key_id',
        'in',
        rows.map((r) => r.id),
      )
      .orderBy('site_id')
      .execute();
    const sitesByKey = new Map<string, string[]>();
    for (const b of bindings) sitesByKey.set(b.key_id, [...(sitesByKey.get(b.key_id) ?? []), b.site_id]);
    return rows.map((row) => ({
      id: row.id,
      name: row.name,
      secretHash: row.secret_hash,
      siteIds: sitesByKey.get(row.id) ?? [],
      scopes: (JSON.parse(row.scopes) as string[]).filter(isScope) satisfies Scope[],
      createdAt: Number(row.created_at),
      revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
    }));
  }
}
