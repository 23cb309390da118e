import type { Backup, SafekeepClient } from '../../src/sdk/index.js';

/** Restorations read per request while looking for the ones that took given safety backups. */
const PAGE = 200;

/**
 * Which restoration took each of these safety backups (PRE_RESTORE): backup id → restoration id.
 * A backup does not name its restoration (only the restoration names its `safetyBackupId`), so this reads
 * the restorations, newest first, until every one is found or there are no more. Safety backups are taken
 * by recent restorations (only the newest 3 are kept), so this is usually one request. `known` is reused
 * and filled in, so a page that reloads asks only about backups it has not seen.
 */
export async function safetyRestorations(
  client: SafekeepClient,
  backups: readonly Backup[],
  signal: AbortSignal,
  known: Map<string, string> = new Map(),
): Promise<Map<string, string>> {
  const missing = new Set(
    backups.filter((b) => b.trigger === 'PRE_RESTORE' && !known.has(b.id)).map((b) => b.id),
  );
  for (let offset = 0; missing.size > 0; offset += PAGE) {
    const page = await client.listRestorations({ limit: PAGE, offset, signal });
    for (const r of page.restorations) {
      if (!r.safetyBackupId) continue;
      known.set(r.safetyBackupId, r.id);
      missing.delete(r.safetyBackupId);
    }
    if (page.restorations.length < PAGE || offset + PAGE >= page.pagingMetadata.total) break;
  }
  return known;
}
