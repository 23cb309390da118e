/** The rules of what a restoration does to definitions (backups-api.md §6.2, §6.5), case by case. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { copyDisplayName, planRestoration, type RestorationCollection } from '../../src/domain/backup.js';
import type { BackedUpDefinition } from '../../src/domain/manifest.js';
import {
  assertNoConflicts,
  referenceTargetsOf,
  resolveDefinition,
} from '../../src/domain/restore-definitions.js';

const multi = (key: string, target: string) => ({
  key,
  type: 'MULTI_REFERENCE',
  typeMetadata: { multiReference: { referencedCollectionId: target } },
});
const def = (fields: Record<string, unknown>[], displayName = 'Books'): BackedUpDefinition => ({
  displayName,
  fields,
  permissions: null,
  views: [{ name: 'All' }],
  extra: {},
});
const to = (source: string, destination: string): RestorationCollection => ({
  dataCollectionId: source,
  restoreDestination: { dataCollectionId: destination, displayName: destination },
});

describe('restore definitions', () => {
  it('maps reference targets as links are mapped: swaps follow, a lone copy keeps the original', () => {
    const books = def([multi('authors', 'Authors')]);
    assert.deepEqual(referenceTargetsOf('Books', books, [to('Books', 'Authors'), to('Authors', 'Books')]), {
      Authors: 'Books',
    });
    assert.deepEqual(referenceTargetsOf('Books', books, [to('Books', 'Books2')]), {});
    assert.deepEqual(referenceTargetsOf('Books', books, [to('Books', 'B2'), to('Authors', 'A2')]), {
      Authors: 'A2',
    });
  });

  it('MERGE keeps its own fields and views, gains missing ones, re-points a field at a restored source', () => {
    const current: BackedUpDefinition = {
      ...def([{ key: 'title', type: 'TEXT' }, multi('authors', 'Authors')], 'Mine'),
      views: [{ name: 'Mine' }],
    };
    const backup = def([multi('authors', 'Authors'), { key: 'pages', type: 'NUMBER' }]);
    const resolved = resolveDefinition({
      current,
      backup,
      mode: 'MERGE',
      displayName: 'Mine',
      referenceTargets: { Authors: 'Writers' },
    });
    assert.deepEqual(resolved.definition.fields, [
      { key: 'title', type: 'TEXT' },
      multi('authors', 'Writers'),
      { key: 'pages', type: 'NUMBER' },
    ]);
    assert.deepEqual(resolved.definition.views, [{ name: 'Mine' }]);
    assert.deepEqual(resolved.changes.addedFields, ['pages']);
    assert.deepEqual(resolved.changes.changedFields, ['authors']);
    assert.deepEqual(resolved.changes.conflicts, []);
    assert.equal(resolved.changes.displayName, null);
  });

  it('a field of another type or target conflicts in MERGE; BACKUP takes the backup whole', () => {
    const current = def([
      { key: 'title', type: 'RICH_TEXT' },
      multi('refs', 'Elsewhere'),
      { key: 'x', type: 'URL' },
    ]);
    const backup = def([{ key: 'title', type: 'TEXT' }, multi('refs', 'Authors')]);
    const input = { current, backup, displayName: 'Books', referenceTargets: {} };
    const merged = resolveDefinition({ ...input, mode: 'MERGE' });
    assert.deepEqual(merged.changes.conflicts, ['title', 'refs']);
    assert.throws(
      () => assertNoConflicts([{ dataCollectionId: 'Books', fields: merged.changes.conflicts }]),
      (e: { code?: string; data?: unknown }) =>
        e.code === 'DEFINITION_CONFLICT' &&
        JSON.stringify(e.data) === '{"conflicts":[{"dataCollectionId":"Books","fields":["title","refs"]}]}',
    );
    const replaced = resolveDefinition({ ...input, mode: 'BACKUP' });
    assert.deepEqual(replaced.definition, backup);
    assert.deepEqual(replaced.changes.changedFields, ['title', 'refs']);
    assert.deepEqual(replaced.changes.removedFields, ['x']);
  });

  it('an absent destination is created from the backup, or with its name only from an old backup', () => {
    const backup = def([{ key: 'title', type: 'TEXT' }]);
    const created = resolveDefinition({
      current: undefined,
      backup,
      mode: 'MERGE',
      displayName: 'Copy',
      referenceTargets: {},
    });
    assert.deepEqual(created.definition, { ...backup, displayName: 'Copy' });
    assert.equal(created.changes.created, true);
    const bare = resolveDefinition({
      current: undefined,
      backup: undefined,
      mode: 'MERGE',
      displayName: 'Books',
      referenceTargets: {},
    });
    assert.deepEqual(bare.definition, {
      displayName: 'Books',
      fields: [],
      permissions: null,
      views: [],
      extra: {},
    });
  });

  it('names destinations by §6.1: existing keep theirs, same id takes the backup’s, new id a copy name', () => {
    const at = Date.UTC(2026, 11, 3, 9);
    const plan = planRestoration(
      [
        { id: 'Books', displayName: 'Books' },
        { id: 'Authors', displayName: 'Authors' },
        { id: 'Notes', displayName: 'Notes' },
      ],
      [
        { dataCollectionId: 'Books', restoreDestination: { dataCollectionId: 'Books2' } },
        { dataCollectionId: 'Authors' },
        { dataCollectionId: 'Notes', restoreDestination: { dataCollectionId: 'Mine', displayName: '' } },
      ],
      { existingNames: new Map([['Mine', 'My notes']]), at },
    );
    assert.deepEqual(
      plan.map((p) => p.restoreDestination.displayName),
      ['Books (restored 2026-12-03)', 'Authors', 'My notes'],
    );
    assert.equal(copyDisplayName('Books', at), 'Books (restored 2026-12-03)');
  });
});
