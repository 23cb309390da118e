// Runs the compiled test suite with Node's test runner. Usage: node scripts/run-tests.js [filter...] [--flag...]
// Arguments that start with `--` go to `node --test` as they are (e.g. --test-name-pattern='claim order'
// runs only the tests whose names match; --test-only, --test-timeout=...); the others filter test files.
// Each test file runs in its own process; files are spread over the machine's cores.
// With no filter, the whole suite runs on the embedded stack, then the backup suite (test/backups) runs
// again on PostgreSQL + S3 (SAFEKEEP_TEST_STACK=scaleout; see test/helpers/harness.ts). With filters, the
// matching files run once, on the stack SAFEKEEP_TEST_STACK names (embedded by default).
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return find(path);
    return name.endsWith('.test.js') ? [path] : [];
  });
}

function run(files, env) {
  const concurrency = Math.max(2, availableParallelism());
  const result = spawnSync(
    process.execPath,
    ['--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...flags, ...files],
    { stdio: 'inherit', env: { ...process.env, ...env } },
  );
  return result.status ?? 1;
}

const args = process.argv.slice(2).filter((a) => a !== '--');
const flags = args.filter((a) => a.startsWith('--'));
const filters = args.filter((a) => !a.startsWith('--'));
const all = find('dist/test').sort();
const files = all.filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
let status = run(files, {});
if (filters.length === 0) {
  console.log('\n== the backup suite again, on PostgreSQL + S3 (SAFEKEEP_TEST_STACK=scaleout) ==\n');
  const backups = all.filter((f) => f.startsWith(join('dist', 'test', 'backups') + '/'));
  status = run(backups, { SAFEKEEP_TEST_STACK: 'scaleout' }) || status;
}
process.exit(status);
