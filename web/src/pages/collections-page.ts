import type { Collection, DataItem, DeletedCollection, Environment } from '../../../src/sdk/index.js';
import { h, replace, table, type Child } from '../dom.js';
import { count, when } from '../format.js';
import { announce, runAction } from '../notices.js';
import { noSite, pageHeading, type PageContext } from '../page.js';

const ITEMS_PER_PAGE = 20;
const COLLECTIONS_PER_PAGE = 50;

function collectionHref(id: string, environment: Environment = 'LIVE', page = 0): string {
  const query = new URLSearchParams({ id, env: environment, page: String(page) });
  return `#/collection?${query.toString()}`;
}

/**
 * The site's collections with their LIVE and SANDBOX item counts, and below them the deleted collections
 * that can still be restored (the collection bin), each with a "Restore" button for keys that may.
 */
export async function collectionsPage(context: PageContext): Promise<void> {
  const { client, main, params, signal } = context;
  main.append(pageHeading('Collections'));
  if (!context.site) {
    main.append(noSite(context));
    return;
  }
  const offset = Math.max(0, Number(params.get('offset') ?? 0) || 0);
  const list = h('div');
  const errors = h('div', { class: 'errors' });
  const bin = h('section', { 'aria-labelledby': 'deleted-collections' });
  main.append(list, errors, bin);

  const reload = async (): Promise<void> => {
    const [page, deleted] = await Promise.all([
      client.collections.list({ limit: COLLECTIONS_PER_PAGE, offset, signal }),
      client.collections.listDeleted({ signal }),
    ]);
    replace(list, await collectionsTable(context, page.collections, offset, page.pagingMetadata.total));
    replace(bin, deletedTable(context, deleted, errors, reload));
  };
  await reload();
}

async function collectionsTable(
  context: PageContext,
  collections: readonly Collection[],
  offset: number,
  total: number,
): Promise<Child> {
  const { client, signal } = context;
  if (collections.length === 0) {
    return h(
      'p',
      { class: 'empty' },
      'This site has no collections yet. Create them through the API (see the API docs).',
    );
  }
  const counted = await Promise.all(
    collections.map(async (c: Collection) => {
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
    // Declared fields: the system fields every collection has are not counted.
    String(c.fields.filter((f) => f.systemField !== true).length),
    when(c.updatedDate),
  ]);
  return [
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
      h('span', null, `Collections ${offset + 1}–${offset + collections.length} of ${total}`),
      offset + collections.length < total &&
        h('a', { href: `#/collections?offset=${offset + COLLECTIONS_PER_PAGE}`, class: 'button' }, 'Next'),
    ),
  ];
}

/** The collection bin: deleted collections, when they were deleted, until when they can come back. */
function deletedTable(
  context: PageContext,
  deleted: readonly DeletedCollection[],
  errors: Element,
  reload: () => Promise<void>,
): Child {
  if (deleted.length === 0) return null;
  const mayRestore = context.can('collections.manage');
  const rows = deleted.map((d): Child[] => [
    h('code', null, d.collection.id),
    d.collection.displayName,
    when(d.deletedDate),
    when(d.expirationDate),
    mayRestore &&
      h(
        'button',
        {
          type: 'button',
          'aria-label': `Restore collection ${d.collection.id}`,
          onclick: (event) =>
            void runAction(event.currentTarget as HTMLButtonElement, errors, async () => {
              await context.client.collections.restoreDeleted(d.collection.id);
              announce(`Collection ${d.collection.id} restored with its items and references.`);
              await reload();
            }),
        },
        'Restore',
      ),
  ]);
  return [
    h('h2', { id: 'deleted-collections' }, 'Deleted collections'),
    h(
      'p',
      null,
      'A deleted collection keeps its items (live and sandbox) and references until its retention window ' +
        'ends; restoring brings it back whole.',
    ),
    table(
      'Deleted collections',
      ['Collection', 'Name', 'Deleted', 'Restorable until', ...(mayRestore ? ['Actions'] : [])],
      rows.map((row) => (mayRestore ? row : row.slice(0, 4))),
    ),
  ];
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
