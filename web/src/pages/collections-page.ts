import type { Collection, DataItem, Environment } from '../../../src/sdk/index.js';
import { h, table, type Child } from '../dom.js';
import { count, when } from '../format.js';
import { noSite, pageHeading, type PageContext } from '../page.js';

const ITEMS_PER_PAGE = 20;
const COLLECTIONS_PER_PAGE = 50;

function collectionHref(id: string, environment: Environment = 'LIVE', page = 0): string {
  const query = new URLSearchParams({ id, env: environment, page: String(page) });
  return `#/collection?${query.toString()}`;
}

/** The site's collections with their LIVE and SANDBOX item counts. */
export async function collectionsPage(context: PageContext): Promise<void> {
  const { client, main, params, signal } = context;
  main.append(pageHeading('Collections'));
  if (!context.site) {
    main.append(noSite(context));
    return;
  }
  const offset = Math.max(0, Number(params.get('offset') ?? 0) || 0);
  const page = await client.collections.list({ limit: COLLECTIONS_PER_PAGE, offset, signal });
  if (page.collections.length === 0) {
    main.append(
      h(
        'p',
        { class: 'empty' },
        'This site has no collections yet. Create them through the API (see the API docs).',
      ),
    );
    return;
  }
  const counted = await Promise.all(
    page.collections.map(async (c: Collection) => {
      const [live, sandbox] = await Promise.all([
        client.items.count(c.id, undefined, { environment: 'LIVE', signal }),
        client.items.count(c.id, undefined, { environment: 'SANDBOX', signal }),
      ]);
      return { collection: c, live, sandbox };
    }),
  );
  const rows = counted.map(({ collection: c, live, sandbox }): Child[] => [
    h('a', { href: collectionHref(c.id) }, c.id),
    c.displayName,
    h(
      'a',
      { href: collectionHref(c.id, 'LIVE'), 'aria-label': `${live} live items in ${c.id}` },
      count(live),
    ),
    h(
      'a',
      { href: collectionHref(c.id, 'SANDBOX'), 'aria-label': `${sandbox} sandbox items in ${c.id}` },
      count(sandbox),
    ),
    String(c.fields.length),
    when(c.updatedDate),
  ]);
  const { total } = page.pagingMetadata;
  main.append(
    table('Collections', ['Collection', 'Name', 'Live items', 'Sandbox items', 'Fields', 'Updated'], rows),
    h(
      'nav',
      { class: 'pager', 'aria-label': 'Pages of collections' },
      offset > 0 &&
        h(
          'a',
          { href: `#/collections?offset=${Math.max(0, offset - COLLECTIONS_PER_PAGE)}`, class: 'button' },
          'Previous',
        ),
      h('span', null, `Collections ${offset + 1}–${offset + page.collections.length} of ${total}`),
      offset + page.collections.length < total &&
        h('a', { href: `#/collections?offset=${offset + COLLECTIONS_PER_PAGE}`, class: 'button' }, 'Next'),
    ),
  );
}

/** One collection's items, a page at a time, in either environment. */
export async function collectionPage(context: PageContext): Promise<void> {
  const { client, main, params, signal } = context;
  const id = params.get('id') ?? '';
  const environment: Environment = params.get('env') === 'SANDBOX' ? 'SANDBOX' : 'LIVE';
  const pageNumber = Math.max(0, Math.floor(Number(params.get('page') ?? 0)) || 0);
  main.append(pageHeading(`Items of ${id}`));
  if (!context.site) {
    main.append(noSite(context));
    return;
  }
  main.append(h('p', null, h('a', { href: '#/collections' }, '← All collections')));

  const radios = (['LIVE', 'SANDBOX'] as const).map((env) => {
    const input = h('input', {
      type: 'radio',
      name: 'environment',
      value: env,
      checked: env === environment,
    });
    input.addEventListener('change', () => context.navigate(collectionHref(id, env)));
    return h('label', { class: 'check' }, input, env === 'LIVE' ? ' Live' : ' Sandbox');
  });
  main.append(h('fieldset', { class: 'environment' }, h('legend', null, 'Environment'), radios));

  const result = await client.items.query(
    id,
    {
      paging: { limit: ITEMS_PER_PAGE, offset: pageNumber * ITEMS_PER_PAGE },
      sort: [{ fieldName: '_id', order: 'ASC' }],
    },
    { environment, returnTotalCount: true, signal },
  );
  const total = result.pagingMetadata.total ?? result.dataItems.length;
  const first = pageNumber * ITEMS_PER_PAGE;
  if (result.dataItems.length === 0) {
    main.append(
      h(
        'p',
        { class: 'empty' },
        total === 0 ? `No ${environment.toLowerCase()} items.` : 'No items on this page.',
      ),
    );
  } else {
    main.append(
      table(
        `${environment} items of ${id}`,
        ['Id', 'Updated', 'Data'],
        result.dataItems.map((item) => itemRow(item)),
      ),
    );
  }
  main.append(
    h(
      'nav',
      { class: 'pager', 'aria-label': 'Pages of items' },
      pageNumber > 0 &&
        h('a', { href: collectionHref(id, environment, pageNumber - 1), class: 'button' }, 'Previous page'),
      h(
        'span',
        null,
        total === 0 ? '0 items' : `Items ${first + 1}–${first + result.dataItems.length} of ${count(total)}`,
      ),
      first + result.dataItems.length < total &&
        h('a', { href: collectionHref(id, environment, pageNumber + 1), class: 'button' }, 'Next page'),
    ),
  );
}

function itemRow(item: DataItem): Child[] {
  // The summary shows the item's own fields; the whole item, system fields included, is one click away.
  const fields = Object.fromEntries(Object.entries(item.data).filter(([name]) => !name.startsWith('_')));
  const text = JSON.stringify(fields);
  return [
    h('code', null, item.data._id),
    when(item.data._updatedDate?.$date),
    h(
      'details',
      null,
      h('summary', null, text.length > 80 ? `${text.slice(0, 80)}…` : text),
      h('pre', { class: 'json' }, JSON.stringify(item.data, null, 2)),
    ),
  ];
}
