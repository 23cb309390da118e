/**
 * API key scopes (backups-api.md §2). A route declares the scope it needs; a key carries a list of scopes.
 * `backups.manage` is the Wix "Manage Data Backups" scope and implies the four backup scopes; `admin`
 * implies every scope on every site.
 */
export const siteScopes = [
  'backups.read',
  'backups.create',
  'backups.restore',
  'backups.delete',
  'backups.manage',
  'data.read',
  'data.write',
  'collections.manage',
  'site.admin',
] as const;

export const allScopes = [...siteScopes, 'admin'] as const;

export type Scope = (typeof allScopes)[number];

const implied: Partial<Record<Scope, readonly Scope[]>> = {
  'backups.manage': ['backups.read', 'backups.create', 'backups.restore', 'backups.delete'],
  admin: allScopes,
};

export function isScope(value: string): value is Scope {
  return (allScopes as readonly string[]).includes(value);
}

/** Whether a key holding `held` may perform an operation that needs `needed`. */
export function grants(held: readonly Scope[], needed: Scope): boolean {
  return held.some((scope) => scope === needed || (implied[scope]?.includes(needed) ?? false));
}
