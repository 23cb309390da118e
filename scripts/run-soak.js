// The fault suite and the storage-layout scale test at their soak sizes (docs/RELIABILITY.md). Usage:
//   npm run test:soak -- [--report] [--ci] [--scale S] [filter...]
// --report  rewrites docs/RELIABILITY.md from the figures the tests record
// --ci      runs the CI sizes instead (what `npm test` runs), e.g. to refresh the report quickly
// --scale S runs the soak sizes times S (0 < S <= 1); the report says which size ran
// filters   run only the soak test files whose path contains one of them
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
let report = false;
let ci = false;
let scale;
const filters = [];
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg === '--report') report = true;
  else if (arg === '--ci') ci = true;
  else if (arg === '--scale') scale = args[++i];
  else if (arg.startsWith('--')) {
    console.error(
      `unknown option ${arg}; usage: npm run test:soak -- [--report] [--ci] [--scale S] [filter...]`,
    );
    process.exit(2);
  } else filters.push(arg);
}
if (scale !== undefined && !(Number(scale) > 0 && Number(scale) <= 1)) {
  console.error(`--scale must be a number in (0, 1], not "${scale}"`);
  process.exit(2);
}

const dir = join('dist', 'test', 'faults');
// The fault suite, the scale test of the storage layout (its soak size: 20,000 sites × 5 collections) and
// the two-worker scheduling test (10,000 sites).
const files = readdirSync(dir)
  .filter((name) => name.endsWith('.test.js'))
  .map((name) => join(dir, name))
  .concat([
    join('dist', 'test', 'scale', 'catalog-growth.test.js'),
    join('dist', 'test', 'scale', 'two-workers.test.js'),
  ])
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .sort();
if (files.length === 0) {
  console.error('no soak test files matched');
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), 'safekeep-soak-'));
const reportFile = join(work, 'figures.ndjson');
const env = {
  ...process.env,
  ...(ci ? {} : { SAFEKEEP_SOAK: '1' }),
  ...(scale !== undefined && { SAFEKEEP_SOAK_SCALE: scale }),
  ...(report && { SAFEKEEP_REPORT_FILE: reportFile }),
};
// One file at a time: soak sizes are heavy, and the figures (memory growth, latency) should not be skewed by
// another file running beside them.
const started = Date.now();
const result = spawnSync(
  process.execPath,
  ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files],
  {
    stdio: 'inherit',
    env,
  },
);
const status = result.status ?? 1;
const minutes = ((Date.now() - started) / 60000).toFixed(1);

if (report) {
  let rows = [];
  try {
    rows = readFileSync(reportFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line));
  } catch {
    // no test recorded figures
  }
  rows.sort((a, b) => a.test.localeCompare(b.test, 'en', { numeric: true }));
  const cell = (text) =>
    String(text ?? '')
      .replace(/\|/g, '\\|')
      .replace(/\n/g, ' ');
  const run = ci ? 'CI sizes' : `soak sizes${scale !== undefined ? ` × ${scale}` : ''}`;
  const lines = [
    '# Reliability',
    '',
    'What the fault suite (`test/faults`, issue 5) proves, and the figures of its last recorded run. `npm test`',
    'runs every test at its CI size; `npm run test:soak` runs the soak sizes (hours), and',
    '`npm run test:soak -- --report` rewrites this file from the figures the tests record',
    '(`--ci` for the CI sizes, `--scale S` for a fraction of the soak sizes). Every randomized test prints its',
    'seed; `SAFEKEEP_SEED=n node scripts/run-tests.js <file>` replays it.',
    '',
    `Last run: ${new Date().toISOString().slice(0, 10)}, ${run}, ${minutes} min, ${status === 0 ? 'all passed' : 'SOME FAILED'}` +
      ` (node ${process.version}, ${process.platform}).`,
    '',
    '| Test | What it proves | CI size | Ran | Last figures | Seed |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${cell(r.test)} | ${cell(r.proves)} | ${cell(r.ciSize)} | ${cell(r.ran)} | ${cell(r.figures)} | ${cell(r.seed)} |`,
    ),
    '',
  ];
  writeFileSync(join('docs', 'RELIABILITY.md'), lines.join('\n'));
  console.log(`docs/RELIABILITY.md: ${rows.length} rows`);
}
rmSync(work, { recursive: true, force: true });
process.exit(status);
