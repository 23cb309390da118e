/** Small helpers shared by the benchmarks: timing, percentiles, and result records. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

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

/** A ~1 KB item like the ones the goals speak of. */
export function sampleItem(i: number): Record<string, unknown> {
  return {
    title: `Item number ${i}`,
    n: i,
    price: (i % 1000) / 10,
    tags: ['alpha', i % 2 === 0 ? 'even' : 'odd', `t${i % 17}`],
    published: { $date: new Date(Date.UTC(2020, 0, 1) + i * 60_000).toISOString() },
    body: 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(15).slice(0, 850),
  };
}
