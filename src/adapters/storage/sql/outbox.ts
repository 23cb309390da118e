import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/** Events per statement: 9 parameters each, well under SQLite's 32,766. */
const EVENTS_PER_STATEMENT = 500;

/** An event to write to the outbox; its id and per-entity sequence are given here. */
export interface NewOutboxEvent {
  readonly eventType: string;
  readonly slug: string;
  readonly entityFqdn: string;
  readonly entityId: string;
  /** JSON of the domain event's body (see contracts/item-events.ts `domainEventPayload`). */
  readonly body: string;
}

/** A site's subscriptions by the event types they want: event type → subscription ids. */
export type Subscribers = ReadonlyMap<string, readonly string[]>;

/** The site's subscriptions by event type: one indexed read (`webhooks_site`). */
export async function subscribersOf(db: Kysely<Database>, siteId: string): Promise<Subscribers> {
  const hooks = await db
    .selectFrom('webhooks')
    .select(['id', 'event_types'])
    .where('site_id', '=', siteId)
    .execute();
  const byType = new Map<string, string[]>();
  for (const hook of hooks) {
    for (const type of JSON.parse(hook.event_types) as string[]) {
      const ids = byType.get(type) ?? [];
      ids.push(hook.id);
      byType.set(type, ids);
    }
  }
  return byType;
}

/** Items per batch row: a bound on its body (~1 KB items: ~1 MB) and well under BATCH_SEQUENCE_SPAN. */
const ITEMS_PER_BATCH = 1000;

/**
 * A batch's items are numbered from `seq * BATCH_SEQUENCE_SPAN`: the `entityEventSequence` of an item event
 * is `seq * 2^20 + position + 1`. `seq` only grows (AUTOINCREMENT, a PostgreSQL sequence) and a later write
 * of an item takes its `seq` after an earlier one's committed (it waits on the item's row), so this increases
 * per item with no lookup at write time, above every sequence of a single event (numbered from 1).
 */
export const BATCH_SEQUENCE_SPAN = 2 ** 20;

/** What a batch's deliveries are ordered by: every batch of a collection's item events, per subscription. */
export function batchOrderKey(collectionId: string): string {
  return `items:${collectionId}`;
}

/** A write's item events of one kind: the items' event entities (JSON text), in the order written. */
export interface NewEventBatch {
  readonly eventType: string;
  readonly slug: string;
  readonly entityFqdn: string;
  readonly collectionId: string;
  readonly entities: readonly string[];
}

/**
 * Writes a write's item events as one outbox row (per 1,000 items) holding their entities, with one
 * PENDING delivery per subscription that wants them, inside the write's transaction: a write's cost, not
 * an item's. The deliverer sends one webhook per item, in order (`webhook-store.ts` expands the row).
 */
export async function appendEventBatch(
  db: Kysely<Database>,
  siteId: string,
  batch: NewEventBatch,
  subscribers: Subscribers,
  at: number,
): Promise<void> {
  const webhookIds = subscribers.get(batch.eventType) ?? [];
  if (webhookIds.length === 0) return;
  const orderKey = batchOrderKey(batch.collectionId);
  for (let start = 0; start < batch.entities.length; start += ITEMS_PER_BATCH) {
    const entities = batch.entities.slice(start, start + ITEMS_PER_BATCH);
    const { seq } = await db
      .insertInto('events')
      .values({
        id: randomUUID(),
        site_id: siteId,
        event_type: batch.eventType,
        slug: batch.slug,
        entity_fqdn: batch.entityFqdn,
        entity_id: orderKey,
        // Derived when read (BATCH_SEQUENCE_SPAN).
        entity_sequence: 0,
        body: `[${entities.join(',')}]`,
        created_at: at,
        batch_size: entities.length,
      })
      .returning('seq')
      .executeTakeFirstOrThrow();
    await db
      .insertInto('deliveries')
      .values(
        webhookIds.map((webhookId) => ({
          event_seq: seq,
          webhook_id: webhookId,
          entity_id: orderKey,
          next_attempt_at: at,
          state: 'PENDING',
        })),
      )
      .execute();
  }
}

/** The highest sequence each of these entities' events has reached. */
async function lastSequences(
  db: Kysely<Database>,
  entityIds: readonly string[],
): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('events')
    .select((eb) => ['entity_id', eb.fn.max('entity_sequence').as('n')])
    .where('entity_id', 'in', [...new Set(entityIds)])
    .groupBy('entity_id')
    .execute();
  return new Map(rows.map((row) => [row.entity_id, Number(row.n)]));
}

/**
 * Writes events of a site to the outbox, in order, with one PENDING delivery per subscription that wants
 * each, inside the caller's transaction: the events exist exactly when the change they report does. Each
 * event's `entity_sequence` is one more than its entity's last; a statement writes many events at once.
 */
export async function appendEvents(
  db: Kysely<Database>,
  siteId: string,
  events: readonly NewOutboxEvent[],
  subscribers: Subscribers,
  at: number,
): Promise<void> {
  for (let start = 0; start < events.length; start += EVENTS_PER_STATEMENT) {
    const part = events.slice(start, start + EVENTS_PER_STATEMENT);
    const last = await lastSequences(
      db,
      part.map((e) => e.entityId),
    );
    const rows = part.map((event) => {
      const sequence = (last.get(event.entityId) ?? 0) + 1;
      last.set(event.entityId, sequence);
      return {
        id: randomUUID(),
        site_id: siteId,
        event_type: event.eventType,
        slug: event.slug,
        entity_fqdn: event.entityFqdn,
        entity_id: event.entityId,
        entity_sequence: sequence,
        body: event.body,
        created_at: at,
        batch_size: null,
      };
    });
    // Matched back by id: the order RETURNING gives rows in is not promised.
    const written = await db.insertInto('events').values(rows).returning(['seq', 'id']).execute();
    const seqOf = new Map(written.map((row) => [row.id, row.seq]));
    const deliveries = rows.flatMap((row) =>
      (subscribers.get(row.event_type) ?? []).map((webhookId) => ({
        event_seq: seqOf.get(row.id) ?? 0,
        webhook_id: webhookId,
        entity_id: row.entity_id,
        next_attempt_at: at,
        state: 'PENDING',
      })),
    );
    // 5 parameters per delivery.
    for (let d = 0; d < deliveries.length; d += EVENTS_PER_STATEMENT * 2) {
      await db
        .insertInto('deliveries')
        .values(deliveries.slice(d, d + EVENTS_PER_STATEMENT * 2))
        .execute();
    }
  }
}
