/** Small helpers shared by the benchmarks: timing, percentiles, and result records. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { openSafekeep, type Safekeep } from '../src/app/composition-root.js';
import { loadConfig } from '../src/config.js';
import { siteScopes } from '../src/contracts/scopes.js';

export interface BenchResult {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** The goal the figure is judged against, as text ("≥ 25000", "< 3"). */
  readonly goal?: string;
  readonly pass?: boolean;
  readonly note?: string;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? NaN;
}

export async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const start = process.hrtime.bigint();
  const result = await work();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, result };
}

/** Latencies of `count` sequential calls, sorted, in milliseconds. */
export async function latencies(count: number, call: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    await call(i);
    out.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return out.sort((a, b) => a - b);
}

export function report(results: readonly BenchResult[]): void {
  const rows = results.map((r) => [
    r.name,
    `${Number.isInteger(r.value) ? r.value : r.value.toFixed(3)} ${r.unit}`,
    r.goal ?? '',
    r.pass === undefined ? '' : r.pass ? 'PASS' : 'MISS',
    r.note ?? '',
  ]);
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((row) => (row[i] ?? '').length), 4));
  for (const row of rows) {
    console.log(row.map((cell, i) => (i < 4 ? cell.padEnd(widths[i] ?? 0) : cell)).join('  '));
  }
}

export function saveResults(
  suite: string,
  results: readonly BenchResult[],
  meta: Record<string, unknown>,
): string {
  const dir = 'bench-results';
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${suite}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ suite, meta, results }, null, 2));
  return file;
}

const words =
  'the of and to in is you that it he was for on are as with his they at be this have from or one had by word but not what all were we when your can said there use an each which she do how their if will up other about out many then them these so some her would make like him into time has look two more write go see number no way could people my than first water been call who oil its now find long down day did get come made may part'.split(
    ' ',
  );

/**
 * A ~1 KB item like the ones the goals speak of: words drawn per item from a seeded generator, so the
 * content compresses about as well as real text (a repeated filler would compress 30-fold and flatter
 * every storage figure).
 */
export function sampleItem(i: number): Record<string, unknown> {
  let state = (i * 2654435761) >>> 0;
  const next = () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state;
  };
  let body = '';
  while (body.length < 800) body += `${words[next() % words.length]} `;
  return {
    title: `Item number ${i}`,
    n: i,
    price: (next() % 100_000) / 100,
    tags: ['alpha', i % 2 === 0 ? 'even' : 'odd', `t${next() % 17}`],
    published: { $date: new Date(Date.UTC(2020, 0, 1) + i * 60_000).toISOString() },
    body: body.slice(0, 800),
  };
}

/**
 * A safekeep on the embedded stack in a scratch folder, with its HTTP app (not listening), for one bench:
 * one key's throughput is measured, so the per-key rate limit is off. `close` stops both and removes the
 * folder.
 */
export async function openBenchSafekeep(
  name: string,
): Promise<{ safekeep: Safekeep; app: FastifyInstance; dataDir: string; close: () => Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), `safekeep-bench-${name}-`));
  const safekeep = await openSafekeep(
    loadConfig({
      SAFEKEEP_DATA_DIR: dataDir,
      SAFEKEEP_LOG_LEVEL: 'silent',
      SAFEKEEP_RATE_LIMIT_PER_SECOND: '0',
    }),
  );
  const app = safekeep.createHttpApp(false);
  return {
    safekeep,
    app,
    dataDir,
    close: async () => {
      await app.close();
      await safekeep.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A new site and an API key of it with every site scope. */
export async function benchSite(
  safekeep: Safekeep,
  name: string,
): Promise<{ siteId: string; secret: string }> {
  const site = await safekeep.services.admin.createSite(name);
  const { secret } = await safekeep.services.admin.createApiKey({
    name,
    siteIds: [site.id],
    scopes: [...siteScopes],
  });
  return { siteId: site.id, secret };
}
