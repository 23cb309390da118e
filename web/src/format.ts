import type { Backup, Progress } from '../../src/sdk/index.js';
import { h } from './dom.js';

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** A timestamp for people, in a `<time>` that keeps the exact value; a dash when unset. */
export function when(iso: string | null | undefined): HTMLElement | string {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return h('time', { datetime: iso, title: iso }, dateFormat.format(date));
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
};

/** What kind of backup it is, in words. */
export function kindOf(backup: Backup): string {
  return `${backup.type === 'AUTO' ? 'Automatic' : 'On demand'}${backup.type === 'AUTO' ? ` · ${triggerNames[backup.trigger]}` : ''}`;
}

/** A status as a badge (the text is the status itself, so colour is never the only sign). */
export function statusBadge(status: string): HTMLElement {
  return h('span', { class: `badge status-${status.toLowerCase()}` }, status);
}

/** A short form of an id, with the whole id on hover and for screen readers. */
export function shortId(id: string): HTMLElement {
  return h('code', { title: id, class: 'id' }, id.length > 13 ? `${id.slice(0, 8)}…` : id);
}
