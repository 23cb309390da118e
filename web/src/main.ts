/**
 * The dashboard: a single page that talks to the server only through the SDK, with the API key the
 * person signs in with. Pages are chosen by the location's hash (`#/backups`), so the key never travels
 * in a URL and the server serves one static page.
 */
import { SafekeepApiError, SafekeepClient, type Scope, type Session } from '../../src/sdk/index.js';
import { byId, field, h, replace } from './dom.js';
import { announce, errorBox } from './notices.js';
import { canWith, type Page, type PageContext } from './page.js';
import { backupsPage } from './pages/backups-page.js';
import { collectionPage, collectionsPage } from './pages/collections-page.js';
import { restorationsPage } from './pages/restorations-page.js';
import { restorePage } from './pages/restore-page.js';
import { sitePage, sitesPage } from './pages/sites-page.js';
import { clearSession, loadSession, saveSession } from './session-store.js';

interface Route {
  readonly page: Page;
  /** The nav entry this page belongs to. */
  readonly nav: string;
}

const routes: Record<string, Route> = {
  '/backups': { page: backupsPage, nav: '/backups' },
  '/restore': { page: restorePage, nav: '/restore' },
  '/restorations': { page: restorationsPage, nav: '/restorations' },
  '/collections': { page: collectionsPage, nav: '/collections' },
  '/collection': { page: collectionPage, nav: '/collections' },
  '/sites': { page: sitesPage, nav: '/sites' },
  '/site': { page: sitePage, nav: '/sites' },
};

/** The menu; an entry with a scope is shown only to keys that hold it (or a scope that implies it). */
const navEntries: readonly { path: string; label: string; scope?: Scope }[] = [
  { path: '/backups', label: 'Backups' },
  { path: '/restore', label: 'Restore', scope: 'backups.restore' },
  { path: '/restorations', label: 'Restorations' },
  { path: '/collections', label: 'Collections' },
  { path: '/sites', label: 'Sites', scope: 'site.admin' },
];

interface SignedIn {
  readonly apiKey: string;
  session: Session;
  siteId: string | undefined;
}

let current: SignedIn | undefined;
let leave: AbortController | undefined;

function clientFor(signedIn: SignedIn): SafekeepClient {
  return new SafekeepClient({ baseUrl: location.origin, apiKey: signedIn.apiKey, siteId: signedIn.siteId });
}

/** The site to act on: the one chosen before if the key still has it, else its first. */
function pickSite(session: Session, wanted: string | undefined): string | undefined {
  if (wanted && session.sites.some((s) => s.id === wanted)) return wanted;
  return session.sites[0]?.id;
}

function parseHash(): { path: string; params: URLSearchParams } {
  const raw = location.hash.replace(/^#/, '') || '/backups';
  const [path = '/backups', query = ''] = raw.split('?', 2);
  return { path, params: new URLSearchParams(query) };
}

function renderSignIn(problem?: unknown): void {
  leave?.abort();
  current = undefined;
  replace(byId('site-nav'));
  const input = h('input', {
    type: 'password',
    name: 'apiKey',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    placeholder: 'sk_…',
  });
  const slot = h('div', { class: 'slot' }, problem === undefined ? null : errorBox(problem));
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h(
    'form',
    { class: 'card sign-in', method: 'post', 'aria-labelledby': 'sign-in-title' },
    h('h1', { id: 'sign-in-title', tabindex: -1, class: 'page-title' }, 'Sign in to safekeep'),
    h(
      'p',
      null,
      'Use an API key: an admin key (printed by the first safekeep serve) to manage sites, or a site key. ',
      'It is kept in this browser tab only, until you sign out or close the tab.',
    ),
    field('API key', input),
    slot,
    h('div', { class: 'actions' }, button),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const apiKey = input.value.trim();
    if (!apiKey) return;
    button.disabled = true;
    void signIn(apiKey, undefined)
      .then(() => {
        if (!location.hash || location.hash === '#/') location.hash = '#/backups';
        void render();
      })
      .catch((error: unknown) => {
        replace(slot, errorBox(error));
        button.disabled = false;
        input.focus();
      });
  });
  replace(byId('main'), form);
  input.focus();
}

async function signIn(apiKey: string, siteId: string | undefined): Promise<void> {
  const session = await new SafekeepClient({ baseUrl: location.origin, apiKey }).session();
  current = { apiKey, session, siteId: pickSite(session, siteId) };
  saveSession({ apiKey, siteId: current.siteId });
}

function signOut(): void {
  clearSession();
  location.hash = '';
  renderSignIn();
  announce('Signed out.');
}

function renderShell(signedIn: SignedIn, activeNav: string): void {
  const can = canWith(signedIn.session);
  const links = navEntries
    .filter((entry) => !entry.scope || can(entry.scope))
    .map((entry) =>
      h(
        'li',
        null,
        h(
          'a',
          { href: `#${entry.path}`, 'aria-current': entry.path === activeNav ? 'page' : null },
          entry.label,
        ),
      ),
    );
  const sites = signedIn.session.sites;
  let picker: HTMLElement | null = null;
  if (sites.length > 1) {
    const select = h(
      'select',
      {
        onchange: (event) => {
          signedIn.siteId = (event.target as HTMLSelectElement).value;
          saveSession({ apiKey: signedIn.apiKey, siteId: signedIn.siteId });
          announce(`Now showing site ${sites.find((s) => s.id === signedIn.siteId)?.name ?? ''}.`);
          void render();
        },
      },
      sites.map((s) => h('option', { value: s.id, selected: s.id === signedIn.siteId }, s.name)),
    );
    picker = field('Site', select);
    picker.classList.add('site-picker');
  } else if (sites[0]) {
    picker = h('p', { class: 'site-name' }, 'Site: ', h('strong', null, sites[0].name));
  }
  replace(
    byId('site-nav'),
    h(
      'nav',
      { 'aria-label': 'Main' },
      h('ul', { class: 'nav-links' }, links, h('li', null, h('a', { href: '/docs' }, 'API docs'))),
    ),
    h(
      'div',
      { class: 'session' },
      picker,
      h('span', { class: 'key-name' }, `Key: ${signedIn.session.apiKey.name}`),
      h('button', { type: 'button', onclick: signOut }, 'Sign out'),
    ),
  );
}

/** Renders the page the hash names, in the signed-in shell. */
async function render(): Promise<void> {
  if (!current) {
    renderSignIn();
    return;
  }
  const signedIn = current;
  leave?.abort();
  const controller = new AbortController();
  leave = controller;
  const { path, params } = parseHash();
  const route = routes[path] ?? routes['/backups'];
  if (!route) return;
  renderShell(signedIn, route.nav);
  const main = byId('main');
  replace(main);
  const site = signedIn.session.sites.find((s) => s.id === signedIn.siteId);
  const context: PageContext = {
    client: clientFor(signedIn),
    session: signedIn.session,
    site,
    params,
    main,
    signal: controller.signal,
    navigate: (hash) => {
      location.hash = hash;
    },
    refreshSession: async () => {
      signedIn.session = await clientFor(signedIn).session();
      signedIn.siteId = pickSite(signedIn.session, signedIn.siteId);
      saveSession({ apiKey: signedIn.apiKey, siteId: signedIn.siteId });
      renderShell(signedIn, route.nav);
    },
    can: canWith(signedIn.session),
  };
  try {
    await route.page(context);
  } catch (error) {
    if (controller.signal.aborted) return;
    if (error instanceof SafekeepApiError && error.status === 401) {
      clearSession();
      renderSignIn(error);
      return;
    }
    main.append(errorBox(error));
  }
  // A page opened from a link to one entry marks that entry (`data-focus`): focus goes there, so it is
  // scrolled into view and read out; otherwise to the heading.
  if (!controller.signal.aborted)
    (main.querySelector<HTMLElement>('[data-focus]') ?? main.querySelector<HTMLElement>('h1'))?.focus();
}

async function boot(): Promise<void> {
  window.addEventListener('hashchange', () => void render());
  // Pages live in the hash, so the skip link moves focus instead of changing it.
  byId('skip-link').addEventListener('click', (event) => {
    event.preventDefault();
    byId('main').focus();
  });
  const stored = loadSession();
  if (!stored) {
    renderSignIn();
    return;
  }
  try {
    await signIn(stored.apiKey, stored.siteId);
  } catch (error) {
    clearSession();
    renderSignIn(error);
    return;
  }
  await render();
}

void boot();
