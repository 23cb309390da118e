import { randomUUID } from 'node:crypto';
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { hostname } from 'node:os';
import type { Clock } from '../ports/clock.js';
import type { DueDelivery, OutboxEvent, WebhookStore } from '../ports/webhook-store.js';
import type { WebhookAddressPolicy } from '../domain/webhook-address-policy.js';
import { urlRefusal } from '../services/webhook-service.js';
import type { WebhookSigner } from '../services/webhook-signer.js';
import type { Logger } from '../ports/logger.js';
import { sleep } from './sleep.js';

/** Resolves a host name to all of its addresses (`dns.lookup` with `all: true`). */
export type ResolveAll = (
  hostname: string,
  options: LookupAllOptions,
  callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

export interface WebhookDelivererOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  /** How long the loop waits for new due deliveries when there are none. */
  readonly pollMs?: number;
  /** Deliveries in flight at once. */
  readonly concurrency?: number;
  /**
   * Deliveries in flight at once to one subscription (a quarter of `concurrency` by default), so that a
   * receiver that hangs holds a few slots until its timeouts, never all of them.
   */
  readonly perWebhook?: number;
  /** A receiver that has not answered (status line and headers) by then has failed this attempt. */
  readonly timeoutMs?: number;
  /** How long a claim lasts; longer than `timeoutMs`, so an attempt in flight is never claimed twice. */
  readonly leaseMs?: number;
  /** The delay after the first failure; it doubles after each further one. */
  readonly firstRetryMs?: number;
  readonly maxRetryMs?: number;
  /** A failed event older than this is given up (backups-api.md §7 promises at least 24 h of retries). */
  readonly giveUpAfterMs?: number;
  /** In [0, 1): jitter of the retry delays. */
  readonly random?: () => number;
  /** Name resolution (`dns.lookup` by default). */
  readonly resolve?: ResolveAll;
  /** The address rules every attempt is checked against (the deployment's, from its config). */
  readonly policy: WebhookAddressPolicy;
  /**
   * How long delivered and given-up events (and their deliveries) are kept (SAFEKEEP_EVENT_RETENTION_DAYS);
   * older ones are deleted every `purgeEveryMs`, `purgeBatch` at a time, each batch its own short transaction.
   */
  readonly retentionMs?: number;
  readonly purgeEveryMs?: number;
  readonly purgeBatch?: number;
  /** Told the outcome of each attempt (for the metrics). */
  readonly onOutcome?: (outcome: DeliveryOutcome) => void;
}

/** What became of one attempt: failed ones are retried later, given-up ones never. */
export type DeliveryOutcome = 'delivered' | 'failed' | 'given_up' | 'blocked';

const defaults = {
  pollMs: 1000,
  concurrency: 8,
  timeoutMs: 10_000,
  leaseMs: 60_000,
  firstRetryMs: 5000,
  maxRetryMs: 3_600_000,
  giveUpAfterMs: 25 * 3_600_000,
  retentionMs: 7 * 24 * 3_600_000,
  purgeEveryMs: 10 * 60_000,
  purgeBatch: 500,
};

/** The receiver's address is one the address rules refuse: the subscription is blocked. */
class ForbiddenAddressError extends Error {
  override readonly name = 'ForbiddenAddressError';
}

/**
 * The outcome of one attempt: delivered, to retry, given up for good, or not made because the address
 * rules refuse the receiver (then the subscription is blocked and the delivery kept).
 */
type Attempt =
  | { readonly ok: true }
  | { readonly ok: false; readonly error: string; readonly permanent: boolean }
  | { readonly ok: false; readonly blocked: string };

/**
 * Sends the outbox's due webhook deliveries (backups-api.md §7): each as an RS256 JWT in a POST, a few
 * concurrently, each with a timeout. A 2xx marks it delivered; anything else is retried with jittered
 * exponential backoff until the event is `giveUpAfterMs` old. The store hands out only the earliest
 * undelivered event of each (subscription, entity), so every entity's events arrive in order. It runs apart
 * from the job worker, so a slow receiver never holds up a backup.
 */
export class WebhookDeliverer {
  readonly workerId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}:webhooks`;
  private readonly settings: typeof defaults;
  private readonly random: () => number;
  private readonly resolve: ResolveAll;
  private readonly perWebhook: number;
  private readonly policy: WebhookAddressPolicy;

  constructor(
    private readonly store: WebhookStore,
    private readonly signer: WebhookSigner,
    private readonly options: WebhookDelivererOptions,
  ) {
    this.settings = { ...defaults };
    for (const key of Object.keys(defaults) as (keyof typeof defaults)[]) {
      this.settings[key] = options[key] ?? defaults[key];
    }
    this.random = options.random ?? Math.random;
    this.resolve = options.resolve ?? dnsLookup;
    this.policy = options.policy;
    this.perWebhook = options.perWebhook ?? Math.max(1, Math.ceil(this.settings.concurrency / 4));
  }

  /** Delivers until `signal` aborts, keeping up to `concurrency` attempts in flight. */
  async run(signal: AbortSignal): Promise<void> {
    const inFlight = new Set<Promise<void>>();
    let purgedAt = Number.NEGATIVE_INFINITY;
    while (!signal.aborted) {
      if (this.options.clock() - purgedAt >= this.settings.purgeEveryMs) {
        purgedAt = this.options.clock();
        try {
          await this.purgeOld(signal);
        } catch (error) {
          this.options.logger.error({ err: error }, 'deleting old webhook events failed; will retry');
        }
      }
      const free = this.settings.concurrency - inFlight.size;
      let claimed = 0;
      if (free > 0) {
        try {
          const due = await this.store.claimDue({
            workerId: this.workerId,
            now: this.options.clock(),
            leaseMs: this.settings.leaseMs,
            limit: free,
            perWebhook: this.perWebhook,
          });
          claimed = due.length;
          for (const delivery of due) {
            const attempt: Promise<void> = this.deliver(delivery, signal).finally(() =>
              inFlight.delete(attempt),
            );
            inFlight.add(attempt);
          }
        } catch (error) {
          this.options.logger.error({ err: error }, 'claiming webhook deliveries failed; will retry');
        }
      }
      if (free > 0 && claimed === free) continue;
      // A finished attempt may have unblocked its entity's next event, so look again as soon as one ends.
      await Promise.race([sleep(this.settings.pollMs, signal), ...inFlight]);
    }
    await Promise.all(inFlight);
  }

  /** Claims the deliveries due now (up to `concurrency`) and attempts them; returns how many it attempted. */
  async runOnce(signal: AbortSignal = new AbortController().signal): Promise<number> {
    const due = await this.store.claimDue({
      workerId: this.workerId,
      now: this.options.clock(),
      leaseMs: this.settings.leaseMs,
      limit: this.settings.concurrency,
      perWebhook: this.perWebhook,
    });
    await Promise.all(due.map((delivery) => this.deliver(delivery, signal)));
    return due.length;
  }

  /**
   * Deletes the events older than the retention that nothing still has to send, with their deliveries, in
   * batches (so no transaction holds the write lock long); returns how many events.
   */
  async purgeOld(signal: AbortSignal = new AbortController().signal): Promise<number> {
    const before = this.options.clock() - this.settings.retentionMs;
    let total = 0;
    while (!signal.aborted) {
      const deleted = await this.store.purgeFinished(before, this.settings.purgeBatch);
      total += deleted;
      if (deleted < this.settings.purgeBatch) break;
    }
    return total;
  }

  /** The delay before the next attempt after `failures` failed ones (1 or more). */
  retryDelay(failures: number): number {
    const { firstRetryMs, maxRetryMs } = this.settings;
    const capped = Math.min(maxRetryMs, firstRetryMs * 2 ** Math.min(failures - 1, 30));
    // Jitter only downwards, by up to a quarter: retries of many events spread out, the cap holds, and
    // each delay still exceeds the one before it until the cap.
    return Math.round(capped * (1 - this.random() / 4));
  }

  private async deliver(delivery: DueDelivery, signal: AbortSignal): Promise<void> {
    const { store, options } = this;
    try {
      // A batch's items go one webhook each, in order; how far it got is recorded after each, so that a
      // retry (or another worker, after a crash) starts at the first item not acknowledged.
      let sent = delivery.progress;
      let result: Attempt = { ok: true };
      for (const [index, event] of delivery.events.entries()) {
        result = await this.attempt(delivery.url, event, signal);
        if (!result.ok) break;
        sent += 1;
        if (index === delivery.events.length - 1) break;
        const now = options.clock();
        const held = await store.markProgress(
          delivery.eventSeq,
          delivery.webhookId,
          this.workerId,
          sent,
          now + this.settings.leaseMs,
        );
        // The lease ran out and another worker has the batch now.
        if (!held) return;
      }
      const now = options.clock();
      if (result.ok) {
        await store.markDelivered(delivery.eventSeq, delivery.webhookId, this.workerId, now);
        options.onOutcome?.('delivered');
        return;
      }
      if ('blocked' in result) {
        // Held, not failed: the delivery waits, untried, until the subscription is unblocked.
        await store.setBlocked(delivery.webhookId, result.blocked);
        await store.release(delivery.eventSeq, delivery.webhookId, this.workerId);
        options.onOutcome?.('blocked');
        (options.logger.warn ?? options.logger.error).call(
          options.logger,
          { webhookId: delivery.webhookId, url: delivery.url, reason: result.blocked },
          'webhook subscription blocked: its deliveries are held until the address is allowed',
        );
        return;
      }
      const createdAt = delivery.events[0]?.createdAt ?? now;
      const attempts = sent > delivery.progress ? 1 : delivery.attempts + 1;
      let next: number | null;
      if (result.permanent || now - createdAt > this.settings.giveUpAfterMs) next = null;
      // Stopping is not the receiver's fault: try again as soon as a worker runs.
      else if (signal.aborted) next = now;
      else next = now + this.retryDelay(attempts);
      await store.markFailed(delivery.eventSeq, delivery.webhookId, this.workerId, result.error, next, now);
      options.onOutcome?.(next === null ? 'given_up' : 'failed');
      if (next === null) {
        options.logger.error(
          {
            webhookId: delivery.webhookId,
            eventId: delivery.events[sent - delivery.progress]?.id,
            error: result.error,
          },
          'webhook delivery given up',
        );
      }
    } catch (error) {
      // The lease runs out and the delivery is claimed again.
      options.logger.error(
        { err: error, webhookId: delivery.webhookId },
        'recording a webhook delivery failed',
      );
    }
  }

  private async attempt(address: string, event: OutboxEvent, signal: AbortSignal): Promise<Attempt> {
    let url: URL;
    try {
      url = new URL(address);
    } catch {
      return { ok: false, error: 'the subscription URL is not valid', permanent: true };
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      return { ok: false, error: 'the subscription URL is not http or https', permanent: true };
    // Checked at every attempt: a literal address is never looked up, so this is its only check here.
    const refusal = urlRefusal(this.policy, address);
    if (refusal !== undefined) return { ok: false, blocked: refusal };
    const body = this.signer.signEvent(event, this.options.clock());
    try {
      const status = await this.post(url, body, signal);
      if (status >= 200 && status < 300) return { ok: true };
      // A redirect is never followed (it could point anywhere): like any other non-2xx, it is retried.
      return { ok: false, error: `the receiver answered HTTP ${status}`, permanent: false };
    } catch (error) {
      if (error instanceof ForbiddenAddressError) return { ok: false, blocked: error.message };
      return { ok: false, error: describe(error), permanent: false };
    }
  }

  /** POSTs `body` and resolves with the response status; redirects are not followed. */
  private post(url: URL, body: string, stop: AbortSignal): Promise<number> {
    const { timeoutMs } = this.settings;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = AbortSignal.any([stop, timeout]);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<number>((resolve, reject) => {
      const req = send(
        url,
        {
          method: 'POST',
          headers: {
            'content-type': 'text/plain',
            'content-length': Buffer.byteLength(body),
            'user-agent': 'safekeep-webhooks',
          },
          // A fresh connection each time, to an address checked just now (a pooled one could outlive a
          // DNS change), and nothing left open to keep a receiver busy.
          agent: false,
          lookup: this.guardedLookup,
          signal,
        },
        (res: IncomingMessage) => {
          // Only the status counts; the rest is drained, and a receiver cut off mid-body is no error.
          res.on('error', () => undefined);
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', (error) => {
        reject(timeout.aborted ? new Error(`no answer within ${timeoutMs} ms`) : error);
      });
      req.end(body);
    });
  }

  /**
   * Resolves the receiver's host and refuses it when the address rules refuse any of its addresses; the
   * connection then goes to the address checked here, so a later DNS answer cannot swap it.
   */
  private readonly guardedLookup: LookupFunction = (host, options, callback) => {
    this.resolve(host, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      const first = addresses[0];
      if (!first) return callback(new Error(`${host} has no address`), '', 0);
      for (const { address } of addresses) {
        const refusal = this.policy.addressRefusal(address);
        if (refusal !== undefined)
          return callback(
            new ForbiddenAddressError(`${host} resolves to a refused address: ${refusal}`),
            '',
            0,
          );
      }
      if (options.all) callback(null, addresses);
      else callback(null, first.address, first.family);
    });
  };
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
