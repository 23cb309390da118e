import type { Webhook, WebhookInput } from './admin-types.js';
import { field, pathId, type HttpTransport, type RequestOptions } from './http-transport.js';
import { ADMIN_PATH } from './sites-client.js';

/**
 * Webhook subscriptions (admin API, backups-api.md §7): `admin`, or `site.admin` for the key's own sites.
 * Obtain it as `client.webhooks`.
 */
export class WebhooksClient {
  constructor(private readonly http: HttpTransport) {}

  /**
   * Subscribes a URL to events of a site.
   * @throws SafekeepApiError 400 `INVALID_ARGUMENT` (URL or event type), 404 `SITE_NOT_FOUND`
   */
  async create(input: WebhookInput, options: RequestOptions = {}): Promise<Webhook> {
    const result = await this.http.request('POST', `${ADMIN_PATH}/webhooks`, {
      body: { siteId: input.siteId, url: input.url, eventTypes: [...input.eventTypes] },
      signal: options.signal,
    });
    return field(result, 'webhook');
  }

  /** Subscriptions, of one site or of every site the caller administers. */
  async list(siteId?: string, options: RequestOptions = {}): Promise<Webhook[]> {
    const result = await this.http.request('GET', `${ADMIN_PATH}/webhooks`, {
      query: { siteId },
      signal: options.signal,
    });
    return field(result, 'webhooks');
  }

  /**
   * Removes a subscription.
   * @throws SafekeepApiError 404 `WEBHOOK_NOT_FOUND`
   */
  async delete(id: string, options: RequestOptions = {}): Promise<void> {
    await this.http.request('DELETE', `${ADMIN_PATH}/webhooks/${pathId(id)}`, { signal: options.signal });
  }

  /** The PEM public key that verifies deliveries (RS256 JWTs, as Wix's `AppStrategy` expects). */
  async publicKey(options: RequestOptions = {}): Promise<string> {
    const result = await this.http.request('GET', `${ADMIN_PATH}/webhooks/public-key`, {
      signal: options.signal,
    });
    return field(result, 'publicKey');
  }
}
