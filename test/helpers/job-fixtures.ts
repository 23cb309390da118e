/**
 * Jobs for the job-store contract (test/storage/job-store-contract.ts): sites, backups in the states a test
 * starts from, and lease requests, written through the storage's own ports.
 */
import assert from 'node:assert/strict';
import type { BackupRecord, BackupTrigger } from '../../src/domain/backup.js';
import type { NewBackup, NewRestoration } from '../../src/ports/backup-store.js';
import type { JobClaimRequest, LeaseRenewal } from '../../src/ports/lease-request.js';
import type { Storage } from '../../src/ports/storage.js';

/** The lease every claim in these tests asks for. */
export const LEASE_MS = 1000;

/** Keeps every READY backup: retention is not what these tests look at. */
export const keepAll = { onDemand: 100, schedule: 100, preRestore: 100 } as const;

export async function createSite(storage: Storage, id: string, at: number): Promise<void> {
  await storage.sites.create({
    id,
    name: id,
    createdAt: at,
    settings: { autoBackupIntervalDays: null, autoBackupRetention: null },
  });
}

export function newBackup(
  siteId: string,
  id: string,
  requestedAt: number,
  trigger: BackupTrigger = 'SCHEDULE',
): NewBackup {
  return { id, siteId, trigger, requestedAt, requestedCollections: null, collections: [] };
}

/** A restoration of every collection of `backupId` (none: these tests look at the job, not the data). */
export function newRestoration(
  siteId: string,
  id: string,
  backupId: string,
  requestedAt: number,
): NewRestoration {
  return { id, siteId, backupId, requestedAt, collections: [] };
}

export function claimBy(workerId: string, now: number, maxAttempts = 3): JobClaimRequest {
  return { workerId, now, leaseMs: LEASE_MS, maxAttempts };
}

export function renewalBy(workerId: string, id: string, now: number): LeaseRenewal {
  return { id, workerId, now, leaseMs: LEASE_MS };
}

/** A READY backup of the site (a restoration's source), made by claiming and completing it. */
export async function readyBackup(storage: Storage, siteId: string, id: string, at: number): Promise<void> {
  await storage.backups.createBackup(newBackup(siteId, id, at, 'ON_DEMAND'));
  const claimed = await storage.backups.claimBackup(claimBy('fixture', at));
  assert.equal(claimed?.id, id, 'the fixture expects no other claimable job');
  const done = await storage.backups.completeBackup(
    id,
    'fixture',
    {
      manifest: { key: `manifests/${id}`, sha256: 'a'.repeat(64), size: 1 },
      sizeBytes: 1,
      itemCount: 0,
      collectionStates: [],
    },
    at,
    keepAll,
  );
  assert.ok(done);
}

export async function statusOf(storage: Storage, siteId: string, id: string): Promise<BackupRecord> {
  const backup = await storage.backups.getBackup(siteId, id);
  assert.ok(backup, `backup ${id} exists`);
  return backup;
}
