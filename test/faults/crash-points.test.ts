/**
 * Issue 5, item 1: crash points, enumerated. Every failpoint of src/engine/failpoints.ts (backup,
 * retention, restoration, garbage collection), at its first hit and, where it is hit several times, a
 * middle one: the scenario (test/faults/crash-scenario.ts) stops there, the process restarts on the same
 * data, and then
 * - no READY backup points at missing or unverifiable content (manifest and every chunk re-read and
 *   checked), and once a collection has run, no backup row names a missing manifest;
 * - live content hashes to exactly the phase's before or target state, and to the target once the
 *   interrupted jobs were taken over;
 * - start-up leaves no temp files and no orphan generations;
 * - the next backup reaches READY.
 * Most points stop in-process (SimulatedCrash, then close and reopen); a sample of each phase is a real
 * process exit (SIGKILL at the failpoint, in a child worker process), and two points also run on the
 * scale-out stack (PostgreSQL + S3). A meta-test fails when a failpoint is never hit by the scenario.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { cleanUpAfterCrash } from '../../src/app/composition-root.js';
import { ON_DEMAND_LIMIT } from '../../src/domain/backup.js';
import { MAX_ATTEMPTS } from '../../src/jobs/job-worker.js';
import { failpointNames, SimulatedCrash, type FailpointName } from '../../src/engine/failpoints.js';
import { reportFigures } from '../helpers/fault-run.js';
import { startTestEnv, type TestEnv, type TestSite } from '../helpers/harness.js';
import { TestClock } from '../helpers/test-clock.js';
import {
  buildStart,
  contentHash,
  embeddedChildEnv,
  orphanGenerations,
  phaseOf,
  phases,
  prepare,
  tempFiles,
  unsettledGenerations,
  unverifiableBackups,
  type Expectations,
  type Phase,
} from './crash-scenario.js';

const P = '/wix-data/v2';
/** Past both the job lease (60 s) and the GC lease (10 min): what a restart after a crash waits for. */
const AFTER_LEASES = 11 * 60_000;
/** Points hit once per chunk (or per deleted object): stopped at a middle hit too. */
const perChunk: readonly FailpointName[] = [
  'backup:chunk-stored',
  'restore:chunk-staged',
  'restore:safety-chunk-stored',
  'gc:chunk-deleted',
];
const child = fileURLToPath(new URL('./crash-child.js', import.meta.url));

interface Armed {
  point?: FailpointName;
  nth: number;
  /** Crash at every hit from the nth on (a crash loop), not only at the nth. */
  every?: boolean;
  hits: number;
  crashed: boolean;
  readonly counts: Map<FailpointName, number>;
}

function armedFailpoint(armed: Armed) {
  return (name: FailpointName): Promise<void> => {
    armed.counts.set(name, (armed.counts.get(name) ?? 0) + 1);
    if (name === armed.point && (++armed.hits === armed.nth || (armed.every && armed.hits > armed.nth))) {
      armed.crashed = true;
      return Promise.reject(new SimulatedCrash(`${name} #${armed.nth}`));
    }
    return Promise.resolve();
  };
}

/** Runs every claimable job in this process, stopping (as a dead process would) after a crash. */
async function drain(env: TestEnv, armed?: Armed): Promise<void> {
  const { worker } = env.safekeep.background();
  while (!armed?.crashed && (await worker.runOne(new AbortController().signal)));
}

/** The work a phase's failpoints are in: the jobs, then a garbage collection. */
async function work(env: TestEnv, armed: Armed): Promise<void> {
  try {
    await drain(env, armed);
    if (!armed.crashed) await env.safekeep.background().gc.collectAll();
  } catch (error) {
    if (!(error instanceof SimulatedCrash)) throw error;
  }
}

interface Outcome {
  readonly tempFiles: number;
  readonly orphans: number;
  readonly unverifiable: string[];
  readonly contentBetween: boolean;
}

/** The checks after a restart (start-up cleanup done), then the takeover, the next backup and a GC. */
async function checkRestart(
  env: TestEnv,
  site: TestSite,
  expect: Expectations,
  point: string,
): Promise<Outcome> {
  const state = expect.states[phaseOf(point)];
  assert.ok(state);
  const live = await contentHash(env, site.siteId);
  const outcome: Outcome = {
    tempFiles: tempFiles(env.dataDir).length,
    orphans: await orphanGenerations(env),
    unverifiable: await unverifiableBackups(env),
    contentBetween: live !== state.before && live !== state.target,
  };
  const call = (method: string, path: string, body?: unknown) =>
    env.call(method, path, { key: site.apiKey, body });
  await drain(env);
  const backup = (await call('GET', `${P}/backups/${expect.backupId}`)).body.backup;
  assert.equal(backup.status, 'READY', `the interrupted backup: ${JSON.stringify(backup.error)}`);
  if (expect.restorationId) {
    const r = (await call('GET', `${P}/backups/restorations/${expect.restorationId}`)).body.restoration;
    assert.equal(r.status, 'COMPLETED', JSON.stringify(r.error));
    assert.equal((await call('GET', `${P}/backups/${r.safetyBackupId}`)).body.backup.status, 'READY');
  }
  assert.equal(await contentHash(env, site.siteId), state.target, 'live content after the takeover');
  const onDemand = (await call('GET', `${P}/backups?status=READY&type=ON_DEMAND`)).body.backups as unknown[];
  assert.equal(onDemand.length, ON_DEMAND_LIMIT, 'retention kept exactly the newest on-demand backups');
  const next = (await call('POST', `${P}/backups`, {})).body.backup.id as string;
  await drain(env);
  const nextBackup = (await call('GET', `${P}/backups/${next}`)).body.backup;
  assert.equal(nextBackup.status, 'READY', `the next backup: ${JSON.stringify(nextBackup.error)}`);
  await env.safekeep.background().gc.collectAll();
  assert.deepEqual(await unverifiableBackups(env, true), [], 'after the next backup and a collection');
  assert.equal(await unsettledGenerations(env), 0, 'generations left building or retiring');
  return outcome;
}

function assertClean(outcome: Outcome): void {
  assert.equal(outcome.tempFiles, 0, 'temp files after start-up');
  assert.equal(outcome.orphans, 0, 'orphan generations after start-up');
  assert.deepEqual(outcome.unverifiable, [], 'READY backups after the restart');
  assert.equal(outcome.contentBetween, false, 'live content is the before or the target state');
}

describe('crash points, enumerated', () => {
  const T0 = Date.parse('2026-03-02T09:00:00.000Z');
  let template: string;
  let site: TestSite;
  let startedAt = 0;
  const counts = new Map<FailpointName, number>();
  /** Hits of each point in the run of its own phase. */
  const phaseCounts = new Map<FailpointName, number>();
  const dirs: string[] = [];
  const figures = { points: 0, runs: 0, realExits: 0, scaleout: 0, failed: 0 };
  const copy = () => {
    const dir = mkdtempSync(join(tmpdir(), 'safekeep-crash-'));
    dirs.push(dir);
    cpSync(template, dir, { recursive: true });
    return dir;
  };

  before(async () => {
    const clock = new TestClock(T0);
    const env = await startTestEnv({ clock, stack: 'embedded' });
    template = env.dataDir;
    site = await env.createSite();
    await buildStart(env, site, () => drain(env));
    startedAt = clock.current;
    await env.close(true);
    // A dry run of the whole scenario counts each failpoint's hits, in all and within its own phase (a
    // point's test runs only its phase: restoration points are hit again by the undo, for one).
    const dir = copy();
    const armed: Armed = { nth: 0, hits: 0, crashed: false, counts };
    const count = armedFailpoint(armed);
    let phaseNow: Phase = 'backup';
    const dry = await startTestEnv({
      dataDir: dir,
      clock: new TestClock(startedAt),
      failpoint: (name) => {
        if (phaseOf(name) === phaseNow) phaseCounts.set(name, (phaseCounts.get(name) ?? 0) + 1);
        return count(name);
      },
      stack: 'embedded',
    });
    let ran = 0;
    await prepare(dry, site, 'gc', async () => {
      phaseNow = phases[ran++] ?? 'gc';
      await drain(dry);
    });
    phaseNow = 'gc';
    await work(dry, armed);
    await dry.close(true);
  });

  after(() => {
    for (const dir of [template, ...dirs]) rmSync(dir, { recursive: true, force: true });
    reportFigures({
      test: '1. Crash points: every failpoint, restarted',
      proves:
        'a process dying at any durable step of backup, retention, restoration or GC leaves only verifiable READY backups, live data before or after, no temp files or orphan generations, and a working next backup',
      ciSize: `${failpointNames.length} points`,
      ran: `${figures.points} points, ${figures.runs} crash runs (${figures.realExits} real exits, ${figures.scaleout} on PostgreSQL + S3)`,
      figures: `${figures.failed} runs failing a pass condition`,
    });
  });

  it('hits every failpoint in the scenario (a new failpoint must be reachable here)', () => {
    console.log(`# failpoint hits in the scenario: ${JSON.stringify(Object.fromEntries(counts))}`);
    const missing = failpointNames.filter((name) => !counts.get(name));
    assert.deepEqual(missing, [], 'failpoints the scenario never reaches');
  });

  /** The hits each point is stopped at: the first, and for per-chunk points hit several times a middle one. */
  const hitsOf = (name: FailpointName): number[] => {
    const n = phaseCounts.get(name) ?? 0;
    return perChunk.includes(name) && n >= 2 ? [1, Math.floor(n / 2) + 1] : [1];
  };

  for (const point of failpointNames) {
    it(`${point}: stopped in-process at each chosen hit, restarted clean`, async () => {
      assert.ok(counts.get(point), `${point} is never hit`);
      figures.points += 1;
      for (const nth of hitsOf(point)) {
        const dir = copy();
        const clock = new TestClock(startedAt);
        const armed: Armed = { nth, hits: 0, crashed: false, counts: new Map() };
        const env = await startTestEnv({
          dataDir: dir,
          clock,
          failpoint: armedFailpoint(armed),
          stack: 'embedded',
        });
        const expect = await prepare(env, site, phaseOf(point), () => drain(env));
        armed.point = point;
        await work(env, armed);
        await env.close(true);
        assert.ok(armed.crashed, `${point} #${nth} was reached`);
        clock.advance(AFTER_LEASES);
        const restarted = await startTestEnv({ dataDir: dir, clock, stack: 'embedded' });
        try {
          await cleanUpAfterCrash(restarted.safekeep);
          figures.runs += 1;
          figures.failed += 1;
          assertClean(await checkRestart(restarted, site, expect, point));
          figures.failed -= 1;
        } finally {
          await restarted.close(true);
        }
      }
    });
  }

  // A crash loop: the same point on every attempt, until the job is given up (JOB_INTERRUPTED).
  const loops: [FailpointName, 'backup' | 'restoration', string][] = [
    ['backup:chunk-stored', 'backup', 'FAILED'],
    ['restore:chunk-staged', 'restoration', 'FAILED'],
    ['restore:safety-chunk-stored', 'restoration', 'COMPLETED'],
  ];
  for (const [point, kind, ends] of loops) {
    it(`${point} on every attempt: the ${kind} ends ${ends} (JOB_INTERRUPTED), live data whole, start-up clean`, async () => {
      const dir = copy();
      const clock = new TestClock(startedAt);
      const armed: Armed = { nth: 1, every: true, hits: 0, crashed: false, counts: new Map() };
      let env = await startTestEnv({
        dataDir: dir,
        clock,
        failpoint: armedFailpoint(armed),
        stack: 'embedded',
      });
      const expect = await prepare(env, site, phaseOf(point), () => drain(env));
      armed.point = point;
      let crashes = 0;
      try {
        for (let attempt = 0; attempt <= MAX_ATTEMPTS; attempt++) {
          armed.crashed = false;
          await work(env, armed);
          if (armed.crashed) crashes += 1;
          await env.close(true);
          clock.advance(AFTER_LEASES);
          env = await startTestEnv({
            dataDir: dir,
            clock,
            failpoint: armedFailpoint(armed),
            stack: 'embedded',
          });
          await cleanUpAfterCrash(env.safekeep);
        }
        assert.equal(crashes, MAX_ATTEMPTS, 'one crash per attempt');
        figures.runs += 1;
        figures.failed += 1;
        const path =
          kind === 'backup'
            ? `${P}/backups/${expect.backupId}`
            : `${P}/backups/restorations/${expect.restorationId}`;
        const job = (await env.call('GET', path, { key: site.apiKey })).body[kind];
        assert.equal(job.status, ends);
        assert.equal(job.error?.code, 'JOB_INTERRUPTED');
        const state = expect.states[phaseOf(point)];
        const live = await contentHash(env, site.siteId);
        assert.equal(live, ends === 'COMPLETED' ? state?.target : state?.before, 'live content');
        armed.point = undefined;
        assert.equal(tempFiles(dir).length, 0, 'temp files');
        assert.equal(await unsettledGenerations(env), 0, 'generations left building or retiring');
        assert.deepEqual(await unverifiableBackups(env), [], 'READY backups');
        const next = (await env.call('POST', `${P}/backups`, { key: site.apiKey, body: {} })).body.backup
          .id as string;
        await drain(env);
        const status = (await env.call('GET', `${P}/backups/${next}`, { key: site.apiKey })).body.backup
          .status;
        assert.equal(status, 'READY', 'the next backup');
        figures.failed -= 1;
      } finally {
        await env.close(true);
      }
    });
  }

  const realExits: [FailpointName, 'first' | 'middle'][] = [
    ['backup:chunk-stored', 'middle'],
    ['retention:backup-deleted', 'first'],
    ['restore:switched', 'first'],
    ['gc:chunk-deleted', 'middle'],
  ];
  for (const [point, which] of realExits) {
    it(`${point} (${which} hit): a worker process SIGKILLed there, restarted clean`, async () => {
      const hits = hitsOf(point);
      const nth = (which === 'first' ? hits[0] : hits.at(-1)) ?? 1;
      const dir = copy();
      const clock = new TestClock(startedAt);
      const env = await startTestEnv({ dataDir: dir, clock, stack: 'embedded' });
      const expect = await prepare(env, site, phaseOf(point), () => drain(env));
      await env.close(true);
      const clockFile = join(dir, 'clock');
      writeFileSync(clockFile, String(clock.current));
      const proc = spawn(process.execPath, [child], {
        env: embeddedChildEnv({
          SAFEKEEP_DATA_DIR: dir,
          SAFEKEEP_FAILPOINT: `${point}:${nth}`,
          SAFEKEEP_TEST_CLOCK_FILE: clockFile,
          SAFEKEEP_WORKER_THREADS: '1',
          SAFEKEEP_LOG_LEVEL: 'warn',
        }),
      });
      let output = '';
      proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
      proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
      const signal = await new Promise<NodeJS.Signals | null>((resolve) =>
        proc.on('exit', (_code, s) => resolve(s)),
      );
      assert.equal(signal, 'SIGKILL', `the worker died at ${point} #${nth}:\n${output}`);
      clock.advance(AFTER_LEASES);
      const restarted = await startTestEnv({ dataDir: dir, clock, stack: 'embedded' });
      try {
        await cleanUpAfterCrash(restarted.safekeep);
        figures.runs += 1;
        figures.realExits += 1;
        figures.failed += 1;
        assertClean(await checkRestart(restarted, site, expect, point));
        figures.failed -= 1;
      } finally {
        await restarted.close(true);
      }
    });
  }

  for (const point of ['backup:manifest-published', 'restore:switched'] as const) {
    it(`${point} on PostgreSQL + S3: stopped in-process, restarted clean`, async () => {
      const clock = new TestClock(T0);
      const armed: Armed = { nth: 1, hits: 0, crashed: false, counts: new Map() };
      const env = await startTestEnv({ clock, stack: 'scaleout', failpoint: armedFailpoint(armed) });
      let restarted: TestEnv | undefined;
      try {
        const own = await env.createSite();
        await buildStart(env, own, () => drain(env));
        const expect = await prepare(env, own, phaseOf(point), () => drain(env));
        armed.point = point;
        await work(env, armed);
        await env.close(true);
        assert.ok(armed.crashed, `${point} was reached`);
        clock.advance(AFTER_LEASES);
        restarted = await startTestEnv({ dataDir: env.dataDir, clock, stack: 'scaleout' });
        await cleanUpAfterCrash(restarted.safekeep);
        figures.runs += 1;
        figures.scaleout += 1;
        figures.failed += 1;
        assertClean(await checkRestart(restarted, own, expect, point));
        figures.failed -= 1;
      } finally {
        await (restarted ?? env).close();
      }
    });
  }
});
