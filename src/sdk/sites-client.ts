import type { Site, SiteQuotas, SiteSettings, SiteSettingsPatch, SiteUsage } from './admin-types.js';
import { field, pathId, type HttpTransport, type RequestOptions } from './http-transport.js';

export const ADMIN_PATH = '/_api/safekeep/v1';

/**
 * Sites and their settings (admin API, data-api.md §4). Creating, listing and deleting sites needs an
 * `admin` key; settings accept `site.admin` for the key's own sites. Obtain it as `client.sites`.
 */
export class SitesClient {
  constructor(private readonly http: HttpTransport) {}

  /** Creates a site. */
  async create(name: string, options: RequestOptions = {}): Promise<Site> {
    const result = await this.http.request('POST', `${ADMIN_PATH}/sites`, {
      body: { name },
      signal: options.signal,
    });
    return field(result, 'site');
  }

  /** Every site, oldest first. */
  async list(options: RequestOptions = {}): Promise<Site[]> {
    return field(await this.http.request('GET', `${ADMIN_PATH}/sites`, { signal: options.signal }), 'sites');
  }

  /**
   * Deletes a site with its collections, items, backups and stored backup content.
   * @throws SafekeepApiError 404 `SITE_NOT_FOUND`
   */
  async delete(siteId: string, options: RequestOptions = {}): Promise<void> {
    await this.http.request('DELETE', `${ADMIN_PATH}/sites/${pathId(siteId)}`, { signal: options.signal });
  }

  /** A site's settings (automatic backups and quotas), as in effect. */
  async getSettings(siteId: string, options: RequestOptions = {}): Promise<SiteSettings & SiteQuotas> {
    return (await this.getSettingsAndUsage(siteId, options)).settings;
  }

  /** A site's settings, as in effect, and what it uses of its quotas now. */
  async getSettingsAndUsage(
    siteId: string,
    options: RequestOptions = {},
  ): Promise<{ settings: SiteSettings & SiteQuotas; usage: SiteUsage }> {
    const result = await this.http.request('GET', `${ADMIN_PATH}/sites/${pathId(siteId)}/settings`, {
      signal: options.signal,
    });
    return { settings: field(result, 'settings'), usage: field(result, 'usage') };
  }

  /**
   * Changes settings: a number sets one, `null` goes back to the deployment default. A new interval keeps
   * the site's phase: the next automatic backup falls on the first new slot from now.
   * @throws SafekeepApiError 400 `INVALID_ARGUMENT` (interval 1–365 days, retention 1–100, quotas ≥ 0,
   *   maxRequestBodyBytes 1024 to the deployment's body limit)
   */
  async updateSettings(
    siteId: string,
    patch: SiteSettingsPatch,
    options: RequestOptions = {},
  ): Promise<SiteSettings & SiteQuotas> {
    const result = await this.http.request('PATCH', `${ADMIN_PATH}/sites/${pathId(siteId)}/settings`, {
      body: patch,
      signal: options.signal,
    });
    return field(result, 'settings');
  }
}
