import type { Backup, Restoration } from '../../../src/sdk/index.js';
import { confirmDialog, h, replace, table, type Child } from '../dom.js';
import { kindOf, progressView, shortId, statusBadge, when } from '../format.js';
import { announce, errorBox, runAction, showError } from '../notices.js';
import { missingScopes, noSite, pageHeading, type PageContext } from '../page.js';
import { safetyRestorations } from '../safety-restorations.js';
import { POLL_MS } from './backups-page.js';

const PAGE_SIZE = 25;

/** A link to one backup on the Backups page, which marks it. */
function backupLink(id: string): HTMLElement {
  return shortId(id, `#/backups?id=${encodeURIComponent(id)}`);
}

/** A link to one restoration on the Restorations page, which marks it. */
function restorationLink(id: string): HTMLElement {
  return shortId(id, `#/restorations?id=${encodeURIComponent(id)}`);
}

/** Where a restoration's safety backup is: a link once it exists. */
function safetyBackupCell(r: Restoration): Child {
  if (r.safetyBackupId) return backupLink(r.safetyBackupId);
  return r.status === 'PENDING' ? 'Not taken yet' : '—';
}

/** The backup a restoration restored: when, what kind, its id, and for a safety backup its restoration. */
function fromBackupCell(backup: Backup, before: ReadonlyMap<string, string>): Child[] {
  const restorationId = before.get(backup.id);
  return [
    when(backup.requestedDate),
    h('br'),
    kindOf(backup),
    h('br'),
    backupLink(backup.id),
    backup.trigger === 'PRE_RESTORE' &&
      h(
        'span',
        { class: 'before-restoration' },
        restorationId ? ['before restoration ', restorationLink(restorationId)] : 'before a restoration',
      ),
  ];
}

function destinations(r: Restoration): string {
  return r.restorationCollections
    .map((c) =>
      c.dataCollectionId === c.restoreDestination.dataCollectionId
        ? c.dataCollectionId
        : `${c.dataCollectionId} → ${c.restoreDestination.dataCollectionId}`,
    )
    .join(', ');
}

/**
 * Asks, then restores a completed restoration's safety backup: that puts back exactly what the
 * restoration replaced. Resolves with the new restoration, or undefined when the person said no.
 */
export async function undoRestoration(
  context: PageContext,
  restoration: Restoration,
): Promise<Restoration | undefined> {
  const safetyBackupId = restoration.safetyBackupId;
  if (!safetyBackupId) return undefined;
  const yes = await confirmDialog(
    'Undo this restoration?',
    [
      h(
        'p',
        null,
        `This restores the safety backup taken just before it: ${destinations(restoration)} get back the items they held then.`,
      ),
      h('p', null, 'It is itself a restoration, with its own safety backup, so it can be undone too.'),
    ],
    'Undo restoration',
  );
  if (!yes) return undefined;
  const undo = await context.client.restoreBackup(safetyBackupId, { signal: context.signal });
  announce('Undo started.');
  return undo;
}

/**
 * Shows one restoration live in `container` until it ends: its status and progress, then the result
 * with Undo (for a completed one, which follows the undo in its place) or the error (for a failed one).
 * `onShow` hears of every state shown.
 */
export function followRestoration(
  context: PageContext,
  restoration: Restoration,
  container: HTMLElement,
  onShow: (shown: Restoration) => void = () => undefined,
): void {
  const slot = h('div', { class: 'slot' });
  const show = (r: Restoration) => {
    const parts: Child[] = [
      h(
        'p',
        null,
        'Restoration ',
        shortId(r.id),
        ' ',
        h('span', { 'data-restoration-id': r.id, 'data-status': r.status }, statusBadge(r.status)),
      ),
      h('p', null, `Collections: ${destinations(r)}`),
      r.safetyBackupId && h('p', null, 'Safety backup (restore it to undo): ', backupLink(r.safetyBackupId)),
    ];
    if (r.status === 'PENDING') parts.push(progressView(r.progress, 'Progress of the restoration'));
    if (r.status === 'COMPLETED') {
      parts.push(h('p', { class: 'notice success' }, `Restored. Finished `, when(r.finishedDate), '.'));
      if (r.safetyBackupId && context.can('backups.restore')) {
        const undo = h('button', { type: 'button' }, 'Undo this restoration');
        undo.addEventListener('click', () => {
          void runAction(undo, slot, async () => {
            const next = await undoRestoration(context, r);
            if (next) followRestoration(context, next, container, onShow);
          });
        });
        parts.push(
          h(
            'div',
            { class: 'actions' },
            undo,
            h('a', { href: '#/restorations', class: 'button' }, 'All restorations'),
          ),
        );
      }
    }
    if (r.status === 'FAILED' && r.error) {
      parts.push(errorBox(new Error(`${r.error.message} (${r.error.code}). Live data was not changed.`)));
    }
    replace(container, parts, slot);
    onShow(r);
  };
  show(restoration);
  if (restoration.status !== 'PENDING') return;
  context.client
    .waitForRestoration(restoration.id, {
      intervalMs: POLL_MS,
      signal: context.signal,
      onProgress: (_p, r) => show(r),
    })
    .then((final) => {
      show(final);
      announce(`Restoration ${final.status === 'COMPLETED' ? 'completed' : 'failed'}.`);
    })
    .catch((error: unknown) => {
      if (!context.signal.aborted) showError(slot, error);
    });
}

/**
 * The site's restorations, newest first, with live progress and Undo; each links to the backup it
 * restored and to its safety backup. `#/restorations?id=…` (where other pages link to a restoration)
 * marks that restoration and moves focus to it, listing it first when the list would not show it.
 */
export async function restorationsPage(context: PageContext): Promise<void> {
  const { client, main, params, signal } = context;
  main.append(pageHeading('Restorations'));
  if (!context.site) {
    main.append(noSite(context));
    return;
  }
  const errors = h('div', { class: 'slot' });
  const listSlot = h('div', { class: 'list' });
  let limit = PAGE_SIZE;
  const followed = new Set<string>();
  const linkedId = params.get('id');
  /** Safety backup id → the restoration it was taken before. */
  const before = new Map<string, string>();

  const reload = async (): Promise<void> => {
    const page = await client.listRestorations({ limit, signal });
    let restorations = page.restorations;
    if (linkedId && !restorations.some((r) => r.id === linkedId)) {
      try {
        restorations = [await client.getRestoration(linkedId, { signal }), ...restorations];
      } catch (error) {
        if (!signal.aborted) showError(errors, error);
      }
    }
    for (const r of restorations) if (r.safetyBackupId) before.set(r.safetyBackupId, r.id);
    await safetyRestorations(
      client,
      restorations.map((r) => r.backup),
      signal,
      before,
    );
    if (restorations.length === 0) {
      replace(
        listSlot,
        h(
          'p',
          { class: 'empty' },
          'No restorations yet. ',
          h('a', { href: '#/restore' }, 'Restore a backup'),
          '.',
        ),
      );
      return;
    }
    replace(
      listSlot,
      table(
        'Restorations, newest first',
        [
          'Requested',
          'Status',
          'From backup',
          'Collections',
          'Finished',
          'Safety backup',
          ...(context.can('backups.restore') ? ['Actions'] : []),
        ],
        restorations.map((r) => row(r)),
        (i) =>
          restorations[i]?.id === linkedId
            ? { class: 'linked', 'data-focus': '', tabindex: -1, 'aria-current': 'true' }
            : null,
      ),
      h('p', { class: 'paging' }, `${page.restorations.length} of ${page.pagingMetadata.total} restorations`),
      page.restorations.length < page.pagingMetadata.total &&
        h(
          'button',
          {
            type: 'button',
            onclick: (e) => {
              limit += PAGE_SIZE;
              void runAction(e.currentTarget as HTMLButtonElement, errors, reload);
            },
          },
          'Show more',
        ),
    );
    for (const r of restorations) if (r.status === 'PENDING') follow(r);
  };

  const follow = (r: Restoration): void => {
    if (followed.has(r.id)) return;
    followed.add(r.id);
    client
      .waitForRestoration(r.id, {
        intervalMs: POLL_MS,
        signal,
        onProgress: (progress) => {
          const cell = listSlot.querySelector(`[data-progress-for="${r.id}"]`);
          if (cell) replace(cell, progressView(progress, `Progress of restoration ${r.id}`));
        },
      })
      .then(async (final) => {
        followed.delete(r.id);
        announce(`Restoration ${final.id.slice(0, 8)} is ${final.status}.`);
        await reload();
      })
      .catch((error: unknown) => {
        followed.delete(r.id);
        if (!signal.aborted) showError(errors, error);
      });
  };

  const row = (r: Restoration): Child[] => {
    const status: Child[] = [statusBadge(r.status)];
    if (r.status === 'PENDING')
      status.push(
        h(
          'span',
          { 'data-progress-for': r.id, class: 'row-progress' },
          progressView(r.progress, `Progress of restoration ${r.id}`),
        ),
      );
    if (r.error) status.push(h('span', { class: 'row-error' }, `${r.error.message} (${r.error.code})`));
    const actions: Child[] = [];
    if (r.status === 'COMPLETED' && r.safetyBackupId && context.can('backups.restore')) {
      actions.push(
        h(
          'button',
          {
            type: 'button',
            'aria-label': `Undo restoration ${r.id}`,
            onclick: (event) =>
              void runAction(event.currentTarget as HTMLButtonElement, errors, async () => {
                const undo = await undoRestoration(context, r);
                if (undo) await reload();
              }),
          },
          'Undo',
        ),
      );
    }
    return [
      [when(r.requestedDate), ' ', shortId(r.id)],
      h('span', { class: 'status-cell', 'data-restoration-id': r.id, 'data-status': r.status }, status),
      fromBackupCell(r.backup, before),
      destinations(r),
      when(r.finishedDate),
      safetyBackupCell(r),
      ...(context.can('backups.restore') ? [h('span', { class: 'row-actions' }, actions)] : []),
    ];
  };

  main.append(
    h(
      'div',
      { class: 'toolbar' },
      context.can('backups.restore') &&
        h('a', { href: '#/restore', class: 'button primary' }, 'Restore a backup…'),
      h(
        'button',
        {
          type: 'button',
          onclick: (e) => void runAction(e.currentTarget as HTMLButtonElement, errors, reload),
        },
        'Refresh',
      ),
    ),
    missingScopes(context, [['backups.restore', 'restore or undo']]) ?? '',
    errors,
    listSlot,
  );
  await reload();
}
