import {
  SafekeepApiError,
  type Backup,
  type BackupStatus,
  type BackupStorage,
  type BackupType,
  type SafekeepClient,
} from '../../../src/sdk/index.js';
import { confirmDialog, field, h, replace, table, type Child } from '../dom.js';
import { bytes, count, dateText, kindOf, progressView, shortId, statusBadge, when } from '../format.js';
import { announce, runAction, showError } from '../notices.js';
import { missingScopes, noSite, pageHeading, type PageContext } from '../page.js';
import { safetyRestorations } from '../safety-restorations.js';

const statuses: readonly BackupStatus[] = ['PENDING', 'READY', 'FAILED', 'CANCELED', 'DELETED'];
const PAGE_SIZE = 25;
/** How often a pending backup is read while the page shows it. */
export const POLL_MS = 1000;

/**
 * The backups of the site: list, filters, "Back up now", delete, cancel, and live progress. A safety
 * backup links to the restoration it was taken before. `#/backups?id=…` (where other pages link to a
 * backup) marks that backup and moves focus to it, listing it first when the list would not show it.
 */
export async function backupsPage(context: PageContext): Promise<void> {
  const { client, main, params, signal } = context;
  main.append(pageHeading('Backups'));
  if (!context.site) {
    main.append(noSite(context));
    return;
  }
  const chosenStatuses = params
    .getAll('status')
    .filter((s): s is BackupStatus => statuses.includes(s as BackupStatus));
  const rawType = params.get('type');
  const chosenType: BackupType | undefined =
    rawType === 'ON_DEMAND' || rawType === 'AUTO' ? rawType : undefined;

  const errors = h('div', { class: 'slot' });
  const schedule = h('p', { class: 'schedule' }, 'Reading the schedule…');
  const health = h('p', { class: 'backup-health' }, 'Reading the backup health…');
  const storage = h('p', { class: 'backup-storage' });
  /** Backup id → the stored bytes only it holds (what deleting it frees), once the storage view is read. */
  const frees = new Map<string, string>();
  const listSlot = h('div', { class: 'list' });
  const backUpNow = h('button', { type: 'button', class: 'primary' }, 'Back up now');
  const refresh = h('button', { type: 'button' }, 'Refresh');
  let limit = PAGE_SIZE;
  const followed = new Set<string>();
  const linkedId = params.get('id');
  /** Safety backup id → the restoration it was taken before. */
  const before = new Map<string, string>();

  // A key that may only read gets no Actions column: every row's would be empty.
  const mayAct = (['backups.restore', 'backups.create', 'backups.delete'] as const).some((s) =>
    context.can(s),
  );

  const reload = async (): Promise<void> => {
    const page = await client.listBackups({
      limit,
      ...(chosenStatuses.length > 0 && { status: chosenStatuses }),
      ...(chosenType && { type: [chosenType] }),
      signal,
    });
    let backups = page.backups;
    if (linkedId && !backups.some((b) => b.id === linkedId)) {
      try {
        backups = [await client.getBackup(linkedId, { signal }), ...backups];
      } catch (error) {
        if (!signal.aborted) showError(errors, error);
      }
    }
    await safetyRestorations(client, backups, signal, before);
    await loadStorage(client, storage, frees, signal);
    renderList(backups, page.backups.length, page.pagingMetadata.total);
    for (const backup of backups) if (backup.status === 'PENDING') follow(backup);
  };

  /** Reads a pending backup until it ends, updating its row; then shows the list as it now is. */
  const follow = (backup: Backup): void => {
    if (followed.has(backup.id)) return;
    followed.add(backup.id);
    client
      .waitForBackup(backup.id, {
        intervalMs: POLL_MS,
        signal,
        onProgress: (progress) => {
          const cell = listSlot.querySelector(`[data-progress-for="${backup.id}"]`);
          if (cell) replace(cell, progressView(progress, `Progress of backup ${backup.id}`));
        },
      })
      .then(async (final) => {
        followed.delete(backup.id);
        announce(`Backup ${final.id.slice(0, 8)} is ${final.status}.`);
        await reload();
      })
      .catch((error: unknown) => {
        followed.delete(backup.id);
        if (!signal.aborted) showError(errors, error);
      });
  };

  const renderList = (backups: readonly Backup[], listed: number, total: number): void => {
    if (backups.length === 0) {
      replace(
        listSlot,
        h(
          'p',
          { class: 'empty' },
          chosenStatuses.length || chosenType
            ? 'No backup matches the filters.'
            : 'No backups yet. Back up now to take the first one.',
        ),
      );
      return;
    }
    const rows = backups.map((b) => backupRow(b));
    replace(
      listSlot,
      table(
        'Backups, newest first',
        [
          'Requested',
          'Type',
          'Status',
          'Finished',
          'Size',
          'Verified',
          'Items',
          'Collections',
          ...(mayAct ? ['Actions'] : []),
        ],
        rows,
        (i) =>
          backups[i]?.id === linkedId
            ? { class: 'linked', 'data-focus': '', tabindex: -1, 'aria-current': 'true' }
            : null,
      ),
      h('p', { class: 'paging' }, `${listed} of ${total} backups`),
      listed < total &&
        h(
          'button',
          {
            type: 'button',
            onclick: (event) => {
              limit += PAGE_SIZE;
              void runAction(event.currentTarget as HTMLButtonElement, errors, reload);
            },
          },
          'Show more',
        ),
    );
  };

  const backupRow = (b: Backup): Child[] => {
    const actions: Child[] = [];
    if (b.status === 'READY' && context.can('backups.restore')) {
      actions.push(
        h('a', { href: `#/restore?backup=${encodeURIComponent(b.id)}`, class: 'button' }, 'Restore…'),
      );
    }
    if (b.status === 'PENDING' && context.can('backups.create')) {
      actions.push(
        h(
          'button',
          {
            type: 'button',
            'aria-label': `Cancel backup ${b.id}`,
            onclick: (event) =>
              void runAction(event.currentTarget as HTMLButtonElement, errors, async () => {
                await client.cancelBackup(b.id);
                announce('Backup canceled.');
                await reload();
              }),
          },
          'Cancel',
        ),
      );
    }
    if (b.status === 'READY' && context.can('backups.create')) {
      actions.push(
        h(
          'button',
          {
            type: 'button',
            'aria-label': `Verify backup ${b.id}`,
            onclick: (event) =>
              void runAction(event.currentTarget as HTMLButtonElement, errors, async () => {
                const started = await client.verifyBackup(b.id, { signal });
                announce('Verification started: every stored object of the backup is read and checked.');
                const done = await client.waitForVerification(started.id, { intervalMs: POLL_MS, signal });
                announce(
                  done.status === 'PASSED'
                    ? `Backup ${b.id.slice(0, 8)} verified: intact.`
                    : `Backup ${b.id.slice(0, 8)} FAILED verification: ${done.error?.message ?? ''}`,
                );
                await reload();
              }),
          },
          'Verify',
        ),
      );
    }
    if (b.status !== 'DELETED' && context.can('backups.delete')) {
      actions.push(
        h(
          'button',
          {
            type: 'button',
            class: 'danger',
            'aria-label': `Delete backup ${b.id}`,
            onclick: (event) => {
              const button = event.currentTarget as HTMLButtonElement;
              void confirmDialog(
                'Delete this backup?',
                [
                  h(
                    'p',
                    null,
                    `The backup requested ${dateText(b.requestedDate)} can no longer be restored once deleted.`,
                  ),
                  b.status === 'PENDING' && h('p', null, 'It is still running: it will be stopped first.'),
                ],
                'Delete backup',
                true,
              ).then((yes) => {
                if (!yes) return;
                void runAction(button, errors, async () => {
                  await client.deleteBackup(b.id);
                  announce('Backup deleted.');
                  await reload();
                });
              });
            },
          },
          'Delete',
        ),
      );
    }
    const status: Child[] = [statusBadge(b.status)];
    if (b.status === 'PENDING') {
      status.push(
        h(
          'span',
          { 'data-progress-for': b.id, class: 'row-progress' },
          progressView(b.progress, `Progress of backup ${b.id}`),
        ),
      );
    }
    if (b.error) status.push(h('span', { class: 'row-error' }, `${b.error.message} (${b.error.code})`));
    const kind: Child[] = [kindOf(b)];
    if (b.trigger === 'PRE_RESTORE') {
      const restorationId = before.get(b.id);
      kind.push(
        h(
          'span',
          { class: 'before-restoration' },
          restorationId
            ? [
                'before restoration ',
                shortId(restorationId, `#/restorations?id=${encodeURIComponent(restorationId)}`),
              ]
            : 'before a restoration',
        ),
      );
    }
    return [
      [when(b.requestedDate), ' ', shortId(b.id)],
      h('span', { class: 'kind-cell' }, kind),
      h('span', { class: 'status-cell', 'data-backup-id': b.id, 'data-status': b.status }, status),
      when(b.finishedDate ?? b.deletedDate),
      frees.has(b.id)
        ? h(
            'span',
            null,
            bytes(b.sizeInBytes),
            h('span', { class: 'frees' }, ` (frees ${bytes(frees.get(b.id))})`),
          )
        : bytes(b.sizeInBytes),
      verifiedView(b),
      count(b.itemCount),
      b.collections.length === 0 ? '—' : b.collections.map((c) => c.displayName || c.id).join(', '),
      ...(mayAct ? [h('span', { class: 'row-actions' }, actions)] : []),
    ];
  };

  backUpNow.addEventListener('click', () => {
    void runAction(backUpNow, errors, async () => {
      try {
        const backup = await client.createBackup({ signal });
        announce('Backup started.');
        await reload();
        follow(backup);
      } catch (error) {
        if (error instanceof SafekeepApiError && error.code === 'BACKUP_ALREADY_IN_PROGRESS') await reload();
        throw error;
      }
    });
  });
  refresh.addEventListener('click', () => void runAction(refresh, errors, reload));

  main.append(
    h('div', { class: 'toolbar' }, context.can('backups.create') && backUpNow, refresh),
    missingScopes(context, [
      ['backups.create', 'back up or cancel'],
      ['backups.delete', 'delete backups'],
      ['backups.restore', 'restore'],
    ]) ?? '',
    schedule,
    health,
    storage,
    errors,
    filters(context, chosenStatuses, chosenType),
    listSlot,
  );
  void loadSchedule(client, schedule, signal);
  void loadHealth(client, health, signal);
  await reload();
}

/** The last verification of a backup: when and what it found; a failure stands out. */
function verifiedView(b: Backup): Child {
  const last = b.lastVerification;
  if (!last || !b.lastVerifiedDate) return '—';
  if (last.result === 'PASSED')
    return h(
      'span',
      { class: 'verified-ok', 'data-verified': 'PASSED' },
      'Intact, ',
      when(b.lastVerifiedDate),
    );
  return h(
    'span',
    { class: 'row-error verified-failed', 'data-verified': 'FAILED' },
    'DAMAGED, ',
    when(b.lastVerifiedDate),
    last.error ? `: ${last.error.message} (${last.error.code})` : '',
  );
}

async function loadHealth(client: SafekeepClient, slot: HTMLElement, signal: AbortSignal): Promise<void> {
  try {
    const health = await client.backupHealth({ signal });
    const last = health.lastGoodBackupDate;
    replace(
      slot,
      health.state === 'OVERDUE'
        ? h('strong', { class: 'badge status-failed' }, 'Backups OVERDUE')
        : h('span', { class: 'badge status-ready' }, 'Backups on time'),
      ' Last full backup: ',
      last ? when(last) : 'none yet',
      health.state === 'OVERDUE' ? '' : ['; overdue after ', when(health.overdueAfterDate)],
      '.',
    );
  } catch (error) {
    if (!signal.aborted)
      replace(
        slot,
        `The backup health could not be read: ${error instanceof Error ? error.message : String(error)}`,
      );
  }
}

/** The site's storage totals, and what deleting each backup frees (for its row). */
async function loadStorage(
  client: SafekeepClient,
  slot: HTMLElement,
  frees: Map<string, string>,
  signal: AbortSignal,
): Promise<void> {
  let view: BackupStorage;
  try {
    view = await client.backupStorage({ signal });
  } catch (error) {
    if (!signal.aborted)
      replace(
        slot,
        `The storage view could not be read: ${error instanceof Error ? error.message : String(error)}`,
      );
    return;
  }
  frees.clear();
  for (const b of view.backups) frees.set(b.backupId, b.exclusiveBytes);
  replace(
    slot,
    'Stored: ',
    h('strong', null, bytes(view.storedBytes)),
    ` for ${view.backups.length} READY backup${view.backups.length === 1 ? '' : 's'} (${bytes(view.logicalBytes)} uncompressed; deduplication saves ${bytes(view.deduplicatedBytes)}).`,
    view.unreadableBackupIds.length > 0
      ? h('span', { class: 'row-error' }, ` ${view.unreadableBackupIds.length} backup(s) could not be read.`)
      : '',
  );
}

async function loadSchedule(client: SafekeepClient, slot: HTMLElement, signal: AbortSignal): Promise<void> {
  try {
    const s = await client.backupSchedule({ signal });
    replace(
      slot,
      'Next automatic backup: ',
      h('strong', null, when(s.nextAutoBackupDate)),
      ` (every ${s.autoBackupIntervalDays} day${s.autoBackupIntervalDays === 1 ? '' : 's'}; the newest ${s.autoBackupRetention} are kept).`,
    );
  } catch (error) {
    if (!signal.aborted)
      replace(
        slot,
        `The schedule could not be read: ${error instanceof Error ? error.message : String(error)}`,
      );
  }
}

/** Status checkboxes and a type choice; applying them puts them in the address, so reload keeps them. */
function filters(
  context: PageContext,
  chosen: readonly BackupStatus[],
  type: BackupType | undefined,
): HTMLElement {
  const boxes = statuses.map((s) => {
    const input = h('input', { type: 'checkbox', name: 'status', value: s, checked: chosen.includes(s) });
    return h('label', { class: 'check' }, input, ` ${s}`);
  });
  const typeSelect = h(
    'select',
    { name: 'type' },
    h('option', { value: '', selected: type === undefined }, 'All types'),
    h('option', { value: 'ON_DEMAND', selected: type === 'ON_DEMAND' }, 'On demand'),
    h('option', { value: 'AUTO', selected: type === 'AUTO' }, 'Automatic'),
  );
  const form = h(
    'form',
    { class: 'filters', 'aria-label': 'Filter backups' },
    h('fieldset', null, h('legend', null, 'Status'), boxes),
    field('Type', typeSelect),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'submit' }, 'Apply filters'),
      h('a', { href: '#/backups', class: 'button' }, 'Clear'),
    ),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const query = new URLSearchParams();
    for (const box of form.querySelectorAll<HTMLInputElement>('input[name=status]:checked'))
      query.append('status', box.value);
    if (typeSelect.value) query.set('type', typeSelect.value);
    const text = query.toString();
    context.navigate(`#/backups${text ? `?${text}` : ''}`);
  });
  return form;
}
