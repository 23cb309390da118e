import { errors, invalidArgument } from '../contracts/errors.js';
import { webhookEventTypes as knownEventTypes } from '../contracts/item-events.js';
import { grants } from '../contracts/scopes.js';
import type { WebhookAddressPolicy } from '../domain/webhook-address-policy.js';
import type { Logger } from '../ports/logger.js';
import type { Clock } from '../ports/clock.js';
import type { Storage } from '../ports/storage.js';
import type { WebhookRecord } from '../ports/webhook-store.js';
import type { Principal } from './auth-service.js';
import { newGuid } from './ids.js';
import type { WebhookSigner } from './webhook-signer.js';

/** Longest subscription URL accepted. */
export const MAX_WEBHOOK_URL = 2048;

/** The host of a stored subscription URL, or undefined when it is no longer a valid http(s) URL. */
function hostOf(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.hostname : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Why the address rules refuse a stored subscription's URL by itself (a literal address or a refused
 * name), or undefined when only its resolved addresses can tell.
 */
export function urlRefusal(policy: WebhookAddressPolicy, url: string): string | undefined {
  const host = hostOf(url);
  return host === undefined ? 'the URL is not a valid http or https URL' : policy.hostRefusal(host);
}

/** A request to subscribe a URL to a site's events, as the admin API receives it. */
export interface CreateWebhookRequest {
  readonly siteId: unknown;
  readonly url: unknown;
  readonly eventTypes: unknown;
}

function checkUrl(raw: unknown, policy: WebhookAddressPolicy): string {
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
  const refusal = policy.hostRefusal(url.hostname);
  if (refusal !== undefined)
    throw invalidArgument(
      'url',
      `must point at a public address: ${refusal} (the operator can allow a range with SAFEKEEP_WEBHOOK_ALLOWED_CIDRS)`,
      'OTHER',
    );
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
    if (typeof type !== 'string' || !knownEventTypes.includes(type))
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
    private readonly policy: WebhookAddressPolicy,
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
      url: checkUrl(request.url, this.policy),
      eventTypes: checkEventTypes(request.eventTypes),
      createdAt: this.clock(),
    };
    await this.storage.webhooks.create(webhook);
    return webhook;
  }

  /**
   * The subscriptions of one site, or of every site the caller administers; `blockedReason` is set on the
   * ones the address rules hold.
   * @throws AppError SITE_NOT_FOUND
   */
  async list(siteId: string | undefined, by: Principal): Promise<WebhookRecord[]> {
    const hooks =
      siteId !== undefined
        ? await this.storage.webhooks.list([await this.administeredSite(siteId, by)])
        : await this.storage.webhooks.list(grants(by.scopes, 'admin') ? undefined : by.siteIds);
    // This process's rules first: they hold whatever the stored flag says (another process may run with
    // other settings, or not have checked yet); a name blocked at delivery keeps its stored reason.
    return hooks.map((hook) => {
      const blockedReason = urlRefusal(this.policy, hook.url) ?? hook.blockedReason;
      return { ...hook, blockedReason };
    });
  }

  /**
   * The start-up check: blocks every subscription whose URL the address rules now refuse, and unblocks
   * the others (a name blocked at delivery is checked again at its next delivery), so that deliveries held
   * for a range the operator has since allowed resume. Nothing is deleted. Logs one warning per blocked
   * subscription; returns them.
   */
  async checkSubscriptions(logger: Logger): Promise<WebhookRecord[]> {
    const blocked: WebhookRecord[] = [];
    for (const hook of await this.storage.webhooks.list()) {
      const reason = urlRefusal(this.policy, hook.url);
      if ((reason ?? null) !== (hook.blockedReason ?? null))
        await this.storage.webhooks.setBlocked(hook.id, reason ?? null);
      if (reason === undefined) continue;
      blocked.push({ ...hook, blockedReason: reason });
      (logger.warn ?? logger.error).call(
        logger,
        { webhookId: hook.id, siteId: hook.siteId, url: hook.url, reason },
        'webhook subscription blocked: its deliveries are held until the address is allowed',
      );
    }
    return blocked;
  }

  /**
   * Removes a subscription; its undelivered events are dropped.
   * @throws AppError WEBHOOK_NOT_FOUND
   */
  async delete(id: string, by: Principal): Promise<void> {
    const webhook = await this.storage.webhooks.get(id);
    if (!webhook || !this.administers(webhook.siteId, by)) throw errors.WEBHOOK_NOT_FOUND();
    if (!(await this.storage.webhooks.delete(id))) throw errors.WEBHOOK_NOT_FOUND();
  }

  private administers(siteId: string, by: Principal): boolean {
    return grants(by.scopes, 'admin') || by.siteIds.includes(siteId);
  }

  /** A site that exists and that the caller administers; any other is reported as not found. */
  private async administeredSite(siteId: string, by: Principal): Promise<string> {
    if (!this.administers(siteId, by) || !(await this.storage.sites.get(siteId)))
      throw errors.SITE_NOT_FOUND();
    return siteId;
  }
}
