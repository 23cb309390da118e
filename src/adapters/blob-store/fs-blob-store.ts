import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { BlobStoreError, type BlobInfo, type BlobStore } from '../../ports/blob-store.js';

/** Maps filesystem errors to the port's kinds. */
function blobError(error: unknown, key: string): BlobStoreError {
  const code = (error as NodeJS.ErrnoException).code;
  if (error instanceof BlobStoreError) return error;
  const message = `${key}: ${(error as Error).message}`;
  switch (code) {
    case 'ENOENT':
      return new BlobStoreError('NOT_FOUND', message, { cause: error });
    case 'ENOSPC':
    case 'EDQUOT':
    case 'EFBIG':
      return new BlobStoreError('FULL', message, { cause: error });
    case 'EACCES':
    case 'EPERM':
    case 'EIO':
    case 'EISDIR':
      return new BlobStoreError('UNREADABLE', message, { cause: error });
    case 'EMFILE':
    case 'ENFILE':
    case 'EAGAIN':
    case 'EBUSY':
      return new BlobStoreError('UNAVAILABLE', message, { cause: error });
    case undefined:
    default:
      return new BlobStoreError('FAILED', message, { cause: error });
  }
}

/**
 * Maps a failure to write or flush an object: EIO from write() or fsync() means the device lost the data
 * (after a failed fsync the page cache may already have dropped it, so retrying the fsync proves nothing);
 * reads keep `blobError`'s UNREADABLE for EIO.
 */
function writeError(error: unknown, key: string): BlobStoreError {
  if ((error as NodeJS.ErrnoException).code === 'EIO')
    return new BlobStoreError('IO_ERROR', `${key}: ${(error as Error).message}`, { cause: error });
  return blobError(error, key);
}

const safeKey = /^[A-Za-z0-9._@-]+(\/[A-Za-z0-9._@-]+)*$/;

export interface FsBlobStoreOptions {
  readonly root: string;
  /** fsync each object and its directory before a write returns (default true). */
  readonly durable?: boolean;
}

/**
 * Objects as files under a root folder. Writes go to `.tmp/` and are renamed into place after fsync, so a
 * crash leaves either the whole object or a temp file that `cleanUp` removes at the next start.
 */
export class FsBlobStore implements BlobStore {
  private readonly root: string;
  private readonly tmp: string;
  private readonly durable: boolean;

  constructor(options: FsBlobStoreOptions) {
    this.root = options.root;
    this.tmp = join(options.root, '.tmp');
    this.durable = options.durable ?? true;
  }

  private path(key: string): string {
    if (!safeKey.test(key) || key.split('/').some((part) => part === '.' || part === '..')) {
      throw new BlobStoreError('FAILED', `not a valid object key: ${key}`);
    }
    return join(this.root, ...key.split('/'));
  }

  /** Writes `data` to a temp file, durably; returns its path. */
  private async writeTemp(key: string, data: Uint8Array): Promise<string> {
    await mkdir(this.tmp, { recursive: true });
    const temp = join(this.tmp, `${randomBytes(8).toString('hex')}.part`);
    const handle = await open(temp, 'wx');
    try {
      await handle.writeFile(data);
      if (this.durable) await handle.sync();
    } catch (error) {
      await handle.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
      throw writeError(error, key);
    }
    await handle.close();
    return temp;
  }

  private async syncDir(dir: string): Promise<void> {
    if (!this.durable) return;
    const handle = await open(dir, constants.O_RDONLY);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  async put(key: string, data: Uint8Array): Promise<void> {
    const target = this.path(key);
    const temp = await this.writeTemp(key, data);
    try {
      await mkdir(dirname(target), { recursive: true });
      await rename(temp, target);
      await this.syncDir(dirname(target));
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw writeError(error, key);
    }
  }

  async putIfAbsent(key: string, data: Uint8Array): Promise<boolean> {
    const target = this.path(key);
    const temp = await this.writeTemp(key, data);
    try {
      await mkdir(dirname(target), { recursive: true });
      // link() fails with EEXIST instead of replacing: a create-only publish.
      await link(temp, target);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw writeError(error, key);
    }
    try {
      await this.syncDir(dirname(target));
      return true;
    } catch (error) {
      // The object is linked but not durable, and the caller will treat it as not written: take it back
      // (it is ours, link() just created it) so that no failed publish stays visible.
      await unlink(target).catch(() => undefined);
      throw writeError(error, key);
    } finally {
      await unlink(temp).catch(() => undefined);
    }
  }

  async get(key: string, maxBytes: number): Promise<Buffer> {
    const path = this.path(key);
    try {
      const handle = await open(path, 'r');
      try {
        const { size } = await handle.stat();
        if (size > maxBytes)
          throw new BlobStoreError('FAILED', `${key} is ${size} bytes, more than the ${maxBytes} expected`);
        const buffer = Buffer.allocUnsafe(size);
        let read = 0;
        while (read < size) {
          const { bytesRead } = await handle.read(buffer, read, size - read, read);
          if (bytesRead === 0) break;
          read += bytesRead;
        }
        return buffer.subarray(0, read);
      } finally {
        await handle.close();
      }
    } catch (error) {
      throw blobError(error, key);
    }
  }

  async head(key: string): Promise<BlobInfo | undefined> {
    try {
      const info = await stat(this.path(key));
      return { key, size: info.size, modifiedAt: info.mtimeMs };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw blobError(error, key);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await unlink(this.path(key));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw blobError(error, key);
    }
  }

  async *list(prefix: string): AsyncIterable<BlobInfo> {
    const trimmed = prefix.replace(/\/+$/, '');
    const start = trimmed.length === 0 ? this.root : this.path(trimmed);
    const walk = async function* (this: FsBlobStore, dir: string): AsyncIterable<BlobInfo> {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (error) {
        // Nothing under it, or it names an object (not a folder): either way, nothing to list.
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return;
        throw blobError(error, prefix);
      }
      for (const entry of entries) {
        const full = join(dir, entry.name);
        if (full === this.tmp) continue;
        if (entry.isDirectory()) yield* walk.call(this, full);
        else if (entry.isFile()) {
          const info = await stat(full).catch(() => undefined);
          if (info)
            yield {
              key: relative(this.root, full).split(sep).join('/'),
              size: info.size,
              modifiedAt: info.mtimeMs,
            };
        }
      }
    };
    yield* walk.call(this, start);
  }

  async cleanUp(): Promise<number> {
    let removed = 0;
    try {
      for (const name of await readdir(this.tmp)) {
        await rm(join(this.tmp, name), { force: true });
        removed += 1;
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw blobError(error, '.tmp');
    }
    return removed;
  }
}
