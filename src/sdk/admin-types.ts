/**
 * The admin API's objects (data-api.md §4) and the admin extensions (session, backup schedule, restore
 * preview), as they travel.
 */
import type { Scope } from '../contracts/scopes.js';
import type { JobError, RestorationCollection } from './types.js';

export type { Scope };

/** A site: the tenant that owns collections, backups and keys. */
export interface Site {
  readonly id: string;
  readonly name: string;
  readonly createdDate: string;
}

/** A site's automatic backups, as in effect (a site's own value, or the deployment default). */
export interface SiteSettings {
  /** Days between two automatic backups. */
  readonly autoBackupIntervalDays: number;
  /** Newest READY scheduled backups kept. */
  readonly autoBackupRetention: number;
}

/** A site's quotas, as in effect (a site's own value, or the deployment default); see the README, "Quotas". */
export interface SiteQuotas {
  /** Live collections (those in the bin do not count). */
  readonly maxCollections: number;
  /** Items of the live collections, LIVE and SANDBOX together. */
  readonly maxItems: number;
  /** Bytes of stored backups plus the item bytes of collections in the bin. */
  readonly maxBackupBytes: number;
  /** Largest request body, at most the deployment's SAFEKEEP_BODY_LIMIT_MB. */
  readonly maxRequestBodyBytes: number;
}

/** What a site uses of its quotas now. */
export interface SiteUsage {
  readonly collections: number;
  readonly items: number;
  readonly backupBytes: number;
}

/** A change of settings: a number sets it, `null` goes back to the deployment default, absent keeps it. */
export interface SiteSettingsPatch {
  readonly autoBackupIntervalDays?: number | null;
  readonly autoBackupRetention?: number | null;
  readonly maxCollections?: number | null;
  readonly maxItems?: number | null;
  readonly maxBackupBytes?: number | null;
  readonly maxRequestBodyBytes?: number | null;
}

/** An API key as listed: never its secret. */
export interface ApiKey {
  readonly id: string;
  readonly name: string;
  /** The sites it may act on; empty for an `admin` key (every site). */
  readonly siteIds: readonly string[];
  readonly scopes: readonly Scope[];
  readonly createdDate: string;
  /** When it was revoked; null while it works. */
  readonly revokedDate: string | null;
}

/** What to create a key with. */
export interface ApiKeyInput {
  readonly name: string;
  readonly siteIds: readonly string[];
  readonly scopes: readonly Scope[];
}

/** A new key and its secret: the only time the secret is ever shown. */
export interface CreatedApiKey {
  readonly apiKey: ApiKey;
  /** The key to send as `Authorization` (`sk_…`). Store it now: it cannot be read again. */
  readonly secret: string;
}

/** The state-change events of backups and restorations. */
export const BACKUP_EVENT_TYPES = [
  'wix.data.v2.backup_backup_state_changed',
  'wix.data.v2.backup_restoration_state_changed',
] as const;

/**
 * The item events (Wix's `onDataItemCreated`, `onDataItemUpdated`, `onDataItemDeleted`), for writes to
 * LIVE items; a site pays for them only while a subscription names them.
 */
export const ITEM_EVENT_TYPES = [
  'wix.data.v2.data_item_created',
  'wix.data.v2.data_item_updated',
  'wix.data.v2.data_item_deleted',
] as const;

/**
 * Safekeep's own alerts: a verification found a backup damaged; a site's backups became overdue, or
 * recovered (each change once, however many processes watch).
 */
export const HEALTH_EVENT_TYPES = [
  'safekeep.backup_verification_failed',
  'safekeep.site_backup_overdue',
  'safekeep.site_backup_recovered',
] as const;

/** The events a webhook may subscribe to. */
export const WEBHOOK_EVENT_TYPES = [
  ...BACKUP_EVENT_TYPES,
  ...HEALTH_EVENT_TYPES,
  ...ITEM_EVENT_TYPES,
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** A subscription: the server POSTs signed events of `siteId` to `url`. */
export interface Webhook {
  readonly id: string;
  readonly siteId: string;
  readonly url: string;
  readonly eventTypes: readonly string[];
  readonly createdDate: string;
  /**
   * `BLOCKED` when the server's webhook address rules refuse the URL's address: its events are kept but not
   * sent until the operator allows the range.
   */
  readonly status: 'ACTIVE' | 'BLOCKED';
  /** Which address and range are refused; only when `status` is `BLOCKED`. */
  readonly blockedReason?: string;
}

/** What to subscribe. */
export interface WebhookInput {
  readonly siteId: string;
  /**
   * An https:// or http:// URL at a public address (loopback, private and other special ranges only when
   * the operator allows them).
   */
  readonly url: string;
  readonly eventTypes: readonly string[];
}

/** Who the caller is (`GET /_api/safekeep/v1/session`). */
export interface Session {
  readonly apiKey: Omit<ApiKey, 'revokedDate'>;
  /** Every site for an `admin` key; the key's own sites otherwise. */
  readonly sites: readonly Site[];
}

/** When the site's next automatic backup is due, and the settings that decide it. */
export interface BackupSchedule extends SiteSettings {
  /** The next slot in the site's phase (its creation time plus whole intervals). */
  readonly nextAutoBackupDate: string;
}

/** What a restoration would do to one destination. */
export interface RestorePreviewCollection extends RestorationCollection {
  /** Whether the destination exists (a missing one is created). */
  readonly destinationExists: boolean;
  /** LIVE items it holds now: the restoration replaces all of them. */
  readonly itemsNowLive: number;
  /** Items the backup holds for the source collection; null when its content cannot be read. */
  readonly itemsInBackup: number | null;
  /** What the destination's definition goes through; null when the backup's manifest cannot be read. */
  readonly definition: {
    readonly created: boolean;
    readonly deleted?: true;
    readonly displayName: { readonly from: string | null; readonly to: string } | null;
    readonly addedFields: readonly string[];
    readonly changedFields: readonly string[];
    readonly removedFields: readonly string[];
    readonly viewsReplaced: boolean;
    readonly permissionsReplaced: boolean;
    /** Fields a MERGE restoration would be refused for (409 DEFINITION_CONFLICT). */
    readonly conflicts: readonly string[];
  } | null;
  /**
   * Live items the backup lacks: the restore removes them from live data (its safety backup keeps them),
   * with the first few ids. Null when the backup's content cannot be read or the collection is too large to
   * compare in a review (more than 250,000 items on both sides together).
   */
  readonly itemsNotInBackup: IdSample | null;
  /** Items whose content changed since the backup: the restore puts back the backup's version. */
  readonly itemsChanged: IdSample | null;
}

/** A count of items and the first few (at most 10) of their ids, in id order. */
export interface IdSample {
  readonly count: number;
  readonly firstIds: readonly string[];
}

/** What a restoration would change, before it is asked for. */
export interface RestorePreview {
  readonly backupId: string;
  readonly snapshotDate: string | null;
  readonly collections: readonly RestorePreviewCollection[];
  /** Set when the backup's stored content cannot be read: restoring it would fail with this. */
  readonly problem: JobError | null;
  /** Set when the site's quotas would refuse the restoration (429 `QUOTA_EXCEEDED`): the error it would get. */
  readonly quota: {
    readonly code: 'QUOTA_EXCEEDED';
    readonly message: string;
    readonly data: { quota: string; limit: number; current: number; requested?: number };
  } | null;
}

/** `GET /healthz`. */
export interface Health {
  readonly status: 'ok';
  /** The storage engine's name. */
  readonly storage: string;
}
