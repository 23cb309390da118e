/**
 * Wix operations that are out of scope for safekeep, on the routes the Wix SDK sends them to. Each route
 * exists and answers 400 `UNSUPPORTED_OPERATION` naming the SDK method, so a caller learns at once that
 * the method is not offered (never a 404 `ROUTE_NOT_FOUND`), and nothing is changed.
 * docs/WIX-COMPATIBILITY.md lists them.
 */
export interface UnsupportedOperation {
  /** The SDK method that sends the request. */
  readonly method: string;
  /** The path under a Data API prefix (`/wix-data/v2`, `/_api/cloud-data/v2`); always POST. */
  readonly path: string;
  /** The scope a caller needs to be told: the one the operation would need if it existed. */
  readonly scope: 'data.write' | 'collections.manage';
  readonly why: string;
}

const drafts = 'item drafts (the Wix CMS draft workflow) are out of scope; write items directly.';
const plugins = 'collection plugins are out of scope; every collection here is a plain native collection.';

const pluginMethods: readonly (readonly [method: string, path: string])[] = [
  ['addDataCollectionPlugin', 'add-plugin'],
  ['deleteDataCollectionPlugin', 'delete-plugin'],
  ['addPublishPlugin', 'add-publish-plugin'],
  ['deletePublishPlugin', 'delete-publish-plugin'],
  ['addUrlizedPlugin', 'add-urlized-plugin'],
  ['deleteUrlizedPlugin', 'delete-urlized-plugin'],
  ['addMultilingualPlugin', 'add-multilingual-plugin'],
  ['deleteMultilingualPlugin', 'delete-multilingual-plugin'],
  ['addCmsPlugin', 'add-cms-plugin'],
  ['deleteCmsPlugin', 'delete-cms-plugin'],
  ['addCatalogPlugin', 'add-catalog-plugin'],
  ['deleteCatalogPlugin', 'delete-catalog-plugin'],
  ['addDraftItemsPlugin', 'add-draft-items-plugin'],
  ['deleteDraftItemsPlugin', 'delete-draft-items-plugin'],
];

export const unsupportedOperations: readonly UnsupportedOperation[] = [
  { method: 'createDataItemDraft', path: '/items/create-draft', scope: 'data.write', why: drafts },
  { method: 'publishDataItemDraft', path: '/items/publish-draft', scope: 'data.write', why: drafts },
  { method: 'unpublishDataItem', path: '/items/unpublish', scope: 'data.write', why: drafts },
  ...pluginMethods.map(([method, path]) => ({
    method,
    path: `/collections/${path}`,
    scope: 'collections.manage' as const,
    why: plugins,
  })),
];
