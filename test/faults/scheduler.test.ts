/**
 * Issue 5, item 9: the scheduler over two simulated years on a fake clock, with a 3-day outage, clock jumps
 * back and forth, and the process in a time zone with daylight saving time. Pass: exactly one catch-up per
 * site after the outage, 0 duplicate and 0 skipped weekly runs, counted from the real backup rows the
 * scheduler created (DELETED ones included: retention keeps them listed, backups-api.md §5).
 */

// The schedule is in epoch terms; a zone with DST proves local time never leaks into it. This file runs in a
// process of its own (scripts/run-tests.js), and Node applies a TZ assigned at run time to every Date after.
process.env.TZ = 'America/New_York';

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newGuid } from '../../src/services/ids.js';
import { runJobs } from '../helpers/backup-helpers.js';
import { reportFigures, seedFor, size } from '../helpers/fault-run.js';
import { startTestEnv } from '../helpers/harness.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { HOUR, DAY, planTimeline, ScheduleModel, type SimSite } from './scheduler-timeline.js';

const YEARS = 2;

describe('scheduler under a fake clock for two years (TZ=America/New_York)', () => {
  it('runs in a zone whose offset changes with DST', () => {
    // Without this, the DST part of the test would prove nothing.
    assert.equal(new Date('2026-01-15T12:00:00Z').getTimezoneOffset(), 300);
    assert.equal(new Date('2026-07-15T12:00:00Z').getTimezoneOffset(), 240);
  });

  for (const stack of ['embedded', 'scaleout'] as const) {
    const siteCount = stack === 'embedded' ? size(80, 10_000) : size(8, 1000);
    const dailySites = stack === 'embedded' ? 2 : 1;
    it(`${stack}: ${siteCount} sites, outage, clock jumps and 4 DST changes: one catch-up, 0 duplicate, 0 skipped`, async () => {
      const seed = seedFor(`9. Scheduler (${stack})`);
      const random = seededRandom(seed);
      const env = await startTestEnv({ stack });
      const started = performance.now();
      try {
        const start = env.clock.now();
        const timeline = planTimeline(start, YEARS, random, stack === 'embedded' ? 12 : 24);
        const sites: SimSite[] = [];
        const addSite = async (createdAt: number, intervalDays: number) => {
          const id = newGuid();
          await env.safekeep.storage.sites.create({
            id,
            name: `s${sites.length}`,
            createdAt,
            settings: { autoBackupIntervalDays: intervalDays, autoBackupRetention: 1 },
          });
          sites.push({ id, createdAt, intervalDays });
        };
        // 70% in the phase of the outage (each then has exactly one weekly slot inside it), the rest in any
        // phase, and one or two daily ones (three slots inside the outage, which must collapse into one catch-up).
        // Retention keeps only the newest scheduled backup, so the backups run in the first weeks delete rows.
        const outagePhase =
          timeline.outage.from - Math.ceil((timeline.outage.from - start) / (7 * DAY)) * 7 * DAY;
        for (let i = 0; i < siteCount; i++) {
          if (i < dailySites) await addSite(start - Math.floor(random() * DAY), 1);
          else if (i % 10 < 7)
            await addSite(outagePhase + HOUR + Math.floor(random() * (3 * DAY - 2 * HOUR)), 7);
          else await addSite(start - Math.floor(random() * 7 * DAY), 7);
        }
        const model = new ScheduleModel();
        const scheduler = env.safekeep.background().scheduler;
        const dstSites: string[] = [];
        let ticks = 0;
        let jobsRun = 0;
        let tickMs = 0;
        let jobsMs = 0;
        for (const step of timeline.steps) {
          env.clock.current = step.at;
          // Sites created just before a DST change, at local 01:30 (a skipped or a repeated hour follows).
          for (const createdAt of step.createSites ?? []) {
            await addSite(createdAt, 7);
            dstSites.push(sites.at(-1)?.id ?? '');
          }
          if (!step.tick) continue;
          const tickStarted = performance.now();
          await scheduler.tick();
          tickMs += performance.now() - tickStarted;
          model.tick(step.at, sites);
          ticks += 1;
          // The first weeks run every scheduled backup, so retention deletes some.
          if (step.at < start + 3 * 7 * DAY) {
            const jobsStarted = performance.now();
            jobsRun += await runJobs(env, 1_000_000);
            jobsMs += performance.now() - jobsStarted;
          }
        }
        const end = env.clock.now();

        // Count from the backup rows themselves.
        let rows = 0;
        let deleted = 0;
        let duplicates = 0;
        let mismatched = 0;
        let skippedWeekly = 0;
        let weeklySlots = 0;
        const catchUps = new Map<string, number>();
        for (const site of sites) {
          const { backups } = await env.safekeep.storage.backups.listBackups(site.id, {
            types: ['AUTO'],
            limit: 10_000,
            offset: 0,
          });
          const scheduled = backups.filter((b) => b.trigger === 'SCHEDULE');
          rows += scheduled.length;
          deleted += scheduled.filter((b) => b.status === 'DELETED').length;
          const bySlot = new Map<number, number>();
          for (const b of scheduled) bySlot.set(b.scheduleSlot ?? -1, b.requestedAt);
          duplicates += scheduled.length - bySlot.size;
          // Every row is the one the model expects, taken at the tick the model says; and none is missing.
          const expected = model.expected(site.id);
          for (const [slot, at] of expected) if (bySlot.get(slot) !== at) mismatched += 1;
          for (const slot of bySlot.keys()) if (!expected.has(slot)) mismatched += 1;
          // Independently of the model: every weekly slot up to the end has its backup.
          const interval = site.intervalDays * DAY;
          for (let slot = site.createdAt + interval; slot <= end; slot += interval) {
            if (site.intervalDays !== 7) break;
            weeklySlots += 1;
            if (!bySlot.has(slot)) skippedWeekly += 1;
          }
          let inOutage = 0;
          let slotsInOutage = 0;
          for (const slot of bySlot.keys()) if (timeline.outage.contains(slot)) inOutage += 1;
          for (let slot = site.createdAt + interval; slot <= end; slot += interval)
            if (timeline.outage.contains(slot)) slotsInOutage += 1;
          if (slotsInOutage > 0) catchUps.set(site.id, inOutage);
        }
        const catchUpCounts = [...catchUps.values()];
        const wrongCatchUps = catchUpCounts.filter((n) => n !== 1).length;
        const elapsed = Math.round(performance.now() - started);

        console.log(
          `# ${stack}: ${sites.length} sites, ${ticks} ticks over ${((end - start) / DAY).toFixed(0)} days, ` +
            `${rows} scheduled backup rows (${deleted} DELETED by retention, ${jobsRun} backups run), ` +
            `${weeklySlots} weekly slots, ${skippedWeekly} skipped, ${duplicates} duplicates, ` +
            `${mismatched} model mismatches, ${catchUps.size} sites with slots in the outage, ` +
            `${wrongCatchUps} without exactly one catch-up, ${dstSites.length} sites created at DST changes, ${elapsed} ms ` +
            `(ticks ${Math.round(tickMs)} ms, backups ${Math.round(jobsMs)} ms)`,
        );
        assert.equal(duplicates, 0, 'duplicate scheduled backups');
        assert.equal(skippedWeekly, 0, 'skipped weekly runs');
        assert.equal(mismatched, 0, 'backups differing from the schedule model');
        const mustCatchUp =
          dailySites + [...Array(siteCount).keys()].filter((i) => i >= dailySites && i % 10 < 7).length;
        assert.ok(catchUps.size >= mustCatchUp, `${catchUps.size} sites had a slot in the outage`);
        assert.equal(wrongCatchUps, 0, 'every site with slots in the outage gets exactly one catch-up');
        const daily = sites.filter((s) => s.intervalDays === 1);
        for (const site of daily)
          assert.equal(catchUps.get(site.id), 1, 'three missed daily slots collapse into one catch-up');
        assert.ok(deleted > 0, 'retention deleted some backups, and they were still counted');
        assert.ok(weeklySlots > siteCount * 90, 'two years of weekly slots were simulated');

        reportFigures({
          test: `9. Scheduler: 2 years, outage, clock jumps, DST (${stack})`,
          proves:
            'every weekly slot gets exactly one backup whatever the clock does, and an outage yields one catch-up per site',
          ciSize: stack === 'embedded' ? '80 sites × 2 years' : '8 sites × 2 years',
          ran: `${sites.length} sites × 2 years, ${ticks} ticks`,
          figures:
            `${weeklySlots} weekly slots: 0 duplicate, ${skippedWeekly} skipped; ${catchUps.size} sites with ` +
            `slots in the 3-day outage, ${wrongCatchUps} without exactly one catch-up; ${rows} backup rows ` +
            `(${deleted} DELETED by retention) all as modelled; TZ=America/New_York across 4 DST changes; ${elapsed} ms`,
          seed,
        });
      } finally {
        await env.close();
      }
    });
  }
});
