/**
 * `safekeep site …`, `safekeep key …` and `safekeep webhook …`: the admin API from the command line,
 * through the SDK over HTTP like every other client (`--url`, `--key`; defaults SAFEKEEP_URL or
 * http://127.0.0.1:$PORT, and SAFEKEEP_API_KEY).
 *
 * One command is local on purpose: `safekeep key create --admin --local` opens the data directory (or
 * database) itself and writes an admin key there. It is how a deployment gets an admin key when none can
 * be used — before any server has started, or after the printed bootstrap key was lost — which is
 * exactly when there is no key to call the API with.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadClientConfig, type Config } from '../../config.js';
import { clientOf } from '../site-client.js';
import type { SafekeepClient } from '../../sdk/index.js';
import {
  allScopes,
  siteScopes,
  BACKUP_EVENT_TYPES,
  WEBHOOK_EVENT_TYPES,
  type ApiKey,
  type Scope,
  type SiteSettingsPatch,
  type Webhook,
} from '../../sdk/index.js';
import { reportClientError } from '../client-errors.js';
import { confirmed, terminalConfirm, type Confirm } from '../confirm.js';
import { UsageError, type CliIo } from '../cli-io.js';

/** What the commands need besides their arguments; tests and other callers may replace each part. */
export interface AdminCommandOptions {
  /** The environment to read the client configuration from (default: the process's, read in src/config.ts). */
  readonly env?: NodeJS.ProcessEnv;
  /** The server's configuration, for `key create --local` only (read lazily: only that command needs it). */
  readonly serverConfig?: () => Config;
  /** Asks the person before a delete (default: the terminal's prompt; nobody when stdin is not one). */
  readonly confirm?: Confirm;
}

const connection = {
  url: { type: 'string' },
  key: { type: 'string' },
  ca: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const satisfies ParseArgsConfig['options'];

const connectionHelp = `every command takes --url URL and --key KEY (an admin key, or a site.admin key for
its own sites), and --ca FILE to trust for https://; defaults: SAFEKEEP_URL or http://127.0.0.1:$PORT,
SAFEKEEP_API_KEY, SAFEKEEP_CA_FILE`;

export const siteUsage = `usage:
  safekeep site create --name NAME [--json]     a site, plus a key with every site scope
  safekeep site list [--json]
  safekeep site delete SITE_ID [--yes]          its data, backups and stored content go with it
                                                (asks on a terminal; elsewhere needs --yes)
  safekeep site settings SITE_ID [--interval-days N|default] [--retention N|default] [--json]
${connectionHelp}`;

export const keyUsage = `usage:
  safekeep key create --site SITE_ID [--site …] --scopes a,b [--name N] [--json]
  safekeep key create --admin [--name N] [--json]
  safekeep key create --admin --local [--name N] [--json]   writes to the data directory (no server needed)
  safekeep key list [--json]
  safekeep key revoke KEY_ID
scopes: ${allScopes.join(', ')}
${connectionHelp}`;

export const webhookUsage = `usage:
  safekeep webhook create --site SITE_ID --to URL [--events a,b] [--json]
  safekeep webhook list [--site SITE_ID] [--json]
  safekeep webhook delete WEBHOOK_ID
  safekeep webhook public-key
events: ${WEBHOOK_EVENT_TYPES.join(', ')}
  (default: the backup events; item events are written only for sites that subscribe to them)
${connectionHelp}`;

/**
 * `safekeep site create|list|delete|settings`.
 * @returns the exit code: 0 done, 1 the server refused or could not be reached
 * @throws UsageError (exit 2), ConfigError (exit 2)
 */
export async function siteCommand(
  args: string[],
  io: CliIo,
  options: AdminCommandOptions = {},
): Promise<number> {
  const [action, ...rest] = args;
  switch (action) {
    case 'create': {
      const { values } = parse(rest, { ...connection, name: { type: 'string' } });
      if (!values.name?.trim()) throw new UsageError(`site create needs --name NAME\n${siteUsage}`);
      const name = values.name.trim();
      return withClient(values, io, options, async (client) => {
        const site = await client.sites.create(name);
        const { secret } = await client.apiKeys.create({
          name: `${name} (all site scopes)`,
          siteIds: [site.id],
          scopes: [...siteScopes],
        });
        if (values.json) io.out(JSON.stringify({ siteId: site.id, apiKey: secret }));
        else {
          io.out(`Created site ${site.id} (${site.name}).`);
          io.out('API key with every site scope (shown only this once):');
          io.out(`  ${secret}`);
        }
        return 0;
      });
    }
    case 'list': {
      const { values } = parse(rest, connection);
      return withClient(values, io, options, async (client) => {
        const sites = await client.sites.list();
        if (values.json) io.out(JSON.stringify(sites));
        else if (sites.length === 0)
          io.out('No sites yet. Create one with: safekeep site create --name NAME');
        else for (const s of sites) io.out(`${s.id}  ${s.name}  (created ${s.createdDate})`);
        return 0;
      });
    }
    case 'delete': {
      const { values, id } = parseWithId(
        rest,
        { ...connection, yes: { type: 'boolean', default: false } },
        'site delete SITE_ID',
      );
      return withClient(values, io, options, async (client) => {
        const question = `Delete site ${id} with all its collections, items, backups and stored content? This cannot be undone.`;
        const ask = 'confirm' in options ? options.confirm : terminalConfirm();
        if (!(await confirmed(values.yes, ask, question))) {
          io.err('Nothing done.');
          return 1;
        }
        await client.sites.delete(id);
        io.out(values.json ? JSON.stringify({ deleted: id }) : `Deleted site ${id}.`);
        return 0;
      });
    }
    case 'settings': {
      const { values, id } = parseWithId(
        rest,
        { ...connection, 'interval-days': { type: 'string' }, retention: { type: 'string' } },
        'site settings SITE_ID [--interval-days N|default] [--retention N|default]',
      );
      const patch: { -readonly [K in keyof SiteSettingsPatch]: SiteSettingsPatch[K] } = {};
      if (values['interval-days'] !== undefined)
        patch.autoBackupIntervalDays = setting(values['interval-days'], '--interval-days');
      if (values.retention !== undefined)
        patch.autoBackupRetention = setting(values.retention, '--retention');
      return withClient(values, io, options, async (client) => {
        const settings =
          Object.keys(patch).length === 0
            ? await client.sites.getSettings(id)
            : await client.sites.updateSettings(id, patch);
        if (values.json) io.out(JSON.stringify(settings));
        else {
          io.out(`Automatic backups of site ${id}:`);
          io.out(
            `  every ${settings.autoBackupIntervalDays} day(s), keeping the newest ${settings.autoBackupRetention}`,
          );
        }
        return 0;
      });
    }
    case 'help':
      io.out(siteUsage);
      return 0;
    case undefined:
    default:
      throw new UsageError(action ? `unknown site command "${action}"\n${siteUsage}` : siteUsage);
  }
}

/**
 * `safekeep key create|list|revoke`.
 * @returns the exit code: 0 done, 1 the server refused or could not be reached
 * @throws UsageError (exit 2), ConfigError (exit 2)
 */
export async function keyCommand(
  args: string[],
  io: CliIo,
  options: AdminCommandOptions = {},
): Promise<number> {
  const [action, ...rest] = args;
  switch (action) {
    case 'create': {
      const { values } = parse(rest, {
        ...connection,
        site: { type: 'string', multiple: true },
        scopes: { type: 'string' },
        admin: { type: 'boolean', default: false },
        local: { type: 'boolean', default: false },
        name: { type: 'string' },
      });
      if (values.admin === Boolean(values.site?.length))
        throw new UsageError(`key create needs either --admin or --site SITE_ID --scopes a,b\n${keyUsage}`);
      if (values.local && !values.admin) throw new UsageError('--local creates admin keys only: add --admin');
      const siteIds = values.site ?? [];
      const scopes = values.admin ? (['admin'] as Scope[]) : scopesOf(values.scopes);
      const name = values.name ?? (values.admin ? 'admin' : `key for ${siteIds.join(',')}`);
      const print = (
        apiKey: { id: string; siteIds: readonly string[]; scopes: readonly string[] },
        secret: string,
      ) => {
        if (values.json)
          io.out(
            JSON.stringify({ id: apiKey.id, apiKey: secret, siteIds: apiKey.siteIds, scopes: apiKey.scopes }),
          );
        else {
          io.out(
            `Created API key ${apiKey.id} with scopes ${apiKey.scopes.join(', ')}. The key (shown only this once):`,
          );
          io.out(`  ${secret}`);
        }
      };
      if (values.local) {
        if (values.url !== undefined || values.key !== undefined)
          throw new UsageError('--local writes to the data directory: it takes no --url or --key');
        if (!options.serverConfig) throw new UsageError('--local needs the server configuration');
        const { apiKey, secret } = await createAdminKeyLocally(options.serverConfig(), name);
        print(apiKey, secret);
        return 0;
      }
      return withClient(values, io, options, async (client) => {
        const { apiKey, secret } = await client.apiKeys.create({ name, siteIds, scopes });
        print(apiKey, secret);
        return 0;
      });
    }
    case 'list': {
      const { values } = parse(rest, connection);
      return withClient(values, io, options, async (client) => {
        const keys = await client.apiKeys.list();
        if (values.json) io.out(JSON.stringify(keys));
        else if (keys.length === 0) io.out('No keys visible to this key.');
        else for (const k of keys) io.out(keyLine(k));
        return 0;
      });
    }
    case 'revoke': {
      const { values, id } = parseWithId(rest, connection, 'key revoke KEY_ID');
      return withClient(values, io, options, async (client) => {
        await client.apiKeys.revoke(id);
        io.out(values.json ? JSON.stringify({ revoked: id }) : `Revoked API key ${id}.`);
        return 0;
      });
    }
    case 'help':
      io.out(keyUsage);
      return 0;
    case undefined:
    default:
      throw new UsageError(action ? `unknown key command "${action}"\n${keyUsage}` : keyUsage);
  }
}

/**
 * `safekeep webhook create|list|delete|public-key`.
 * @returns the exit code: 0 done, 1 the server refused or could not be reached
 * @throws UsageError (exit 2), ConfigError (exit 2)
 */
export async function webhookCommand(
  args: string[],
  io: CliIo,
  options: AdminCommandOptions = {},
): Promise<number> {
  const [action, ...rest] = args;
  switch (action) {
    case 'create': {
      const { values } = parse(rest, {
        ...connection,
        site: { type: 'string' },
        to: { type: 'string' },
        events: { type: 'string' },
      });
      const siteId = values.site;
      const target = values.to;
      if (!siteId || !target)
        throw new UsageError(`webhook create needs --site SITE_ID and --to URL\n${webhookUsage}`);
      const eventTypes =
        values.events === undefined ? [...BACKUP_EVENT_TYPES] : listOf(values.events, '--events');
      return withClient(values, io, options, async (client) => {
        const webhook = await client.webhooks.create({ siteId, url: target, eventTypes });
        io.out(values.json ? JSON.stringify(webhook) : `Created webhook ${webhook.id}: ${webhook.url}`);
        return 0;
      });
    }
    case 'list': {
      const { values } = parse(rest, { ...connection, site: { type: 'string' } });
      return withClient(values, io, options, async (client) => {
        const hooks = await client.webhooks.list(values.site);
        if (values.json) io.out(JSON.stringify(hooks));
        else if (hooks.length === 0) io.out('No webhook subscriptions.');
        else for (const w of hooks) io.out(webhookLine(w));
        return 0;
      });
    }
    case 'delete': {
      const { values, id } = parseWithId(rest, connection, 'webhook delete WEBHOOK_ID');
      return withClient(values, io, options, async (client) => {
        await client.webhooks.delete(id);
        io.out(values.json ? JSON.stringify({ deleted: id }) : `Deleted webhook ${id}.`);
        return 0;
      });
    }
    case 'public-key': {
      const { values } = parse(rest, connection);
      return withClient(values, io, options, async (client) => {
        const publicKey = await client.webhooks.publicKey();
        io.out(values.json ? JSON.stringify({ publicKey }) : publicKey.trimEnd());
        return 0;
      });
    }
    case 'help':
      io.out(webhookUsage);
      return 0;
    case undefined:
    default:
      throw new UsageError(action ? `unknown webhook command "${action}"\n${webhookUsage}` : webhookUsage);
  }
}

/** Creates an admin key directly in the deployment's storage (see the module comment for why). */
async function createAdminKeyLocally(
  config: Config,
  name: string,
): Promise<{
  apiKey: { id: string; siteIds: readonly string[]; scopes: readonly string[] };
  secret: string;
}> {
  // Loaded here only: every other command is a client and never opens storage.
  const { openSafekeep } = await import('../../app/composition-root.js');
  const safekeep = await openSafekeep(config);
  try {
    return await safekeep.services.admin.createApiKey({ name, siteIds: [], scopes: ['admin'] });
  } finally {
    await safekeep.close();
  }
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

function listOf(raw: string, flag: string): string[] {
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) throw new UsageError(`${flag} needs at least one value`);
  return items;
}

/** `a,b` → scopes, each checked here so that a typo is a usage mistake, named with the choices. */
function scopesOf(raw: string | undefined): Scope[] {
  if (raw === undefined)
    throw new UsageError(`key create --site needs --scopes, from: ${siteScopes.join(',')}`);
  return listOf(raw, '--scopes').map((scope) => {
    if (!(allScopes as readonly string[]).includes(scope))
      throw new UsageError(`"${scope}" is not a scope; use one of ${allScopes.join(', ')}`);
    return scope as Scope;
  });
}

/** A setting's value: a whole number, or `default` (back to the deployment default). */
function setting(raw: string, flag: string): number | null {
  if (raw === 'default') return null;
  if (!/^\d+$/.test(raw)) throw new UsageError(`${flag} takes a whole number or "default", not "${raw}"`);
  return Number(raw);
}

// ---- running -------------------------------------------------------------------------------------

/** Builds the client from flags and environment, runs the command, and turns API errors into exit code 1. */
async function withClient(
  flags: { url?: string | undefined; key?: string | undefined; ca?: string | undefined },
  io: CliIo,
  options: AdminCommandOptions,
  run: (client: SafekeepClient) => Promise<number>,
): Promise<number> {
  const config = loadClientConfig(options.env, { url: flags.url, apiKey: flags.key, ca: flags.ca });
  const client = clientOf(config, undefined);
  try {
    return await run(client);
  } catch (error) {
    const code = reportClientError(error, io);
    if (code !== undefined) return code;
    throw error;
  }
}

// ---- output --------------------------------------------------------------------------------------

function keyLine(k: ApiKey): string {
  return `${k.id}  ${k.name}  [${k.scopes.join(',')}]  sites: ${k.siteIds.join(',') || '(all)'}${k.revokedDate ? '  REVOKED' : ''}`;
}

function webhookLine(w: Webhook): string {
  const line = `${w.id}  site ${w.siteId}  ${w.url}  [${w.eventTypes.join(',')}]`;
  return w.status === 'BLOCKED' ? `${line}  BLOCKED: ${w.blockedReason ?? ''}` : line;
}
