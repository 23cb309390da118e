import { UsageError } from './cli-io.js';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** The shortest prefix accepted for an id: fewer characters would match too often to be useful. */
const MIN_PREFIX = 4;
const PAGE = 1000;

/**
 * Resolves an id the person typed — a full GUID, or the start of one as the dashboard and the lists show
 * it (`3f2a9c1e`) — against the ids `page` lists, a page of 1,000 at a time. A full GUID is used as it is.
 * @throws UsageError when the prefix is too short, matches nothing, or matches several ids (listed)
 */
export async function resolveShortId(
  typed: string,
  what: string,
  page: (offset: number, limit: number) => Promise<{ ids: string[]; total: number }>,
): Promise<string> {
  if (GUID.test(typed)) return typed;
  const prefix = typed.toLowerCase();
  if (!/^[0-9a-f-]+$/.test(prefix) || prefix.length < MIN_PREFIX) {
    throw new UsageError(
      `"${typed}" is not a ${what} id: give the full id or at least its first ${MIN_PREFIX} characters`,
    );
  }
  const matches: string[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const { ids, total } = await page(offset, PAGE);
    matches.push(...ids.filter((id) => id.toLowerCase().startsWith(prefix)));
    if (ids.length === 0 || offset + ids.length >= total) break;
  }
  const [only, ...others] = matches;
  if (only === undefined) throw new UsageError(`no ${what} id starts with "${typed}"`);
  if (others.length > 0) {
    throw new UsageError(
      `"${typed}" starts ${matches.length} ${what} ids (${matches.join(', ')}): give more of it`,
    );
  }
  return only;
}
