import type { QuotaDefaults } from '../config.js';
import { errors, type AppError, type QuotaName } from '../contracts/errors.js';
import type { SiteSettingsOverrides, Storage } from '../ports/storage.js';

/** A site's effective quotas: its own where set, else the deployment's (README, "Quotas"). */
export type SiteQuotas = { readonly [K in QuotaName]: number };

/** What a site uses now, quota by quota (the request body has no standing usage). */
export interface SiteUsage {
  /** Against maxCollections. */
  readonly collections: number;
  /** Against maxItems. */
  readonly items: number;
  /** Against maxBackupBytes. */
  readonly backupBytes: number;
}

export const quotaNames: readonly QuotaName[] = [
  'maxCollections',
  'maxItems',
  'maxBackupBytes',
  'maxRequestBodyBytes',
];

export function effectiveQuotas(settings: SiteSettingsOverrides, defaults: QuotaDefaults): SiteQuotas {
  return {
    maxCollections: settings.maxCollections ?? defaults.maxCollections,
    maxItems: settings.maxItems ?? defaults.maxItems,
    maxBackupBytes: settings.maxBackupBytes ?? defaults.maxBackupBytes,
    maxRequestBodyBytes: settings.maxRequestBodyBytes ?? defaults.maxRequestBodyBytes,
  };
}

/**
 * The refusal when adding `added` to `current` would go over `limit`, else undefined. A request that adds
 * nothing is never refused, so a site over a lowered quota can still shrink.
 */
export function overQuota(
  quota: QuotaName,
  limit: number,
  current: number,
  added: number,
): AppError | undefined {
  if (added <= 0 || current + added <= limit) return undefined;
  return errors.QUOTA_EXCEEDED(quota, limit, current, added);
}

/** @throws AppError QUOTA_EXCEEDED when adding `added` to `current` would go over `limit` */
export function checkQuota(quota: QuotaName, limit: number, current: number, added: number): void {
  const refusal = overQuota(quota, limit, current, added);
  if (refusal) throw refusal;
}

/** Per-site quotas: their effective values, the site's usage, and the checks the services make. */
export class QuotaService {
  constructor(
    private readonly storage: Storage,
    private readonly defaults: QuotaDefaults,
  ) {}

  /** @throws AppError SITE_NOT_FOUND */
  async limits(siteId: string): Promise<SiteQuotas> {
    const site = await this.storage.sites.get(siteId);
    if (!site) throw errors.SITE_NOT_FOUND();
    return effectiveQuotas(site.settings, this.defaults);
  }

  async usage(siteId: string): Promise<SiteUsage> {
    return {
      collections: await this.storage.usage.collections(siteId),
      items: await this.storage.usage.items(siteId),
      backupBytes: await this.storage.usage.backupBytes(siteId),
    };
  }

  /** @throws AppError QUOTA_EXCEEDED (maxCollections), SITE_NOT_FOUND */
  async checkCollections(siteId: string, added: number, items = 0): Promise<void> {
    const limits = await this.limits(siteId);
    checkQuota('maxCollections', limits.maxCollections, await this.storage.usage.collections(siteId), added);
    if (items > 0) checkQuota('maxItems', limits.maxItems, await this.storage.usage.items(siteId), items);
  }

  /**
   * An on-demand backup is refused once the site's stored backup bytes reach its quota: its size is known
   * only when it is written. Automatic and safety backups are never refused (README, "Quotas").
   * @throws AppError QUOTA_EXCEEDED (maxBackupBytes), SITE_NOT_FOUND
   */
  async checkBackupBytes(siteId: string): Promise<void> {
    const { maxBackupBytes: limit } = await this.limits(siteId);
    const current = await this.storage.usage.backupBytes(siteId);
    if (current >= limit) throw errors.QUOTA_EXCEEDED('maxBackupBytes', limit, current);
  }
}
