/** Webhook subscriptions and the delivery queue fed by the event outbox (backups-api.md §7). */
import type { LeaseRequest } from './lease-request.js';

export interface WebhookRecord {
  readonly id: string;
  readonly siteId: string;
  readonly url: string;
  readonly eventTypes: readonly string[];
  readonly createdAt: number;
  /**
   * Set when the webhook address rules refuse the URL's address (at start-up for a literal address or a
   * refused name, at delivery for a name that resolves to a refused address): its deliveries are kept but
   * not attempted until the subscription is unblocked.
   */
  readonly blockedReason?: string | undefined;
}

/** One event, as written to the outbox in the transaction of the change it reports. */
export interface OutboxEvent {
  /** Unique per event: receivers de-duplicate on it. */
  readonly id: string;
  readonly siteId: string;
  readonly eventType: string;
  readonly slug: string;
  readonly entityFqdn: string;
  readonly entityId: string;
  /** Increases per entity. */
  readonly entitySequence: number;
  /** JSON of `actionEvent.body`. */
  readonly body: string;
  readonly createdAt: number;
}

/** A delivery due now, claimed with a lease. */
export interface DueDelivery {
  readonly eventSeq: number;
  readonly webhookId: string;
  readonly url: string;
  readonly attempts: number;
  /** How many of the row's events earlier attempts have sent: 0 for one event, or a batch's position. */
  readonly progress: number;
  /** What is left to send, in order: the one event, or a batch's item events from `progress` on. */
  readonly events: readonly OutboxEvent[];
}

/** A claim of due deliveries: at most `limit`, and at most `perWebhook` leases held per subscription. */
export interface DeliveryClaimRequest extends LeaseRequest {
  readonly limit: number;
  /** Default: no bound. */
  readonly perWebhook?: number;
}

export interface WebhookStore {
  create(webhook: WebhookRecord): Promise<void>;
  get(id: string): Promise<WebhookRecord | undefined>;
  /** The site's subscriptions, or every subscription. */
  list(siteIds?: readonly string[]): Promise<WebhookRecord[]>;
  /** Deletes a subscription and its undelivered deliveries. */
  delete(id: string): Promise<boolean>;
  /** Blocks a subscription (deliveries held, none dropped) with a reason, or unblocks it (`null`). */
  setBlocked(id: string, reason: string | null): Promise<void>;
  /**
   * Claims deliveries that are due and not leased, at most one per (webhook, entity) and only the earliest
   * undelivered one of each, so that every entity's events arrive in order; and, when `perWebhook` is given,
   * never so many that one subscription would hold more than `perWebhook` leases at once. Deliveries of a
   * blocked subscription are never claimed.
   */
  claimDue(request: DeliveryClaimRequest): Promise<DueDelivery[]>;
  /**
   * Records that a claimed batch delivery has sent its first `progress` events, and extends the claim's lease
   * to `leaseExpiresAt`; false when the lease was lost (another worker has it now).
   */
  markProgress(
    eventSeq: number,
    webhookId: string,
    workerId: string,
    progress: number,
    leaseExpiresAt: number,
  ): Promise<boolean>;
  markDelivered(eventSeq: number, webhookId: string, workerId: string, at: number): Promise<void>;
  /** Gives a claimed delivery back untried (its subscription was just blocked): no attempt is counted. */
  release(eventSeq: number, webhookId: string, workerId: string): Promise<void>;
  /** Records a failed attempt; `nextAttemptAt` null gives the delivery up. */
  markFailed(
    eventSeq: number,
    webhookId: string,
    workerId: string,
    error: string,
    nextAttemptAt: number | null,
    at: number,
  ): Promise<void>;
  /**
   * Deletes up to `limit` events created before `before` that no delivery still has to send, with their
   * deliveries; returns how many events. The last event of a backup or restoration stays (its next event's
   * sequence follows it). One short transaction.
   */
  purgeFinished(before: number, limit: number): Promise<number>;
}
