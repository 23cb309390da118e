/**
 * Running one claimed verification (docs/ARCHITECTURE.md, "Verification"): for each backup it covers, the
 * manifest and every chunk it names are read and checked as a restoration would check them, a chunk that
 * several of them share being read once; optionally (ON_DEMAND) a trial restore into scratch item sets that
 * are thrown away. Each backup's result is recorded on it (a failure emits its webhook event), then the
 * verification's own outcome. Nothing live is touched.
 */
import type { BackupRecord, JobError } from '../domain/backup.js';
import { chunksOf, type ChunkList, type ChunkRef, type Manifest } from '../domain/manifest.js';
import { nextScrubDue, type VerificationRecord } from '../domain/verification.js';
import type { VerificationStore } from '../ports/verification-store.js';
import { fetchChunk, readVerifiedManifest } from './backup-verifier.js';
import type { EngineDeps } from './engine-deps.js';
import { jobErrorOf, jobFailures } from './job-failure.js';
import { stopped, type JobLease } from './job-lease.js';
import { stageCollection } from './stage-collection.js';

export interface VerificationDeps extends EngineDeps {
  readonly verifications: VerificationStore;
  /** How often the scrub verifies each READY backup (SAFEKEEP_VERIFY_EVERY_DAYS). */
  readonly verifyEveryMs: number;
}

/** Backups one scrub verifies at most; the rest stay due and are taken by the next one. */
export const SCRUB_BATCH = 200;

/** Chunks read ahead of the one being checked. */
const READ_AHEAD = 6;

type ChunkKind = 'items' | 'ids' | 'links';

function kindsOf(manifest: Manifest): Map<string, ChunkKind> {
  const kinds = new Map<string, ChunkKind>();
  const mark = (list: ChunkList | undefined, kind: ChunkKind) =>
    list?.chunks.forEach((c) => kinds.set(c.hash, kind));
  for (const c of manifest.collections) {
    for (const layer of c.layers) {
      mark(layer.upserts, 'items');
      mark(layer.deletes, 'ids');
    }
    mark(c.links, 'links');
  }
  mark(manifest.incomingLinks, 'links');
  return kinds;
}

function isIntegrity(error: JobError): boolean {
  return error.code.startsWith('INTEGRITY_');
}

/** What one verification read, for its record and the metrics. */
export interface VerificationCounts {
  backupsVerified: number;
  chunksRead: number;
  bytesRead: number;
}

/**
 * Checks chunks, each at most once per verification: the result of a chunk already checked (for another
 * backup of the same site) is reused. Reads a few ahead through the codec workers.
 */
class ChunkChecker {
  private readonly results = new Map<string, JobError | null>();

  constructor(
    private readonly deps: EngineDeps,
    private readonly siteId: string,
    private readonly counts: VerificationCounts,
  ) {}

  private async checkOne(ref: ChunkRef, kind: ChunkKind): Promise<JobError | null> {
    try {
      const stored = await fetchChunk(this.deps.blobs, this.siteId, ref);
      this.counts.chunksRead += 1;
      this.counts.bytesRead += stored.length;
      const { codec } = this.deps;
      if (kind === 'items') codec.recycle((await codec.openItems(stored, ref)).bytes);
      else if (kind === 'ids') await codec.openIds(stored, ref);
      else await codec.openLinks(stored, ref);
      return null;
    } catch (error) {
      const failure = jobErrorOf(error);
      if (isIntegrity(failure)) return failure;
      throw error;
    }
  }

  /** The first damaged chunk's error among `refs`, or null; every chunk not checked yet is read. */
  async check(
    refs: readonly ChunkRef[],
    kinds: ReadonlyMap<string, ChunkKind>,
    signal: AbortSignal,
    onChunk: () => void,
  ): Promise<JobError | null> {
    const todo = refs.filter((r) => !this.results.has(r.hash));
    let next = 0;
    const worker = async () => {
      while (next < todo.length) {
        signal.throwIfAborted();
        const ref = todo[next++] as ChunkRef;
        const result = await this.checkOne(ref, kinds.get(ref.hash) ?? 'links');
        this.results.set(ref.hash, result);
        onChunk();
      }
    };
    await Promise.all(Array.from({ length: Math.min(READ_AHEAD, todo.length) }, worker));
    // The first in manifest order, whichever was read first (or by another backup of this job).
    for (const r of refs) {
      const result = this.results.get(r.hash);
      if (result) return result;
    }
    return null;
  }
}

/** Restores a verified backup into scratch item sets, counting what arrives, and throws them away. */
async function trialRestore(
  deps: VerificationDeps,
  verification: VerificationRecord,
  backup: BackupRecord,
  manifest: Manifest,
  signal: AbortSignal,
): Promise<JobError | null> {
  try {
    for (const entry of manifest.collections) {
      const gen = await deps.staging.createGeneration(
        backup.siteId,
        entry.id,
        verification.id,
        deps.clock(),
        entry.itemCount,
      );
      let arrived = 0;
      await stageCollection(deps, backup.siteId, entry, gen, signal, (n) => {
        arrived += n;
      });
      if (arrived !== entry.itemCount)
        return jobFailures
          .INTEGRITY_MANIFEST_MISMATCH(backup.id, `items of ${entry.id} restored:`, entry.itemCount, arrived)
          .toJobError();
    }
    return null;
  } catch (error) {
    const failure = jobErrorOf(error);
    if (isIntegrity(failure)) return failure;
    throw error;
  } finally {
    await deps.staging.discard(verification.id);
  }
}

/** Runs a claimed verification under its lease; records its outcome unless the lease was lost. */
export async function runVerification(
  deps: VerificationDeps,
  verification: VerificationRecord,
  lease: JobLease,
): Promise<VerificationCounts | undefined> {
  const counts: VerificationCounts = { backupsVerified: 0, chunksRead: 0, bytesRead: 0 };
  const store = deps.verifications;
  try {
    const backups = await store.backupsToVerify(verification, deps.clock(), SCRUB_BATCH);
    if (backups.length === 0 && verification.backupId !== null) {
      const error = { code: 'BACKUP_NOT_VERIFIABLE', message: 'The backup is no longer READY.' };
      await store.finishVerification(verification.id, lease.workerId, error, counts, deps.clock());
      return counts;
    }
    // Manifests first: the progress total is the distinct chunks of them all.
    const read: { backup: BackupRecord; manifest?: Manifest; error?: JobError }[] = [];
    const distinct = new Set<string>();
    for (const backup of backups) {
      try {
        const manifest = await readVerifiedManifest(deps.blobs, backup);
        counts.bytesRead += backup.manifest?.size ?? 0;
        for (const ref of chunksOf(manifest)) distinct.add(ref.hash);
        read.push({ backup, manifest });
      } catch (error) {
        const failure = jobErrorOf(error);
        if (!isIntegrity(failure)) throw error;
        read.push({ backup, error: failure });
      }
    }
    const total = distinct.size;
    let done = 0;
    lease.progress({ itemsDone: 0, itemsTotal: total });
    const checker = new ChunkChecker(deps, verification.siteId, counts);
    let firstError: JobError | null = null;
    for (const entry of read) {
      let error = entry.error ?? null;
      if (entry.manifest) {
        error = await checker.check(chunksOf(entry.manifest), kindsOf(entry.manifest), lease.signal, () => {
          done += 1;
          lease.progress({ itemsDone: done, itemsTotal: total });
        });
        if (!error && verification.trialRestore)
          error = await trialRestore(deps, verification, entry.backup, entry.manifest, lease.signal);
      }
      const at = deps.clock();
      const held = await store.recordResult(
        verification.id,
        lease.workerId,
        { backupId: entry.backup.id, error, nextDueAt: nextScrubDue(at, deps.verifyEveryMs) },
        at,
      );
      if (!held) return undefined;
      counts.backupsVerified += 1;
      firstError ??= error;
    }
    await store.finishVerification(verification.id, lease.workerId, firstError, counts, deps.clock());
    return counts;
  } catch (error) {
    if (stopped(lease, error)) return undefined;
    // Not damage (the store could not be read, a bug): the verification fails; no backup is marked.
    await store.finishVerification(verification.id, lease.workerId, jobErrorOf(error), counts, deps.clock());
    return counts;
  }
}
