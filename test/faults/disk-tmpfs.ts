/**
 * A real size-limited tmpfs for disk-full tests (we run as root), and a filler file that leaves exactly
 * the free space a test wants, so that the disk fills at a chosen moment of a job.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Bytes of one tmpfs page: files occupy whole pages. */
export const PAGE = 4096;

/** A mounted tmpfs; `unmount` must run whatever happens (call it in `after`/`finally`). */
export interface Tmpfs {
  readonly dir: string;
  /** Bytes free right now. */
  free(): number;
  /** Bytes in use right now. */
  used(): number;
  /** Resizes the filler file so that `bytes` (rounded down to whole pages) stay free. */
  leaveFree(bytes: number): void;
  /** Removes the filler: space is freed. */
  unfill(): void;
  unmount(): void;
}

/**
 * Mounts a tmpfs of `sizeBytes` on `dir`. The filler lives at `fillerPath` under it (default `zz-filler`;
 * in a blob folder, `.tmp/…`, which the store never lists as an object).
 */
export function mountTmpfs(dir: string, sizeBytes: number, fillerPath = 'zz-filler'): Tmpfs {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${Math.ceil(sizeBytes / 1024)}k`, 'tmpfs', dir]);
  const filler = join(dir, fillerPath);
  mkdirSync(dirname(filler), { recursive: true });
  const stats = () => statfsSync(dir);
  const tmpfs: Tmpfs = {
    dir,
    free: () => stats().bavail * stats().bsize,
    used: () => (stats().blocks - stats().bfree) * stats().bsize,
    leaveFree(bytes) {
      tmpfs.unfill();
      const fill = tmpfs.free() - Math.floor(bytes / PAGE) * PAGE;
      if (fill > 0) writeFileSync(filler, Buffer.alloc(fill));
    },
    unfill: () => rmSync(filler, { force: true }),
    unmount() {
      try {
        execFileSync('umount', ['-l', dir]);
      } catch {
        // Already unmounted.
      }
    },
  };
  return tmpfs;
}

/** Bytes a file of `size` bytes occupies on tmpfs. */
export const pages = (size: number): number => Math.ceil(size / PAGE) * PAGE;
