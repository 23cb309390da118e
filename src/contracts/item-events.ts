/**
 * Item events: Wix's `onDataItemCreated`, `onDataItemUpdated` and `onDataItemDeleted`
 * (`@wix/wix-data-items-sdk`), delivered as signed webhooks like the backup events (backups-api.md §7).
 */
import type { StoredItem } from '../domain/item-codec.js';
import { eventTypes as backupEventTypes } from './backups-api.js';

/** The entity Wix's item events are about. */
export const ITEM_ENTITY_FQDN = 'wix.data.v2.data_item';

/** What a write did to an item, by the slug of the event that reports it. */
export type ItemChangeKind = 'created' | 'updated' | 'deleted';

/** The event type of each kind of change, as the items SDK's event definitions name them. */
export const ITEM_EVENT_TYPES: Readonly<Record<ItemChangeKind, string>> = {
  created: 'wix.data.v2.data_item_created',
  updated: 'wix.data.v2.data_item_updated',
  deleted: 'wix.data.v2.data_item_deleted',
};

export const itemEventTypes = Object.values(ITEM_EVENT_TYPES);

/** One item a write created, replaced or removed: the item as the write left it (as it was, when removed). */
export interface ItemChange {
  readonly kind: ItemChangeKind;
  readonly item: StoredItem;
}

/**
 * The entity of an item event as JSON text, assembled around the stored item's JSON (never re-parsed):
 * `{ id, dataCollectionId, data }` like an API response, and only `{ id, dataCollectionId }` for a removal,
 * which is all Wix's `DataItemDeletedEntity` carries.
 */
export function itemEventEntity(collectionId: string, change: ItemChange): string {
  const head = `{"id":${JSON.stringify(change.item.id)},"dataCollectionId":${JSON.stringify(collectionId)}`;
  return change.kind === 'deleted' ? `${head}}` : `${head},"data":${change.item.json}}`;
}

/**
 * Where a domain event carries its body. Wix's standard slugs put the entity in `createdEvent.entity`,
 * `updatedEvent.currentEntity` or `deletedEvent.deletedEntity` (what `@wix/sdk` reads for such events);
 * any other slug is an action, whose body is `actionEvent.body`.
 */
export function domainEventPayload(slug: string, body: unknown): Record<string, unknown> {
  switch (slug) {
    case 'created':
      return { createdEvent: { entity: body } };
    case 'updated':
      return { updatedEvent: { currentEntity: body } };
    case 'deleted':
      return { deletedEvent: { deletedEntity: body } };
    default:
      return { actionEvent: { body } };
  }
}

/** Every event type a webhook subscription may name: the backup events and the item events. */
export const webhookEventTypes: readonly string[] = [...backupEventTypes, ...itemEventTypes];
