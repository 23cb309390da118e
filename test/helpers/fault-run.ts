/**
 * What every fault test shares (docs/RELIABILITY.md): its size (CI or soak), its seed (printed, replayable)
 * and its figures (written to the reliability report by `npm run test:soak -- --report`).
 *
 * - `SAFEKEEP_SOAK=1` selects the soak sizes (`npm run test:soak` sets it); `SAFEKEEP_SOAK_SCALE` (0 < s ≤ 1)
 *   shrinks them for a shorter soak, and the report says which size actually ran.
 * - `SAFEKEEP_SEED=n` replays a run: every randomized test prints the seed it used.
 * - `SAFEKEEP_REPORT_FILE=path` makes `reportFigures` append one JSON line per test to that file.
 */
import { appendFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';

export const soak = process.env.SAFEKEEP_SOAK === '1';

const soakScale = (() => {
  const raw = process.env.SAFEKEEP_SOAK_SCALE;
  if (raw === undefined || raw === '') return 1;
  const scale = Number(raw);
  if (!(scale > 0 && scale <= 1)) throw new Error(`SAFEKEEP_SOAK_SCALE must be in (0, 1], not "${raw}"`);
  return scale;
})();

/** The number of cases to run: `ci` under `npm test`, `soakSize` (times SAFEKEEP_SOAK_SCALE) under test:soak. */
export function size(ci: number, soakSize: number): number {
  return soak ? Math.max(ci, Math.round(soakSize * soakScale)) : ci;
}

/**
 * The seed of one randomized test: SAFEKEEP_SEED when set (to replay), else a fresh one. Printed either way
 * with the command that replays it.
 */
export function seedFor(test: string): number {
  const raw = process.env.SAFEKEEP_SEED;
  const seed = raw !== undefined && raw !== '' ? Number(raw) : randomInt(1, 2 ** 31);
  if (!Number.isSafeInteger(seed)) throw new Error(`SAFEKEEP_SEED must be an integer, not "${raw}"`);
  console.log(`# seed for ${test}: ${seed} (replay: SAFEKEEP_SEED=${seed} node scripts/run-tests.js <file>)`);
  return seed;
}

/** One row of docs/RELIABILITY.md. */
export interface ReliabilityRow {
  /** Issue item number and short name, e.g. "3. Corruption: bit flips". Rows are sorted by it. */
  readonly test: string;
  /** What passing proves, in one sentence. */
  readonly proves: string;
  /** The size `npm test` runs, e.g. "100 kills". */
  readonly ciSize: string;
  /** The size that ran this time (the report notes whether it was the CI or a soak run). */
  readonly ran: string;
  /** The measured figures, e.g. "0 partial restores, 0 unverifiable READY backups, 0 stuck jobs". */
  readonly figures: string;
  readonly seed?: number;
}

/** Records a test's figures for the reliability report (a no-op unless SAFEKEEP_REPORT_FILE is set). */
export function reportFigures(row: ReliabilityRow): void {
  const file = process.env.SAFEKEEP_REPORT_FILE;
  if (!file) return;
  appendFileSync(file, JSON.stringify({ ...row, soak, scale: soak ? soakScale : undefined }) + '\n');
}
