import { errors, invalidArgument } from '../contracts/errors.js';
import { chunksOf } from '../domain/manifest.js';
import { siteHealthOf, type SiteHealth, type VerificationRecord } from '../domain/verification.js';
import { readManifest } from '../engine/manifest-io.js';
import type { BlobStore } from '../ports/blob-store.js';
import type { Clock } from '../ports/clock.js';
import type { Storage } from '../ports/storage.js';
import type { SiteContext } from './auth-service.js';
import { isGuid, newGuid } from './ids.js';

/** What one READY backup takes in the blob store (README, "Storage view"). */
export interface BackupStorage {
  readonly backupId: string;
  /** Uncompressed bytes of the items, deleted ids and links it holds, plus its manifest. */
  readonly logicalBytes: number;
  /** Stored bytes it refers to, each chunk once, plus its manifest (what it reads on a restore). */
  readonly storedBytes: number;
  /** Stored bytes no other READY backup of the site refers to, plus its manifest: what deleting it frees. */
  readonly exclusiveBytes: number;
}

/** A site's backups in the blob store: each READY backup's figures and the site's totals. */
export interface SiteStorage {
  readonly backups: readonly BackupStorage[];
  /** The READY backups' logical bytes added up (what they would take without compression or deduplication). */
  readonly logicalBytes: number;
  /** Stored bytes of all of them: every distinct chunk once, plus every manifest. */
  readonly storedBytes: number;
  /** What deduplication saves: the backups' stored bytes added up, less `storedBytes`. */
  readonly deduplicatedBytes: number;
  /** READY backups whose manifest could not be read (left out of the figures). */
  readonly unreadable: readonly string[];
}

function checkId(raw: string, field: string): string {
  if (!isGuid(raw)) throw invalidArgument(field, 'must be a GUID', 'FORMAT');
  return raw;
}

/**
 * Verification on request, the storage view and backup health (extensions; docs/ARCHITECTURE.md,
 * "Verification and backup health"). Callers pass a SiteContext whose key the HTTP layer has checked.
 */
export class VerificationService {
  constructor(
    private readonly storage: Storage,
    private readonly clock: Clock,
    private readonly blobs: BlobStore,
    private readonly settings: { readonly autoBackupIntervalDays: number; readonly overdueGraceMs: number },
    private readonly onWork: () => void = () => undefined,
  ) {}

  /** Queues a verification of a READY backup (or returns the one already pending for it). */
  async verify(
    ctx: SiteContext,
    backupId: string,
    options: { trialRestore?: boolean } = {},
  ): Promise<VerificationRecord> {
    const { verification, created } = await this.storage.verifications.requestVerification({
      id: newGuid(),
      siteId: ctx.siteId,
      backupId: checkId(backupId, 'backupId'),
      trialRestore: options.trialRestore === true,
      requestedAt: this.clock(),
    });
    if (created) this.onWork();
    return verification;
  }

  async getVerification(ctx: SiteContext, id: string): Promise<VerificationRecord> {
    const found = await this.storage.verifications.getVerification(ctx.siteId, checkId(id, 'verificationId'));
    if (!found) throw errors.VERIFICATION_NOT_FOUND(id);
    return found;
  }

  /** The site's READY backups' storage, from their manifests (each read once). */
  async storageView(ctx: SiteContext): Promise<SiteStorage> {
    const { siteId } = ctx;
    const live = await this.storage.maintenance.liveManifests(siteId);
    const read: {
      backupId: string;
      manifestSize: number;
      chunks: { hash: string; raw: number; stored: number }[];
    }[] = [];
    const unreadable: string[] = [];
    const holders = new Map<string, number>();
    const storedOf = new Map<string, number>();
    for (const { backupId, manifest } of live) {
      try {
        const m = await readManifest(this.blobs, manifest, { backupId, siteId });
        const chunks = chunksOf(m).map((c) => ({ hash: c.hash, raw: c.rawSize, stored: c.storedSize }));
        for (const c of chunks) {
          holders.set(c.hash, (holders.get(c.hash) ?? 0) + 1);
          storedOf.set(c.hash, c.stored);
        }
        read.push({ backupId, manifestSize: manifest.size, chunks });
      } catch {
        unreadable.push(backupId);
      }
    }
    const backups = read.map((b): BackupStorage => {
      let logical = b.manifestSize;
      let stored = b.manifestSize;
      let exclusive = b.manifestSize;
      for (const c of b.chunks) {
        logical += c.raw;
        stored += c.stored;
        if (holders.get(c.hash) === 1) exclusive += c.stored;
      }
      return { backupId: b.backupId, logicalBytes: logical, storedBytes: stored, exclusiveBytes: exclusive };
    });
    let distinct = 0;
    for (const size of storedOf.values()) distinct += size;
    const storedBytes = distinct + read.reduce((n, b) => n + b.manifestSize, 0);
    const sum = (f: (b: BackupStorage) => number) => backups.reduce((n, b) => n + f(b), 0);
    return {
      backups,
      logicalBytes: sum((b) => b.logicalBytes),
      storedBytes,
      deduplicatedBytes: sum((b) => b.storedBytes) - storedBytes,
      unreadable,
    };
  }

  /** The site's backup health. */
  async health(ctx: SiteContext): Promise<SiteHealth> {
    const row = await this.storage.health.site(ctx.siteId);
    if (!row) throw errors.SITE_NOT_FOUND();
    return siteHealthOf(row, this.settings.autoBackupIntervalDays, this.settings.overdueGraceMs);
  }

  /** The deployment's backup health (admin): how many sites are OVERDUE, and those (at most `limit`). */
  async allHealth(limit: number): Promise<{ overdueSites: SiteHealth[]; overdue: number; total: number }> {
    const overdueSites: SiteHealth[] = [];
    let after = '';
    let total = 0;
    let overdue = 0;
    for (;;) {
      const rows = await this.storage.health.sites(after, 1000);
      if (rows.length === 0) break;
      for (const row of rows) {
        total += 1;
        if (row.state !== 'OVERDUE') continue;
        overdue += 1;
        if (overdueSites.length < limit)
          overdueSites.push(
            siteHealthOf(row, this.settings.autoBackupIntervalDays, this.settings.overdueGraceMs),
          );
      }
      after = rows[rows.length - 1]?.siteId ?? after;
    }
    return { overdueSites, overdue, total };
  }
}
