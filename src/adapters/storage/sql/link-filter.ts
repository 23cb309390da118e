import { sql } from 'kysely';
import type { LinkedNode } from '../../../domain/query/filter.js';
import type { ItemTarget } from '../../../ports/storage.js';
import type { Sql } from './sql-conditions.js';

/** What a filter over one item set needs to know to follow its links: the set's generation and target. */
export interface FilterScope {
  readonly gen: number;
  readonly target: ItemTarget;
}

/**
 * `$hasSome`/`$hasAll` on a MULTI_REFERENCE field, in SQL both engines speak: the item (`idRef`) has links
 * through the field to some, or to every one, of the ids in the referenced collection's current
 * generation of the same environment. The link table's primary key (from_gen, from_id, field, …) makes
 * each test an index lookup.
 */
export function linkedCondition(
  node: LinkedNode,
  idRef: Sql,
  scope: FilterScope,
  TRUE: Sql,
  FALSE: Sql,
): Sql {
  const ids = [...new Set(node.toIds)];
  if (ids.length === 0) return node.all ? TRUE : FALSE;
  const toGen = scope.target.environment === 'LIVE' ? sql.ref('live_gen') : sql.ref('sandbox_gen');
  const links = sql`FROM links AS l WHERE l.from_gen = ${scope.gen} AND l.from_id = ${idRef}
    AND l.field = ${node.field} AND l.to_id IN (${sql.join(ids)})
    AND l.to_gen = (SELECT ${toGen} FROM collections
      WHERE site_id = ${scope.target.siteId} AND id = ${node.toCollectionId})`;
  return node.all
    ? sql`((SELECT count(DISTINCT l.to_id) ${links}) = ${ids.length})`
    : sql`EXISTS (SELECT 1 ${links})`;
}
