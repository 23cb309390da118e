/**
 * The id positions of every route, for the tenancy matrix: for each route (method and documented path),
 * the requests that put another site's id where the route looks something up — in the path, the query,
 * the body or the `wix-site-id` header — and the variants of each (both route families, encodings, case,
 * trailing slash).
 */
import { unsupportedOperations } from '../../src/contracts/unsupported-operations.js';
import { percentEncodeAll } from './fuzz-requests.js';

/** Site B's values: none of them may appear in anything site A's key gets back. */
export interface ForeignSite {
  readonly siteId: string;
  readonly siteName: string;
  readonly collection: string;
  readonly item: string;
  readonly content: string;
  readonly backup: string;
  readonly restoration: string;
  /** A job by filter of site B (asyncRemoveByFilter). */
  readonly asyncJob: string;
  /** A verification of site B. */
  readonly verification: string;
  readonly webhook: string;
  readonly webhookUrl: string;
  readonly keyId: string;
  readonly keyName: string;
}

/** One request with one of B's ids in one position. `{id}` in `path` marks a path position. */
export interface Probe {
  /** `METHOD /documented/path`, as the route table has it. */
  readonly route: string;
  readonly position: string;
  readonly method: string;
  readonly path: string;
  /** The id put at `{id}` (path positions only). */
  readonly id?: string;
  readonly body?: unknown;
  readonly site?: string;
  /**
   * 404; 403 where the route needs a scope site A's key lacks (nothing is looked up then); 200 for the
   * read-only reference queries inside A's own collection, which answer "no references" for any id A's
   * collection does not hold (the twin check shows B's id gets exactly that answer too).
   */
  readonly expect: 404 | 403 | 200;
}

const D = '/wix-data/v2';
const BK = '/wix-data/v2/backups';
const A = '/_api/safekeep/v1';

const q = (params: Record<string, string>) => `?${new URLSearchParams(params).toString()}`;

/**
 * Every id position of every route that looks something up, with B's ids. `own` is a collection of
 * site A, so that item ids of B are also tried inside A's own collection.
 */
export function probesFor(b: ForeignSite, own: string): Probe[] {
  const probes: Probe[] = [];
  const add = (route: string, position: string, rest: Partial<Probe> & { path: string }) =>
    probes.push({ route, position, method: route.split(' ')[0] ?? '', expect: 404, ...rest });
  const coll = b.collection;
  const item = b.item;
  const ref = { referringItemFieldName: 'refs', referringItemId: item, referencedItemId: item };

  add(`POST ${D}/items`, 'body.dataCollectionId', {
    path: `${D}/items`,
    body: { dataCollectionId: coll, dataItem: { data: { x: 1 } } },
  });
  for (const [collection, where] of [
    [coll, 'B collection'],
    [own, 'own collection'],
  ] as const) {
    add(`GET ${D}/items/*`, `path.dataItemId (${where})`, {
      path: `${D}/items/{id}${q({ dataCollectionId: collection })}`,
      id: item,
    });
    add(`PUT ${D}/items/*`, `path.dataItemId (${where})`, {
      path: `${D}/items/{id}`,
      id: item,
      body: { dataCollectionId: collection, dataItem: { data: { x: 1 } } },
    });
    add(`DELETE ${D}/items/*`, `path.dataItemId (${where})`, {
      path: `${D}/items/{id}${q({ dataCollectionId: collection })}`,
      id: item,
    });
    add(`POST ${D}/items/update`, `body.dataItem.id (${where})`, {
      path: `${D}/items/update`,
      body: { dataCollectionId: collection, dataItem: { id: item, data: {} } },
    });
    const modifications = [{ fieldPath: 'x', action: 'SET_FIELD', setFieldOptions: { value: 1 } }];
    add(`PATCH ${D}/items/*`, `path.dataItemId (${where})`, {
      path: `${D}/items/{id}`,
      id: item,
      body: { dataCollectionId: collection, patch: { fieldModifications: modifications } },
    });
    add(`POST ${D}/items/patch`, `body.patch.dataItemId (${where})`, {
      path: `${D}/items/patch`,
      body: { dataCollectionId: collection, patch: { dataItemId: item, fieldModifications: modifications } },
    });
    add(`POST ${D}/items/remove`, `body.dataItemId (${where})`, {
      path: `${D}/items/remove`,
      body: { dataCollectionId: collection, dataItemId: item },
    });
    const empty = collection === own ? { expect: 200 as const } : {};
    add(`POST ${D}/items/is-referenced`, `body.referringItemId (${where})`, {
      ...empty,
      path: `${D}/items/is-referenced`,
      body: { dataCollectionId: collection, ...ref },
    });
    add(`POST ${D}/items/query-referenced`, `body.referringItemId (${where})`, {
      ...empty,
      path: `${D}/items/query-referenced`,
      body: { dataCollectionId: collection, referringItemId: item, referringItemFieldName: 'refs' },
    });
    add(`POST ${D}/items/replace-references`, `body.referringItemId (${where})`, {
      path: `${D}/items/replace-references`,
      body: {
        dataCollectionId: collection,
        referringItemFieldName: 'refs',
        referringItemId: item,
        newReferencedItemIds: [item],
      },
    });
  }
  add(`POST ${D}/items/save`, 'body.dataCollectionId', {
    path: `${D}/items/save`,
    body: { dataCollectionId: coll, dataItem: { id: item, data: {} } },
  });
  add(`POST ${D}/items/truncate`, 'body.dataCollectionId', {
    path: `${D}/items/truncate`,
    body: { dataCollectionId: coll },
  });
  add(`POST ${D}/items/query`, 'body.dataCollectionId', {
    path: `${D}/items/query`,
    body: { dataCollectionId: coll },
  });
  add(`GET ${D}/items/query`, 'query.dataCollectionId', {
    path: `${D}/items/query${q({ dataCollectionId: coll })}`,
  });
  add(`GET ${D}/items/query`, 'query..r.dataCollectionId', {
    path: `${D}/items/query?.r=${Buffer.from(JSON.stringify({ dataCollectionId: coll })).toString('base64url')}`,
  });
  add(`POST ${D}/items/count`, 'body.dataCollectionId', {
    path: `${D}/items/count`,
    body: { dataCollectionId: coll },
  });
  add(`POST ${D}/items/query-distinct-values`, 'body.dataCollectionId', {
    path: `${D}/items/query-distinct-values`,
    body: { dataCollectionId: coll, fieldName: 'title' },
  });
  add(`POST ${D}/items/aggregate`, 'body.dataCollectionId', {
    path: `${D}/items/aggregate`,
    body: { dataCollectionId: coll },
  });
  add(`POST ${D}/items/aggregate-pipeline`, 'body.dataCollectionId', {
    path: `${D}/items/aggregate-pipeline`,
    body: { dataCollectionId: coll, pipeline: { stages: [] } },
  });
  add(`POST ${D}/items/search`, 'body.dataCollectionId', {
    path: `${D}/items/search`,
    body: { dataCollectionId: coll, search: { search: { expression: 'dune' } } },
  });
  for (const action of ['insert', 'update', 'save'] as const) {
    add(`POST ${D}/bulk/items/${action}`, 'body.dataCollectionId', {
      path: `${D}/bulk/items/${action}`,
      body: { dataCollectionId: coll, dataItems: [{ id: item, data: {} }] },
    });
  }
  add(`POST ${D}/bulk/items/patch`, 'body.dataCollectionId', {
    path: `${D}/bulk/items/patch`,
    body: {
      dataCollectionId: coll,
      patches: [{ dataItemId: item, fieldModifications: [{ fieldPath: 'x', action: 'REMOVE_FIELD' }] }],
    },
  });
  add(`POST ${D}/bulk/items/remove`, 'body.dataCollectionId', {
    path: `${D}/bulk/items/remove`,
    body: { dataCollectionId: coll, dataItemIds: [item] },
  });
  add(`POST ${D}/bulk/items/async-remove-by-filter`, 'body.dataCollectionId', {
    path: `${D}/bulk/items/async-remove-by-filter`,
    body: { dataCollectionId: coll, filter: {} },
  });
  add(`POST ${D}/bulk/items/async-patch-by-filter`, 'body.dataCollectionId', {
    path: `${D}/bulk/items/async-patch-by-filter`,
    body: {
      dataCollectionId: coll,
      filter: {},
      fieldModifications: [{ fieldPath: 'x', action: 'REMOVE_FIELD' }],
    },
  });
  add(`GET ${D}/async-jobs/:jobId/status`, 'path.jobId', {
    path: `${D}/async-jobs/{id}/status`,
    id: b.asyncJob,
  });
  for (const action of ['insert-references', 'remove-references'] as const) {
    add(`POST ${D}/bulk/items/${action}`, 'body.dataCollectionId', {
      path: `${D}/bulk/items/${action}`,
      body: { dataCollectionId: coll, dataItemReferences: [ref] },
    });
  }
  add(`GET ${D}/collections/*`, 'path.dataCollectionId', { path: `${D}/collections/{id}`, id: coll });
  add(`DELETE ${D}/collections/*`, 'path.dataCollectionId', { path: `${D}/collections/{id}`, id: coll });
  add(`POST ${D}/collections/restore/*`, 'path.dataCollectionId', {
    path: `${D}/collections/restore/{id}`,
    id: coll,
    body: {},
  });
  add(`POST /data/v2/collections/restore/*`, 'path.dataCollectionId', {
    path: `/data/v2/collections/restore/{id}`,
    id: coll,
    body: {},
  });
  add(`PUT ${D}/collections`, 'body.collection.id', {
    path: `${D}/collections`,
    body: { collection: { id: coll, revision: '1', fields: [] } },
  });
  add(`PATCH ${D}/collections/*`, 'path.dataCollectionId', {
    path: `${D}/collections/{id}`,
    id: coll,
    body: { dataCollection: { displayName: 'x' } },
  });
  add(`PATCH ${D}/collections/*`, 'path.dataCollectionId (patch-field)', {
    path: `${D}/collections/{id}/patch-field`,
    id: coll,
    body: { field: { key: 'title', displayName: 'x' } },
  });
  for (const action of ['create-field', 'update-field'] as const) {
    add(`POST ${D}/collections/${action}`, 'body.dataCollectionId', {
      path: `${D}/collections/${action}`,
      body: { dataCollectionId: coll, field: { key: 'title', type: 'TEXT' } },
    });
  }
  add(`POST ${D}/collections/delete-field`, 'body.dataCollectionId', {
    path: `${D}/collections/delete-field`,
    body: { dataCollectionId: coll, fieldKey: 'title' },
  });

  add(`GET ${BK}/:backupId`, 'path.backupId', { path: `${BK}/{id}`, id: b.backup });
  add(`DELETE ${BK}/:backupId`, 'path.backupId', { path: `${BK}/{id}`, id: b.backup });
  add(`POST ${BK}/:backupId/cancel`, 'path.backupId', { path: `${BK}/{id}/cancel`, id: b.backup, body: {} });
  add(`POST ${BK}/:backupId/restore`, 'path.backupId', {
    path: `${BK}/{id}/restore`,
    id: b.backup,
    body: {},
  });
  add(`POST ${BK}/:backupId/partial-restore`, 'path.backupId', {
    path: `${BK}/{id}/partial-restore`,
    id: b.backup,
    body: { restorationCollections: [{ dataCollectionId: coll }] },
  });
  add(`GET ${BK}/:backupId/archive`, 'path.backupId', { path: `${BK}/{id}/archive`, id: b.backup });
  add(`POST ${BK}/:backupId/verify`, 'path.backupId', { path: `${BK}/{id}/verify`, id: b.backup, body: {} });
  add(`GET ${BK}/verifications/:verificationId`, 'path.verificationId', {
    path: `${BK}/verifications/{id}`,
    id: b.verification,
  });
  add(`GET ${BK}/restorations/:restorationId`, 'path.restorationId', {
    path: `${BK}/restorations/{id}`,
    id: b.restoration,
  });
  add(`POST ${BK}`, 'body.backup.collections[].id', {
    path: BK,
    body: { backup: { collections: [{ id: coll }] } },
  });
  add(`POST ${A}/backups/:backupId/restore-preview`, 'path.backupId', {
    path: `${A}/backups/{id}/restore-preview`,
    id: b.backup,
    body: {},
  });

  // Browsing and comparing backups: B's backup by path; as the other side of a comparison; B's
  // collection and item inside A's own backup are simply not in it.
  add(`GET ${A}/backups/:backupId/collections`, 'path.backupId', {
    path: `${A}/backups/{id}/collections`,
    id: b.backup,
  });
  add(`POST ${A}/backups/:backupId/items/query`, 'path.backupId', {
    path: `${A}/backups/{id}/items/query`,
    id: b.backup,
    body: { dataCollectionId: coll },
  });
  add(`POST ${A}/backups/:backupId/items/count`, 'path.backupId', {
    path: `${A}/backups/{id}/items/count`,
    id: b.backup,
    body: { dataCollectionId: coll },
  });
  add(`GET ${A}/backups/:backupId/items/*`, 'path.backupId', {
    path: `${A}/backups/{id}/items/${encodeURIComponent(item)}${q({ dataCollectionId: coll })}`,
    id: b.backup,
  });
  add(`POST ${A}/backups/:backupId/diff`, 'path.backupId', {
    path: `${A}/backups/{id}/diff`,
    id: b.backup,
    body: {},
  });
  add(`POST ${A}/backups/:backupId/diff/items`, 'path.backupId', {
    path: `${A}/backups/{id}/diff/items`,
    id: b.backup,
    body: { dataCollectionId: coll },
  });
  add(`POST ${A}/backups/:backupId/diff/item`, 'path.backupId', {
    path: `${A}/backups/{id}/diff/item`,
    id: b.backup,
    body: { dataCollectionId: coll, dataItemId: item },
  });

  add(`GET ${A}/sites/:id/settings`, 'path.id', { path: `${A}/sites/{id}/settings`, id: b.siteId });
  add(`PATCH ${A}/sites/:id/settings`, 'path.id', {
    path: `${A}/sites/{id}/settings`,
    id: b.siteId,
    body: { autoBackupRetention: 1 },
  });
  add(`DELETE ${A}/sites/:id`, 'path.id', { path: `${A}/sites/{id}`, id: b.siteId, expect: 403 });
  add(`POST ${A}/sites/:id/backups/:backupId/copy`, 'path.id', {
    path: `${A}/sites/{id}/backups/${b.backup}/copy`,
    id: b.siteId,
    body: { targetSiteId: b.siteId },
    expect: 403,
  });
  add(`POST ${A}/api-keys`, 'body.siteIds[]', {
    path: `${A}/api-keys`,
    body: { name: 'x', siteIds: [b.siteId], scopes: ['data.read'] },
  });
  add(`DELETE ${A}/api-keys/:id`, 'path.id', { path: `${A}/api-keys/{id}`, id: b.keyId });
  add(`POST ${A}/webhooks`, 'body.siteId', {
    path: `${A}/webhooks`,
    body: {
      siteId: b.siteId,
      url: 'http://127.0.0.1:9/x',
      eventTypes: ['wix.data.v2.backup_backup_state_changed'],
    },
  });
  add(`GET ${A}/webhooks`, 'query.siteId', { path: `${A}/webhooks${q({ siteId: b.siteId })}` });
  add(`DELETE ${A}/webhooks/:id`, 'path.id', { path: `${A}/webhooks/{id}`, id: b.webhook });
  return probes;
}

/**
 * Routes with no id position: lists and the caller's own views. Site A's key must see nothing of B in
 * them (they answer 200, 400 for an out-of-scope operation, or 403 where the route needs the admin scope).
 */
export function listingsFor(): { route: string; path: string; body?: unknown; expect: 200 | 400 | 403 }[] {
  return [
    // Out-of-scope Wix operations look nothing up: they refuse whatever they are sent.
    ...unsupportedOperations.map((o) => ({
      route: `POST ${D}${o.path}`,
      path: `${D}${o.path}`,
      body: { dataCollectionId: 'Fresh' },
      expect: 400 as const,
    })),
    { route: `GET ${D}/collections`, path: `${D}/collections`, expect: 200 },
    {
      route: `POST ${D}/collections`,
      path: `${D}/collections`,
      body: { collection: { id: 'Fresh' } },
      expect: 200,
    },
    { route: `GET ${BK}`, path: BK, expect: 200 },
    { route: `GET ${BK}/restorations`, path: `${BK}/restorations`, expect: 200 },
    // Import Backup creates a backup of the caller's own site from the body; a JSON body is no archive.
    { route: `POST ${BK}/import`, path: `${BK}/import`, body: {}, expect: 400 },
    { route: `GET ${A}/api-keys`, path: `${A}/api-keys`, expect: 200 },
    { route: `GET ${A}/webhooks`, path: `${A}/webhooks`, expect: 200 },
    { route: `GET ${A}/webhooks/public-key`, path: `${A}/webhooks/public-key`, expect: 200 },
    { route: `GET ${A}/session`, path: `${A}/session`, expect: 200 },
    { route: `GET ${A}/backup-schedule`, path: `${A}/backup-schedule`, expect: 200 },
    { route: `GET ${A}/backup-storage`, path: `${A}/backup-storage`, expect: 200 },
    { route: `GET ${A}/backup-health`, path: `${A}/backup-health`, expect: 200 },
    { route: `GET ${A}/deleted-collections`, path: `${A}/deleted-collections`, expect: 200 },
    { route: `GET ${A}/sites`, path: `${A}/sites`, expect: 403 },
    { route: `POST ${A}/sites`, path: `${A}/sites`, body: { name: 'x' }, expect: 403 },
  ];
}

/** The prefix families: each documented prefix and the alias the Wix SDK uses for it. */
const families: readonly (readonly [documented: string, alias: string])[] = [
  [BK, '/data/v2/backups'],
  [D, '/_api/cloud-data/v2'],
];

/** The same path under the other route family, when it has one. */
export function aliasOf(path: string): string | undefined {
  for (const [documented, alias] of families)
    if (path.startsWith(`${documented}/`) || path === documented)
      return alias + path.slice(documented.length);
  return undefined;
}

/** A concrete request: a probe with its id encoded one way, under one route family. */
export interface ProbeRequest {
  readonly probe: Probe;
  readonly variant: string;
  readonly method: string;
  readonly url: string;
  readonly body?: unknown;
  readonly site?: string;
}

function withTrailingSlash(url: string): string {
  const [path = '', query] = url.split(/\?(.*)/s);
  return query === undefined ? `${path}/` : `${path}/?${query}`;
}

/**
 * Every variant of a probe: under both route families; the path id plain, percent-encoded byte by byte,
 * double-encoded, upper-cased, with a trailing slash, and the whole route upper-cased; body and query ids (those in `foreign`) plain
 * and upper-cased.
 */
export function variantsOf(probe: Probe, foreign: readonly string[]): ProbeRequest[] {
  const out: ProbeRequest[] = [];
  const bases: [string, string][] = [['documented', probe.path]];
  const alias = aliasOf(probe.path);
  if (alias) bases.push(['alias', alias]);
  const isForeign = (v: unknown): v is string => typeof v === 'string' && foreign.includes(v);
  for (const [family, template] of bases) {
    const push = (variant: string, url: string, body = probe.body) =>
      out.push({
        probe,
        variant: `${family}, ${variant}`,
        method: probe.method,
        url,
        body,
        site: probe.site,
      });
    if (probe.id !== undefined) {
      const id = probe.id;
      push('plain', template.replace('{id}', encodeURIComponent(id)));
      push('percent-encoded', template.replace('{id}', percentEncodeAll(id)));
      push('double-encoded', template.replace('{id}', percentEncodeAll(id).replace(/%/g, '%25')));
      push('upper-case', template.replace('{id}', encodeURIComponent(id.toUpperCase())));
      push('trailing slash', withTrailingSlash(template.replace('{id}', encodeURIComponent(id))));
      const [path = '', query] = template.split(/\?(.*)/s);
      const upperRoute = path.toUpperCase().replace('{ID}', encodeURIComponent(id));
      push('route in upper case', query === undefined ? upperRoute : `${upperRoute}?${query}`);
    } else {
      push('plain', template);
      push('trailing slash', withTrailingSlash(template));
      if (probe.body !== undefined) {
        const upper = JSON.parse(JSON.stringify(probe.body), (_k, v: unknown) =>
          isForeign(v) ? v.toUpperCase() : v,
        ) as unknown;
        push('upper-case', template, upper);
      } else if (/[?&][^.][^=]*=/.test(template)) {
        push(
          'upper-case',
          template.replace(/=([^&]+)/g, (m, v: string) =>
            isForeign(decodeURIComponent(v)) ? `=${v.toUpperCase()}` : m,
          ),
        );
      }
    }
  }
  return out;
}
