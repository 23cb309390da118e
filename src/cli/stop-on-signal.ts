import type { CliIo } from './cli-io.js';

/**
 * Waits for SIGINT or SIGTERM, then says what it is doing (`doing`), runs `stop` and resolves when it has
 * finished; a second signal while stopping exits at once (code 1). `serve` and `worker` end this way.
 */
export function stopOnSignal(io: CliIo, doing: string, stop: () => Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        io.err(`${signal} again: exiting without waiting.`);
        process.exit(1);
      }
      stopping = true;
      io.out(`${signal}: ${doing}`);
      void stop()
        .catch((error: unknown) => io.err(`error while stopping: ${String(error)}`))
        .finally(resolve);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
