import type {
  Backup,
  Restoration,
  RestorationCollectionInput,
  RestorePreview,
  RestorePreviewCollection,
} from '../../../src/sdk/index.js';
import { field, h, replace, table, type Child } from '../dom.js';
import { backupLabel, count, dateText, shortId, shortIdText } from '../format.js';
import { announce, errorBox, runAction } from '../notices.js';
import { noSite, pageHeading, type PageContext } from '../page.js';
import { safetyRestorations } from '../safety-restorations.js';
import { followRestoration } from './restorations-page.js';

/** One collection's row in the wizard's choice step. */
interface Choice {
  readonly id: string;
  readonly displayName: string;
  readonly include: HTMLInputElement;
  readonly destinationId: HTMLInputElement;
  readonly destinationName: HTMLInputElement;
}

/**
 * The restore wizard: choose a backup and its collections (each into itself or a new destination),
 * review what will change, confirm, then follow the restoration to its end, with Undo.
 */
export async function restorePage(context: PageContext): Promise<void> {
  const { client, main, params, signal } = context;
  main.append(pageHeading('Restore a backup'));
  if (!context.site) {
    main.append(noSite(context));
    return;
  }
  if (!context.can('backups.restore')) {
    main.append(
      h(
        'p',
        { class: 'notice', 'data-missing-scopes': 'backups.restore' },
        'This key cannot restore backups: that needs the backups.restore scope (or backups.manage). ',
        h('a', { href: '#/backups' }, 'See the backups'),
        '.',
      ),
    );
    return;
  }
  const ready = (await client.listBackups({ status: ['READY'], limit: 200, signal })).backups;
  if (ready.length === 0) {
    main.append(
      h(
        'p',
        { class: 'notice' },
        'No backup is READY to restore yet. ',
        h('a', { href: '#/backups' }, 'Back up now'),
        ' first.',
      ),
    );
    return;
  }
  const before = await safetyRestorations(client, ready, signal);
  const wanted = params.get('backup');
  // The list is newest first. The default is never a safety backup: it holds what a restoration
  // replaced, so right after a restore the newest READY backup is the very state just restored away from.
  const backup = wanted ? ready.find((b) => b.id === wanted) : ready.find((b) => b.trigger !== 'PRE_RESTORE');
  const option = (b: Backup) =>
    h(
      'option',
      { value: b.id, selected: b.id === backup?.id, title: b.id },
      `${dateText(b.requestedDate)} · ${backupLabel(b, before.get(b.id))} · ${count(b.itemCount)} items · id ${shortIdText(b.id)}`,
    );
  const regular = ready.filter((b) => b.trigger !== 'PRE_RESTORE');
  const safety = ready.filter((b) => b.trigger === 'PRE_RESTORE');
  const step = h('section', { class: 'wizard-step', 'aria-live': 'polite' });
  const select = h(
    'select',
    {
      name: 'backup',
      onchange: (event) =>
        context.navigate(`#/restore?backup=${encodeURIComponent((event.target as HTMLSelectElement).value)}`),
    },
    !backup && h('option', { value: '', selected: true, disabled: true }, 'Choose a backup…'),
    regular.length > 0 && h('optgroup', { label: 'Backups' }, regular.map(option)),
    safety.length > 0 &&
      h('optgroup', { label: 'Safety backups (restoring one undoes its restoration)' }, safety.map(option)),
  );
  main.append(
    h(
      'ol',
      { class: 'steps', 'aria-label': 'Steps' },
      h('li', null, 'Choose'),
      h('li', null, 'Review'),
      h('li', null, 'Restore'),
    ),
    field(
      'Backup to restore',
      select,
      'Only READY backups can be restored, newest first. A safety backup holds what a restoration replaced.',
    ),
    step,
  );
  if (!backup && wanted) {
    replace(
      step,
      errorBox(new Error(`Backup ${wanted} is not READY (or does not exist); choose another one.`)),
    );
    return;
  }
  if (!backup) {
    replace(
      step,
      h(
        'p',
        { class: 'notice', 'data-choose-prompt': '' },
        'Choose the backup to restore above. Every READY backup is a safety backup: restoring one undoes the restoration it was taken before, which is only what you want to take back a restoration. To restore data as it is now later, ',
        h('a', { href: '#/backups' }, 'back up now'),
        ' first.',
      ),
    );
    return;
  }
  chooseStep(context, backup, before.get(backup.id), step);
}

function chooseStep(
  context: PageContext,
  backup: Backup,
  restorationId: string | undefined,
  step: HTMLElement,
): void {
  const choices: Choice[] = backup.collections.map((c) => ({
    id: c.id,
    displayName: c.displayName,
    include: h('input', { type: 'checkbox', checked: true, 'aria-label': `Restore ${c.id}` }),
    destinationId: h('input', {
      type: 'text',
      placeholder: c.id,
      'aria-label': `Destination id for ${c.id}`,
      spellcheck: 'false',
    }),
    destinationName: h('input', {
      type: 'text',
      placeholder: c.displayName,
      'aria-label': `Destination name for ${c.id}`,
    }),
  }));
  const all = h('input', { type: 'checkbox', checked: true });
  all.addEventListener('change', () => {
    for (const c of choices) c.include.checked = all.checked;
  });
  const slot = h('div', { class: 'slot' });
  const review = h('button', { type: 'submit', class: 'primary' }, 'Review the changes');
  const form = h(
    'form',
    { class: 'card', 'aria-labelledby': 'choose-title' },
    h('h2', { id: 'choose-title' }, '1. Choose collections'),
    h(
      'p',
      { class: 'chosen-backup' },
      'Chosen: ',
      backup.trigger === 'PRE_RESTORE' && restorationId
        ? [
            'Safety backup before restoration ',
            shortId(restorationId, `#/restorations?id=${encodeURIComponent(restorationId)}`),
          ]
        : backupLabel(backup, restorationId),
      ' · backup ',
      shortId(backup.id),
    ),
    h(
      'p',
      null,
      backup.snapshotDate
        ? `The backup holds the data as it was on ${dateText(backup.snapshotDate)}. `
        : `The backup was requested on ${dateText(backup.requestedDate)}. `,
      'Each chosen collection is restored into itself, or into the destination you name (a new id creates a new collection; the original is left alone).',
    ),
    h('label', { class: 'check' }, all, ' All collections'),
    table(
      'Collections in the backup',
      ['Restore', 'Collection', 'Destination id (optional)', 'Destination name (optional)'],
      choices.map((c) => [
        c.include,
        [h('strong', null, c.id), c.displayName !== c.id ? ` (${c.displayName})` : ''],
        c.destinationId,
        c.destinationName,
      ]),
    ),
    slot,
    h('div', { class: 'actions' }, review),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const chosen = choices.filter((c) => c.include.checked);
    if (chosen.length === 0) {
      replace(slot, errorBox(new Error('Choose at least one collection to restore.')));
      return;
    }
    const full =
      chosen.length === choices.length &&
      chosen.every((c) => !c.destinationId.value.trim() && !c.destinationName.value.trim());
    const request: RestorationCollectionInput[] | undefined = full
      ? undefined
      : chosen.map((c) => {
          const id = c.destinationId.value.trim();
          const name = c.destinationName.value.trim();
          return id || name
            ? {
                dataCollectionId: c.id,
                restoreDestination: {
                  ...(id && { dataCollectionId: id }),
                  ...(name && { displayName: name }),
                },
              }
            : { dataCollectionId: c.id };
        });
    void runAction(review, slot, async () => {
      const preview = await context.client.previewRestore(backup.id, request, { signal: context.signal });
      reviewStep(context, backup, request, preview, step, () =>
        chooseStep(context, backup, restorationId, step),
      );
    });
  });
  replace(step, form);
}

/** How existing destinations' definitions are treated: kept and extended, or replaced by the backup's. */
type DefinitionMode = 'MERGE' | 'BACKUP';

type DefinitionChanges = NonNullable<RestorePreviewCollection['definition']>;

const names = (keys: readonly string[]) => keys.join(', ');

/** What happens to one destination's definition, in words. */
function definitionText(
  definition: DefinitionChanges | null,
  mode: DefinitionMode,
): { text: string; warn: boolean } {
  if (definition === null)
    return {
      text: 'The backup’s collection definitions cannot be read: only the items can be compared.',
      warn: true,
    };
  if (definition.deleted) return { text: 'Deleted: the restoration being undone created it.', warn: true };
  const parts: string[] = [];
  if (definition.created)
    parts.push(
      definition.addedFields.length > 0
        ? `Created from the backup’s definition, with fields ${names(definition.addedFields)}`
        : 'Created from the backup’s definition',
    );
  if (definition.displayName && definition.displayName.from !== null)
    parts.push(`Name changes from “${definition.displayName.from}” to “${definition.displayName.to}”`);
  if (!definition.created && definition.addedFields.length > 0)
    parts.push(`Fields added: ${names(definition.addedFields)}`);
  if (definition.changedFields.length > 0) parts.push(`Fields changed: ${names(definition.changedFields)}`);
  if (definition.removedFields.length > 0) parts.push(`Fields removed: ${names(definition.removedFields)}`);
  if (definition.viewsReplaced) parts.push('Views replaced by the backup’s');
  if (definition.permissionsReplaced) parts.push('Permissions replaced by the backup’s');
  if (mode === 'MERGE' && definition.conflicts.length > 0)
    parts.push(`Conflict on ${names(definition.conflicts)}: kept as it is, this cannot be restored`);
  // A conflict the backup's definition settles is normally among the changed fields already.
  const settled = definition.conflicts.filter((k) => !definition.changedFields.includes(k));
  if (mode === 'BACKUP' && settled.length > 0) parts.push(`Takes the backup’s type for ${names(settled)}`);
  if (parts.length === 0)
    return {
      text: mode === 'BACKUP' ? 'Definition already as in the backup.' : 'Definition kept as it is.',
      warn: false,
    };
  return {
    text: `${parts.join('. ')}.`,
    warn: definition.removedFields.length > 0 || (mode === 'MERGE' && definition.conflicts.length > 0),
  };
}

/**
 * How many of a destination's live items the restore takes out of live data: the items the backup lacks
 * when the review could compare them, else at least the live items beyond the backup's count.
 */
export function itemsRemoved(c: RestorePreviewCollection): number {
  if (c.itemsNotInBackup) return c.itemsNotInBackup.count;
  return Math.max(0, c.itemsNowLive - (c.itemsInBackup ?? c.itemsNowLive));
}

/** A sample of ids as text: the first few, and how many more. */
function idsText(sample: { count: number; firstIds: readonly string[] }): string {
  const more = sample.count - sample.firstIds.length;
  return `${sample.firstIds.join(', ')}${more > 0 ? ` and ${count(more)} more` : ''}`;
}

/** What leaves live data and what changed since the backup, per destination (the review's losses list). */
function lossesList(preview: RestorePreview): HTMLElement | null {
  const lines = preview.collections.flatMap((c) => {
    const id = c.restoreDestination.dataCollectionId;
    const out: Child[] = [];
    const gone = c.itemsNotInBackup;
    if (gone && gone.count > 0)
      out.push(
        h(
          'li',
          { class: 'warn', 'data-lost-items': id },
          h('strong', null, id),
          `: ${count(gone.count)} item${gone.count === 1 ? '' : 's'} live now ${gone.count === 1 ? 'is' : 'are'} not in the backup and will leave live data (the safety backup keeps them): `,
          h('code', null, idsText(gone)),
        ),
      );
    const changed = c.itemsChanged;
    if (changed && changed.count > 0)
      out.push(
        h(
          'li',
          { 'data-changed-items': id },
          h('strong', null, id),
          `: ${count(changed.count)} item${changed.count === 1 ? '' : 's'} changed since the backup and will go back to the backup’s version: `,
          h('code', null, idsText(changed)),
        ),
      );
    return out;
  });
  return lines.length > 0 ? h('ul', { class: 'definition-changes', 'data-losses': '' }, lines) : null;
}

function reviewStep(
  context: PageContext,
  backup: Backup,
  request: RestorationCollectionInput[] | undefined,
  preview: RestorePreview,
  step: HTMLElement,
  back: () => void,
  mode: DefinitionMode = 'MERGE',
): void {
  const slot = h('div', { class: 'slot' });
  const confirm = h('button', { type: 'button', class: 'primary' }, 'Restore now');
  const rows = preview.collections.map((c): Child[] => {
    const to = c.restoreDestination;
    return [
      c.dataCollectionId,
      [
        h('strong', null, to.dataCollectionId),
        to.displayName !== to.dataCollectionId ? ` (${to.displayName})` : '',
        c.destinationExists ? '' : [' ', h('span', { class: 'badge' }, 'new')],
      ],
      count(c.itemsNowLive),
      c.itemsInBackup === null ? 'unknown' : count(c.itemsInBackup),
    ];
  });
  // Restoring into another collection that already exists replaces what is there: likely a mistyped
  // or reused id, so it is said before anything else, in a warning's colours.
  const overwritten = preview.collections.filter(
    (c) => c.restoreDestination.dataCollectionId !== c.dataCollectionId && c.destinationExists,
  );
  const warnings =
    overwritten.length > 0 &&
    h(
      'div',
      { class: 'notice warning', 'data-overwrite-warning': '' },
      h('p', { class: 'notice-message' }, 'These destinations are other collections that already exist:'),
      h(
        'ul',
        { class: 'notice-details' },
        overwritten.map((c) =>
          h(
            'li',
            null,
            `${c.restoreDestination.dataCollectionId} already exists: its ${count(c.itemsNowLive)} live item${c.itemsNowLive === 1 ? '' : 's'} will be replaced by ${c.dataCollectionId} from the backup.`,
          ),
        ),
      ),
    );
  const conflicted = preview.collections.filter((c) => (c.definition?.conflicts.length ?? 0) > 0);
  const blocked = mode === 'MERGE' && conflicted.length > 0;
  const rerun = (next: DefinitionMode, button: HTMLButtonElement) =>
    void runAction(button, slot, async () => {
      const again = await context.client.previewRestore(backup.id, request, {
        definitionMode: next,
        signal: context.signal,
      });
      reviewStep(context, backup, request, again, step, back, next);
      announce(
        next === 'BACKUP'
          ? 'Reviewed again: destinations take the backup’s definition.'
          : 'Reviewed again: destinations keep their definition.',
      );
    });
  const takeBackup = h(
    'button',
    { type: 'button', onclick: (e) => rerun('BACKUP', e.currentTarget as HTMLButtonElement) },
    'Take the backup’s definition (BACKUP)',
  );
  const keepOwn = h(
    'button',
    { type: 'button', onclick: (e) => rerun('MERGE', e.currentTarget as HTMLButtonElement) },
    'Keep the existing definitions (MERGE)',
  );
  const conflictBox =
    blocked &&
    h(
      'div',
      { class: 'notice error', role: 'alert', 'data-definition-conflicts': '' },
      h('p', { class: 'notice-message' }, 'Definition conflicts: this restoration would be refused.'),
      h(
        'ul',
        { class: 'notice-details' },
        conflicted.map((c) =>
          h(
            'li',
            null,
            h('strong', null, c.restoreDestination.dataCollectionId),
            `: field${c.definition?.conflicts.length === 1 ? '' : 's'} `,
            h('code', null, names(c.definition?.conflicts ?? [])),
            ' has another type or referenced collection there than in the backup.',
          ),
        ),
      ),
      h(
        'p',
        null,
        'Keeping the existing definitions (MERGE) cannot restore these fields. Take the backup’s definition instead: each existing destination then gets the backup’s fields, views and permissions whole.',
      ),
      h('div', { class: 'actions' }, takeBackup),
    );
  const modeNote =
    mode === 'BACKUP'
      ? h(
          'div',
          { class: 'notice', 'data-definition-mode': 'BACKUP' },
          h(
            'p',
            null,
            'Definitions: each existing destination takes the backup’s definition whole (BACKUP): fields, views and permissions as they were in the backup.',
          ),
          h('div', { class: 'actions' }, keepOwn),
        )
      : null;
  const definitions = h(
    'ul',
    { class: 'definition-changes', 'aria-labelledby': 'definitions-title' },
    preview.collections.map((c) => {
      const { text, warn } = definitionText(c.definition, mode);
      return h(
        'li',
        { class: warn ? 'warn' : null, 'data-definition-for': c.restoreDestination.dataCollectionId },
        h('strong', null, c.restoreDestination.dataCollectionId),
        ': ',
        text,
      );
    }),
  );
  // A restore that would take more than half of a collection's items out of live data is confirmed by
  // typing that collection's id.
  const drastic = preview.collections.filter(
    (c) => c.itemsNowLive > 0 && itemsRemoved(c) * 2 > c.itemsNowLive,
  );
  const typed = drastic.map((c) => {
    const id = c.restoreDestination.dataCollectionId;
    const input = h('input', {
      type: 'text',
      autocomplete: 'off',
      spellcheck: 'false',
      'data-confirm-collection': id,
      'aria-label': `Type ${id} to confirm`,
    });
    return { id, input, removed: itemsRemoved(c), live: c.itemsNowLive };
  });
  const typedOk = () => typed.every((t) => t.input.value.trim() === t.id);
  const syncConfirm = () => {
    confirm.disabled = blocked || !typedOk();
  };
  for (const t of typed) t.input.addEventListener('input', syncConfirm);
  const typeBox =
    typed.length > 0 &&
    h(
      'div',
      { class: 'notice warning', 'data-type-to-confirm': '' },
      h('p', { class: 'notice-message' }, 'This restore removes most of the items of:'),
      h(
        'ul',
        { class: 'notice-details' },
        typed.map((t) =>
          h(
            'li',
            null,
            `${t.id}: ${count(t.removed)} of its ${count(t.live)} live items leave live data. Type `,
            h('code', null, t.id),
            ' to confirm: ',
            t.input,
          ),
        ),
      ),
    );
  syncConfirm();
  if (blocked) {
    confirm.title = 'Resolve the definition conflicts first: take the backup’s definition (BACKUP).';
  }
  const title = h('h2', { id: 'review-title', tabindex: -1 }, '2. Review what will change');
  replace(
    step,
    h(
      'div',
      { class: 'card', role: 'group', 'aria-labelledby': 'review-title' },
      title,
      warnings,
      table(
        'What the restoration changes, per destination',
        ['From the backup', 'Into', 'Items live now', 'Items in the backup'],
        rows,
      ),
      lossesList(preview),
      typeBox,
      h('h3', { id: 'definitions-title' }, 'Collection definitions'),
      definitions,
      conflictBox,
      modeNote,
      h(
        'ul',
        { class: 'plain' },
        h(
          'li',
          null,
          'Each destination will hold exactly the backup’s items: the items live there now are replaced, all at once, when the restoration completes. Sandbox items and other collections are not touched.',
        ),
        h(
          'li',
          null,
          'Before switching, safekeep takes a safety backup of everything it replaces, so you can undo this restoration afterwards (Undo, on the Restorations page).',
        ),
        h('li', null, 'Writes to these collections while the restoration runs are replaced too.'),
      ),
      preview.problem &&
        errorBox(
          new Error(
            `This backup cannot be read: ${preview.problem.message} (${preview.problem.code}). Restoring it would fail.`,
          ),
        ),
      preview.quota &&
        errorBox(
          new Error(`This restoration would be refused: ${preview.quota.message} (${preview.quota.code})`),
        ),
      slot,
      h('div', { class: 'actions' }, h('button', { type: 'button', onclick: back }, 'Back'), confirm),
      blocked && h('p', { class: 'hint' }, 'Restore now is off until the definition conflicts are resolved.'),
    ),
  );
  title.focus();
  confirm.addEventListener('click', () => {
    // The mode the person reviewed is the mode sent: MERGE is the server's default, so it is left out.
    const options = { signal: context.signal, ...(mode === 'BACKUP' && { definitionMode: mode }) };
    void runAction(confirm, slot, async () => {
      const restoration = request
        ? await context.client.restorePartialBackup(backup.id, request, options)
        : await context.client.restoreBackup(backup.id, options);
      announce('Restoration started.');
      progressStep(context, restoration, step);
    });
  });
}

function progressStep(context: PageContext, restoration: Restoration, step: HTMLElement): void {
  const title = h('h2', { id: 'progress-title', tabindex: -1 }, '3. Restoring');
  const body = h('div', { class: 'restoration-live' });
  replace(step, h('div', { class: 'card', role: 'group', 'aria-labelledby': 'progress-title' }, title, body));
  title.focus();
  const titles = { PENDING: '3. Restoring', COMPLETED: '3. Restored', FAILED: '3. The restoration failed' };
  followRestoration(context, restoration, body, (shown) => {
    title.textContent = titles[shown.status];
  });
}
