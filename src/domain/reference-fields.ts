/**
 * Reference fields of a collection definition, read the way Wix declares them: a `REFERENCE` field holds
 * the id of one item of `typeMetadata.reference.referencedCollectionId` inside the item itself; a
 * `MULTI_REFERENCE` field's links (`typeMetadata.multiReference.referencedCollectionId`) live apart from
 * items, in the link store.
 */
import type { FilterNode } from './query/filter.js';

export interface ReferenceField {
  readonly key: string;
  /** `true` for MULTI_REFERENCE (links stored apart), `false` for REFERENCE (an id inside the item). */
  readonly multiple: boolean;
  readonly referencedCollectionId: string;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The type-metadata property holding a reference field's target, per field type. */
export const referenceKinds: Readonly<Record<string, string>> = {
  REFERENCE: 'reference',
  MULTI_REFERENCE: 'multiReference',
};

/** The collection a REFERENCE or MULTI_REFERENCE field points at, if it is one and names one. */
export function referenceTarget(field: Readonly<Record<string, unknown>>): string | undefined {
  const kind = typeof field.type === 'string' ? referenceKinds[field.type] : undefined;
  if (!kind || !isPlainObject(field.typeMetadata)) return undefined;
  const inner = field.typeMetadata[kind];
  const target = isPlainObject(inner) ? inner.referencedCollectionId : undefined;
  return typeof target === 'string' ? target : undefined;
}

/** The reference fields declared in a collection's `fields`, by key. Fields without a target are skipped. */
export function referenceFieldsOf(fields: readonly Record<string, unknown>[]): Map<string, ReferenceField> {
  const out = new Map<string, ReferenceField>();
  for (const field of fields) {
    const target = referenceTarget(field);
    if (typeof field.key !== 'string' || target === undefined || target === '') continue;
    out.set(field.key, {
      key: field.key,
      multiple: field.type === 'MULTI_REFERENCE',
      referencedCollectionId: target,
    });
  }
  return out;
}

/** The id of a referenced item written whole (`{ _id: 'a1', … }`), as Wix accepts for a REFERENCE field. */
function embeddedId(value: unknown): string | undefined {
  return isPlainObject(value) && typeof value._id === 'string' ? value._id : undefined;
}

/** Whether any top-level field holds an object with an `_id`: only then can a reference need rewriting. */
export function mayEmbedReferences(fields: Record<string, unknown>): boolean {
  return Object.values(fields).some((value) => embeddedId(value) !== undefined);
}

/**
 * Stores single references by id: a referenced item written whole into a REFERENCE field is replaced by its
 * `_id` (Wix stores and returns the id; `include()` expands it again). Other fields are left as written.
 */
export function storeReferencesById(
  fields: Record<string, unknown>,
  references: ReadonlyMap<string, ReferenceField>,
): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(fields)) {
    const id = embeddedId(value);
    const declared = references.get(key);
    if (id === undefined || !declared || declared.multiple) continue;
    out ??= { ...fields };
    out[key] = id;
  }
  return out ?? fields;
}

/** Whether a filter uses `$hasSome`/`$hasAll`, which mean something else on MULTI_REFERENCE fields. */
export function usesListOperators(node: FilterNode): boolean {
  switch (node.kind) {
    case 'and':
    case 'or':
      return node.nodes.some(usesListOperators);
    case 'not':
      return usesListOperators(node.node);
    case 'hasSome':
    case 'hasAll':
      return true;
    case 'compare':
    case 'in':
    case 'string':
    case 'exists':
    case 'linked':
      return false;
  }
}

/**
 * Rewrites `$hasSome`/`$hasAll` on the collection's MULTI_REFERENCE fields into link lookups: those fields'
 * values live in the link store, not in the item (Wix: "hasSome … items whose multi-reference field
 * references any of the given items").
 */
export function linkedFilter(
  filter: FilterNode,
  references: ReadonlyMap<string, ReferenceField>,
): FilterNode {
  const rewrite = (node: FilterNode): FilterNode => {
    switch (node.kind) {
      case 'and':
      case 'or':
        return { kind: node.kind, nodes: node.nodes.map(rewrite) };
      case 'not':
        return { kind: 'not', node: rewrite(node.node) };
      case 'hasSome':
      case 'hasAll': {
        const declared = node.field.length === 1 ? references.get(node.field[0] ?? '') : undefined;
        if (!declared?.multiple) return node;
        const toIds = node.values.flatMap((v) => (v.type === 'string' ? [v.value] : []));
        // An id is a string: a list holding anything else can never be fully matched.
        if (node.kind === 'hasAll' && toIds.length < node.values.length) return { kind: 'or', nodes: [] };
        return {
          kind: 'linked',
          field: declared.key,
          toCollectionId: declared.referencedCollectionId,
          toIds,
          all: node.kind === 'hasAll',
        };
      }
      case 'compare':
      case 'in':
      case 'string':
      case 'exists':
      case 'linked':
        return node;
    }
  };
  return rewrite(filter);
}
