/**
 * Where background loops and services report what they cannot return to a caller (a failed sweep, an
 * undeliverable webhook). pino's logger fits it; tests pass a recorder.
 */
export interface Logger {
  info(obj: object, msg?: string): void;
  /** Falls back to `error` when absent. */
  warn?(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}
