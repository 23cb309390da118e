/**
 * `safekeep backup …` and `safekeep restoration …`: the Backups API from the command line. These commands
 * talk to a running server over HTTP through the SDK (they never open the data directory themselves), so
 * they work against any safekeep a URL and an API key reach.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { SafekeepClient } from '../../sdk/index.js';
import {
  type Backup,
  type BackupStatus,
  type BackupType,
  type Progress,
  type Restoration,
  type RestorationCollectionInput,
  type RestorationStatus,
  type Verification,
} from '../../sdk/index.js';
import { UsageError, type CliIo } from '../cli-io.js';
import { confirmed, terminalConfirm, type Confirm } from '../confirm.js';
import { resolveShortId } from '../short-id.js';
import { withSiteClient, type SiteClientFlags } from '../site-client.js';
import { ProgressBar, type Terminal } from '../progress-bar.js';
import { backupDiffCommand, backupItemsCommand, browseUsage } from './backup-browse-commands.js';

/** Where a command draws its progress bar, and whether that is a terminal. */
export interface CommandTerminal extends Terminal {
  /** True when the stream is a terminal: only then is a bar drawn. */
  readonly isTTY?: boolean;
}

/** What the commands need besides their arguments; tests and other callers may replace each part. */
export interface ClientCommandOptions {
  /** The environment to read the client configuration from (default: the process's, read in src/config.ts). */
  readonly env?: NodeJS.ProcessEnv;
  /** Where `--wait` draws its bar when it is a TTY (default: process.stdout). */
  readonly terminal?: CommandTerminal;
  /**
   * Asks the person before a restore or a delete (default: a prompt on the terminal, or nobody when
   * standard input is not one — then only `--yes` lets such a command run).
   */
  readonly confirm?: Confirm;
}

const backupStatuses: readonly BackupStatus[] = ['PENDING', 'READY', 'FAILED', 'DELETED', 'CANCELED'];
const backupTypes: readonly BackupType[] = ['ON_DEMAND', 'AUTO'];
const restorationStatuses: readonly RestorationStatus[] = ['PENDING', 'COMPLETED', 'FAILED'];

/** How often `--wait` reads the job's state. */
const WAIT_INTERVAL_MS = 500;

/** The `safekeep backup` commands' usage text. */
export const backupUsage = `usage:
  safekeep backup create [--collections a,b] [--wait] [--json]
  safekeep backup list [--status S]... [--type T]... [--limit N] [--offset N] [--json]
  safekeep backup get ID [--json]
  safekeep backup delete ID [--yes]
  safekeep backup cancel ID
  safekeep backup download ID -o FILE        (a portable archive, docs/ARCHIVE-FORMAT.md)
  safekeep backup upload FILE [--json]       (imports an archive as a new READY backup of the site)
  safekeep backup verify ID [--trial-restore] [--wait] [--json]
  safekeep backup restore ID [--collections a,b] [--to a:a2[:Display name],b:b2] [--definitions merge|backup]
                             [--yes] [--wait] [--json]
  safekeep backup restore ID --collection C (--items a,b,c | --only-missing [--items a,b]) [--yes] [--wait] [--json]
                             (item restore: only those items, or the backup's items C lacks, in place)
${browseUsage}
ID is a full id or its first characters (at least 4) when only one id starts with them.
restore and delete ask for confirmation on a terminal; elsewhere they need --yes.
every command also takes --url URL, --key KEY, --site SITE_ID and --ca FILE (trusted for https://)
(defaults: SAFEKEEP_URL or http://127.0.0.1:$PORT, SAFEKEEP_API_KEY, SAFEKEEP_SITE_ID)`;

/** The `safekeep restoration` commands' usage text. */
export const restorationUsage = `usage:
  safekeep restoration list [--status S]... [--limit N] [--offset N] [--json]
  safekeep restoration get ID [--json]
  safekeep restoration undo ID [--yes] [--wait] [--json]   (restores the restoration's safety backup)
ID is a full id or its first characters (at least 4) when only one id starts with them.
every command also takes --url URL, --key KEY, --site SITE_ID and --ca FILE (trusted for https://)`;

const connection = {
  url: { type: 'string' },
  key: { type: 'string' },
  site: { type: 'string' },
  ca: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];
const json = { json: { type: 'boolean', default: false } } as const satisfies ParseArgsConfig['options'];
const yes = { yes: { type: 'boolean', default: false } } as const satisfies ParseArgsConfig['options'];
const wait = { wait: { type: 'boolean', default: false } } as const satisfies ParseArgsConfig['options'];
const paging = {
  limit: { type: 'string' },
  offset: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

/**
 * `safekeep backup create|list|get|delete|cancel|restore`.
 * @returns the exit code: 0 success, 1 the server refused or the job ended in failure
 * @throws UsageError (exit 2), ConfigError (exit 2)
 */
export async function backupCommand(
  args: string[],
  io: CliIo,
  options: ClientCommandOptions = {},
): Promise<number> {
  const [action, ...rest] = args;
  switch (action) {
    case 'create': {
      const { values } = parse(rest, {
        ...connection,
        ...json,
        collections: { type: 'string' },
        wait: { type: 'boolean', default: false },
      });
      const collections =
        values.collections === undefined ? undefined : list(values.collections, '--collections');
      return withClient(values, io, options, async (client) => {
        const backup = await client.createBackup(collections ? { collections } : {});
        if (!values.wait) {
          printBackup(io, backup, values.json);
          if (!values.json) io.out(`Follow it with: safekeep backup get ${backup.id}`);
          return 0;
        }
        const final = await waitWithBar(
          options,
          values.json,
          `backup ${short(backup.id)}`,
          (onProgress, signal) =>
            client.waitForBackup(backup.id, { onProgress, signal, intervalMs: WAIT_INTERVAL_MS }),
        );
        printBackup(io, final, values.json);
        return final.status === 'READY' ? 0 : jobFailed(io, `backup ${final.id}`, final.status, final.error);
      });
    }
    case 'list': {
      const { values } = parse(rest, {
        ...connection,
        ...json,
        ...paging,
        status: { type: 'string', multiple: true },
        type: { type: 'string', multiple: true },
      });
      const status = oneOf(values.status, backupStatuses, '--status');
      const type = oneOf(values.type, backupTypes, '--type');
      const page = pagingOf(values);
      return withClient(values, io, options, async (client) => {
        const result = await client.listBackups({
          ...page,
          ...(status && { status }),
          ...(type && { type }),
        });
        if (values.json) {
          io.out(JSON.stringify(result));
          return 0;
        }
        if (result.backups.length === 0) io.out('No backups.');
        for (const b of result.backups) io.out(backupLine(b));
        io.out(pageLine(result.pagingMetadata, 'backups'));
        return 0;
      });
    }
    case 'get': {
      const { values, id } = parseWithId(rest, { ...connection, ...json }, 'backup get ID');
      return withClient(values, io, options, async (client) => {
        printBackup(io, await client.getBackup(await backupIdOf(client, id)), values.json);
        return 0;
      });
    }
    case 'delete': {
      const { values, id } = parseWithId(rest, { ...connection, ...yes }, 'backup delete ID');
      return withClient(values, io, options, async (client) => {
        const backup = await client.getBackup(await backupIdOf(client, id));
        const question = `Delete backup ${backup.id} (${backup.trigger}, ${backup.requestedDate})? It can no longer be restored.`;
        if (!(await confirmed(values.yes, confirmOf(options), question))) return declined(io);
        await client.deleteBackup(backup.id);
        io.out(`Deleted backup ${backup.id}.`);
        return 0;
      });
    }
    case 'cancel': {
      const { values, id } = parseWithId(rest, connection, 'backup cancel ID');
      return withClient(values, io, options, async (client) => {
        const full = await backupIdOf(client, id);
        await client.cancelBackup(full);
        io.out(`Canceled backup ${full}.`);
        return 0;
      });
    }
    case 'verify': {
      const { values, id } = parseWithId(
        rest,
        { ...connection, ...json, ...wait, 'trial-restore': { type: 'boolean', default: false } },
        'backup verify ID',
      );
      return withClient(values, io, options, async (client) => {
        const backupId = await backupIdOf(client, id);
        const started = await client.verifyBackup(backupId, { trialRestore: values['trial-restore'] });
        if (!values.wait) {
          printVerification(io, started, values.json);
          if (!values.json) io.out(`Follow it with: safekeep backup get ${backupId}`);
          return 0;
        }
        const final = await waitWithBar(
          options,
          values.json,
          `verification of ${short(backupId)}`,
          (onProgress, signal) =>
            client.waitForVerification(started.id, { onProgress, signal, intervalMs: WAIT_INTERVAL_MS }),
        );
        printVerification(io, final, values.json);
        return final.status === 'PASSED'
          ? 0
          : jobFailed(io, `verification of backup ${backupId}`, final.status, final.error);
      });
    }
    case 'restore': {
      const { values, id } = parseWithId(
        rest,
        {
          ...connection,
          ...json,
          ...yes,
          ...wait,
          collections: { type: 'string' },
          to: { type: 'string' },
          definitions: { type: 'string' },
          collection: { type: 'string' },
          items: { type: 'string' },
          'only-missing': { type: 'boolean', default: false },
        },
        'backup restore ID',
      );
      const partial = itemRestoreOf(values) ?? restorationCollectionsOf(values.collections, values.to);
      const restoreOptions = definitionModeOf(values.definitions);
      return withClient(values, io, options, async (client) => {
        const backup = await client.getBackup(await backupIdOf(client, id));
        return restore(client, io, options, values, backup, partial, restoreOptions);
      });
    }
    case 'download': {
      const { values, id } = parseWithId(
        rest,
        { ...connection, output: { type: 'string', short: 'o' } },
        'backup download ID -o FILE',
      );
      if (!values.output) throw new UsageError(`backup download needs -o FILE\n${backupUsage}`);
      const file = values.output;
      return withClient(values, io, options, async (client) => {
        const backup = await client.getBackup(await backupIdOf(client, id));
        const { body, length } = await client.downloadBackup(backup.id);
        // Without a length (a merged incremental backup), the stored size is a close estimate.
        const total = length ?? Number(backup.sizeInBytes ?? 0);
        const written = await withBytesBar(options, `download ${short(backup.id)}`, total, (onBytes) =>
          writeStream(body, file, onBytes),
        );
        io.out(`Downloaded backup ${backup.id} to ${file} (${formatBytes(written)}).`);
        return 0;
      });
    }
    case 'upload': {
      const { values, id: file } = parseWithId(rest, { ...connection, ...json }, 'backup upload FILE');
      return withClient(values, io, options, async (client) => {
        const size = (await stat(file)).size;
        const backup = await withBytesBar(options, 'upload', size, (onBytes) =>
          client.importBackup(readStream(file, onBytes)),
        );
        printBackup(io, backup, values.json);
        return 0;
      });
    }
    case 'items':
      return backupItemsCommand(rest, io, options.env);
    case 'diff':
      return backupDiffCommand(rest, io, options.env);
    case undefined:
    default:
      throw new UsageError(action ? `unknown backup command "${action}"\n${backupUsage}` : backupUsage);
  }
}

/**
 * `safekeep restoration list|get`.
 * @returns the exit code: 0 success, 1 the server refused
 * @throws UsageError (exit 2), ConfigError (exit 2)
 */
export async function restorationCommand(
  args: string[],
  io: CliIo,
  options: ClientCommandOptions = {},
): Promise<number> {
  const [action, ...rest] = args;
  switch (action) {
    case 'list': {
      const { values } = parse(rest, {
        ...connection,
        ...json,
        ...paging,
        status: { type: 'string', multiple: true },
      });
      const status = oneOf(values.status, restorationStatuses, '--status');
      const page = pagingOf(values);
      return withClient(values, io, options, async (client) => {
        const result = await client.listRestorations({ ...page, ...(status && { status }) });
        if (values.json) {
          io.out(JSON.stringify(result));
          return 0;
        }
        if (result.restorations.length === 0) io.out('No restorations.');
        for (const r of result.restorations) io.out(restorationLine(r));
        io.out(pageLine(result.pagingMetadata, 'restorations'));
        return 0;
      });
    }
    case 'get': {
      const { values, id } = parseWithId(rest, { ...connection, ...json }, 'restoration get ID');
      return withClient(values, io, options, async (client) => {
        printRestoration(io, await client.getRestoration(await restorationIdOf(client, id)), values.json);
        return 0;
      });
    }
    case 'undo': {
      const { values, id } = parseWithId(
        rest,
        { ...connection, ...json, ...yes, ...wait },
        'restoration undo ID',
      );
      return withClient(values, io, options, async (client) => {
        const restoration = await client.getRestoration(await restorationIdOf(client, id));
        if (restoration.status !== 'COMPLETED' || restoration.safetyBackupId === null) {
          io.err(
            `error: restoration ${restoration.id} is ${restoration.status}${restoration.safetyBackupId === null ? ' and has no safety backup' : ''}: only a COMPLETED restoration with a safety backup can be undone`,
          );
          return 1;
        }
        const safety = await client.getBackup(restoration.safetyBackupId);
        // A safety backup always puts its definitions back whole, whatever the mode asked.
        return restore(
          client,
          io,
          options,
          values,
          safety,
          undefined,
          {},
          `Undo restoration ${restoration.id}: `,
        );
      });
    }
    case undefined:
    default:
      throw new UsageError(
        action ? `unknown restoration command "${action}"\n${restorationUsage}` : restorationUsage,
      );
  }
}

/**
 * Starts a restoration of `backup` (whole, or `partial`) once the person confirmed it, then prints it or
 * waits for it with a bar.
 */
async function restore(
  client: SafekeepClient,
  io: CliIo,
  options: ClientCommandOptions,
  values: { json: boolean; yes: boolean; wait: boolean },
  backup: Backup,
  partial: RestorationCollectionInput[] | undefined,
  restoreOptions: { definitionMode?: 'MERGE' | 'BACKUP' } = {},
  lead = '',
): Promise<number> {
  const destinations = partial
    ? partial.map((c) => c.restoreDestination?.dataCollectionId ?? c.dataCollectionId)
    : backup.collections.map((c) => c.id);
  const items = partial?.[0]?.restoreMode;
  const what =
    items === 'ONLY_MISSING'
      ? `the items of ${destinations.join(', ')} that live data lacks${partial?.[0]?.itemIds ? ` (of ${partial[0].itemIds.length} listed)` : ''}? Nothing else changes; `
      : items === 'RESTORE_ITEMS'
        ? `${partial?.[0]?.itemIds?.length ?? 0} items of ${destinations.join(', ')}? Those items are replaced by the backup's (removed where the backup lacks them); `
        : `into ${destinations.join(', ') || '(no collections)'}? Their live items are replaced by the backup's; `;
  const question =
    `${lead}Restore backup ${backup.id} (${backup.trigger}, ${backup.snapshotDate ?? backup.requestedDate}) ` +
    `${what}a safety backup keeps the current ones.`;
  if (!(await confirmed(values.yes, confirmOf(options), question))) return declined(io);
  const restoration = partial
    ? await client.restorePartialBackup(backup.id, partial, restoreOptions)
    : await client.restoreBackup(backup.id, restoreOptions);
  if (!values.wait) {
    printRestoration(io, restoration, values.json);
    if (!values.json) io.out(`Follow it with: safekeep restoration get ${restoration.id}`);
    return 0;
  }
  const final = await waitWithBar(
    options,
    values.json,
    `restoration ${short(restoration.id)}`,
    (onProgress, signal) =>
      client.waitForRestoration(restoration.id, { onProgress, signal, intervalMs: WAIT_INTERVAL_MS }),
  );
  printRestoration(io, final, values.json);
  return final.status === 'COMPLETED'
    ? 0
    : jobFailed(io, `restoration ${final.id}`, final.status, final.error);
}

function confirmOf(options: ClientCommandOptions): Confirm {
  return 'confirm' in options ? options.confirm : terminalConfirm();
}

function declined(io: CliIo): number {
  io.err('Nothing done.');
  return 1;
}

/** The full id of a backup given whole or by its first characters (any status). */
function backupIdOf(client: SafekeepClient, typed: string): Promise<string> {
  return resolveShortId(typed, 'backup', async (offset, limit) => {
    const page = await client.listBackups({ offset, limit });
    return { ids: page.backups.map((b) => b.id), total: page.pagingMetadata.total };
  });
}

/** The full id of a restoration given whole or by its first characters. */
function restorationIdOf(client: SafekeepClient, typed: string): Promise<string> {
  return resolveShortId(typed, 'restoration', async (offset, limit) => {
    const page = await client.listRestorations({ offset, limit });
    return { ids: page.restorations.map((r) => r.id), total: page.pagingMetadata.total };
  });
}

// ---- arguments -------------------------------------------------------------------------------------

function parse<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O) {
  return parseArgs({ args, options, strict: true, allowPositionals: false });
}

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

/** `a,b` → `['a', 'b']`; an empty list is a usage mistake. */
function list(raw: string, flag: string): string[] {
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0)
    throw new UsageError(`${flag} needs at least one collection id, e.g. ${flag} Books,Authors`);
  return items;
}

function oneOf<T extends string>(
  raw: string[] | undefined,
  allowed: readonly T[],
  flag: string,
): T[] | undefined {
  if (raw === undefined) return undefined;
  const values = raw.flatMap((r) => list(r, flag)).map((v) => v.toUpperCase());
  for (const v of values) {
    if (!(allowed as readonly string[]).includes(v))
      throw new UsageError(`${flag} must be one of ${allowed.join(', ')}, not "${v}"`);
  }
  return values as T[];
}

function pagingOf(values: { limit?: string | undefined; offset?: string | undefined }): {
  limit?: number;
  offset?: number;
} {
  const count = (raw: string | undefined, flag: string, max: number): number | undefined => {
    if (raw === undefined) return undefined;
    if (!/^\d+$/.test(raw) || Number(raw) > max)
      throw new UsageError(`${flag} must be a whole number from 0 to ${max}, not "${raw}"`);
    return Number(raw);
  };
  const limit = count(values.limit, '--limit', 1000);
  const offset = count(values.offset, '--offset', Number.MAX_SAFE_INTEGER);
  return { ...(limit !== undefined && { limit }), ...(offset !== undefined && { offset }) };
}

/** `--definitions merge|backup` as a restore option (the server's default, MERGE, when absent). */
function definitionModeOf(raw: string | undefined): { definitionMode?: 'MERGE' | 'BACKUP' } {
  if (raw === undefined) return {};
  const mode = raw.toUpperCase();
  if (mode !== 'MERGE' && mode !== 'BACKUP')
    throw new UsageError(`--definitions takes merge or backup, not "${raw}"`);
  return { definitionMode: mode };
}

/**
 * An item restore (`--collection C --items a,b` or `--only-missing`): one collection, RESTORE_ITEMS of the
 * ids listed or ONLY_MISSING. Undefined when neither `--items` nor `--only-missing` is given.
 */
function itemRestoreOf(values: {
  collection?: string;
  items?: string;
  'only-missing': boolean;
  collections?: string;
  to?: string;
  definitions?: string;
}): RestorationCollectionInput[] | undefined {
  const onlyMissing = values['only-missing'];
  if (values.items === undefined && !onlyMissing) {
    if (values.collection !== undefined)
      throw new UsageError(
        '--collection goes with --items or --only-missing (for whole collections: --collections)',
      );
    return undefined;
  }
  if (values.collection === undefined)
    throw new UsageError(
      '--items and --only-missing need --collection C (the collection to restore items of)',
    );
  if (values.collections !== undefined || values.to !== undefined || values.definitions !== undefined)
    throw new UsageError(
      'an item restore (--items, --only-missing) takes no --collections, --to or --definitions',
    );
  const itemIds = values.items === undefined ? undefined : list(values.items, '--items');
  if (itemIds && itemIds.length > 1000) throw new UsageError('--items takes at most 1000 ids');
  return [
    {
      dataCollectionId: values.collection,
      restoreMode: onlyMissing ? 'ONLY_MISSING' : 'RESTORE_ITEMS',
      ...(itemIds && { itemIds }),
    },
  ];
}

/**
 * The collections of a partial restore: those of `--collections`, plus the sources of `--to src:dest`
 * pairs, each into itself unless `--to` names its destination. Undefined (a full restore) without either.
 */
function restorationCollectionsOf(
  collections: string | undefined,
  to: string | undefined,
): RestorationCollectionInput[] | undefined {
  if (collections === undefined && to === undefined) return undefined;
  const destinations = new Map<string, { dataCollectionId: string; displayName?: string }>();
  for (const pair of to === undefined ? [] : list(to, '--to')) {
    // source:destination, optionally :Display name (which may itself hold colons).
    const match = /^([^:]+):([^:]+)(?::(.+))?$/.exec(pair);
    if (!match?.[1] || !match[2])
      throw new UsageError(
        `--to takes source:destination[:Display name] pairs, e.g. --to "Books:BooksCopy:Books (copy)", not "${pair}"`,
      );
    if (destinations.has(match[1])) throw new UsageError(`--to names ${match[1]} twice`);
    const displayName = match[3]?.trim();
    destinations.set(match[1], { dataCollectionId: match[2], ...(displayName && { displayName }) });
  }
  const sources = [
    ...new Set([
      ...(collections === undefined ? [] : list(collections, '--collections')),
      ...destinations.keys(),
    ]),
  ];
  return sources.map((id) => {
    const destination = destinations.get(id);
    return destination === undefined
      ? { dataCollectionId: id }
      : { dataCollectionId: id, restoreDestination: destination };
  });
}

// ---- running -------------------------------------------------------------------------------------

/** Runs the command with the site's client; Ctrl-C during a wait exits 130 saying the job goes on. */
async function withClient(
  flags: SiteClientFlags,
  io: CliIo,
  options: ClientCommandOptions,
  run: (client: SafekeepClient) => Promise<number>,
): Promise<number> {
  try {
    return await withSiteClient(flags, io, options.env, run);
  } catch (error) {
    if (error instanceof WaitInterrupted) {
      io.err(error.message);
      return 130;
    }
    throw error;
  }
}

/**
 * Runs a wait with a progress bar when stdout is a terminal (and the output is not JSON), silently
 * otherwise. Ctrl-C stops waiting, not the job: it says how to follow the job and exits 130.
 */
async function waitWithBar<T>(
  options: ClientCommandOptions,
  asJson: boolean,
  label: string,
  wait: (onProgress: (progress: Progress) => void, signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const terminal = options.terminal ?? process.stdout;
  const bar = terminal.isTTY && !asJson ? new ProgressBar(terminal, label) : undefined;
  const interrupted = new AbortController();
  const onSigint = () => interrupted.abort(new WaitInterrupted(label));
  process.once('SIGINT', onSigint);
  try {
    return await wait((progress) => bar?.update(progress), interrupted.signal);
  } finally {
    process.removeListener('SIGINT', onSigint);
    bar?.stop();
  }
}

/** Runs a transfer with a bar of bytes when stdout is a terminal. */
async function withBytesBar<T>(
  options: ClientCommandOptions,
  label: string,
  total: number,
  run: (onBytes: (done: number) => void) => Promise<T>,
): Promise<T> {
  const terminal = options.terminal ?? process.stdout;
  const bar = terminal.isTTY ? new ProgressBar(terminal, `${label} (bytes)`) : undefined;
  try {
    return await run((done) => bar?.update({ itemsDone: done, itemsTotal: Math.max(total, done) }));
  } finally {
    bar?.stop();
  }
}

/** Writes a downloaded body to a file (replaced only once complete); returns its length. */
async function writeStream(
  body: ReadableStream<Uint8Array>,
  file: string,
  onBytes: (done: number) => void,
): Promise<number> {
  const partial = `${file}.partial`;
  let done = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      done += chunk.length;
      onBytes(done);
      callback(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(body), counted, createWriteStream(partial));
    await rename(partial, file);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  return done;
}

/** A file as a web stream, counting the bytes read. */
function readStream(file: string, onBytes: (done: number) => void): ReadableStream<Uint8Array> {
  let done = 0;
  const source = createReadStream(file);
  source.on('data', (chunk) => {
    done += chunk.length;
    onBytes(done);
  });
  return Readable.toWeb(source);
}

/** Ctrl-C during `--wait`: the job goes on in the server. */
class WaitInterrupted extends Error {
  override readonly name = 'WaitInterrupted';

  constructor(label: string) {
    super(`interrupted: stopped waiting; the ${label} goes on in the server`);
  }
}

function jobFailed(
  io: CliIo,
  what: string,
  status: string,
  error: { code: string; message: string } | null,
): number {
  io.err(`error: ${what} ended ${status}${error ? `: ${error.message} (${error.code})` : ''}`);
  return 1;
}

// ---- output --------------------------------------------------------------------------------------

function short(id: string): string {
  return id.slice(0, 8);
}

function printVerification(io: CliIo, v: Verification, asJson: boolean): void {
  if (asJson) {
    io.out(JSON.stringify(v));
    return;
  }
  io.out(`Verification ${v.id}`);
  printRows(io, [
    ['backup', v.backupId],
    ['status', v.status],
    ['trial restore', v.trialRestore ? 'yes' : 'no'],
    ['requested', v.requestedDate],
    ['finished', v.finishedDate],
    ['progress', v.progress ? `${v.progress.itemsDone}/${v.progress.itemsTotal} chunks` : null],
    ['read', v.status === 'PENDING' ? null : `${v.chunksRead} chunks, ${formatBytes(Number(v.bytesRead))}`],
    ['error', v.error ? `${v.error.message} (${v.error.code})` : null],
  ]);
}

function verifiedText(backup: Backup): string | null {
  const last = backup.lastVerification;
  if (!last || !backup.lastVerifiedDate) return null;
  const found = last.error ? `: ${last.error.message} (${last.error.code})` : '';
  return `${last.result} at ${backup.lastVerifiedDate}${found}`;
}

function printBackup(io: CliIo, backup: Backup, asJson: boolean): void {
  if (asJson) {
    io.out(JSON.stringify(backup));
    return;
  }
  io.out(`Backup ${backup.id}`);
  const rows: [string, string | null][] = [
    ['status', backup.status],
    ['type', `${backup.type} (trigger ${backup.trigger})`],
    ['requested', backup.requestedDate],
    ['started', backup.startedDate],
    ['snapshot', backup.snapshotDate],
    ['finished', backup.finishedDate],
    ['deleted', backup.deletedDate],
    ['items', backup.itemCount],
    ['size', backup.sizeInBytes === null ? null : formatBytes(Number(backup.sizeInBytes))],
    ['progress', backup.progress ? progressText(backup.progress) : null],
    ['error', backup.error ? `${backup.error.message} (${backup.error.code})` : null],
    ['verified', verifiedText(backup)],
    ['collections', backup.collections.map(collectionName).join(', ') || '(none)'],
  ];
  printRows(io, rows);
}

function printRestoration(io: CliIo, restoration: Restoration, asJson: boolean): void {
  if (asJson) {
    io.out(JSON.stringify(restoration));
    return;
  }
  io.out(`Restoration ${restoration.id}`);
  const rows: [string, string | null][] = [
    ['status', restoration.status],
    [
      'backup',
      `${restoration.backup.id} (${restoration.backup.status}, requested ${restoration.backup.requestedDate})`,
    ],
    ['requested', restoration.requestedDate],
    ['started', restoration.startedDate],
    ['finished', restoration.finishedDate],
    ['progress', restoration.progress ? progressText(restoration.progress) : null],
    ['error', restoration.error ? `${restoration.error.message} (${restoration.error.code})` : null],
    [
      'safety backup',
      restoration.safetyBackupId && `${restoration.safetyBackupId} (restore it to undo this restoration)`,
    ],
  ];
  printRows(io, rows);
  io.out('  collections:');
  for (const c of restoration.restorationCollections) {
    const to = c.restoreDestination;
    const items = c.restoreMode ? ` [${c.restoreMode}${c.itemIds ? `: ${c.itemIds.length} items` : ''}]` : '';
    io.out(
      `    ${c.dataCollectionId} -> ${to.dataCollectionId}${to.displayName && to.displayName !== to.dataCollectionId ? ` ("${to.displayName}")` : ''}${items}`,
    );
  }
}

function printRows(io: CliIo, rows: [string, string | null][]): void {
  const width = Math.max(...rows.map(([name]) => name.length));
  for (const [name, value] of rows) if (value !== null) io.out(`  ${name.padEnd(width)}  ${value}`);
}

function backupLine(b: Backup): string {
  const figures =
    b.status === 'READY'
      ? `${b.itemCount ?? '?'} items, ${b.sizeInBytes === null ? '?' : formatBytes(Number(b.sizeInBytes))}`
      : b.progress
        ? progressText(b.progress)
        : (b.error?.code ?? '');
  return `${b.id}  ${b.status.padEnd(8)}  ${b.trigger.padEnd(11)}  ${b.requestedDate}  ${figures}`;
}

function restorationLine(r: Restoration): string {
  const collections = r.restorationCollections
    .map((c) =>
      c.dataCollectionId === c.restoreDestination.dataCollectionId
        ? c.dataCollectionId
        : `${c.dataCollectionId}->${c.restoreDestination.dataCollectionId}`,
    )
    .join(',');
  const tail = r.error ? `  ${r.error.code}` : r.progress ? `  ${progressText(r.progress)}` : '';
  return `${r.id}  ${r.status.padEnd(9)}  ${r.requestedDate}  backup ${r.backup.id}  ${collections}${tail}`;
}

function pageLine(meta: { count: number; offset: number; total: number }, what: string): string {
  if (meta.count === meta.total) return `${meta.total} ${meta.total === 1 ? what.replace(/s$/, '') : what}`;
  if (meta.count === 0) return `no ${what} from offset ${meta.offset} (${meta.total} in all)`;
  return `${what} ${meta.offset + 1}–${meta.offset + meta.count} of ${meta.total} (more with --offset ${meta.offset + meta.count})`;
}

function collectionName(c: { id: string; displayName: string }): string {
  return c.displayName && c.displayName !== c.id ? `${c.id} ("${c.displayName}")` : c.id;
}

function progressText(p: Progress): string {
  const percent = p.itemsTotal > 0 ? ` (${Math.floor((p.itemsDone / p.itemsTotal) * 100)}%)` : '';
  return `${p.itemsDone}/${p.itemsTotal} items${percent}`;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
