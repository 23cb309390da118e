/**
 * Reads tests need and no port serves: they go to the SQL adapter's tables directly, so that the ports carry
 * only what the application calls. Both storages expose their Kysely instance as `db`.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../src/adapters/storage/sql/schema.js';
import { toEvent } from '../../src/adapters/storage/sql/webhook-store.js';
import { currentGeneration } from '../../src/adapters/storage/sql/sql-item-store.js';
import type { ItemTarget, LinkRef, Storage } from '../../src/ports/storage.js';
import type { OutboxEvent } from '../../src/ports/webhook-store.js';

function dbOf(storage: Storage): Kysely<Database> {
  const { db } = storage as Storage & { db?: Kysely<Database> };
  if (!db) throw new Error('not an SQL storage: it has no Kysely instance');
  return db;
}

/** Every visible link from the collection's current items, ordered by referring item, field and target. */
export async function linksFrom(storage: Storage, from: ItemTarget): Promise<(LinkRef & { pos: number })[]> {
  const db = dbOf(storage);
  const fromGen = await currentGeneration(db, from);
  const column = from.environment === 'LIVE' ? 'c.live_gen' : 'c.sandbox_gen';
  const rows = await db
    .selectFrom('links as l')
    .innerJoin('collections as c', (join) =>
      join.onRef(sql.ref(column), '=', 'l.to_gen').on('c.site_id', '=', from.siteId),
    )
    .select(['l.field', 'l.from_id', 'c.id as to_collection', 'l.to_id', 'l.pos'])
    .where('l.from_gen', '=', fromGen)
    .orderBy('l.from_id')
    .orderBy('l.field')
    .orderBy('c.id')
    .orderBy('l.to_id')
    .execute();
  return rows.map((r) => ({
    field: r.field,
    fromId: r.from_id,
    toCollectionId: r.to_collection,
    toId: r.to_id,
    pos: Number(r.pos),
  }));
}

/** The outbox events of an entity, in order. */
export async function eventsOf(storage: Storage, entityId: string): Promise<OutboxEvent[]> {
  const rows = await dbOf(storage)
    .selectFrom('events')
    .selectAll()
    .where('entity_id', '=', entityId)
    .orderBy('entity_sequence')
    .execute();
  return rows.map(toEvent);
}

/** How many outbox events a site has (of one entity type, when given), and how many deliveries of them. */
export async function outboxRows(
  storage: Storage,
  siteId: string,
  entityFqdn?: string,
): Promise<{ events: number; deliveries: number }> {
  const db = dbOf(storage);
  const ofSite = db
    .selectFrom('events')
    .select('seq')
    .where('site_id', '=', siteId)
    .$if(entityFqdn !== undefined, (q) => q.where('entity_fqdn', '=', entityFqdn ?? ''));
  const events = await db
    .selectFrom(ofSite.as('e'))
    .select((eb) => eb.fn.countAll().as('n'))
    .executeTakeFirstOrThrow();
  const deliveries = await db
    .selectFrom('deliveries')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('event_seq', 'in', ofSite)
    .executeTakeFirstOrThrow();
  return { events: Number(events.n), deliveries: Number(deliveries.n) };
}
