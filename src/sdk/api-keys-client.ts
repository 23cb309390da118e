import type { ApiKey, ApiKeyInput, CreatedApiKey } from './admin-types.js';
import { field, pathId, type HttpTransport, type RequestOptions } from './http-transport.js';
import { ADMIN_PATH } from './sites-client.js';

/**
 * API keys (admin API). An `admin` key manages every key; a `site.admin` key manages the keys of its own
 * sites and cannot mint `admin` keys. Obtain it as `client.apiKeys`.
 */
export class ApiKeysClient {
  constructor(private readonly http: HttpTransport) {}

  /**
   * Creates a key. The answer holds its secret: the only time it is shown.
   * @throws SafekeepApiError 400 `INVALID_ARGUMENT` (unknown scope, no site), 403 `PERMISSION_DENIED`,
   *   404 `SITE_NOT_FOUND`
   */
  async create(input: ApiKeyInput, options: RequestOptions = {}): Promise<CreatedApiKey> {
    const result = await this.http.request('POST', `${ADMIN_PATH}/api-keys`, {
      body: { name: input.name, siteIds: [...input.siteIds], scopes: [...input.scopes] },
      signal: options.signal,
    });
    return { apiKey: field(result, 'apiKey'), secret: field(result, 'secret') };
  }

  /** The keys the caller may see, newest first, revoked ones included. */
  async list(options: RequestOptions = {}): Promise<ApiKey[]> {
    return field(
      await this.http.request('GET', `${ADMIN_PATH}/api-keys`, { signal: options.signal }),
      'apiKeys',
    );
  }

  /**
   * Revokes a key: it stops working at once.
   * @throws SafekeepApiError 404 `API_KEY_NOT_FOUND`
   */
  async revoke(id: string, options: RequestOptions = {}): Promise<void> {
    await this.http.request('DELETE', `${ADMIN_PATH}/api-keys/${pathId(id)}`, { signal: options.signal });
  }
}
