/**
 * Verification benchmark (issue 17): verifying a backup of N items ÷ taking that backup, both measured in
 * this process on the same data (goal ≤ 0.5); and the same for a verification with a trial restore, for
 * information. Embedded stack (SQLite and a local folder).
 */
import { composeItem, type StoredItem } from '../src/domain/item-codec.js';
import { newItemId } from '../src/services/ids.js';
import { type BenchResult, benchSite, openBenchSafekeep, sampleItem, timed } from './bench-kit.js';

export interface VerifyBenchOptions {
  readonly items: number;
  readonly collections: number;
}

export async function runVerifyBench(
  options: VerifyBenchOptions,
  log: (line: string) => void,
): Promise<BenchResult[]> {
  const { safekeep, app, close } = await openBenchSafekeep('verify');
  await app.ready();
  try {
    const { siteId, secret } = await benchSite(safekeep, 'bench');
    const call = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
      const res = await app.inject({
        method,
        url: path,
        headers: { authorization: secret, ...(body !== undefined && { 'content-type': 'application/json' }) },
        ...(body !== undefined && { payload: JSON.stringify(body) }),
      });
      if (res.statusCode !== 200) throw new Error(`${method} ${path}: ${res.statusCode} ${res.body}`);
      return JSON.parse(res.body) as Record<string, any>;
    };
    const at = Date.UTC(2024, 0, 1);
    const perCollection = Math.floor(options.items / options.collections);
    for (let c = 0; c < options.collections; c++) {
      const collectionId = `Collection${c}`;
      await call('POST', '/wix-data/v2/collections', { collection: { id: collectionId } });
      for (let start = 0; start < perCollection; start += 5000) {
        const batch: StoredItem[] = [];
        for (let i = start; i < Math.min(perCollection, start + 5000); i++)
          batch.push(
            composeItem({
              id: newItemId(at + c * perCollection + i),
              owner: 'bench',
              createdAt: at + i * 1000,
              updatedAt: at + i * 1000,
              fields: sampleItem(c * perCollection + i),
            }),
          );
        await safekeep.storage.items.write({ siteId: siteId, collectionId, environment: 'LIVE' }, (tx) =>
          tx.insert(batch),
        );
      }
    }
    log(`filled ${perCollection * options.collections} items in ${options.collections} collections`);
    const { worker } = safekeep.background();
    const runOne = async () => {
      if (!(await worker.runOne(new AbortController().signal))) throw new Error('no job to run');
    };
    const backup = await timed(async () => {
      const created = await call('POST', '/wix-data/v2/backups', {});
      await runOne();
      return created.backup.id as string;
    });
    const backupId = backup.result;
    const ready = await call('GET', `/wix-data/v2/backups/${backupId}`);
    if (ready.backup.status !== 'READY') throw new Error(`backup ${ready.backup.status}`);
    log(`backup: ${Math.round(backup.ms)} ms, ${ready.backup.sizeInBytes} bytes`);
    const verifyOnce = async (trialRestore: boolean) =>
      timed(async () => {
        const started = await call('POST', `/wix-data/v2/backups/${backupId}/verify`, { trialRestore });
        await runOne();
        const done = await call('GET', `/wix-data/v2/backups/verifications/${started.verification.id}`);
        if (done.verification.status !== 'PASSED') throw new Error(JSON.stringify(done.verification));
        return done.verification as { chunksRead: number; bytesRead: string };
      });
    const verified = await verifyOnce(false);
    log(
      `verification: ${Math.round(verified.ms)} ms, ${verified.result.chunksRead} chunks, ${verified.result.bytesRead} bytes`,
    );
    const trial = await verifyOnce(true);
    log(`verification with trial restore: ${Math.round(trial.ms)} ms`);
    const n = perCollection * options.collections;
    return [
      {
        name: `verification of a ${n}-item backup ÷ the backup`,
        value: verified.ms / backup.ms,
        unit: 'ratio',
        goal: '≤ 0.5',
        pass: verified.ms / backup.ms <= 0.5,
      },
      {
        name: `verification with a trial restore of a ${n}-item backup ÷ the backup`,
        value: trial.ms / backup.ms,
        unit: 'ratio',
        note: 'for information: it restores every item into scratch item sets',
      },
    ];
  } finally {
    await close();
  }
}
