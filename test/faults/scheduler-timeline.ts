/**
 * The fake-clock timeline of the scheduler fault test (issue 5, item 9), and a model of the schedule that
 * says which backup each tick must create, written from backups-api.md §5 rather than from the scheduler.
 */

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

/** One point of the timeline: the clock is set to `at`; the scheduler ticks there unless it is down. */
export interface TimelineStep {
  readonly at: number;
  readonly tick: boolean;
  /** Sites to create (with these creation instants, all ≤ `at`) before the tick. */
  readonly createSites?: readonly number[];
}

/** The scheduler outage: slots in (from, to] are due while no scheduler runs. */
export interface Outage {
  readonly from: number;
  readonly to: number;
  contains(slot: number): boolean;
}

/** A simulated site: its creation instant gives its phase. */
export interface SimSite {
  readonly id: string;
  readonly createdAt: number;
  readonly intervalDays: number;
}

/** Where the clock jumps, in days after the start, and by how much. */
const jumps: readonly { day: number; by: number }[] = [
  { day: 200, by: -2 * HOUR },
  { day: 300, by: -DAY },
  { day: 400, by: 3 * HOUR },
  { day: 500, by: 2 * DAY },
  { day: 600, by: -DAY },
  { day: 610, by: 2 * DAY },
];

/**
 * New York's DST changes in the two simulated years (UTC instants), with what a host whose clock follows
 * local time by mistake would do: jump forward an hour in spring, back an hour in autumn.
 */
const dstChanges: readonly { at: number; by: number }[] = [
  { at: Date.parse('2026-03-08T07:00:00Z'), by: HOUR },
  { at: Date.parse('2026-11-01T06:00:00Z'), by: -HOUR },
  { at: Date.parse('2027-03-14T07:00:00Z'), by: HOUR },
  { at: Date.parse('2027-11-07T06:00:00Z'), by: -HOUR },
];

/**
 * Ticks every `maxStepHours` hours at most (random whole hours, at least 1) for `years`, with a 3-day outage
 * at about day 100, the clock jumps above, and at each DST change two sites created at local 01:30 (just
 * before the skipped or repeated hour) and the clock jumping by the hour the change adds or repeats.
 */
export function planTimeline(
  start: number,
  years: number,
  random: () => number,
  maxStepHours: number,
): { steps: TimelineStep[]; outage: Outage } {
  const end = start + years * 365 * DAY;
  const steps: TimelineStep[] = [{ at: start, tick: true }];
  const pendingJumps = [...jumps];
  const pendingDst = dstChanges.filter((d) => d.at > start && d.at < end);
  const outageStart = start + 100 * DAY + Math.floor(random() * 24) * HOUR;
  let outage: Outage | undefined;
  let t = start;
  while (t < end) {
    t += (1 + Math.floor(random() * maxStepHours)) * HOUR;
    if (!outage && t >= outageStart) {
      const from = steps.at(-1)?.at ?? start;
      const to = from + 3 * DAY;
      outage = { from, to, contains: (slot) => slot > from && slot <= to };
      t = to;
    }
    const jump = pendingJumps[0];
    if (jump && t >= start + jump.day * DAY) {
      pendingJumps.shift();
      steps.push({ at: t, tick: true });
      t += jump.by;
    }
    const dst = pendingDst[0];
    if (dst && t >= dst.at) {
      pendingDst.shift();
      // 01:30 local is 90 minutes before a spring change (EST) and 30 minutes before an autumn one (EDT).
      const localHalfPastOne = dst.at - (dst.by > 0 ? 90 : 30) * 60_000;
      steps.push({ at: t, tick: true, createSites: [localHalfPastOne, localHalfPastOne + 60_000] });
      t += dst.by;
    }
    steps.push({ at: t, tick: true });
  }
  if (!outage) throw new Error('the timeline is too short for the outage');
  return { steps, outage };
}

/** Which backup (slot → the tick instant that takes it) every tick must create, per site. */
export class ScheduleModel {
  private readonly lastSlotIndex = new Map<string, number>();
  private readonly slots = new Map<string, Map<number, number>>();

  /**
   * At a tick at `now`, a site whose latest slot (createdAt + k·interval, k ≥ 1, ≤ now) is newer than any it
   * had gets one backup for that slot; older missed slots are not made up (one catch-up, not several), and a
   * clock that went back never reaches a slot again.
   */
  tick(now: number, sites: readonly SimSite[]): void {
    for (const site of sites) {
      const interval = site.intervalDays * DAY;
      const k = Math.floor((now - site.createdAt) / interval);
      if (k < 1 || k <= (this.lastSlotIndex.get(site.id) ?? 0)) continue;
      this.lastSlotIndex.set(site.id, k);
      let slots = this.slots.get(site.id);
      if (!slots) this.slots.set(site.id, (slots = new Map()));
      slots.set(site.createdAt + k * interval, now);
    }
  }

  expected(siteId: string): ReadonlyMap<number, number> {
    return this.slots.get(siteId) ?? new Map();
  }
}
