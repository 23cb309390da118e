import { BlockList, isIP } from 'node:net';
import { eventTypes as knownEventTypes } from '../contracts/backups-api.js';
import { AppError, invalidArgument } from '../contracts/errors.js';
import { grants } from '../contracts/scopes.js';
import type { Clock } from '../ports/clock.js';
import type { Storage } from '../ports/storage.js';
import type { WebhookRecord } from '../ports/webhook-store.js';
import type { Principal } from './auth-service.js';
import { newGuid } from './ids.js';
import type { WebhookSigner } from './webhook-signer.js';

/** Longest subscription URL accepted. */
export const MAX_WEBHOOK_URL = 2048;

// Cloud metadata services answer on link-local addresses and hand out credentials; a webhook URL must never
// make the server call them on a subscriber's behalf. Loopback and private ranges stay allowed: a
// self-hosted receiver often lives next to the server.
const forbiddenAddresses = new BlockList();
forbiddenAddresses.addSubnet('169.254.0.0', 16, 'ipv4');
forbiddenAddresses.addSubnet('fe80::', 10, 'ipv6');
// 169.254/16 inside IPv6: IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d), which a translator may
// carry to the IPv4 address. (IPv4-mapped ::ffff:a.b.c.d is matched against the IPv4 rule by BlockList.)
forbiddenAddresses.addSubnet('::a9fe:0', 112, 'ipv6');
forbiddenAddresses.addSubnet('64:ff9b::a9fe:0', 112, 'ipv6');
forbiddenAddresses.addAddress('fd00:ec2::254', 'ipv6');
const forbiddenNames = new Set(['metadata', 'metadata.google.internal']);

/** Whether an IP address (v4, v6 or v4-mapped v6) is link-local or a cloud metadata endpoint. */
export function isForbiddenWebhookAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return forbiddenAddresses.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** Whether a URL host (a name, an IPv4 address or a bracketed IPv6 address) must never receive webhooks. */
export function isForbiddenWebhookHost(hostname: string): boolean {
  const host = hostname
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();
  return forbiddenNames.has(host) || isForbiddenWebhookAddress(host);
}

/** A request to subscribe a URL to a site's events, as the admin API receives it. */
export interface CreateWebhookRequest {
  readonly siteId: unknown;
  readonly url: unknown;
  readonly eventTypes: unknown;
}

function checkUrl(raw: unknown): string {
  if (typeof raw !== 'string' || raw.length === 0)
    throw invalidArgument('url', 'must be an http or https URL', 'REQUIRED_FIELD');
  if (raw.length > MAX_WEBHOOK_URL)
    throw invalidArgument('url', `must be at most ${MAX_WEBHOOK_URL} characters`, 'MAX_LENGTH');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalidArgument('url', 'must be an absolute http or https URL', 'FORMAT');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw invalidArgument('url', 'must use http or https', 'FORMAT');
  if (url.hostname === '') throw invalidArgument('url', 'must name a host', 'FORMAT');
  if (isForbiddenWebhookHost(url.hostname))
    throw invalidArgument('url', 'must not point at a link-local or cloud metadata address', 'OTHER');
  return raw;
}

function checkEventTypes(raw: unknown): string[] {
  if (!Array.isArray(raw) || raw.length === 0)
    throw invalidArgument(
      'eventTypes',
      `must be a non-empty array of ${knownEventTypes.join(', ')}`,
      'REQUIRED_FIELD',
    );
  return [...new Set(raw as unknown[])].map((type, i) => {
    if (typeof type !== 'string' || !(knownEventTypes as readonly string[]).includes(type))
      throw invalidArgument(`eventTypes[${i}]`, `must be one of ${knownEventTypes.join(', ')}`);
    return type;
  });
}

/**
 * Webhook subscriptions (backups-api.md §7) through the admin API. A `site.admin` key manages the
 * subscriptions of its own sites only; another site's, and its subscriptions, are reported as not found.
 */
export class WebhookService {
  constructor(
    private readonly storage: Storage,
    private readonly clock: Clock,
    private readonly signer: WebhookSigner,
  ) {}

  /** The PEM public key receivers verify webhook bodies with. */
  get publicKey(): string {
    return this.signer.publicKeyPem;
  }

  /**
   * Subscribes a URL to some of a site's event types.
   * @throws AppError INVALID_ARGUMENT, SITE_NOT_FOUND
   */
  async create(request: CreateWebhookRequest, by: Principal): Promise<WebhookRecord> {
    if (typeof request.siteId !== 'string' || request.siteId.length === 0)
      throw invalidArgument('siteId', 'must be a site id', 'REQUIRED_FIELD');
    const siteId = await this.administeredSite(request.siteId, by);
    const webhook: WebhookRecord = {
      id: newGuid(),
      siteId,
      url: checkUrl(request.url),
      eventTypes: checkEventTypes(request.eventTypes),
      createdAt: this.clock(),
    };
    await this.storage.webhooks.create(webhook);
    return webhook;
  }

  /**
   * The subscriptions of one site, or of every site the caller administers.
   * @throws AppError SITE_NOT_FOUND
   */
  async list(siteId: string | undefined, by: Principal): Promise<WebhookRecord[]> {
    if (siteId !== undefined) return this.storage.webhooks.list([await this.administeredSite(siteId, by)]);
    return this.storage.webhooks.list(grants(by.scopes, 'admin') ? undefined : by.siteIds);
  }

  /**
   * Removes a subscription; its undelivered events are dropped.
   * @throws AppError WEBHOOK_NOT_FOUND
   */
  async delete(id: string, by: Principal): Promise<void> {
    const webhook = await this.storage.webhooks.get(id);
    if (!webhook || !this.administers(webhook.siteId, by)) throw new AppError('WEBHOOK_NOT_FOUND');
    if (!(await this.storage.webhooks.delete(id))) throw new AppError('WEBHOOK_NOT_FOUND');
  }

  private administers(siteId: string, by: Principal): boolean {
    return grants(by.scopes, 'admin') || by.siteIds.includes(siteId);
  }

  /** A site that exists and that the caller administers; any other is reported as not found. */
  private async administeredSite(siteId: string, by: Principal): Promise<string> {
    if (!this.administers(siteId, by) || !(await this.storage.sites.get(siteId)))
      throw new AppError('SITE_NOT_FOUND');
    return siteId;
  }
}
