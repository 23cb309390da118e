import { createHash, randomBytes } from 'node:crypto';
import { errors } from '../contracts/errors.js';
import { grants, type Scope } from '../contracts/scopes.js';
import type { ApiKeyRecord, Storage } from '../ports/storage.js';

/** Who is calling: a resolved, unrevoked API key. */
export interface Principal {
  readonly keyId: string;
  readonly siteIds: readonly string[];
  readonly scopes: readonly Scope[];
}

/** The principal acting on one site. */
export interface SiteContext {
  readonly principal: Principal;
  readonly siteId: string;
}

const KEY_PREFIX = 'sk_';

/** A new API key secret: 256 random bits. */
export function newApiKeySecret(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url');
}

/** The only form in which a secret is stored. Secrets are random, so a fast hash is enough. */
export function hashApiKeySecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

const unauthenticated = () => errors.UNAUTHENTICATED();
const siteNotFound = () => errors.SITE_NOT_FOUND();

export class AuthService {
  constructor(private readonly storage: Storage) {}

  /**
   * Resolves the `Authorization` header (`<key>` or `Bearer <key>`).
   * @throws AppError UNAUTHENTICATED when the key is missing, unknown or revoked
   */
  async authenticate(header: string | undefined): Promise<Principal> {
    if (!header) throw unauthenticated();
    const secret = header.startsWith('Bearer ') ? header.slice(7).trim() : header.trim();
    if (!secret.startsWith(KEY_PREFIX) || secret.length > 200) throw unauthenticated();
    const key = await this.storage.apiKeys.findBySecretHash(hashApiKeySecret(secret));
    if (!key || key.revokedAt !== null) throw unauthenticated();
    return principalOf(key);
  }

  /**
   * Picks the site a request acts on: the `wix-site-id` header, or the key's only site. A site the key is
   * not bound to is reported exactly like a site that does not exist.
   * @throws AppError SITE_NOT_FOUND, INVALID_ARGUMENT (no header and the key has several sites)
   */
  async resolveSite(principal: Principal, siteIdHeader: string | undefined): Promise<SiteContext> {
    const isAdmin = principal.scopes.includes('admin');
    let siteId = siteIdHeader?.trim();
    if (!siteId) {
      if (principal.siteIds.length !== 1 || isAdmin) {
        throw errors.INVALID_ARGUMENT('The wix-site-id header is required for this API key.', [
          {
            field: 'wix-site-id',
            description: 'name the site this request acts on',
            violatedRule: 'REQUIRED_FIELD',
          },
        ]);
      }
      siteId = principal.siteIds[0] ?? '';
    }
    if (!isAdmin && !principal.siteIds.includes(siteId)) throw siteNotFound();
    if (!(await this.storage.sites.get(siteId))) throw siteNotFound();
    return { principal, siteId };
  }
}

export function principalOf(key: ApiKeyRecord): Principal {
  return { keyId: key.id, siteIds: key.siteIds, scopes: key.scopes };
}

/** @throws AppError PERMISSION_DENIED */
export function requireScope(principal: Principal, scope: Scope): void {
  if (!grants(principal.scopes, scope)) {
    throw errors.PERMISSION_DENIED(scope);
  }
}
