/**
 * Runs one job by filter (Wix's asyncRemoveByFilter, asyncPatchByFilter) under its lease: the items the
 * filter keeps, in id order, a batch at a time. Each batch is one short item transaction that changes its
 * items and records the job's counts and the last id it reached, fenced by the lease; between batches the
 * job yields the event loop, so that other sites' requests run in between. A job resumed by another worker
 * (its worker died, its lease expired) continues after the last committed batch: nothing is skipped and
 * nothing is done twice. Jobs by filter write no item events (docs/WIX-COMPATIBILITY.md).
 */
import type { FieldModificationInput } from '../contracts/data-api.js';
import { AppError, errors } from '../contracts/errors.js';
import type { JobError } from '../domain/backup.js';
import { parseFieldModifications, patchItem, type FieldModification } from '../domain/field-modifications.js';
import type { StoredItem } from '../domain/item-codec.js';
import { parseFilter, type FilterNode } from '../domain/query/filter.js';
import { matchesFilter } from '../domain/query/match.js';
import { linkedFilter, referenceFieldsOf, usesListOperators } from '../domain/reference-fields.js';
import type { ItemJobRecord } from '../ports/item-job-store.js';
import type { ItemTarget } from '../ports/storage.js';
import { hit, type EngineDeps } from './engine-deps.js';
import { jobErrorOf } from './job-failure.js';
import { stopped, type JobLease } from './job-lease.js';

/** Items one batch handles: one transaction of at most this many rows changed. */
export const ITEM_JOB_BATCH = 500;

/** The most item JSON one batch reads (a page of the query), as a query page is bounded. */
const BATCH_BYTES = 16 * 1024 * 1024;

/** A batch's transaction found the lease gone: it rolls back, and the job is left to its new holder. */
class LeaseLost extends Error {
  override readonly name = 'LeaseLost';
}

/** An item a patch does not fit (a modification that does not apply, a result over 500 KB): the job stops. */
class ItemNotPatched extends Error {
  override readonly name = 'ItemNotPatched';

  constructor(
    readonly itemId: string,
    readonly reason: AppError,
  ) {
    super(`Item ${itemId} could not be patched: ${reason.message}`);
  }
}

/** Whether a filter holds a link lookup, which the in-memory re-check cannot evaluate. */
function hasLinks(node: FilterNode): boolean {
  switch (node.kind) {
    case 'and':
    case 'or':
      return node.nodes.some(hasLinks);
    case 'not':
      return hasLinks(node.node);
    case 'linked':
      return true;
    case 'compare':
    case 'in':
    case 'string':
    case 'exists':
    case 'hasSome':
    case 'hasAll':
      return false;
  }
}

/** The job's filter as a query of its collection would read it (MULTI_REFERENCE lists as link lookups). */
async function filterOf(deps: EngineDeps, job: ItemJobRecord): Promise<FilterNode | null> {
  const filter = parseFilter(job.filter, 'filter');
  if (filter === null || !usesListOperators(filter)) return filter;
  const collection = await deps.collections.get(job.siteId, job.collectionId);
  if (!collection) throw errors.WDE0025(job.collectionId);
  return linkedFilter(filter, referenceFieldsOf(collection.fields));
}

function failureOf(error: unknown): JobError {
  if (error instanceof ItemNotPatched) return { code: error.reason.code, message: error.message };
  // A request-side code met while running (the collection was deleted meanwhile: WDE0025) keeps its code.
  if (error instanceof AppError && error.category !== 'INTERNAL')
    return { code: error.code, message: error.message };
  return jobErrorOf(error);
}

export async function runItemJob(deps: EngineDeps, job: ItemJobRecord, lease: JobLease): Promise<void> {
  const target: ItemTarget = {
    siteId: job.siteId,
    collectionId: job.collectionId,
    environment: job.environment,
  };
  const batchSize = deps.itemJobBatch ?? ITEM_JOB_BATCH;
  const where = 'fieldModifications';
  try {
    const filter = await filterOf(deps, job);
    const modifications: FieldModification[] =
      job.kind === 'PATCH'
        ? parseFieldModifications((job.modifications ?? []) as FieldModificationInput[], where)
        : [];
    // An item may have changed between the batch's read and its transaction: it is checked again there.
    const recheck = filter !== null && !hasLinks(filter) ? filter : null;
    let lastId = job.lastId;
    let done = job.done;
    for (;;) {
      lease.signal.throwIfAborted();
      const page = await deps.items.query(target, {
        filter,
        sort: [],
        limit: batchSize,
        maxBytes: BATCH_BYTES,
        ...(lastId !== null && { after: { values: [], id: lastId } }),
      });
      const last = page.items.at(-1)?.id;
      if (last === undefined) break;
      const ids = page.items.map((item) => item.id);
      const now = deps.clock();
      const batch = await deps.items.write(target, async (tx) => {
        const current = await tx.findExisting(ids);
        const matches = (item: StoredItem | undefined): item is StoredItem =>
          item !== undefined &&
          (recheck === null || matchesFilter(recheck, JSON.parse(item.json) as Record<string, unknown>));
        const changed: StoredItem[] = [];
        // The id the batch got to: its last, or the one before an item a patch does not fit.
        let reached: string | null = last;
        let stop: ItemNotPatched | undefined;
        for (const [i, id] of ids.entries()) {
          const item = current.get(id);
          if (!matches(item)) continue;
          if (job.kind === 'REMOVE') {
            changed.push(item);
            continue;
          }
          try {
            changed.push(patchItem(item, modifications, job.ownerKeyId, now, where));
          } catch (error) {
            if (!(error instanceof AppError)) throw error;
            // As Wix documents: the job stops at the first item it cannot patch; those before stay patched.
            stop = new ItemNotPatched(id, error);
            reached = i === 0 ? null : (ids[i - 1] ?? null);
            break;
          }
        }
        if (job.kind === 'REMOVE') await tx.remove(changed.map((item) => item.id));
        else await tx.update(changed);
        if (reached !== null) {
          const held = await tx.advanceItemJob({
            jobId: job.id,
            workerId: lease.workerId,
            done: changed.length,
            lastId: reached,
          });
          if (!held) throw new LeaseLost();
        }
        return { done: changed.length, stop };
      });
      done += batch.done;
      if (batch.stop) throw batch.stop;
      lastId = last;
      lease.progress({ itemsDone: done, itemsTotal: done });
      await hit(deps, 'item-job:batch-committed');
      if (!page.hasMore) break;
      // A turn of the event loop between batches: on SQLite every statement runs on it.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await deps.itemJobs.complete(job.id, lease.workerId, deps.clock());
  } catch (error) {
    if (error instanceof LeaseLost || stopped(lease, error)) return;
    await deps.itemJobs.fail(job.id, lease.workerId, failureOf(error), deps.clock());
  }
}
