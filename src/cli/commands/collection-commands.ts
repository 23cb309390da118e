/**
 * `safekeep collection …`: the collection bin from the command line, through the SDK over HTTP like the
 * backup commands (`--url`, `--key`, `--site`; defaults SAFEKEEP_URL or http://127.0.0.1:$PORT,
 * SAFEKEEP_API_KEY, SAFEKEEP_SITE_ID). A deleted collection stays restorable for the server's retention
 * window (SAFEKEEP_COLLECTION_BIN_DAYS). Restoring changes nothing that exists (a collection with the id
 * refuses it), so it asks for no confirmation.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError, type CliIo } from '../cli-io.js';
import { withSiteClient } from '../site-client.js';

/** What the commands need besides their arguments; tests may replace it. */
export interface CollectionCommandOptions {
  /** The environment to read the client configuration from (default: the process's, read in src/config.ts). */
  readonly env?: NodeJS.ProcessEnv;
}

/** The `safekeep collection` commands' usage text. */
export const collectionUsage = `usage:
  safekeep collection deleted [--json]          deleted collections that can still be restored
  safekeep collection restore ID [--json]       brings the most recently deleted copy back whole
every command also takes --url URL, --key KEY, --site SITE_ID and --ca FILE (trusted for https://)
(defaults: SAFEKEEP_URL or http://127.0.0.1:$PORT, SAFEKEEP_API_KEY, SAFEKEEP_SITE_ID)`;

const options = {
  url: { type: 'string' },
  key: { type: 'string' },
  site: { type: 'string' },
  ca: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const satisfies ParseArgsConfig['options'];

/**
 * `safekeep collection deleted|restore`.
 * @returns the exit code: 0 done, 1 the server refused or could not be reached
 * @throws UsageError (exit 2), ConfigError (exit 2)
 */
export async function collectionCommand(
  args: string[],
  io: CliIo,
  commandOptions: CollectionCommandOptions = {},
): Promise<number> {
  const [action, ...rest] = args;
  switch (action) {
    case 'deleted': {
      const { values, positionals } = parseArgs({
        args: rest,
        options,
        strict: true,
        allowPositionals: true,
      });
      if (positionals.length > 0) throw new UsageError(`usage: safekeep collection deleted [--json]`);
      return withSiteClient(values, io, commandOptions.env, async (client) => {
        const deleted = await client.collections.listDeleted();
        if (values.json) io.out(JSON.stringify(deleted));
        else if (deleted.length === 0) io.out('No deleted collections can be restored.');
        else
          for (const d of deleted)
            io.out(
              `${d.collection.id}  ${d.collection.displayName}  deleted ${d.deletedDate}  restorable until ${d.expirationDate}`,
            );
        return 0;
      });
    }
    case 'restore': {
      const { values, positionals } = parseArgs({
        args: rest,
        options,
        strict: true,
        allowPositionals: true,
      });
      const [id] = positionals;
      if (id === undefined || positionals.length > 1)
        throw new UsageError(`usage: safekeep collection restore ID [--json]`);
      return withSiteClient(values, io, commandOptions.env, async (client) => {
        const collection = await client.collections.restoreDeleted(id);
        if (values.json) io.out(JSON.stringify(collection));
        else
          io.out(
            `Restored collection ${collection.id} (${collection.displayName}) with its items and references.`,
          );
        return 0;
      });
    }
    case 'help':
      io.out(collectionUsage);
      return 0;
    case undefined:
    default:
      throw new UsageError(
        action ? `unknown collection command "${action}"\n${collectionUsage}` : collectionUsage,
      );
  }
}
