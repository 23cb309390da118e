import type { Backup, Progress } from '../../src/sdk/index.js';
import { h } from './dom.js';
import { announce } from './notices.js';

/**
 * The dashboard's one date format, to the second (two backups a few seconds apart must read apart), in
 * the person's locale. Every date on every page goes through `dateText` or `when`.
 */
const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** A timestamp as text in the dashboard's one format, for places that take no markup (an `<option>`). */
export function dateText(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : dateFormat.format(date);
}

/** A timestamp for people, in a `<time>` that keeps the exact value; a dash when unset. */
export function when(iso: string | null | undefined): HTMLElement | string {
  if (!iso) return '—';
  return h('time', { datetime: iso, title: iso }, dateText(iso));
}

/** A byte count for people (int64 strings as the API sends them). */
export function bytes(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  const n = Number(value);
  if (!Number.isFinite(n)) return String(value);
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let size = n / 1024;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit += 1;
  }
  return `${size.toFixed(size < 10 ? 1 : 0)} ${units[unit]}`;
}

/** A count for people: `1,234`. */
export function count(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  const n = Number(value);
  return Number.isFinite(n) ? n.toLocaleString() : String(value);
}

/** A progress bar with its figures in words (the bar alone says nothing to a screen reader). */
export function progressView(progress: Progress | null, label: string): HTMLElement {
  if (!progress || progress.itemsTotal === 0) {
    return h('span', { class: 'progress-text' }, progress ? 'Starting…' : 'Waiting for a worker…');
  }
  const percent = Math.floor((progress.itemsDone / progress.itemsTotal) * 100);
  return h(
    'span',
    { class: 'progress' },
    h('progress', { max: progress.itemsTotal, value: progress.itemsDone, 'aria-label': label }),
    h(
      'span',
      { class: 'progress-text' },
      `${count(progress.itemsDone)} / ${count(progress.itemsTotal)} items (${percent}%)`,
    ),
  );
}

const triggerNames: Record<Backup['trigger'], string> = {
  ON_DEMAND: 'On demand',
  SCHEDULE: 'Scheduled',
  PRE_RESTORE: 'Safety (before a restore)',
  IMPORT: 'Imported from an archive',
  COPY: 'Copied from another site',
};

/** What kind of backup it is, in words. */
export function kindOf(backup: Backup): string {
  if (backup.trigger === 'IMPORT' || backup.trigger === 'COPY')
    return `On demand · ${triggerNames[backup.trigger]}`;
  return `${backup.type === 'AUTO' ? 'Automatic' : 'On demand'}${backup.type === 'AUTO' ? ` · ${triggerNames[backup.trigger]}` : ''}`;
}

/**
 * A backup's name in a picker: a safety backup names the restoration it was taken before (it holds what
 * that restoration replaced, so restoring it undoes that restoration, which is rarely what a person
 * picking "a backup" wants); any other backup says what took it.
 * @param restorationId the restoration whose safety backup it is, when known
 */
export function backupLabel(backup: Backup, restorationId: string | undefined): string {
  if (backup.trigger === 'IMPORT' || backup.trigger === 'COPY') return triggerNames[backup.trigger];
  if (backup.trigger !== 'PRE_RESTORE') return backup.trigger === 'SCHEDULE' ? 'Scheduled' : 'On demand';
  return restorationId
    ? `Safety backup before restoration ${shortIdText(restorationId)}`
    : 'Safety backup before a restoration';
}

/** A status as a badge (the text is the status itself, so colour is never the only sign). */
export function statusBadge(status: string): HTMLElement {
  return h('span', { class: `badge status-${status.toLowerCase()}` }, status);
}

/** The short form of an id people read (its first 8 characters), for text that takes no markup. */
export function shortIdText(id: string): string {
  return id.length > 13 ? id.slice(0, 8) : id;
}

/**
 * An id as people see it: the short form on screen, yet the element holds the whole id (CSS cuts it
 * short), so one click selects all of it and copying takes all of it; the whole id is also its title, the
 * screen-reader text, and what the Copy button copies. With `href`, the id is a link there.
 */
export function shortId(id: string, href?: string): HTMLElement {
  const code = h('code', { title: id, class: id.length > 13 ? 'id long' : 'id' }, id);
  const copy = h(
    'button',
    { type: 'button', class: 'copy-id', 'aria-label': `Copy id ${id}`, title: 'Copy the whole id' },
    'Copy',
  );
  copy.addEventListener('click', () => {
    void copyText(id).then((copied) => {
      if (copied) {
        announce('Id copied.');
        return;
      }
      // No clipboard (a page served over plain HTTP has none): select it for Ctrl+C instead.
      window.getSelection()?.selectAllChildren(code);
      announce('Id selected: press Ctrl+C to copy it.');
    });
  });
  return h('span', { class: 'id-ref' }, href ? h('a', { href, class: 'id-link' }, code) : code, copy);
}

async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}
