import { grants, type Scope } from '../../src/contracts/scopes.js';
import type { SafekeepClient, Session, Site } from '../../src/sdk/index.js';
import { h } from './dom.js';

/** What a page is given to render itself. */
export interface PageContext {
  /** The client acting on the chosen site (the admin API ignores the site). */
  readonly client: SafekeepClient;
  readonly session: Session;
  /** The site pages act on; undefined while the key has none. */
  readonly site: Site | undefined;
  /** The query part of the location's hash (`#/backups?status=READY`). */
  readonly params: URLSearchParams;
  /** Where the page renders. */
  readonly main: HTMLElement;
  /** Aborted when the person leaves the page: stops its polling and requests. */
  readonly signal: AbortSignal;
  /** Goes to another page (`#/…`). */
  navigate(hash: string): void;
  /** Reads the key's sites again (after one was created or deleted) and re-renders the shell. */
  refreshSession(): Promise<void>;
  /** Whether the signed-in key may do what needs `scope`. */
  can(scope: Scope): boolean;
}

export type Page = (context: PageContext) => Promise<void>;

export function canWith(session: Session): (scope: Scope) => boolean {
  return (scope) => grants(session.apiKey.scopes, scope);
}

/**
 * A page's heading, focused when the page opens: screen readers announce where they are, and Tab
 * continues from the top of the new content.
 */
export function pageHeading(text: string): HTMLHeadingElement {
  return h('h1', { tabindex: -1, class: 'page-title' }, text);
}

/**
 * Says what the signed-in key may not do here and which scope it lacks, where the actions it cannot
 * take are left out (a key that may only read sees the lists without their buttons).
 */
export function missingScopes(
  context: PageContext,
  needs: readonly (readonly [Scope, string])[],
): HTMLElement | null {
  const missing = needs.filter(([scope]) => !context.can(scope));
  if (missing.length === 0) return null;
  return h(
    'p',
    { class: 'scope-note', 'data-missing-scopes': missing.map(([scope]) => scope).join(' ') },
    `This key cannot ${missing.map(([scope, what]) => `${what} (needs ${scope})`).join(', ')}.`,
  );
}

/** Shown on pages that act on a site when the key has none yet. */
export function noSite(context: PageContext): HTMLElement {
  return h(
    'p',
    { class: 'notice' },
    'There is no site to show yet. ',
    context.can('admin')
      ? h('a', { href: '#/sites' }, 'Create a site')
      : 'Ask an administrator for a site key.',
  );
}
