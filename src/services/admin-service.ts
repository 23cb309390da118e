import type { QuotaDefaults } from '../config.js';
import { errors, invalidArgument } from '../contracts/errors.js';
import { MAX_REQUEST_INTEGER } from '../contracts/request-integer.js';
import { grants, isScope, siteScopes, type Scope } from '../contracts/scopes.js';
import { nextDueInPhase } from '../domain/backup.js';
import type { BlobStore } from '../ports/blob-store.js';
import type { Clock } from '../ports/clock.js';
import type { ApiKeyRecord, SiteRecord, SiteSettingsOverrides, Storage } from '../ports/storage.js';
import { hashApiKeySecret, newApiKeySecret, requireScope, type Principal } from './auth-service.js';
import { newGuid } from './ids.js';
import { effectiveQuotas, type SiteQuotas } from './quota-service.js';

/** Deployment-wide defaults a site's settings fall back to. */
export interface SiteSettingsDefaults {
  readonly autoBackupIntervalDays: number;
  readonly autoBackupRetention: number;
  readonly quotas: QuotaDefaults;
  /** SAFEKEEP_BODY_LIMIT_MB in bytes: the hard cap no site's maxRequestBodyBytes may pass. */
  readonly bodyLimitBytes: number;
}

export interface SiteSettings extends SiteQuotas {
  readonly autoBackupIntervalDays: number;
  readonly autoBackupRetention: number;
}

type SettingName = keyof SiteSettings;

export const settingsBounds = {
  autoBackupIntervalDays: { min: 1, max: 365 },
  autoBackupRetention: { min: 1, max: 100 },
  maxCollections: { min: 0, max: MAX_REQUEST_INTEGER },
  maxItems: { min: 0, max: MAX_REQUEST_INTEGER },
  maxBackupBytes: { min: 0, max: MAX_REQUEST_INTEGER },
  /** At most the deployment's hard cap (SAFEKEEP_BODY_LIMIT_MB), which `boundsOf` puts in. */
  maxRequestBodyBytes: { min: 1024, max: MAX_REQUEST_INTEGER },
} as const satisfies Record<SettingName, { min: number; max: number }>;

function isSetting(field: string): field is SettingName {
  return Object.hasOwn(settingsBounds, field);
}

/** An API key as the API shows it: never the secret or its hash. */
export interface ApiKeyView {
  readonly id: string;
  readonly name: string;
  readonly siteIds: readonly string[];
  readonly scopes: readonly Scope[];
  readonly createdAt: number;
  readonly revokedAt: number | null;
}

function view(key: ApiKeyRecord): ApiKeyView {
  return {
    id: key.id,
    name: key.name,
    siteIds: key.siteIds,
    scopes: key.scopes,
    createdAt: key.createdAt,
    revokedAt: key.revokedAt,
  };
}

const MAX_NAME = 200;

function checkName(raw: unknown, field: string): string {
  if (typeof raw !== 'string' || raw.trim().length === 0)
    throw invalidArgument(field, 'must be a non-empty string', 'REQUIRED_FIELD');
  if (raw.length > MAX_NAME)
    throw invalidArgument(field, `must be at most ${MAX_NAME} characters`, 'MAX_LENGTH');
  return raw.trim();
}

/** Sites, API keys and settings: the admin API and the local CLI both go through here. */
export class AdminService {
  constructor(
    private readonly storage: Storage,
    private readonly clock: Clock,
    private readonly defaults: SiteSettingsDefaults,
    private readonly blobs?: BlobStore,
  ) {}

  async createSite(name: string): Promise<SiteRecord> {
    const site: SiteRecord = {
      id: newGuid(),
      name: checkName(name, 'name'),
      createdAt: this.clock(),
      settings: { autoBackupIntervalDays: null, autoBackupRetention: null },
    };
    await this.storage.sites.create(site);
    return site;
  }

  listSites(): Promise<SiteRecord[]> {
    return this.storage.sites.list();
  }

  /** @throws AppError SITE_NOT_FOUND */
  async deleteSite(siteId: string): Promise<void> {
    if (!(await this.storage.sites.delete(siteId))) throw errors.SITE_NOT_FOUND();
    // The site's backup content goes with it.
    if (this.blobs)
      for await (const blob of this.blobs.list(`sites/${siteId}`)) await this.blobs.delete(blob.key);
  }

  /**
   * Creates a key and returns its secret, which is never shown again. A `site.admin` key may create keys
   * only for its own sites and never with the `admin` scope.
   * @throws AppError INVALID_ARGUMENT, PERMISSION_DENIED, SITE_NOT_FOUND
   */
  async createApiKey(
    request: { name: unknown; siteIds: unknown; scopes: unknown },
    by?: Principal,
  ): Promise<{ apiKey: ApiKeyView; secret: string }> {
    const name = checkName(request.name, 'name');
    if (!Array.isArray(request.scopes) || request.scopes.length === 0) {
      throw invalidArgument('scopes', 'must be a non-empty array of scopes', 'REQUIRED_FIELD');
    }
    const scopes = [...new Set(request.scopes as unknown[])].map((scope, i) => {
      if (typeof scope !== 'string' || !isScope(scope)) {
        throw invalidArgument(`scopes[${i}]`, `is not a scope; use one of ${siteScopes.join(', ')}, admin`);
      }
      return scope;
    });
    if (!Array.isArray(request.siteIds))
      throw invalidArgument('siteIds', 'must be an array of site ids', 'REQUIRED_FIELD');
    const siteIds = [...new Set(request.siteIds as unknown[])].map((id, i) => {
      if (typeof id !== 'string' || id.length === 0)
        throw invalidArgument(`siteIds[${i}]`, 'must be a site id');
      return id;
    });
    const isAdminKey = scopes.includes('admin');
    if (!isAdminKey && siteIds.length === 0)
      throw invalidArgument('siteIds', 'a key without the admin scope needs at least one site', 'MIN_SIZE');
    if (by) {
      const byAdmin = grants(by.scopes, 'admin');
      if (!byAdmin) {
        requireScope(by, 'site.admin');
        if (isAdminKey) throw errors.PERMISSION_DENIED('admin');
        if (siteIds.some((id) => !by.siteIds.includes(id))) throw errors.SITE_NOT_FOUND();
      }
    }
    for (const id of siteIds) if (!(await this.storage.sites.get(id))) throw errors.SITE_NOT_FOUND();
    const secret = newApiKeySecret();
    const record: ApiKeyRecord = {
      id: newGuid(),
      name,
      secretHash: hashApiKeySecret(secret),
      siteIds,
      scopes,
      createdAt: this.clock(),
      revokedAt: null,
    };
    await this.storage.apiKeys.create(record);
    return { apiKey: view(record), secret };
  }

  /** Keys the principal may see: all for admin; for site.admin, those bound only to its own sites. */
  async listApiKeys(by?: Principal): Promise<ApiKeyView[]> {
    if (!by || grants(by.scopes, 'admin')) return (await this.storage.apiKeys.list()).map(view);
    requireScope(by, 'site.admin');
    const keys = await this.storage.apiKeys.list(by.siteIds);
    return keys
      .filter((k) => k.siteIds.every((id) => by.siteIds.includes(id)) && !k.scopes.includes('admin'))
      .map(view);
  }

  /** @throws AppError API_KEY_NOT_FOUND (also for keys outside the principal's sites) */
  async revokeApiKey(id: string, by?: Principal): Promise<void> {
    const key = await this.storage.apiKeys.get(id);
    const visible =
      key &&
      (!by ||
        grants(by.scopes, 'admin') ||
        (key.siteIds.length > 0 &&
          key.siteIds.every((s) => by.siteIds.includes(s)) &&
          !key.scopes.includes('admin')));
    if (!key || !visible) throw errors.API_KEY_NOT_FOUND(id);
    if (by && !grants(by.scopes, 'admin')) requireScope(by, 'site.admin');
    await this.storage.apiKeys.revoke(id, this.clock());
  }

  /** The effective settings of a site. @throws AppError SITE_NOT_FOUND */
  async getSettings(siteId: string): Promise<SiteSettings> {
    const site = await this.storage.sites.get(siteId);
    if (!site) throw errors.SITE_NOT_FOUND();
    return this.effective(site.settings);
  }

  /**
   * Changes settings; a field set to null goes back to the deployment default, an absent one is kept.
   * @throws AppError SITE_NOT_FOUND, INVALID_ARGUMENT
   */
  async updateSettings(siteId: string, patch: Record<string, unknown>): Promise<SiteSettings> {
    const site = await this.storage.sites.get(siteId);
    if (!site) throw errors.SITE_NOT_FOUND();
    const next: { -readonly [K in keyof SiteSettingsOverrides]: SiteSettingsOverrides[K] } = {
      ...site.settings,
    };
    for (const [field, value] of Object.entries(patch)) {
      if (!isSetting(field)) throw invalidArgument(field, 'is not a setting', 'FIELD_NOT_ALLOWED');
      if (value === null) {
        next[field] = null;
        continue;
      }
      const { min } = settingsBounds[field];
      const max = field === 'maxRequestBodyBytes' ? this.defaults.bodyLimitBytes : settingsBounds[field].max;
      if (typeof value !== 'number' || !Number.isInteger(value))
        throw invalidArgument(field, 'must be an integer or null');
      if (value < min) throw invalidArgument(field, `must be at least ${min}`, 'MIN');
      if (value > max) throw invalidArgument(field, `must be at most ${max}`, 'MAX');
      next[field] = value;
    }
    const updated = await this.storage.sites.updateSettings(siteId, next);
    if (!updated) throw errors.SITE_NOT_FOUND();
    const effective = this.effective(updated.settings);
    if (next.autoBackupIntervalDays !== site.settings.autoBackupIntervalDays) {
      // A new interval keeps the site's phase: the next backup falls on the first new slot from now.
      const intervalMs = effective.autoBackupIntervalDays * 24 * 60 * 60 * 1000;
      await this.storage.schedule.setNextDue(
        siteId,
        nextDueInPhase(site.createdAt, intervalMs, this.clock()),
      );
    }
    return effective;
  }

  private effective(settings: SiteSettingsOverrides): SiteSettings {
    return {
      autoBackupIntervalDays: settings.autoBackupIntervalDays ?? this.defaults.autoBackupIntervalDays,
      autoBackupRetention: settings.autoBackupRetention ?? this.defaults.autoBackupRetention,
      ...effectiveQuotas(settings, this.defaults.quotas),
    };
  }
}
