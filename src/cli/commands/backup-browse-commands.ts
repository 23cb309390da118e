/**
 * `safekeep backup items` and `safekeep backup diff`: looking inside a backup and comparing it, over HTTP
 * through the SDK (`client.backupContents`).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { SafekeepClient } from '../../sdk/index.js';
import { UsageError, type CliIo } from '../cli-io.js';
import { resolveShortId } from '../short-id.js';
import { withSiteClient } from '../site-client.js';

/** Usage lines these commands add to `safekeep backup`. */
export const browseUsage = `  safekeep backup items ID --collection C [--filter JSON] [--sort field[:desc],...] [--limit N]
                           [--offset N] [--json]
  safekeep backup diff ID [--against live|BACKUP_ID] [--collection C] [--items] [--limit N] [--json]`;

const connection = {
  url: { type: 'string' },
  key: { type: 'string' },
  site: { type: 'string' },
  ca: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

function parseWithId<O extends NonNullable<ParseArgsConfig['options']>>(
  args: string[],
  options: O,
  usage: string,
) {
  const { values, positionals } = parseArgs({ args, options, strict: true, allowPositionals: true });
  const [id] = positionals;
  if (id === undefined || positionals.length > 1) throw new UsageError(`usage: safekeep ${usage}`);
  return { values, id };
}

function backupIdOf(client: SafekeepClient, typed: string): Promise<string> {
  return resolveShortId(typed, 'backup', async (offset, limit) => {
    const page = await client.listBackups({ offset, limit });
    return { ids: page.backups.map((b) => b.id), total: page.pagingMetadata.total };
  });
}

function whole(raw: string | undefined, flag: string, max: number): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) > max)
    throw new UsageError(`${flag} must be a whole number from 0 to ${max}, not "${raw}"`);
  return Number(raw);
}

/** `--filter '{"year":{"$gt":1990}}'`: a JSON object. */
function filterOf(raw: string | undefined): Record<string, unknown> | undefined {
  if (raw === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new UsageError(`--filter must be a JSON object, e.g. --filter '{"year":{"$gt":1990}}'`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new UsageError('--filter must be a JSON object');
  return parsed as Record<string, unknown>;
}

/** `--sort year:desc,title` → Wix sort entries. */
function sortOf(raw: string | undefined): { fieldName: string; order: 'ASC' | 'DESC' }[] | undefined {
  if (raw === undefined) return undefined;
  return raw
    .split(',')
    .filter(Boolean)
    .map((part) => {
      const [fieldName = '', order = 'asc'] = part.split(':');
      if (!fieldName || !['asc', 'desc'].includes(order.toLowerCase()))
        throw new UsageError(`--sort takes field[:asc|desc],..., not "${raw}"`);
      return { fieldName, order: order.toUpperCase() as 'ASC' | 'DESC' };
    });
}

/**
 * `safekeep backup items ID --collection C`: a page of a backed-up collection's items.
 * @returns the exit code: 0 success, 1 the server refused
 */
export async function backupItemsCommand(
  rest: string[],
  io: CliIo,
  env: NodeJS.ProcessEnv | undefined,
): Promise<number> {
  const { values, id } = parseWithId(
    rest,
    {
      ...connection,
      collection: { type: 'string' },
      filter: { type: 'string' },
      sort: { type: 'string' },
      limit: { type: 'string' },
      offset: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    'backup items ID --collection C [--filter JSON]',
  );
  if (values.collection === undefined) throw new UsageError('backup items needs --collection C');
  const collection = values.collection;
  const filter = filterOf(values.filter);
  const sort = sortOf(values.sort);
  const limit = whole(values.limit, '--limit', 1000);
  const offset = whole(values.offset, '--offset', Number.MAX_SAFE_INTEGER);
  return withSiteClient(values, io, env, async (client) => {
    const backupId = await backupIdOf(client, id);
    const page = await client.backupContents.query(
      backupId,
      collection,
      {
        ...(filter && { filter }),
        ...(sort && { sort }),
        ...((limit !== undefined || offset !== undefined) && {
          paging: { ...(limit !== undefined && { limit }), ...(offset !== undefined && { offset }) },
        }),
      },
      { returnTotalCount: true },
    );
    if (values.json) {
      io.out(JSON.stringify(page));
      return 0;
    }
    for (const item of page.dataItems) io.out(JSON.stringify(item.data));
    const meta = page.pagingMetadata;
    io.out(
      `${meta.count} of ${meta.total ?? '?'} items of ${collection} in backup ${backupId}` +
        (meta.hasNext ? ` (more: --offset ${(meta.offset ?? 0) + meta.count})` : ''),
    );
    return 0;
  });
}

/**
 * `safekeep backup diff ID`: what changed between a backup and live data (or another backup), per
 * collection; with `--items` and `--collection`, the ids that differ.
 * @returns the exit code: 0 success, 1 the server refused
 */
export async function backupDiffCommand(
  rest: string[],
  io: CliIo,
  env: NodeJS.ProcessEnv | undefined,
): Promise<number> {
  const { values, id } = parseWithId(
    rest,
    {
      ...connection,
      against: { type: 'string' },
      collection: { type: 'string' },
      items: { type: 'boolean', default: false },
      limit: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    'backup diff ID [--against live|BACKUP_ID] [--collection C]',
  );
  if (values.items && values.collection === undefined)
    throw new UsageError('backup diff --items needs --collection C');
  const limit = whole(values.limit, '--limit', 1000);
  return withSiteClient(values, io, env, async (client) => {
    const backupId = await backupIdOf(client, id);
    const against =
      values.against === undefined || values.against === 'live'
        ? 'live'
        : await backupIdOf(client, values.against);
    if (values.items && values.collection !== undefined) {
      const page = await client.backupContents.diffItems(backupId, values.collection, {
        against,
        ...(limit !== undefined && { limit }),
      });
      if (values.json) io.out(JSON.stringify(page));
      else {
        for (const c of page.changes) io.out(`${c.change.padEnd(8)} ${c.dataItemId}`);
        if (page.changes.length === 0) io.out('No differences.');
        if (page.nextCursor) io.out('(more differences follow: raise --limit)');
      }
      return 0;
    }
    const diff = await client.backupContents.diff(backupId, {
      against,
      ...(values.collection !== undefined && { collectionId: values.collection }),
    });
    if (values.json) {
      io.out(JSON.stringify(diff));
      return 0;
    }
    io.out(`Backup ${backupId} → ${against === 'live' ? 'live data' : `backup ${against}`}`);
    for (const c of diff.collections) {
      const where =
        c.presence === 'BACKUP_ONLY'
          ? ' (only in the backup)'
          : c.presence === 'OTHER_ONLY'
            ? ' (not in the backup)'
            : '';
      io.out(
        `  ${c.dataCollectionId}${where}: +${c.itemsAdded} added, -${c.itemsRemoved} removed, ~${c.itemsChanged} changed`,
      );
      const d = c.definitionChanges;
      if (d && (d.fieldsAdded.length || d.fieldsRemoved.length || d.fieldsRetyped.length)) {
        const parts = [
          ...d.fieldsAdded.map((f) => `+${f}`),
          ...d.fieldsRemoved.map((f) => `-${f}`),
          ...d.fieldsRetyped.map((f) => `${f.key}: ${f.from} → ${f.to}`),
        ];
        io.out(`    fields: ${parts.join(', ')}`);
      }
    }
    if (diff.collections.length === 0) io.out('  (no collections)');
    return 0;
  });
}
