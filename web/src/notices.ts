import { SafekeepApiError, SafekeepConnectionError } from '../../src/sdk/index.js';
import { byId, h, replace } from './dom.js';

/** Everything an error says, for people: the server's message, its code, and each field at fault. */
export function describeError(error: unknown): { message: string; details: string[] } {
  if (error instanceof SafekeepApiError) {
    const details = error.fieldViolations
      .map((v) => `${v.field || 'request'}: ${v.description}`)
      .filter((line) => line !== error.message);
    details.push(`${error.code} · HTTP ${error.status}`);
    return { message: error.message, details };
  }
  if (error instanceof SafekeepConnectionError) {
    return {
      message: 'The server did not answer. Check that safekeep is running, then try again.',
      details: [error.message],
    };
  }
  return { message: error instanceof Error ? error.message : String(error), details: [] };
}

/** An error box: `role="alert"` so it is read out as soon as it appears. */
export function errorBox(error: unknown): HTMLElement {
  const { message, details } = describeError(error);
  return h(
    'div',
    { class: 'notice error', role: 'alert' },
    h('p', { class: 'notice-message' }, message),
    details.length > 0 &&
      h(
        'ul',
        { class: 'notice-details' },
        details.map((d) => h('li', null, d)),
      ),
  );
}

/** Shows an error in a slot (replacing what was there), or clears the slot. */
export function showError(slot: Element, error: unknown): void {
  if (error === undefined) replace(slot);
  else replace(slot, errorBox(error));
}

/** Says something to screen-reader users without moving focus (and shows it briefly as a toast). */
export function announce(message: string): void {
  const region = byId('announcer');
  // Clear first, so the same message twice is read twice.
  region.textContent = '';
  window.setTimeout(() => {
    region.textContent = message;
    window.setTimeout(() => {
      if (region.textContent === message) region.textContent = '';
    }, TOAST_MS);
  }, 50);
}

/** How long a message stays on screen. */
const TOAST_MS = 6000;

/**
 * Runs a button's action: the button is disabled while it runs (no double submits), and a failure is
 * shown in `slot`. Resolves with the action's result, or undefined when it failed.
 */
export async function runAction<T>(
  button: HTMLButtonElement | null,
  slot: Element,
  action: () => Promise<T>,
): Promise<T | undefined> {
  if (button) {
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
  }
  showError(slot, undefined);
  try {
    return await action();
  } catch (error) {
    showError(slot, error);
    return undefined;
  } finally {
    if (button) {
      button.disabled = false;
      button.removeAttribute('aria-busy');
    }
  }
}
