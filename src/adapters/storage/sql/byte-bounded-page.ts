import type { StoredItem } from '../../../ports/storage.js';

/**
 * A page row as both engines' queries return it: the item's size in bytes always, its JSON only when it is
 * small enough to carry inline (`inlineBytes`); larger items are fetched by id once the page is cut, so a
 * page of 1,000 items of 500 KB never sits in memory whole.
 */
export interface SizedRow {
  readonly id: string;
  readonly created_at: number | string;
  readonly updated_at: number | string;
  readonly bytes: number | string;
  readonly data: string | null;
}

/** The largest item JSON a page query carries inline: the byte budget shared by every row it may return. */
export function inlineBytes(limit: number, maxBytes: number | undefined): number {
  // Compared with octet_length, a 32-bit integer on PostgreSQL: the unbounded case stays inside its range.
  const all = 2 ** 31 - 1;
  return maxBytes === undefined ? all : Math.min(all, Math.floor(maxBytes / (limit + 1)));
}

function toItem(row: SizedRow & { data: string }): StoredItem {
  return { id: row.id, createdAt: Number(row.created_at), updatedAt: Number(row.updated_at), json: row.data };
}

/**
 * Cuts `rows` (already ordered, at most `limit + 1` of them) to a page of at most `limit` items whose JSON
 * adds up to at most `maxBytes` — always at least one item, so paging never stalls — and fills in the
 * items that were too large to carry inline (`fetch` reads them again, keyed by the id the first read
 * returned). An item removed between the two reads keeps its row in
 * `page` with no entry in `items`, so callers still take the page's cursors from `page` and continue
 * exactly where it ends.
 * @returns the page's rows in `rows`' order, their items (`undefined` where removed meanwhile), and
 *   whether more rows follow the page
 */
export async function boundPage<R extends SizedRow>(
  rows: readonly R[],
  limit: number,
  maxBytes: number | undefined,
  fetch: (rows: readonly R[]) => Promise<Map<string, StoredItem>>,
): Promise<{ page: R[]; items: (StoredItem | undefined)[]; hasMore: boolean }> {
  let kept = 0;
  let total = 0;
  while (kept < Math.min(limit, rows.length)) {
    const bytes = Number(rows[kept]?.bytes ?? 0);
    if (kept > 0 && maxBytes !== undefined && total + bytes > maxBytes) break;
    total += bytes;
    kept += 1;
  }
  const page = rows.slice(0, kept);
  const missing = page.filter((r) => r.data === null);
  const fetched = missing.length > 0 ? await fetch(missing) : new Map<string, StoredItem>();
  const items = page.map((row) =>
    row.data === null ? fetched.get(row.id) : toItem({ ...row, data: row.data }),
  );
  return { page, items, hasMore: rows.length > kept };
}
