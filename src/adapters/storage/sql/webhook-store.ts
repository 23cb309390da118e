import { createHash } from 'node:crypto';
import { sql, type Kysely, type Selectable } from 'kysely';
import { ITEM_ENTITY_FQDN } from '../../../contracts/item-events.js';
import type {
  DeliveryClaimRequest,
  DueDelivery,
  OutboxEvent,
  WebhookRecord,
  WebhookStore,
} from '../../../ports/webhook-store.js';
import { heldBy } from './job-lease/held-by.js';
import { leaseIsFree } from './job-lease/lease-is-free.js';
import { releaseLease } from './job-lease/release-lease.js';
import { takeLease } from './job-lease/take-lease.js';
import { BATCH_SEQUENCE_SPAN } from './outbox.js';
import type { Database, EventsTable, WebhooksTable } from './schema.js';

function toWebhook(row: Selectable<WebhooksTable>): WebhookRecord {
  return {
    id: row.id,
    siteId: row.site_id,
    url: row.url,
    eventTypes: JSON.parse(row.event_types) as string[],
    createdAt: Number(row.created_at),
    blockedReason: row.blocked_reason ?? undefined,
  };
}

export function toEvent(row: Selectable<EventsTable>): OutboxEvent {
  return {
    id: row.id,
    siteId: row.site_id,
    eventType: row.event_type,
    slug: row.slug,
    entityFqdn: row.entity_fqdn,
    entityId: row.entity_id,
    entitySequence: Number(row.entity_sequence),
    body: row.body,
    createdAt: Number(row.created_at),
  };
}

/**
 * The id of a batch's item event at `position`: a UUID-shaped digest of the row's id and the position, so
 * the same on every redelivery and unique per event (receivers de-duplicate on it).
 */
export function batchEventId(rowId: string, position: number): string {
  const hex = createHash('sha256').update(`${rowId}/${position}`).digest('hex');
  // Version 8 (custom) and the RFC 9562 variant, like any UUID receivers might parse.
  const variant = ((parseInt(hex.charAt(16), 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * The events an outbox row holds from `from` on: itself, or a batch's item events, each with its own id,
 * its item's id and a sequence derived from the row's `seq` (outbox.ts `BATCH_SEQUENCE_SPAN`).
 */
export function eventsOfRow(row: Selectable<EventsTable>, from = 0): OutboxEvent[] {
  if (row.batch_size === null) return from === 0 ? [toEvent(row)] : [];
  const entities = JSON.parse(row.body) as { id: string }[];
  const first = Number(row.seq) * BATCH_SEQUENCE_SPAN + 1;
  return entities.slice(from).map((entity, i) => ({
    id: batchEventId(row.id, from + i),
    siteId: row.site_id,
    eventType: row.event_type,
    slug: row.slug,
    entityFqdn: row.entity_fqdn,
    entityId: entity.id,
    entitySequence: first + from + i,
    body: JSON.stringify(entity),
    createdAt: Number(row.created_at),
  }));
}

export class SqlWebhookStore implements WebhookStore {
  constructor(private readonly db: Kysely<Database>) {}

  async create(webhook: WebhookRecord): Promise<void> {
    await this.db
      .insertInto('webhooks')
      .values({
        id: webhook.id,
        site_id: webhook.siteId,
        url: webhook.url,
        event_types: JSON.stringify(webhook.eventTypes),
        created_at: webhook.createdAt,
        blocked_reason: webhook.blockedReason ?? null,
      })
      .execute();
  }

  async get(id: string): Promise<WebhookRecord | undefined> {
    const row = await this.db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toWebhook(row);
  }

  async list(siteIds?: readonly string[]): Promise<WebhookRecord[]> {
    if (siteIds && siteIds.length === 0) return [];
    let query = this.db.selectFrom('webhooks').selectAll().orderBy('created_at').orderBy('id');
    if (siteIds) query = query.where('site_id', 'in', siteIds);
    const rows = await query.execute();
    return rows.map(toWebhook);
  }

  async setBlocked(id: string, reason: string | null): Promise<void> {
    await this.db
      .updateTable('webhooks')
      .set({ blocked_reason: reason === null ? null : reason.slice(0, 500) })
      .where('id', '=', id)
      .execute();
  }

  async delete(id: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const result = await trx.deleteFrom('webhooks').where('id', '=', id).executeTakeFirst();
      await trx
        .deleteFrom('deliveries')
        .where('webhook_id', '=', id)
        .where('state', '=', 'PENDING')
        .execute();
      return Number(result.numDeletedRows) > 0;
    });
  }

  async claimDue(request: DeliveryClaimRequest): Promise<DueDelivery[]> {
    const { now, limit, perWebhook = Number.POSITIVE_INFINITY } = request;
    return this.db.transaction().execute(async (trx) => {
      // The earliest PENDING delivery of each (webhook, entity); due and not leased by someone else. With
      // the leases each webhook holds already, so that a receiver that hangs cannot take every slot.
      const { rows } = await sql<{ event_seq: number; webhook_id: string; leased: number }>`
        SELECT d.event_seq, d.webhook_id,
          (SELECT COUNT(*) FROM deliveries f
            WHERE f.webhook_id = d.webhook_id AND f.state = 'PENDING' AND f.lease_expires_at >= ${now}) AS leased
        FROM deliveries d
        WHERE d.state = 'PENDING' AND d.next_attempt_at <= ${now}
          AND ${leaseIsFree(now, 'd.lease_expires_at')}
          AND NOT EXISTS (SELECT 1 FROM webhooks w WHERE w.id = d.webhook_id AND w.blocked_reason IS NOT NULL)
          AND NOT EXISTS (
            SELECT 1 FROM deliveries e
            WHERE e.webhook_id = d.webhook_id AND e.entity_id = d.entity_id AND e.state = 'PENDING' AND e.event_seq < d.event_seq)
        ORDER BY d.next_attempt_at, d.event_seq
        LIMIT ${Number.isFinite(perWebhook) ? limit * 4 : limit}`.execute(trx);
      const due: DueDelivery[] = [];
      const taken = new Map<string, number>();
      for (const row of rows) {
        if (due.length >= limit) break;
        const holds = Number(row.leased) + (taken.get(row.webhook_id) ?? 0);
        if (holds >= perWebhook) continue;
        const claimed = await trx
          .updateTable('deliveries')
          .set(takeLease(request))
          .where('event_seq', '=', row.event_seq)
          .where('webhook_id', '=', row.webhook_id)
          .where('state', '=', 'PENDING')
          // Checked again here: on PostgreSQL another process may have claimed it since the SELECT.
          .where(leaseIsFree(now))
          .returning(['attempts', 'progress'])
          .executeTakeFirst();
        if (!claimed) continue;
        const event = await trx
          .selectFrom('events')
          .selectAll()
          .where('seq', '=', row.event_seq)
          .executeTakeFirst();
        const hook = await trx
          .selectFrom('webhooks')
          .select('url')
          .where('id', '=', row.webhook_id)
          .executeTakeFirst();
        if (!event || !hook) continue;
        taken.set(row.webhook_id, (taken.get(row.webhook_id) ?? 0) + 1);
        due.push({
          eventSeq: Number(row.event_seq),
          webhookId: row.webhook_id,
          url: hook.url,
          attempts: Number(claimed.attempts),
          progress: Number(claimed.progress),
          events: eventsOfRow(event, Number(claimed.progress)),
        });
      }
      return due;
    });
  }

  async markProgress(
    eventSeq: number,
    webhookId: string,
    workerId: string,
    progress: number,
    leaseExpiresAt: number,
  ): Promise<boolean> {
    const result = await this.db
      .updateTable('deliveries')
      // Progress is no failure: the backoff starts over for the items still to send.
      .set({ progress, attempts: 0, lease_expires_at: leaseExpiresAt })
      .where('event_seq', '=', eventSeq)
      .where('webhook_id', '=', webhookId)
      .where('state', '=', 'PENDING')
      .where(heldBy(workerId))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async markDelivered(eventSeq: number, webhookId: string, workerId: string, at: number): Promise<void> {
    await this.db
      .updateTable('deliveries')
      .set((eb) => ({
        state: 'DELIVERED',
        finished_at: at,
        attempts: eb('attempts', '+', 1),
        ...releaseLease,
      }))
      .where('event_seq', '=', eventSeq)
      .where('webhook_id', '=', webhookId)
      .where(heldBy(workerId))
      .execute();
  }

  async release(eventSeq: number, webhookId: string, workerId: string): Promise<void> {
    await this.db
      .updateTable('deliveries')
      .set(releaseLease)
      .where('event_seq', '=', eventSeq)
      .where('webhook_id', '=', webhookId)
      .where(heldBy(workerId))
      .execute();
  }

  async markFailed(
    eventSeq: number,
    webhookId: string,
    workerId: string,
    error: string,
    nextAttemptAt: number | null,
    at: number,
  ): Promise<void> {
    await this.db
      .updateTable('deliveries')
      .set((eb) => ({
        attempts: eb('attempts', '+', 1),
        last_error: error.slice(0, 500),
        ...releaseLease,
        ...(nextAttemptAt === null
          ? { state: 'ABANDONED', finished_at: at }
          : { next_attempt_at: nextAttemptAt }),
      }))
      .where('event_seq', '=', eventSeq)
      .where('webhook_id', '=', webhookId)
      .where(heldBy(workerId))
      .execute();
  }

  async purgeFinished(before: number, limit: number): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      const { rows } = await sql<{ seq: number }>`
        SELECT e.seq FROM events e
        WHERE e.created_at < ${before}
          AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq AND d.state = 'PENDING')
          AND (e.entity_fqdn = ${ITEM_ENTITY_FQDN} OR EXISTS (
            SELECT 1 FROM events n WHERE n.entity_id = e.entity_id AND n.entity_sequence > e.entity_sequence))
        ORDER BY e.created_at
        LIMIT ${limit}`.execute(trx);
      const seqs = rows.map((row) => row.seq);
      if (seqs.length === 0) return 0;
      await trx.deleteFrom('deliveries').where('event_seq', 'in', seqs).execute();
      await trx.deleteFrom('events').where('seq', 'in', seqs).execute();
      return seqs.length;
    });
  }
}
