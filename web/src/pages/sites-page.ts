import {
  siteScopes,
  BACKUP_EVENT_TYPES,
  WEBHOOK_EVENT_TYPES,
  type ApiKey,
  type Scope,
  type Site,
  type SiteQuotas,
  type SiteUsage,
  type Webhook,
} from '../../../src/sdk/index.js';
import { confirmDialog, field, h, replace, table, type Child } from '../dom.js';
import { bytes, count, shortId, when } from '../format.js';
import { announce, errorBox, runAction } from '../notices.js';
import { pageHeading, type PageContext } from '../page.js';

function siteHref(site: Site): string {
  return `#/site?id=${encodeURIComponent(site.id)}`;
}

/**
 * Site pages manage keys, settings and webhooks, which only `site.admin` (or `admin`) may: a key without
 * it (reaching them by address; the menu leaves them out) is told so instead. Returns whether it may.
 */
function siteAdminOrTold(context: PageContext): boolean {
  if (context.can('site.admin')) return true;
  context.main.append(
    h(
      'p',
      { class: 'notice', 'data-missing-scopes': 'site.admin' },
      'This key cannot manage sites: that needs the site.admin scope (or an admin key).',
    ),
  );
  return false;
}

/** Sites: an admin key lists, creates and deletes them; a site admin sees its own. */
export async function sitesPage(context: PageContext): Promise<void> {
  const { client, main, signal } = context;
  main.append(pageHeading('Sites'));
  if (!siteAdminOrTold(context)) return;
  const isAdmin = context.can('admin');
  const sites = isAdmin ? await client.sites.list({ signal }) : context.session.sites;
  const errors = h('div', { class: 'slot' });
  main.append(errors);

  if (isAdmin) {
    const name = h('input', {
      type: 'text',
      name: 'name',
      required: true,
      maxlength: 200,
      autocomplete: 'off',
    });
    const create = h('button', { type: 'submit', class: 'primary' }, 'Create site');
    const form = h(
      'form',
      { class: 'card inline-form', 'aria-label': 'Create a site' },
      field('New site name', name),
      h('div', { class: 'actions' }, create),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void runAction(create, errors, async () => {
        const site = await client.sites.create(name.value.trim(), { signal });
        announce(`Created site ${site.name}.`);
        await context.refreshSession();
        context.navigate(siteHref(site));
      });
    });
    main.append(form);
  }

  if (sites.length === 0) {
    main.append(h('p', { class: 'empty' }, 'No sites yet.'));
    return;
  }
  const rows = sites.map((site): Child[] => [
    h('a', { href: siteHref(site) }, site.name),
    shortId(site.id),
    when(site.createdDate),
    h(
      'span',
      { class: 'row-actions' },
      h('a', { href: siteHref(site), class: 'button', 'aria-label': `Manage ${site.name}` }, 'Manage'),
      isAdmin &&
        h(
          'button',
          {
            type: 'button',
            class: 'danger',
            'aria-label': `Delete site ${site.name}`,
            onclick: (event) =>
              void deleteSite(context, site, event.currentTarget as HTMLButtonElement, errors),
          },
          'Delete',
        ),
    ),
  ]);
  main.append(table('Sites', ['Name', 'Id', 'Created', 'Actions'], rows));
}

async function deleteSite(
  context: PageContext,
  site: Site,
  button: HTMLButtonElement,
  errors: HTMLElement,
): Promise<void> {
  const yes = await confirmDialog(
    `Delete ${site.name}?`,
    h(
      'p',
      null,
      'Its collections, items, backups and stored backup content are deleted for good, and its keys stop working for it.',
    ),
    'Delete site',
    true,
  );
  if (!yes) return;
  await runAction(button, errors, async () => {
    await context.client.sites.delete(site.id, { signal: context.signal });
    announce(`Deleted site ${site.name}.`);
    await context.refreshSession();
    context.navigate('#/sites');
  });
}

/** One site: its settings, its API keys and its webhook subscriptions. */
export async function sitePage(context: PageContext): Promise<void> {
  const { client, main, params, signal } = context;
  const id = params.get('id') ?? '';
  if (!siteAdminOrTold(context)) {
    main.prepend(pageHeading('Site'));
    return;
  }
  const site = context.can('admin')
    ? (await client.sites.list({ signal })).find((s) => s.id === id)
    : context.session.sites.find((s) => s.id === id);
  main.append(pageHeading(site ? `Site ${site.name}` : 'Site not found'));
  main.append(h('p', null, h('a', { href: '#/sites' }, '← All sites')));
  if (!site) {
    main.append(errorBox(new Error(`There is no site ${id} that this key may manage.`)));
    return;
  }
  main.append(h('p', null, 'Site id: ', h('code', { class: 'id' }, site.id)));
  const settings = h('section', { 'aria-labelledby': 'settings-title', class: 'card' });
  const keys = h('section', { 'aria-labelledby': 'keys-title', class: 'card' });
  const hooks = h('section', { 'aria-labelledby': 'hooks-title', class: 'card' });
  main.append(settings, keys, hooks);
  await Promise.all([
    settingsSection(context, site, settings),
    keysSection(context, site, keys),
    webhooksSection(context, site, hooks),
  ]);
}

async function settingsSection(context: PageContext, site: Site, section: HTMLElement): Promise<void> {
  const { settings: current, usage } = await context.client.sites.getSettingsAndUsage(site.id, {
    signal: context.signal,
  });
  const interval = h('input', {
    type: 'number',
    name: 'interval',
    min: 1,
    max: 365,
    step: 1,
    value: current.autoBackupIntervalDays,
  });
  const retention = h('input', {
    type: 'number',
    name: 'retention',
    min: 1,
    max: 100,
    step: 1,
    value: current.autoBackupRetention,
  });
  const slot = h('div', { class: 'slot' });
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save settings');
  const form = h(
    'form',
    null,
    field('Days between automatic backups', interval, '1 to 365. Empty: the deployment default.'),
    field(
      'Automatic backups kept',
      retention,
      '1 to 100 of the newest READY scheduled backups. Empty: the deployment default.',
    ),
    slot,
    h('div', { class: 'actions' }, save),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const number = (input: HTMLInputElement) => (input.value.trim() === '' ? null : Number(input.value));
    void runAction(save, slot, async () => {
      const saved = await context.client.sites.updateSettings(
        site.id,
        { autoBackupIntervalDays: number(interval), autoBackupRetention: number(retention) },
        { signal: context.signal },
      );
      interval.value = String(saved.autoBackupIntervalDays);
      retention.value = String(saved.autoBackupRetention);
      announce('Settings saved.');
    });
  });
  replace(
    section,
    h('h2', { id: 'settings-title' }, 'Automatic backups'),
    form,
    h('h3', null, 'Quotas'),
    quotasTable(current, usage),
    h(
      'p',
      { class: 'hint' },
      'Going over a quota answers 429 QUOTA_EXCEEDED. An administrator changes them with PATCH …/settings.',
    ),
  );
}

/** The site's quotas beside what it uses now (read-only: the API changes them). */
function quotasTable(quotas: SiteQuotas, used: SiteUsage): HTMLElement {
  const rows: [string, string, string][] = [
    ['Collections (the bin does not count)', count(used.collections), count(quotas.maxCollections)],
    ['Items (LIVE and SANDBOX)', count(used.items), count(quotas.maxItems)],
    ['Backup storage (with the bin)', bytes(used.backupBytes), bytes(quotas.maxBackupBytes)],
    ['Request body', '—', bytes(quotas.maxRequestBodyBytes)],
  ];
  return table('Quotas', ['Quota', 'Used', 'Limit'], rows);
}

async function keysSection(context: PageContext, site: Site, section: HTMLElement): Promise<void> {
  const { client, signal } = context;
  const slot = h('div', { class: 'slot' });
  const secretSlot = h('div', { class: 'slot' });
  const listSlot = h('div');

  const reload = async () => {
    const all = await client.apiKeys.list({ signal });
    const mine = all.filter((k) => k.siteIds.includes(site.id));
    replace(
      listSlot,
      mine.length === 0
        ? h('p', { class: 'empty' }, 'No keys for this site.')
        : table(
            'API keys of this site',
            ['Name', 'Scopes', 'Created', 'State', 'Actions'],
            mine.map((k) => keyRow(k)),
          ),
    );
  };

  const keyRow = (key: ApiKey): Child[] => [
    [key.name, ' ', shortId(key.id)],
    key.scopes.join(', '),
    when(key.createdDate),
    key.revokedDate ? ['Revoked ', when(key.revokedDate)] : 'Active',
    key.revokedDate
      ? ''
      : h(
          'button',
          {
            type: 'button',
            class: 'danger',
            'aria-label': `Revoke key ${key.name}`,
            onclick: (event) => {
              const button = event.currentTarget as HTMLButtonElement;
              void confirmDialog(
                `Revoke ${key.name}?`,
                h('p', null, 'Every client using it is refused from now on. This cannot be undone.'),
                'Revoke key',
                true,
              ).then((yes) => {
                if (!yes) return;
                void runAction(button, slot, async () => {
                  await client.apiKeys.revoke(key.id, { signal });
                  announce(`Revoked ${key.name}.`);
                  await reload();
                });
              });
            },
          },
          'Revoke',
        ),
  ];

  const name = h('input', {
    type: 'text',
    name: 'keyName',
    required: true,
    maxlength: 200,
    autocomplete: 'off',
  });
  const scopeBoxes = siteScopes.map((scope: Scope) => {
    const input = h('input', {
      type: 'checkbox',
      name: 'scope',
      value: scope,
      checked: scope === 'backups.read' || scope === 'data.read',
    });
    return h('label', { class: 'check' }, input, ` ${scope}`);
  });
  const create = h('button', { type: 'submit', class: 'primary' }, 'Create key');
  const form = h(
    'form',
    { 'aria-label': 'Create an API key for this site' },
    h('h3', null, 'New key'),
    field('Key name', name),
    h('fieldset', { class: 'scopes' }, h('legend', null, 'Scopes'), scopeBoxes),
    slot,
    h('div', { class: 'actions' }, create),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const scopes = [...form.querySelectorAll<HTMLInputElement>('input[name=scope]:checked')].map(
      (b) => b.value as Scope,
    );
    void runAction(create, slot, async () => {
      const { apiKey, secret } = await client.apiKeys.create(
        { name: name.value.trim(), siteIds: [site.id], scopes },
        { signal },
      );
      name.value = '';
      showSecret(secretSlot, apiKey.name, secret);
      await reload();
    });
  });
  replace(section, h('h2', { id: 'keys-title' }, 'API keys'), secretSlot, listSlot, form);
  await reload();
}

/** The new key's secret, once: it cannot be read again, so say so and offer to copy it. */
function showSecret(slot: HTMLElement, name: string, secret: string): void {
  const output = h('input', {
    type: 'text',
    readonly: true,
    value: secret,
    class: 'secret',
    'aria-describedby': 'secret-warning',
  });
  const copy = h('button', { type: 'button' }, 'Copy');
  copy.addEventListener('click', () => {
    output.select();
    void navigator.clipboard?.writeText(secret).then(
      () => announce('Key copied.'),
      () => announce('Select the key and copy it.'),
    );
  });
  const done = h('button', { type: 'button', onclick: () => replace(slot) }, 'I have stored it');
  const title = h('h3', { tabindex: -1 }, `Key “${name}” created`);
  replace(
    slot,
    h(
      'div',
      { class: 'notice success secret-box', role: 'status' },
      title,
      h(
        'p',
        { id: 'secret-warning' },
        'Store this key now: it is shown only this once, and safekeep keeps only its hash.',
      ),
      field('Secret', output),
      h('div', { class: 'actions' }, copy, done),
    ),
  );
  title.focus();
}

async function webhooksSection(context: PageContext, site: Site, section: HTMLElement): Promise<void> {
  const { client, signal } = context;
  const slot = h('div', { class: 'slot' });
  const listSlot = h('div');
  const reload = async () => {
    const hooks = await client.webhooks.list(site.id, { signal });
    replace(
      listSlot,
      hooks.length === 0
        ? h('p', { class: 'empty' }, 'No subscriptions.')
        : table(
            'Webhook subscriptions',
            ['URL', 'Status', 'Events', 'Created', 'Actions'],
            hooks.map((w) => hookRow(w)),
          ),
    );
  };
  const hookRow = (w: Webhook): Child[] => [
    h('code', { class: 'url' }, w.url),
    w.status === 'BLOCKED'
      ? h(
          'div',
          { class: 'status-cell' },
          h('span', { class: 'badge status-blocked' }, 'blocked'),
          h('small', { class: 'blocked-reason' }, w.blockedReason ?? ''),
        )
      : h('span', { class: 'badge status-active' }, 'active'),
    w.eventTypes.map((t) => t.replace('wix.data.v2.backup_', '').replace('safekeep.', '')).join(', '),
    when(w.createdDate),
    h(
      'button',
      {
        type: 'button',
        class: 'danger',
        'aria-label': `Remove subscription ${w.url}`,
        onclick: (event) =>
          void runAction(event.currentTarget as HTMLButtonElement, slot, async () => {
            await client.webhooks.delete(w.id, { signal });
            announce('Subscription removed.');
            await reload();
          }),
      },
      'Remove',
    ),
  ];
  const url = h('input', {
    type: 'url',
    name: 'url',
    required: true,
    placeholder: 'https://example.com/safekeep-events',
  });
  const eventBoxes = WEBHOOK_EVENT_TYPES.map((type) =>
    h(
      'label',
      { class: 'check' },
      // Item events cost every write of the site something, so they are asked for, not assumed.
      h('input', {
        type: 'checkbox',
        name: 'event',
        value: type,
        checked: (BACKUP_EVENT_TYPES as readonly string[]).includes(type),
      }),
      ` ${type.replace(/^(wix\.data\.v2\.(backup_)?|safekeep\.)/, '')}`,
    ),
  );
  const add = h('button', { type: 'submit', class: 'primary' }, 'Subscribe');
  const form = h(
    'form',
    { 'aria-label': 'Subscribe a URL to events' },
    h('h3', null, 'New subscription'),
    field('Receiver URL', url),
    h('fieldset', null, h('legend', null, 'Events'), eventBoxes),
    slot,
    h('div', { class: 'actions' }, add),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const eventTypes = [...form.querySelectorAll<HTMLInputElement>('input[name=event]:checked')].map(
      (b) => b.value,
    );
    void runAction(add, slot, async () => {
      await client.webhooks.create({ siteId: site.id, url: url.value.trim(), eventTypes }, { signal });
      url.value = '';
      announce('Subscribed.');
      await reload();
    });
  });
  const publicKey = h('pre', { class: 'json' }, 'Loading…');
  const details = h(
    'details',
    null,
    h('summary', null, 'Public key that signs deliveries (RS256)'),
    publicKey,
  );
  details.addEventListener('toggle', () => {
    if (details.open && publicKey.textContent === 'Loading…') {
      client.webhooks.publicKey({ signal }).then(
        (pem) => {
          publicKey.textContent = pem;
        },
        (error: unknown) => replace(publicKey, errorBox(error)),
      );
    }
  });
  replace(section, h('h2', { id: 'hooks-title' }, 'Webhook subscriptions'), listSlot, form, details);
  await reload();
}
