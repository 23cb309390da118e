/**
 * Request/response over a worker thread. The main side calls named operations and awaits their results;
 * the worker side serves them. A result may carry `transfer`: ArrayBuffers moved, not copied.
 */
import { isMainThread, parentPort, Worker, type TransferListItem } from 'node:worker_threads';

interface Request {
  readonly id: number;
  readonly op: string;
  readonly payload: unknown;
}

interface Reply {
  readonly id: number;
  readonly ok: boolean;
  readonly result?: unknown;
  readonly error?: { message: string; code?: string };
}

/** A value a handler returns, with the buffers to move to the caller. */
export interface Transferable<T> {
  readonly value: T;
  readonly transfer: TransferListItem[];
}

export function transferable<T>(value: T, transfer: TransferListItem[]): Transferable<T> {
  return { value, transfer };
}

function isTransferable(value: unknown): value is Transferable<unknown> {
  return typeof value === 'object' && value !== null && 'transfer' in value && 'value' in value;
}

/** An error raised in the worker, with its code if it had one. */
export class WorkerCallError extends Error {
  override readonly name = 'WorkerCallError';

  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

export class WorkerChannel {
  private readonly worker: Worker;
  private next = 1;
  private readonly pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: unknown) => void }
  >();
  private failure: Error | undefined;

  constructor(
    url: URL,
    workerData?: unknown,
    resourceLimits?: { maxOldGenerationSizeMb?: number; maxYoungGenerationSizeMb?: number },
    /** What an error raised in the worker becomes on this side (an adapter's error boundary). */
    translateError: (error: WorkerCallError) => unknown = (error) => error,
  ) {
    this.worker = new Worker(url, { workerData, resourceLimits });
    this.worker.on('message', (reply: Reply) => {
      const waiter = this.pending.get(reply.id);
      if (!waiter) return;
      this.pending.delete(reply.id);
      if (reply.ok) waiter.resolve(reply.result);
      else
        waiter.reject(
          translateError(
            new WorkerCallError(reply.error?.message ?? 'worker call failed', reply.error?.code),
          ),
        );
    });
    const fail = (error: Error) => {
      this.failure = error;
      for (const waiter of this.pending.values()) waiter.reject(error);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`worker thread exited (code ${code})`)));
  }

  /** Number of calls waiting for an answer. */
  get busy(): number {
    return this.pending.size;
  }

  call<T>(op: string, payload?: unknown, transfer: TransferListItem[] = []): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, op, payload } satisfies Request, transfer);
    });
  }

  async close(): Promise<void> {
    this.failure ??= new Error('worker channel closed');
    await this.worker.terminate();
  }
}

/** Serves operations in a worker thread. Call once, at the worker's top level. */
export function serveWorker(handlers: Record<string, (payload: never) => unknown>): void {
  if (isMainThread || !parentPort) throw new Error('serveWorker runs in a worker thread');
  const port = parentPort;
  port.on('message', (request: Request) => {
    void (async () => {
      try {
        const handler = handlers[request.op];
        if (!handler) throw new Error(`unknown operation ${request.op}`);
        const result = await handler(request.payload as never);
        if (isTransferable(result))
          port.postMessage(
            { id: request.id, ok: true, result: result.value } satisfies Reply,
            result.transfer,
          );
        else port.postMessage({ id: request.id, ok: true, result } satisfies Reply);
      } catch (error) {
        const err = error as Error & { code?: unknown };
        port.postMessage({
          id: request.id,
          ok: false,
          error: { message: err.message, ...(typeof err.code === 'string' && { code: err.code }) },
        } satisfies Reply);
      }
    })();
  });
}
