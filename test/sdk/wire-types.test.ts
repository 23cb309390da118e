/**
 * The SDK writes the wire types out by hand (it imports no server code); this keeps them in step with what
 * the server renders: the enumerations at compile time, the objects' fields at run time.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backupBody, restorationBody } from '../../src/contracts/backups-api.js';
import type * as domain from '../../src/domain/backup.js';
import type * as sdk from '../../src/sdk/index.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const same = <A, B>(check: Equal<A, B>): Equal<A, B> => check;

describe('SDK wire types', () => {
  it('name the same statuses, types and triggers as the server', () => {
    same<sdk.BackupStatus, domain.BackupStatus>(true);
    same<sdk.BackupType, domain.BackupType>(true);
    same<sdk.BackupTrigger, domain.BackupTrigger>(true);
    same<sdk.RestorationStatus, domain.RestorationStatus>(true);
  });

  it('have exactly the fields the server renders', () => {
    const record: domain.BackupRecord = {
      id: '00000000-0000-4000-8000-000000000001',
      siteId: 's',
      status: 'PENDING',
      type: 'ON_DEMAND',
      trigger: 'ON_DEMAND',
      requestedAt: 0,
      startedAt: 1,
      finishedAt: null,
      deletedAt: null,
      snapshotAt: 1,
      sizeBytes: null,
      itemCount: null,
      collections: [{ id: 'Books', displayName: 'Books' }],
      requestedCollections: null,
      progress: { itemsDone: 1, itemsTotal: 2 },
      error: { code: 'X', message: 'y' },
      manifest: null,
      restorationId: null,
      scheduleSlot: null,
    };
    const backupFields: Record<keyof sdk.Backup, true> = {
      id: true,
      status: true,
      type: true,
      requestedDate: true,
      startedDate: true,
      finishedDate: true,
      deletedDate: true,
      sizeInBytes: true,
      collections: true,
      trigger: true,
      snapshotDate: true,
      itemCount: true,
      progress: true,
      error: true,
      lastVerifiedDate: true,
      lastVerification: true,
    };
    const rendered = backupBody(record);
    assert.deepEqual(Object.keys(rendered).sort(), Object.keys(backupFields).sort());
    assert.deepEqual(rendered.progress, { itemsDone: 1, itemsTotal: 2 } satisfies sdk.Progress);
    assert.deepEqual(rendered.error, { code: 'X', message: 'y' } satisfies sdk.JobError);

    const restorationFields: Record<keyof sdk.Restoration, true> = {
      id: true,
      backup: true,
      status: true,
      requestedDate: true,
      startedDate: true,
      finishedDate: true,
      restorationCollections: true,
      safetyBackupId: true,
      progress: true,
      error: true,
    };
    const restoration = restorationBody(
      {
        id: '00000000-0000-4000-8000-000000000002',
        siteId: 's',
        backupId: record.id,
        status: 'PENDING',
        requestedAt: 0,
        startedAt: null,
        finishedAt: null,
        collections: [
          { dataCollectionId: 'Books', restoreDestination: { dataCollectionId: 'B2', displayName: 'B' } },
        ],
        safetyBackupId: null,
        definitionMode: 'MERGE',
        progress: null,
        error: null,
      },
      record,
    );
    assert.deepEqual(Object.keys(restoration).sort(), Object.keys(restorationFields).sort());
    const collections: sdk.RestorationCollection[] = [
      { dataCollectionId: 'Books', restoreDestination: { dataCollectionId: 'B2', displayName: 'B' } },
    ];
    assert.deepEqual(restoration.restorationCollections, collections);
  });
});
