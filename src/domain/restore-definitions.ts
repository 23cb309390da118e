/**
 * What a restoration does to its destinations' definitions (backups-api.md §6.1, §6.2, §6.5, §6.6): which
 * definition a destination ends with, which fields conflict, what the preview shows. Pure: the switch
 * applies the result inside its transaction, the request and the preview check it beforehand.
 */
import { errors } from '../contracts/errors.js';
import { mapLink, type DefinitionMode, type RestorationCollection } from './backup.js';
import type { BackedUpDefinition, ManifestCollection } from './manifest.js';
import { referenceKinds, referenceTarget } from './reference-fields.js';

function withTarget(field: Readonly<Record<string, unknown>>, target: string): Record<string, unknown> {
  const kind = referenceKinds[field.type as string] as string;
  const meta = field.typeMetadata as Record<string, unknown>;
  return {
    ...field,
    typeMetadata: {
      ...meta,
      [kind]: { ...(meta[kind] as Record<string, unknown>), referencedCollectionId: target },
    },
  };
}

/**
 * Where the reference fields of source `sourceId`'s destination point after the restoration: the same
 * mapping links follow (§6.5, `mapLink`), so every restored link can be read through its field. Keyed by
 * the target the backup recorded; targets that do not move are left out.
 */
export function referenceTargetsOf(
  sourceId: string,
  definition: BackedUpDefinition | undefined,
  plan: readonly RestorationCollection[],
): Record<string, string> {
  const targets: Record<string, string> = {};
  for (const field of definition?.fields ?? []) {
    const target = referenceTarget(field);
    if (target === undefined) continue;
    const mapped = mapLink(
      { fromCollection: sourceId, fromId: '', field: '', toCollection: target, toId: '', pos: 0 },
      plan,
    );
    if (mapped && mapped.toCollection !== target) targets[target] = mapped.toCollection;
  }
  return targets;
}

/** What a destination's definition goes through, as the preview lists it. */
export interface DefinitionChanges {
  /** The destination does not exist and is created from the backup's definition. */
  readonly created: boolean;
  /** Set when the display name changes. */
  readonly displayName: { readonly from: string | null; readonly to: string } | null;
  /** Fields the destination gains. */
  readonly addedFields: readonly string[];
  /** Fields whose type or metadata change (BACKUP mode), or whose referenced collection moves (§6.5). */
  readonly changedFields: readonly string[];
  /** Fields the destination loses (BACKUP mode). */
  readonly removedFields: readonly string[];
  /** Whether views, permissions or other properties are replaced (BACKUP mode). */
  readonly viewsReplaced: boolean;
  readonly permissionsReplaced: boolean;
  /** Fields present on both sides with another type or referenced collection (MERGE refuses them). */
  readonly conflicts: readonly string[];
  /** The undo of a restoration that created the destination: it is deleted. */
  readonly deleted?: true;
}

export interface ResolvedDefinition {
  /** The definition the destination ends with. */
  readonly definition: BackedUpDefinition;
  readonly changes: DefinitionChanges;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** A definition that stays as it is. */
export const unchanged: DefinitionChanges = {
  created: false,
  displayName: null,
  addedFields: [],
  changedFields: [],
  removedFields: [],
  viewsReplaced: false,
  permissionsReplaced: false,
  conflicts: [],
};

/**
 * The definition a destination ends with.
 * - absent destination: the backup's definition (reference targets mapped); a backup without one (an
 *   older format) gives an empty definition, as before definitions were recorded;
 * - existing destination, BACKUP: the backup's definition whole;
 * - existing destination, MERGE: its own definition plus the backup's fields it lacks. A field on both
 *   sides with another type, or pointing elsewhere than the backup's target (recorded or mapped), is a
 *   conflict; one pointing at a restored source follows it to its destination.
 * The display name is `displayName` in every case (the restoration plan resolved it, §6.1).
 */
export function resolveDefinition(input: {
  readonly current: BackedUpDefinition | undefined;
  readonly backup: BackedUpDefinition | undefined;
  readonly mode: DefinitionMode;
  readonly displayName: string;
  readonly referenceTargets: Readonly<Record<string, string>>;
}): ResolvedDefinition {
  const { current, backup, mode, displayName, referenceTargets } = input;
  const mapField = (field: Readonly<Record<string, unknown>>): Record<string, unknown> => {
    const target = referenceTarget(field);
    const moved = target === undefined ? undefined : referenceTargets[target];
    return moved === undefined ? { ...field } : withTarget(field, moved);
  };
  const mapped: BackedUpDefinition = backup
    ? { ...backup, fields: backup.fields.map(mapField) }
    : { displayName, fields: [], permissions: null, views: [], extra: {} };
  const nameChange = (from: string | null) => (from === displayName ? null : { from, to: displayName });
  if (!current) {
    return {
      definition: { ...mapped, displayName },
      changes: {
        created: true,
        displayName: nameChange(null),
        addedFields: mapped.fields.map((f) => String(f.key)),
        changedFields: [],
        removedFields: [],
        viewsReplaced: false,
        permissionsReplaced: false,
        conflicts: [],
      },
    };
  }
  const keyOf = (f: Readonly<Record<string, unknown>>) => String(f.key);
  const own = new Map(current.fields.map((f) => [keyOf(f), f]));
  const theirs = new Map(mapped.fields.map((f) => [keyOf(f), f]));
  const conflicts: string[] = [];
  for (const [key, field] of own) {
    const other = theirs.get(key);
    if (!other) continue;
    const recorded = backup?.fields.find((f) => keyOf(f) === key);
    const ownTarget = referenceTarget(field);
    if (
      field.type !== other.type ||
      (ownTarget !== referenceTarget(other) && ownTarget !== (recorded && referenceTarget(recorded)))
    )
      conflicts.push(key);
  }
  if (!backup) {
    // A backup without definitions changes nothing but the name (§6.6).
    return {
      definition: { ...current, displayName },
      changes: { ...unchanged, displayName: nameChange(current.displayName) },
    };
  }
  if (mode === 'BACKUP') {
    return {
      definition: { ...mapped, displayName },
      changes: {
        created: false,
        displayName: nameChange(current.displayName),
        addedFields: [...theirs.keys()].filter((k) => !own.has(k)),
        changedFields: [...theirs].filter(([k, f]) => own.has(k) && !same(own.get(k), f)).map(([k]) => k),
        removedFields: [...own.keys()].filter((k) => !theirs.has(k)),
        viewsReplaced: !same(current.views, mapped.views),
        permissionsReplaced: !same(current.permissions, mapped.permissions),
        conflicts,
      },
    };
  }
  const changedFields: string[] = [];
  const fields = current.fields.map((field) => {
    const other = theirs.get(keyOf(field));
    if (!other || conflicts.includes(keyOf(field))) return field;
    const target = referenceTarget(other);
    if (target === undefined || referenceTarget(field) === target) return field;
    changedFields.push(keyOf(field));
    return withTarget(field, target);
  });
  const added = mapped.fields.filter((f) => !own.has(keyOf(f)));
  return {
    definition: { ...current, displayName, fields: [...fields, ...added] },
    changes: {
      created: false,
      displayName: nameChange(current.displayName),
      addedFields: added.map(keyOf),
      changedFields,
      removedFields: [],
      viewsReplaced: false,
      permissionsReplaced: false,
      conflicts,
    },
  };
}

/** A destination's conflicting fields, for DEFINITION_CONFLICT. */
export interface DestinationConflict {
  readonly dataCollectionId: string;
  readonly fields: readonly string[];
}

/**
 * Refuses a MERGE restoration with conflicting fields (§6.2).
 * @throws AppError DEFINITION_CONFLICT naming each destination and its fields
 */
export function assertNoConflicts(conflicts: readonly DestinationConflict[]): void {
  const found = conflicts.filter((c) => c.fields.length > 0);
  if (found.length === 0) return;
  throw errors.DEFINITION_CONFLICT(found);
}

/**
 * What every destination's definition goes through, as the restoration would do it now: the request
 * checks it for conflicts and the preview lists it. Keyed by destination id.
 */
export function definitionChangesOf(input: {
  readonly entries: readonly ManifestCollection[];
  readonly plan: readonly RestorationCollection[];
  /** The definitions of the destinations that exist now. */
  readonly current: ReadonlyMap<string, BackedUpDefinition>;
  readonly mode: DefinitionMode;
}): Map<string, DefinitionChanges> {
  const changes = new Map<string, DefinitionChanges>();
  for (const entry of input.plan) {
    const source = input.entries.find((c) => c.id === entry.dataCollectionId);
    const destination = entry.restoreDestination.dataCollectionId;
    if (!source) continue;
    const current = input.current.get(destination);
    if (source.absentBefore && destination === source.id) {
      changes.set(destination, {
        ...unchanged,
        deleted: true,
      });
      continue;
    }
    const resolved = resolveDefinition({
      current,
      backup: source.definition,
      mode: input.mode,
      displayName: entry.restoreDestination.displayName,
      referenceTargets: referenceTargetsOf(source.id, source.definition, input.plan),
    });
    changes.set(destination, {
      ...resolved.changes,
      conflicts: input.mode === 'MERGE' ? resolved.changes.conflicts : [],
    });
  }
  return changes;
}
