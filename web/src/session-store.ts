/**
 * Where the signed-in key lives: sessionStorage, so it is gone when the tab closes, is never sent
 * anywhere but in the `Authorization` header, and never appears in a URL.
 */
const KEY = 'safekeep.apiKey';
const SITE = 'safekeep.siteId';

export interface StoredSession {
  readonly apiKey: string;
  readonly siteId: string | undefined;
}

export function loadSession(): StoredSession | undefined {
  const apiKey = sessionStorage.getItem(KEY);
  if (!apiKey) return undefined;
  return { apiKey, siteId: sessionStorage.getItem(SITE) ?? undefined };
}

export function saveSession(session: StoredSession): void {
  sessionStorage.setItem(KEY, session.apiKey);
  if (session.siteId) sessionStorage.setItem(SITE, session.siteId);
  else sessionStorage.removeItem(SITE);
}

export function clearSession(): void {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(SITE);
}
