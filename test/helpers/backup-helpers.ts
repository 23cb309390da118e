import type { Environment } from '../../src/domain/environment.js';
import type { KeysetPosition } from '../../src/ports/storage.js';
import type { TestEnv } from './harness.js';
import { linksFrom } from './storage-rows.js';

/** Runs queued jobs in this process until none is left; returns how many ran. */
export async function runJobs(env: TestEnv, limit = 50): Promise<number> {
  const { worker } = env.safekeep.background();
  let ran = 0;
  while (ran < limit && (await worker.runOne(new AbortController().signal))) ran += 1;
  return ran;
}

/** A collection's content: every item's exact JSON text, and every link, sorted. */
export interface CollectionContent {
  readonly items: [id: string, json: string][];
  readonly links: string[];
}

/** The exact content of every collection of a site in one environment. */
export async function contentOf(
  env: TestEnv,
  siteId: string,
  environment: Environment = 'LIVE',
): Promise<Record<string, CollectionContent>> {
  const { storage } = env.safekeep;
  const out: Record<string, CollectionContent> = {};
  const { collections } = await storage.collections.list(siteId, { limit: 100_000, offset: 0 });
  for (const c of collections) {
    const target = { siteId, collectionId: c.id, environment };
    const items: [string, string][] = [];
    let after: KeysetPosition | undefined;
    for (;;) {
      const page = await storage.items.query(target, { filter: null, sort: [], limit: 1000, after });
      items.push(...page.items.map((i): [string, string] => [i.id, i.json]));
      if (!page.hasMore) break;
      after = page.last;
    }
    const links = (await linksFrom(storage, target))
      .map((l) => `${l.fromId}|${l.field}|${l.toCollectionId}|${l.toId}`)
      .sort();
    out[c.id] = { items, links };
  }
  return out;
}

/**
 * Asserts two collection contents are identical, reporting counts and the first difference instead of
 * dumping thousands of items.
 */
export function assertSameContent(
  actual: CollectionContent | undefined,
  expected: CollectionContent | undefined,
  what: string,
): void {
  const a = actual ?? { items: [], links: [] };
  const e = expected ?? { items: [], links: [] };
  const firstItem = a.items.findIndex(
    (item, i) => item[0] !== e.items[i]?.[0] || item[1] !== e.items[i]?.[1],
  );
  if (a.items.length !== e.items.length || firstItem !== -1) {
    const i = firstItem === -1 ? Math.min(a.items.length, e.items.length) : firstItem;
    throw new Error(
      `${what}: ${a.items.length} items, expected ${e.items.length}; first difference at #${i}: ` +
        `${JSON.stringify(a.items[i])?.slice(0, 300)} vs ${JSON.stringify(e.items[i])?.slice(0, 300)}`,
    );
  }
  const firstLink = a.links.findIndex((l, i) => l !== e.links[i]);
  if (a.links.length !== e.links.length || firstLink !== -1) {
    throw new Error(
      `${what}: ${a.links.length} links, expected ${e.links.length}; first difference: ${a.links[firstLink]} vs ${e.links[firstLink]}`,
    );
  }
}

/** The same, for every collection of two site contents (which must name the same collections). */
export function assertSameSite(
  actual: Record<string, CollectionContent>,
  expected: Record<string, CollectionContent>,
  what: string,
): void {
  const names = [...new Set([...Object.keys(actual), ...Object.keys(expected)])].sort();
  for (const name of names) assertSameContent(actual[name], expected[name], `${what}: ${name}`);
}
