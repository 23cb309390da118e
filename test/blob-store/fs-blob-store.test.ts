import { mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsBlobStore } from '../../src/adapters/blob-store/fs-blob-store.js';
import { runBlobStoreContract } from './blob-store-contract.js';

runBlobStoreContract('local folder', {
  largeBytes: 3 * 1024 * 1024,
  async create() {
    const root = await mkdtemp(join(tmpdir(), 'safekeep-blobs-'));
    const open = () => new FsBlobStore({ root, durable: false });
    let n = 0;
    return {
      store: open(),
      open,
      later: open,
      async leaveLeftover() {
        await mkdir(join(root, '.tmp'), { recursive: true });
        await writeFile(join(root, '.tmp', `interrupted-${n++}.part`), 'half an object');
      },
      async leftovers() {
        return (await readdir(join(root, '.tmp')).catch(() => [])).length;
      },
      async cleanup() {
        await rm(root, { recursive: true, force: true });
      },
    };
  },
});
