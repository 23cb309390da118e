/**
 * EIO from write() and fsync(), injected at the fs adapter's own seam: Node's FileHandle, through which
 * FsBlobStore writes and flushes every object. A real failing device (device-mapper's error target, a
 * faulty FUSE file system) is not available in a container, and a wrapper of the BlobStore port would skip
 * the adapter's own error mapping and clean-up, which are what is under test. Only FileHandle.writeFile and
 * FileHandle.sync are patched, and only while this module is armed; SQLite does its own I/O and never
 * passes through here.
 */
import { open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type Op = 'write' | 'sync';

export interface IoFaults {
  /** Starts counting calls (no faults). */
  count(): void;
  counted(): { writes: number; syncs: number };
  /** The `nth` call of `op` from now fails with EIO (the calls before it succeed). */
  failNth(op: Op, nth: number): void;
  /** Faults applied since the last failNth. */
  failed(): number;
  clear(): void;
  /** Puts the original methods back. */
  restore(): void;
}

function eio(syscall: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`EIO: i/o error, ${syscall}`), { code: 'EIO', errno: -5, syscall });
}

interface FileHandleMethods {
  writeFile(this: unknown, ...args: unknown[]): Promise<void>;
  sync(this: unknown): Promise<void>;
}

/** Patches FileHandle.writeFile and FileHandle.sync; `restore` undoes it. */
export async function armIoFaults(): Promise<IoFaults> {
  // The prototype every FileHandle shares, taken from one.
  const probe = join(tmpdir(), `safekeep-eio-probe-${process.pid}`);
  const handle = await open(probe, 'w');
  const proto = Object.getPrototypeOf(handle) as FileHandleMethods;
  await handle.close();
  await rm(probe, { force: true });
  // eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be put back, and called with .apply
  const originals = { writeFile: proto.writeFile, sync: proto.sync };
  const seen = { write: 0, sync: 0 };
  let armed: { op: Op; nth: number } | undefined;
  let failed = 0;
  const hit = (op: Op) => {
    seen[op] += 1;
    if (armed?.op !== op || seen[op] !== armed.nth) return false;
    failed += 1;
    return true;
  };
  proto.writeFile = function (...args) {
    return hit('write') ? Promise.reject(eio('write')) : originals.writeFile.apply(this, args);
  };
  proto.sync = function () {
    return hit('sync') ? Promise.reject(eio('fsync')) : originals.sync.apply(this);
  };
  return {
    count() {
      seen.write = 0;
      seen.sync = 0;
      armed = undefined;
    },
    counted: () => ({ writes: seen.write, syncs: seen.sync }),
    failNth(op, nth) {
      seen.write = 0;
      seen.sync = 0;
      failed = 0;
      armed = { op, nth };
    },
    failed: () => failed,
    clear() {
      armed = undefined;
    },
    restore() {
      Object.assign(proto, originals);
    },
  };
}
