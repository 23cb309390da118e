/**
 * The cost of the HTTP timing hook (`safekeep_http_request_duration_seconds`): the same small request
 * (`GET /healthz`, in-process) through an app with the hook and one without, alternating rounds in one
 * process; the figure is the ratio of their median round times.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSafekeep } from '../src/app/composition-root.js';
import { loadConfig } from '../src/config.js';
import { percentile, type BenchResult } from './bench-kit.js';

export async function runMetricsBench(
  options: { requests: number; rounds: number },
  log: (line: string) => void,
): Promise<BenchResult[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'safekeep-bench-metrics-'));
  const safekeep = await openSafekeep(
    loadConfig({ SAFEKEEP_DATA_DIR: dataDir, SAFEKEEP_WORKER_THREADS: '1' }),
  );
  const timedApp = safekeep.createHttpApp(false, { timeRequests: true });
  const plainApp = safekeep.createHttpApp(false, { timeRequests: false });
  await Promise.all([timedApp.ready(), plainApp.ready()]);
  const round = async (app: typeof timedApp) => {
    const started = performance.now();
    for (let i = 0; i < options.requests; i++) {
      const res = await app.inject({ method: 'GET', url: '/healthz' });
      if (res.statusCode !== 200) throw new Error(`GET /healthz answered ${res.statusCode}`);
    }
    return performance.now() - started;
  };
  try {
    await round(timedApp);
    await round(plainApp);
    const timed: number[] = [];
    const plain: number[] = [];
    for (let r = 0; r < options.rounds; r++) {
      // Alternating which goes first, so that drift in the machine's load falls on both alike.
      if (r % 2 === 0) {
        timed.push(await round(timedApp));
        plain.push(await round(plainApp));
      } else {
        plain.push(await round(plainApp));
        timed.push(await round(timedApp));
      }
    }
    const median = (values: number[]) =>
      percentile(
        [...values].sort((a, b) => a - b),
        50,
      );
    const ratio = median(timed) / median(plain);
    log(
      `GET /healthz x${options.requests}: with timing ${median(timed).toFixed(1)} ms, without ${median(plain).toFixed(1)} ms`,
    );
    return [
      {
        name: 'HTTP timing hook: small request with ÷ without',
        value: Number(ratio.toFixed(3)),
        unit: 'ratio',
        goal: '≤ 1.05',
        pass: ratio <= 1.05,
      },
    ];
  } finally {
    await timedApp.close();
    await plainApp.close();
    await safekeep.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
