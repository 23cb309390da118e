/**
 * The tables both SQL engines share, as Kysely sees them. Item sets live in one table per generation
 * (`items_<generation id>`), created and dropped by the engine's `GenerationTables`; they are reached
 * through `sql.table(itemTable(gen))`.
 */
import type { Generated } from 'kysely';

export interface MetaTable {
  key: string;
  value: string;
}

export interface SitesTable {
  id: string;
  name: string;
  created_at: number;
  auto_backup_interval_days: number | null;
  auto_backup_retention: number | null;
}

export interface ApiKeysTable {
  id: string;
  name: string;
  secret_hash: string;
  /** JSON array of scopes. */
  scopes: string;
  created_at: number;
  revoked_at: number | null;
}

export interface ApiKeySitesTable {
  key_id: string;
  site_id: string;
}

export interface CollectionsTable {
  site_id: string;
  id: string;
  display_name: string;
  collection_type: string;
  /** JSON. */
  fields: string;
  /** JSON or null. */
  permissions: string | null;
  /** JSON. */
  views: string;
  /** JSON. */
  extra: string;
  revision: number;
  created_at: number;
  updated_at: number;
  /** The generation holding the LIVE items. */
  live_gen: number;
  /** The generation holding the SANDBOX items. */
  sandbox_gen: number;
  /** Incremented by every change to LIVE items or links; lets a backup skip an unchanged collection. */
  live_version: number;
}

export type GenerationState = 'ACTIVE' | 'BUILDING' | 'RETIRED';

export interface GenerationsTable {
  id: Generated<number>;
  site_id: string;
  collection_id: string;
  environment: string;
  state: GenerationState;
  created_at: number;
}

export interface LinksTable {
  from_gen: number;
  field: string;
  from_id: string;
  to_gen: number;
  to_id: string;
  /** Orders the links of one field of one item. */
  pos: number;
}

export interface Database {
  meta: MetaTable;
  sites: SitesTable;
  api_keys: ApiKeysTable;
  api_key_sites: ApiKeySitesTable;
  collections: CollectionsTable;
  generations: GenerationsTable;
  links: LinksTable;
}

/** One row of an item table. */
export interface ItemRow {
  id: string;
  created_at: number;
  updated_at: number;
  data: string;
}

/** The table of a generation. Generation ids are integers the database allotted, never input. */
export function itemTable(gen: number): string {
  if (!Number.isSafeInteger(gen) || gen <= 0) throw new Error(`not a generation id: ${gen}`);
  return `items_${gen}`;
}
