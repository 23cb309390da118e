/**
 * A small element builder. Every text goes in as a text node (never as HTML), so nothing the API
 * returns can become markup.
 */
export type Child = Node | string | number | null | undefined | false | readonly Child[];

type Handler = (event: Event) => void;

/** Attributes (strings, numbers, booleans), `class`, and `on…` event handlers. */
export type Props = Record<string, string | number | boolean | null | undefined | Handler>;

/** Creates an element with attributes, handlers and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props | null = null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (typeof value === 'function') element.addEventListener(name.slice(2).toLowerCase(), value);
    else if (value === true) element.setAttribute(name, '');
    else element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

/** Appends children (flattening lists, skipping empty ones). */
export function append(parent: Node, children: readonly Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (typeof child === 'string' || typeof child === 'number')
      parent.appendChild(document.createTextNode(String(child)));
    else if (child instanceof Node) parent.appendChild(child);
    else append(parent, child);
  }
}

/** Replaces an element's content. */
export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

/** The element with an id, which the page must have. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing from the page`);
  return element as T;
}

let counter = 0;

/** A fresh id for label/control pairs. */
export function uid(prefix: string): string {
  counter += 1;
  return `${prefix}-${counter}`;
}

/** A labelled form control: the label names it for screen readers and is clickable. */
export function field(
  label: string,
  control: HTMLInputElement | HTMLSelectElement,
  hint?: string,
): HTMLElement {
  control.id ||= uid('field');
  const hintId = hint ? `${control.id}-hint` : undefined;
  if (hintId) control.setAttribute('aria-describedby', hintId);
  return h(
    'div',
    { class: 'field' },
    h('label', { for: control.id }, label),
    control,
    hint && h('p', { class: 'hint', id: hintId }, hint),
  );
}

/**
 * A table whose cells name their column (`data-label`), so narrow screens can show each row as a card.
 * `rowProps` gives a row its attributes (to mark the one a link pointed at).
 */
export function table(
  caption: string,
  columns: readonly string[],
  rows: readonly (readonly Child[])[],
  rowProps: (index: number) => Props | null = () => null,
): HTMLElement {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'data' },
      h('caption', { class: 'visually-hidden' }, caption),
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          columns.map((c) => h('th', { scope: 'col' }, c)),
        ),
      ),
      h(
        'tbody',
        null,
        rows.map((cells, index) =>
          h(
            'tr',
            rowProps(index),
            // One wrapper per cell: on narrow screens a cell is a two-column grid (its label, then its
            // content), and loose pieces of content (a date, then an id) would each take a grid cell.
            cells.map((cell, i) =>
              h('td', { 'data-label': columns[i] ?? '' }, h('div', { class: 'cell' }, cell)),
            ),
          ),
        ),
      ),
    ),
  );
}

/**
 * Asks a yes/no question in a modal dialog (focus moves into it and returns afterwards; Escape says no).
 * Resolves true when the person confirms.
 */
export function confirmDialog(
  title: string,
  message: Child,
  confirmLabel: string,
  danger = false,
): Promise<boolean> {
  const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  return new Promise((resolve) => {
    const titleId = uid('dialog-title');
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': titleId });
    const close = (answer: boolean) => {
      dialog.close();
      dialog.remove();
      opener?.focus();
      resolve(answer);
    };
    const cancel = h('button', { type: 'button', onclick: () => close(false) }, 'Cancel');
    const confirm = h(
      'button',
      { type: 'button', class: danger ? 'danger' : 'primary', onclick: () => close(true) },
      confirmLabel,
    );
    append(dialog, [
      h('h2', { id: titleId }, title),
      h('div', { class: 'dialog-body' }, message),
      h('div', { class: 'actions' }, cancel, confirm),
    ]);
    dialog.addEventListener('cancel', (event) => {
      event.preventDefault();
      close(false);
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    cancel.focus();
  });
}
