/** String methods of ES2024 that Node 20 has; the project's `lib` is ES2023 (Node 20 lacks other ES2024 APIs). */
interface Es2024String {
  isWellFormed(): boolean;
  toWellFormed(): string;
}

/** Whether `text` is well-formed UTF-16 (no lone surrogate). */
export function isWellFormedText(text: string): boolean {
  return (text as unknown as Es2024String).isWellFormed();
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function join(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return parent ? `${parent}.${key}` : key;
}

/**
 * Where a parsed request part holds text that is not well-formed UTF-16 (a lone surrogate, which JSON can
 * carry as `"\ud800"`), in a string value or a property name, as the dotted field name the error reports
 * (`dataItem.data.title`, `dataItemIds[2]`); undefined when all text is well formed. Iterative, so a
 * deeply nested body cannot exhaust the stack. A property name that is itself ill-formed is reported with
 * its bad code units replaced by U+FFFD, so the error names it in well-formed text.
 */
export function illFormedTextIn(value: unknown, root: string): string | undefined {
  // Nearly every request is well formed: find out without building a path per value (which cost more than
  // parsing the JSON did, on a 1,000-item bulk body), and name the field only for a request refused.
  if (allWellFormed(value)) return undefined;
  const pending: [unknown, string][] = [[value, root]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [node, path] = next;
    if (typeof node === 'string') {
      if (!isWellFormedText(node)) return path;
    } else if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) pending.push([node[i], join(path, i)]);
    } else if (isRecord(node)) {
      for (const [key, child] of Object.entries(node)) {
        if (!isWellFormedText(key)) return join(path, (key as unknown as Es2024String).toWellFormed());
        pending.push([child, join(path, key)]);
      }
    }
  }
  return undefined;
}

/** Whether every string value and property name in `value` is well formed. Iterative, allocation-light. */
function allWellFormed(value: unknown): boolean {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const node = pending.pop();
    if (typeof node === 'string') {
      if (!isWellFormedText(node)) return false;
    } else if (Array.isArray(node)) {
      for (const child of node)
        if (typeof child === 'object' || typeof child === 'string') pending.push(child);
    } else if (isRecord(node)) {
      for (const key in node) {
        if (!isWellFormedText(key)) return false;
        const child = node[key];
        if (typeof child === 'object' || typeof child === 'string') pending.push(child);
      }
    }
  }
  return true;
}
