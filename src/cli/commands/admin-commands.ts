import { parseArgs } from 'node:util';
import { openSafekeep } from '../../app/composition-root.js';
import type { Config } from '../../config.js';
import { siteScopes } from '../../contracts/scopes.js';
import type { CliIo } from '../cli-io.js';
import { UsageError } from '../cli-io.js';

async function withSafekeep<T>(
  config: Config,
  work: (s: Awaited<ReturnType<typeof openSafekeep>>) => Promise<T>,
): Promise<T> {
  const safekeep = await openSafekeep(config);
  try {
    return await work(safekeep);
  } finally {
    await safekeep.close();
  }
}

/** `safekeep site create --name NAME [--json]` and `safekeep site list [--json]`. */
export async function siteCommand(config: Config, args: string[], io: CliIo): Promise<void> {
  const [action, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    options: { name: { type: 'string' }, json: { type: 'boolean', default: false } },
    strict: true,
  });
  if (action === 'create') {
    if (!values.name) throw new UsageError('site create needs --name NAME');
    const name = values.name;
    const { site, key } = await withSafekeep(config, async ({ services }) => {
      const site = await services.admin.createSite(name);
      const key = await services.admin.createApiKey({
        name: `${name} (all site scopes)`,
        siteIds: [site.id],
        scopes: [...siteScopes],
      });
      return { site, key };
    });
    if (values.json) io.out(JSON.stringify({ siteId: site.id, apiKey: key.secret }));
    else {
      io.out(`Created site ${site.id} (${site.name}).`);
      io.out(`API key with every site scope (shown only this once):`);
      io.out(`  ${key.secret}`);
    }
    return;
  }
  if (action === 'list') {
    const sites = await withSafekeep(config, ({ services }) => services.admin.listSites());
    if (values.json)
      io.out(
        JSON.stringify(
          sites.map((s) => ({ id: s.id, name: s.name, createdDate: new Date(s.createdAt).toISOString() })),
        ),
      );
    else if (sites.length === 0) io.out('No sites yet. Create one with: safekeep site create --name NAME');
    else
      for (const s of sites) io.out(`${s.id}  ${s.name}  (created ${new Date(s.createdAt).toISOString()})`);
    return;
  }
  throw new UsageError('usage: safekeep site create --name NAME [--json] | safekeep site list [--json]');
}

/** `safekeep key create --site ID --scopes a,b | --admin [--name N] [--json]`, `key revoke ID`, `key list`. */
export async function keyCommand(config: Config, args: string[], io: CliIo): Promise<void> {
  const [action, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      site: { type: 'string', multiple: true },
      scopes: { type: 'string' },
      admin: { type: 'boolean', default: false },
      name: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  if (action === 'create') {
    if (values.admin === Boolean(values.site?.length))
      throw new UsageError('key create needs either --admin or --site ID --scopes a,b');
    const scopes = values.admin
      ? ['admin']
      : (values.scopes ?? '')
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
    if (!values.admin && scopes.length === 0)
      throw new UsageError(`key create --site needs --scopes, from: ${siteScopes.join(',')}`);
    const siteIds = values.site ?? [];
    const { apiKey, secret } = await withSafekeep(config, ({ services }) =>
      services.admin.createApiKey({
        name: values.name ?? (values.admin ? 'admin' : `key for ${siteIds.join(',')}`),
        siteIds,
        scopes,
      }),
    );
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
    return;
  }
  if (action === 'revoke') {
    const id = positionals[0];
    if (!id || positionals.length > 1) throw new UsageError('usage: safekeep key revoke KEY_ID');
    await withSafekeep(config, ({ services }) => services.admin.revokeApiKey(id));
    io.out(values.json ? JSON.stringify({ revoked: id }) : `Revoked API key ${id}.`);
    return;
  }
  if (action === 'list') {
    const keys = await withSafekeep(config, ({ services }) => services.admin.listApiKeys());
    if (values.json) io.out(JSON.stringify(keys));
    else
      for (const k of keys)
        io.out(
          `${k.id}  ${k.name}  [${k.scopes.join(',')}]  sites: ${k.siteIds.join(',') || '(all)'}${k.revokedAt ? '  REVOKED' : ''}`,
        );
    return;
  }
  throw new UsageError(
    'usage: safekeep key create (--admin | --site ID --scopes a,b) [--name N] [--json] | key revoke ID | key list [--json]',
  );
}
